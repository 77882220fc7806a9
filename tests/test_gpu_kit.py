"""The prepared GPU check and its kit: the packed corpus is lossless and self-contained, the check runs
end to end (on a CPU, in --quick), reports what it skipped, sizes its runs to a budget, and needs
nothing at run time that the device image lacks and the kit does not carry."""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
from conftest import load_script, make_fake_corpus

from course_lib import data, presets

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kit():
    return load_script(REPO / "scripts" / "gpu_kit.py", "gpu_kit")


@pytest.fixture(scope="module")
def check():
    return load_script(REPO / "benchmarks" / "gpu_check.py", "gpu_check")


def _with_a_noisy_row(corpus: Path) -> Path:
    df = data.read_manifest(corpus)
    noisy = df.iloc[[2]].copy()
    noisy["clip_id"], noisy["condition"] = "speech-noisy", "noisy"
    pd.concat([df, noisy]).to_csv(corpus / "manifest.csv", index=False)
    return corpus


def test_packed_corpus_is_lossless_and_keeps_only_clean_speech_and_music(kit, fake_corpus, tmp_path):
    src = _with_a_noisy_row(fake_corpus)
    summary = kit.pack_corpus(src, tmp_path / "kit" / "corpus")
    dst = tmp_path / "kit" / "corpus"
    packed, orig = data.read_manifest(dst), data.read_manifest(src)
    assert summary["clips"] == len(packed) == (orig["condition"] == "clean").sum()
    assert set(packed["condition"]) == {"clean"} and set(packed["domain"]) == {"speech", "music"}
    for (_, a), (_, b) in zip(packed.iterrows(), orig[orig["condition"] == "clean"].iterrows()):
        assert a["path"].endswith(".flac") and a["clip_id"] == b["clip_id"]
        x, sr = sf.read(dst / a["path"], dtype="int16", always_2d=True)
        y, _ = sf.read(src / b["path"], dtype="int16", always_2d=True)
        assert sr == 16000 and (x == y).all()  # FLAC: the very same samples
        assert (dst / a["labels"]).read_text() == (src / b["labels"]).read_text()
    assert json.loads((dst / "corpus.json").read_text())["packed_from"] == str(src)
    assert data.load_clip(dst, packed.iloc[0]).shape[-1] == int(packed.iloc[0]["num_frames"])
    with pytest.raises(data.CorpusError, match="no clips"):
        kit.pack_corpus(src, tmp_path / "other", domains=("effects",))
    for overlapping in (src, src / "packed", src.parent):  # the source corpus is never overwritten
        with pytest.raises(ValueError, match="apart from the source"):
            kit.pack_corpus(src, overlapping)
    assert data.read_manifest(src).equals(orig)


def test_extra_music_joins_training_and_never_a_held_out_piece(kit, fake_corpus, tmp_path):
    dst = tmp_path / "kit" / "corpus"
    kit.pack_corpus(fake_corpus, dst)
    before = data.read_manifest(dst)
    # the same builder with more pieces: its first pieces are the corpus's (one of them held out)
    extra = make_fake_corpus(tmp_path / "more", n_speech=6, n_music=4)
    summary = kit.add_training_music(extra, dst)
    after = data.read_manifest(dst)
    new = after[~after["clip_id"].isin(before["clip_id"])]
    assert summary["clips"] == len(new) == 2 and set(new["split"]) == {"train"} and set(new["domain"]) == {"music"}
    assert after["clip_id"].is_unique and after.iloc[:len(before)].equals(before)  # the packed rows untouched
    assert (after.set_index("clip_id").loc["music-00006-clean", "split"]) == "test"  # held out in the corpus, still
    src_rows = data.read_manifest(extra).set_index("clip_id")
    for _, row in new.iterrows():
        x, _ = sf.read(dst / row["path"], dtype="int16", always_2d=True)
        y, _ = sf.read(extra / src_rows.loc[row["clip_id"], "path"], dtype="int16", always_2d=True)
        assert row["path"].endswith(".flac") and (x == y).all() and (dst / row["labels"]).exists()
    meta = json.loads((dst / "corpus.json").read_text())
    assert meta["extra_training_music"]["pieces"] == 2 and meta["n_clips"] == len(after)


def test_kit_main_renders_the_extra_music_with_the_corpus_seed(kit, fake_corpus, tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "data_scripts"))
    import build_corpus

    (fake_corpus / "corpus.json").write_text(json.dumps({"seed": 3}))
    asked = {}

    def fake_music_corpus(n_pieces, out, seed=0, jobs=None):
        asked.update(n_pieces=n_pieces, seed=seed)
        return make_fake_corpus(tmp_path / "more", n_speech=6, n_music=4)

    monkeypatch.setattr(build_corpus, "music_corpus", fake_music_corpus)
    assert kit.main(["--corpus", str(fake_corpus), "--out", str(tmp_path / "kit"), "--no-wheels",
                     "--music-pieces", "4"]) == 0
    assert asked == {"n_pieces": 4, "seed": 3}
    packed = data.read_manifest(tmp_path / "kit" / "corpus")
    assert (packed["domain"].eq("music") & packed["split"].eq("train")).sum() == 3  # 1 of the corpus, 2 more


