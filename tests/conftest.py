"""Shared fixtures: a tiny fake corpus (sines and noise with a real manifest), built in a temp dir,
so unit tests never depend on the rendered corpus or on the network."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

os.environ.setdefault("MPLBACKEND", "Agg")

from course_lib.data import MANIFEST_COLUMNS  # noqa: E402


def load_script(path, name: str):
    """Import a script by its path (benchmarks/ is a folder of scripts, not an installed package)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def make_fake_corpus(root, n_speech=6, n_music=2, seconds=1.2, sr=16000):
    rng = np.random.default_rng(0)
    rows = []
    (root / "labels").mkdir(parents=True, exist_ok=True)
    for i in range(n_speech + n_music):
        domain = "speech" if i < n_speech else "music"
        ch = 1 if domain == "speech" else 2
        t = np.arange(int(seconds * sr)) / sr
        f = 120 + 40 * i
        x = 0.3 * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        x = x + 0.01 * rng.standard_normal(len(t))
        audio = np.stack([x, 0.5 * x], axis=1) if ch == 2 else x[:, None]
        cid = f"{domain}-{i:05d}-clean"
        path = f"audio/{domain}/clean/{cid}.wav"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / path, audio, sr, subtype="PCM_16")
        labels = {"domain": domain}
        if domain == "speech":  # four phones with timings, as the real speech labels have
            names = ["pau", "a", "b", "pau"] if i % 2 else ["pau", "b", "a", "pau"]
            edges = np.linspace(0, seconds, 5)
            labels["phones"] = [{"phone": p, "start": float(a), "end": float(b)}
                                for p, a, b in zip(names, edges[:-1], edges[1:])]
        (root / "labels" / f"{cid}.json").write_text(json.dumps(labels))
        split = "test" if i in (0, n_speech) else ("valid" if i == 1 else "train")
        row = dict.fromkeys(MANIFEST_COLUMNS, "")
        row.update(clip_id=cid, path=path, split=split, domain=domain, condition="clean", source_id=cid,
                   sample_rate=sr, channels=ch, num_frames=len(t), duration_s=f"{seconds:.4f}",
                   speaker=f"spk{i % 3}" if domain == "speech" else "", labels=f"labels/{cid}.json")
        rows.append(row)
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(root / "manifest.csv", index=False)
    return root


def mark_built(corpus, preset="smoke"):
    """Give a fake corpus the corpus.json a finished build writes, so the builder counts it as complete
    and up to date (``build_corpus.up_to_date_hash``) for ``preset``, corpus seed 0."""
    import hashlib
    import sys

    from course_lib.data import REPO_ROOT

    if str(REPO_ROOT) not in sys.path:  # data_scripts/ is a folder of scripts beside the package
        sys.path.insert(0, str(REPO_ROOT))
    from data_scripts.build_corpus import BUILDER_VERSION

    manifest = (corpus / "manifest.csv").read_bytes()
    n_clips = len(pd.read_csv(corpus / "manifest.csv"))
    (corpus / "corpus.json").write_text(json.dumps({"preset": preset, "seed": 0, "builder_version": BUILDER_VERSION,
                                                    "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                                                    "n_clips": n_clips}))
    return corpus


@pytest.fixture()
def fake_corpus(tmp_path):
    return make_fake_corpus(tmp_path / "corpus")