def test_quick_check_runs_both_phases_and_writes_the_reports(kit, check, fake_corpus, tmp_path):
    kit.pack_corpus(fake_corpus, tmp_path / "kit")
    out = tmp_path / "out"
    res = check.main(["--quick", "--corpus", str(tmp_path / "kit"), "--out", str(out),
                      "--ckpt-root", str(tmp_path / "ck")])
    o, m = res["oracle"], res["music"]
    assert set(o["sets"]) == set(__import__("course_lib.training").training.SPEECH_SETS.values())
    held = o["sets"]["held-out speakers"]
    assert held["clips"] >= 1 and 1.0 <= held["pesq_wb"] <= 4.6 and 0 <= held["stoi"] <= 1
    assert o["steps"] == 4 and not o["loaded"] and o["bar_met"] is False  # smoke has no bar
    assert m["steps"] == 2 and m["course"]["mel_dist"] > 0 and m["griffin_lim"]["mel_dist"] > 0
    assert m["course_training_pieces"]["clips"] >= 1 and m["course_training_pieces"]["mel_dist"] > 0
    assert m["numbers_per_s"]["course"] == m["numbers_per_s"]["griffin_lim"]  # the same budget of numbers
    saved = json.loads((out / "gpu_check.json").read_text())
    assert saved["oracle"]["sets"]["held-out speakers"]["pesq_wb"] == pytest.approx(held["pesq_wb"])
    text = (out / "gpu_check.md").read_text()
    assert "| held-out speakers |" in text and "No quality bar" in text and "Griffin-Lim" in text
    assert "pieces it trained on" in text
    again = check.main(["--quick", "--corpus", str(tmp_path / "kit"), "--out", str(out),
                        "--ckpt-root", str(tmp_path / "ck")])
    assert again["oracle"]["loaded"] and again["oracle"]["sets"] == o["sets"]


def test_a_phase_past_the_deadline_is_skipped_and_reported(check, fake_corpus, tmp_path):
    out = tmp_path / "out"
    res = check.main(["--quick", "--corpus", str(fake_corpus), "--out", str(out), "--deadline-s", "0"])
    assert "oracle" not in res and set(res["skipped"]) == {"oracle", "music"}
    assert "oracle: skipped" in (out / "gpu_check.md").read_text()
    with pytest.raises(data.CorpusError, match="no corpus"):
        check.main(["--quick", "--corpus", str(tmp_path / "missing"), "--out", str(out)])


def test_steps_are_cut_to_the_budget_never_raised(check, fake_corpus, monkeypatch):
    p = presets.get("smoke")
    monkeypatch.setattr(check, "measure_steps_per_s", lambda preset, corpus: 10.0)
    cut, how = check.fit_steps(p, fake_corpus, budget_s=2.0, fixed=None)
    assert cut.train.steps == 20 and how == {"measured_steps_per_s": 10.0, "budget_s": 2.0, "preset_steps": 30}
    kept, _ = check.fit_steps(p, fake_corpus, budget_s=100.0, fixed=None)
    assert kept.train.steps == p.train.steps  # fast enough: the preset's own count, not more
    fixed, how = check.fit_steps(p, fake_corpus, budget_s=2.0, fixed=7)
    assert fixed.train.steps == 7 and how is None


def test_measured_steps_per_s_is_a_rate(check, fake_corpus):
    p = presets.get("smoke")
    p = type(p)(**{**p.__dict__, "train": type(p.train)(**{**p.train.__dict__, "batch_size": 2})})
    rate = check.measure_steps_per_s(p, fake_corpus, steps=3, warmup=1)
    assert 0 < rate < 1e4


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _required_closure(roots: set[str], present: frozenset) -> set[str]:
    """Every distribution the roots require on the device (CPython 3.12, Linux x86-64), transitively;
    one already ``present`` there came with its own requirements, so the walk stops at it."""
    from packaging.requirements import Requirement

    env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
           "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in present:
            continue
        for r in md.requires(name) or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(_norm(req.name))
    return seen


def test_the_check_needs_only_what_the_device_image_has_or_the_kit_carries(kit, fake_corpus, tmp_path):
    # Run the quick check in a fresh interpreter and list the course's declared dependencies it imported;
    # their required dependencies (optional imports aside) must be on the image or in the kit.
    script = (
        "import runpy, sys, importlib.metadata as md\n"
        f"sys.argv = ['gpu_check.py', '--quick', '--corpus', {str(fake_corpus)!r}, '--out', {str(tmp_path / 'o')!r},"
        f" '--ckpt-root', {str(tmp_path / 'ck')!r}]\n"
        f"runpy.run_path({str(REPO / 'benchmarks' / 'gpu_check.py')!r}, run_name='__main__')\n"
        "pd = md.packages_distributions()\n"
        "print('IMPORTED', ' '.join(sorted({d for m in list(sys.modules) for d in pd.get(m.split('.')[0], [])})))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    imported = {_norm(d) for d in out.split("IMPORTED", 1)[1].split()}
    from packaging.requirements import Requirement

    declared = {_norm(Requirement(r).name) for r in md.requires("course_lib") if "extra ==" not in r}
    roots = imported & declared
    assert {"torch", "auraloss", "pesq", "pystoi", "soundfile"} <= roots  # the trace saw the real run
    carried = {_norm(n) for n in (*kit.WHEELS, *kit.SDISTS)}
    missing = _required_closure(roots, kit.DEVICE_IMAGE) - kit.DEVICE_IMAGE - carried
    assert not missing, f"the device would lack {sorted(missing)}: add them to gpu_kit.WHEELS"
    assert not carried & kit.DEVICE_IMAGE  # carrying what is there would install a second version


def test_the_device_script_stops_plainly_without_a_kit(tmp_path):
    r = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh")], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "KIT": str(tmp_path / "none"), "OUT": str(tmp_path / "o")})
    assert r.returncode == 2 and "make gpu-kit" in r.stderr
    assert not (tmp_path / "o").exists()  # nothing written
