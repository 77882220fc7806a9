"""Tests of the offline corpus builder (data_scripts/build_corpus.py).

The smoke corpus is built once per module into a temporary directory (about 10 s on 2 cores) and
then checked the way the course uses it: the manifest is the contract, the labels must match the
audio on disk, and the splits must hold out what they promise to hold out.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent


def _load_builder():
    """Import data_scripts/build_corpus.py as the module ``build_corpus`` (it is a script, not a package
    module; registering it in sys.modules lets its worker processes find it)."""
    if "build_corpus" in sys.modules:
        return sys.modules["build_corpus"]
    spec = importlib.util.spec_from_file_location("build_corpus", REPO / "data_scripts" / "build_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_corpus"] = module
    spec.loader.exec_module(module)
    return module


bc = _load_builder()


def _read_manifest(corpus: Path) -> list[dict]:
    with open(corpus / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    # No skip when tools are missing: `make test` installs them (scripts/setup.sh), so a missing tool
    # is a broken setup and must fail loudly rather than pass with nothing tested.
    bc.require_tools()
    return bc.build_corpus("smoke", seed=0, out=tmp_path_factory.mktemp("corpus") / "smoke", jobs=2)


@pytest.fixture(scope="module")
def rows(corpus) -> list[dict]:
    return _read_manifest(corpus)


@pytest.fixture(scope="module")
def labels(corpus, rows) -> dict[str, dict]:
    return {r["labels"]: json.loads((corpus / r["labels"]).read_text()) for r in rows}


# ---------------------------------------------------------------- the manifest contract


def test_manifest_columns_order_and_sorting(corpus, rows):
    header = (corpus / "manifest.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == bc.MANIFEST_COLUMNS
    ids = [r["clip_id"] for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {r["domain"] for r in rows} == {"speech", "music", "effects"}
    assert {r["condition"] for r in rows} == set(bc.CONDITIONS)
    assert {r["split"] for r in rows} == {"train", "valid", "test"}


def test_condition_fields_filled_only_where_they_apply(rows):
    for r in rows:
        c = r["condition"]
        assert (r["room_id"] != "") == (c == "reverb") and (r["rt60_s"] != "") == (c == "reverb")
        assert (r["noise_type"] != "") == (c == "noisy") and (r["snr_db"] != "") == (c == "noisy")
        assert (r["cutoff_hz"] != "") == (c == "bandlimited")
        assert (r["speaker"] != "") == (r["domain"] == "speech") == (r["text"] != "")
        if c == "noisy":
            assert 0.0 <= float(r["snr_db"]) <= 20.0
        if c == "reverb":
            assert 0.05 < float(r["rt60_s"]) < 2.0


def test_every_file_exists_and_reads_at_16k(corpus, rows):
    for r in rows:
        path = corpus / r["path"]
        assert path.is_file(), r["path"]
        assert r["path"] == f"audio/{r['domain']}/{r['condition']}/{r['clip_id']}.wav"
        assert hashlib.sha1(path.read_bytes()).hexdigest() == r["sha1"]
        info = sf.info(path)
        assert info.samplerate == 16000 == int(r["sample_rate"])
        assert info.subtype == "PCM_16"
        assert info.channels == int(r["channels"]) == (2 if r["domain"] == "music" else 1)
        assert info.frames == int(r["num_frames"])
        assert abs(info.frames / 16000 - float(r["duration_s"])) < 1e-4
        assert (corpus / r["labels"]).is_file()


def test_every_clean_clip_has_its_three_degraded_partners(rows):
    by_source = defaultdict(dict)
    for r in rows:
        by_source[r["source_id"]][r["condition"]] = r
    for source, versions in by_source.items():
        assert set(versions) == set(bc.CONDITIONS), source
        clean = versions["clean"]
        assert clean["clip_id"] == source
        for cond in ("reverb", "noisy", "bandlimited"):
            d = versions[cond]
            assert d["clip_id"] == f"{source}-{cond}"
            # same split, same label file, same shape: a degraded -> clean training pair
            for key in ("split", "labels", "num_frames", "channels", "domain", "speaker", "text"):
                assert d[key] == clean[key], (source, cond, key)


def test_corpus_json(corpus, rows):
    meta = json.loads((corpus / "corpus.json").read_text())
    assert meta["preset"] == "smoke" and meta["seed"] == 0 and meta["sample_rate"] == 16000
    assert meta["n_clips"] == len(rows)
    assert meta["manifest_sha256"] == hashlib.sha256((corpus / "manifest.csv").read_bytes()).hexdigest()
    assert set(meta["seconds_by_domain"]) == {"speech", "music", "effects"}
    assert meta["speakers"]["train"] and len(meta["speakers"]["test"]) >= 2


# ---------------------------------------------------------------- labels match the audio


def test_speech_phones_and_words_lie_inside_the_clip(rows, labels):
    for r in rows:
        if r["domain"] != "speech" or r["condition"] != "clean":
            continue
        lab = labels[r["labels"]]
        dur = float(r["duration_s"])
        assert lab["text"] == r["text"] and lab["speaker"] == r["speaker"]
        phones = lab["phones"]
        assert len(phones) > 5
        prev_end = 0.0
        for p in phones:
            assert 0.0 <= p["start"] < p["end"] <= dur + 1e-4, p
            assert p["start"] >= prev_end - 1e-4, "phones must be monotonic"
            prev_end = p["end"]
        # trimmed consistently: at most ~0.15 s of pause at either end
        assert phones[0]["phone"] != "pau" or phones[0]["end"] <= 0.15
        assert phones[-1]["phone"] != "pau" or dur - phones[-1]["start"] <= 0.15
        for w in lab.get("words", []):
            assert 0.0 <= w["start"] < w["end"] <= dur + 1e-4


def test_speech_f0_contour_matches_duration_and_voice(rows, labels):
    for r in rows:
        if r["domain"] != "speech" or r["condition"] != "clean":
            continue
        f0 = labels[r["labels"]]["f0"]
        hz = np.asarray(f0["hz"])
        dur = float(r["duration_s"])
        assert f0["hop_s"] == 0.01
        assert abs(len(hz) * f0["hop_s"] - dur) <= f0["hop_s"] + 1e-9
        voiced = hz[hz > 0]
        assert len(voiced) > 0.3 * len(hz), "synthetic speech is mostly voiced"
        assert f0["floor_hz"] <= voiced.min() and voiced.max() <= f0["ceiling_hz"]


def test_speech_energy_is_in_the_phones_not_the_pauses(corpus, rows, labels):
    """The phone times belong to the audio on disk: pauses are much quieter than phones."""
    for r in rows:
        if r["domain"] != "speech" or r["condition"] != "clean":
            continue
        x, sr = sf.read(corpus / r["path"])
        pause, speech = [], []
        for p in labels[r["labels"]]["phones"]:
            seg = x[int(p["start"] * sr): int(p["end"] * sr)]
            if len(seg):
                (pause if p["phone"] == "pau" else speech).append(np.mean(seg ** 2))
        assert np.mean(pause) < 0.1 * np.mean(speech), r["clip_id"]


def test_music_is_stereo_and_its_level_difference_follows_the_pans(corpus, rows, labels):
    checked = 0
    for r in rows:
        if r["domain"] != "music" or r["condition"] != "clean":
            continue
        x, _ = sf.read(corpus / r["path"])
        assert x.ndim == 2 and x.shape[1] == 2
        lab = labels[r["labels"]]
        assert 2 <= len(lab["instruments"]) <= 5 and lab["notes"]
        # Expected L/R energy from the labels: each stem's level times its constant-power gains.
        exp_l = sum(i["stem_rms"] ** 2 * i["gain_l"] ** 2 for i in lab["instruments"])
        exp_r = sum(i["stem_rms"] ** 2 * i["gain_r"] ** 2 for i in lab["instruments"])
        for i in lab["instruments"]:
            assert abs(i["gain_l"] ** 2 + i["gain_r"] ** 2 - 1.0) < 1e-4
            assert np.sign(i["gain_r"] - i["gain_l"]) == np.sign(round(i["pan"], 3))
        expected_db = 10 * np.log10(exp_l / exp_r)
        measured_db = 10 * np.log10(np.mean(x[:, 0] ** 2) / np.mean(x[:, 1] ** 2))
        if abs(expected_db) > 1.0:
            assert np.sign(measured_db) == np.sign(expected_db), r["clip_id"]
            checked += 1
        for n in lab["notes"]:
            assert 0 <= n["start"] < n["end"] <= float(r["duration_s"])
            assert 0 <= n["instrument"] < len(lab["instruments"])
    assert checked >= 1


def test_effects_events_inside_the_clip(rows, labels):
    for r in rows:
        if r["domain"] != "effects" or r["condition"] != "clean":
            continue
        events = labels[r["labels"]]["events"]
        assert 1 <= len(events) <= 4
        onsets = [e["onset"] for e in events]
        assert onsets == sorted(onsets)
        for e in events:
            assert e["kind"] in bc.EFFECT_KINDS
            assert 0.0 <= e["onset"] < e["offset"] <= float(r["duration_s"]) + 1e-4


# ---------------------------------------------------------------- splits hold out what they promise


def test_held_out_speakers_never_in_train_or_valid(corpus, rows):
    meta = json.loads((corpus / "corpus.json").read_text())
    test_speakers = set(meta["speakers"]["test"])
    speech = [r for r in rows if r["domain"] == "speech"]
    assert {r["speaker"] for r in speech if r["split"] == "test"} == test_speakers
    assert not test_speakers & {r["speaker"] for r in speech if r["split"] != "test"}
    # valid = new sentences of training speakers
    train_text = {r["text"] for r in speech if r["split"] == "train"}
    valid = [r for r in speech if r["split"] == "valid"]
    assert valid and not train_text & {r["text"] for r in valid}
    assert {r["speaker"] for r in valid} <= set(meta["speakers"]["train"])


def test_test_rooms_never_in_train_or_valid(corpus, rows):
    rooms = json.loads((corpus / "corpus.json").read_text())["rooms"]
    test_rooms = {k for k, v in rooms.items() if v["split"] == "test"}
    assert test_rooms and test_rooms != set(rooms)
    for r in rows:
        if r["condition"] == "reverb":
            assert (r["room_id"] in test_rooms) == (r["split"] == "test"), r["clip_id"]
            assert r["rt60_s"] == f"{rooms[r['room_id']]['rt60_s']:.3f}"


# ---------------------------------------------------------------- reproducibility and errors


def test_second_build_is_up_to_date_and_fast(corpus, capsys):
    digest = json.loads((corpus / "corpus.json").read_text())["manifest_sha256"]
    t0 = time.perf_counter()
    assert bc.build_corpus("smoke", seed=0, out=corpus) == corpus
    assert time.perf_counter() - t0 < 1.0
    out = capsys.readouterr().out
    assert f"corpus up to date: {corpus}" in out
    # the hash it prints is the one the notebooks print and the checkpoints are keyed on
    from course_lib import data
    assert f"(corpus hash {data.corpus_hash(corpus)})" in out
    assert json.loads((corpus / "corpus.json").read_text())["manifest_sha256"] == digest


def test_rebuild_is_byte_identical_and_seed_changes_it(corpus, tmp_path):
    digest = json.loads((corpus / "corpus.json").read_text())["manifest_sha256"]
    # A real re-render (one worker instead of two) must give the same bytes ...
    again = bc.build_corpus("smoke", seed=0, out=tmp_path / "again", jobs=1)
    assert (again / "manifest.csv").read_bytes() == (corpus / "manifest.csv").read_bytes()
    # ... and another seed another corpus.
    other = bc.build_corpus("smoke", seed=1, out=tmp_path / "other", jobs=2)
    assert json.loads((other / "corpus.json").read_text())["manifest_sha256"] != digest
    assert not list(tmp_path.glob(".*tmp-*")), "no temporary build directory may be left behind"


def test_failed_rebuild_leaves_the_old_corpus_alone(corpus, monkeypatch):
    before = (corpus / "manifest.csv").read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C halfway through

    monkeypatch.setattr(bc, "build_rooms", boom)
    with pytest.raises(KeyboardInterrupt):
        bc.build_corpus("smoke", seed=0, out=corpus, force=True)
    assert (corpus / "manifest.csv").read_bytes() == before
    assert not list(corpus.parent.glob(f".{corpus.name}.*")), "temporary build directory left behind"


def test_missing_tool_names_the_debian_package(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # neither flite nor festival can be found
    with pytest.raises(bc.MissingToolError, match=r"flite not found: sudo apt-get install flite"):
        bc.build_corpus("smoke", out=tmp_path / "c")
    assert not (tmp_path / "c").exists()
    assert bc.main(["--preset", "smoke", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install flite" in err and "apt-get install festival" in err and "make unkit KIT=" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="unknown preset"):
        bc.build_corpus("huge")


# ---------------------------------------------------------------- small pure helpers


def test_seeded_splits_are_exact_and_seeded():
    s = bc.seeded_splits(50, seed=0, domain="music")
    assert (s.count("train"), s.count("valid"), s.count("test")) == (40, 5, 5)
    assert s == bc.seeded_splits(50, seed=0, domain="music")
    assert s != bc.seeded_splits(50, seed=1, domain="music")


def test_map_times_follows_warp_and_trim():
    # segments ending at 0.5 (pause), 1.0, 1.5 s; warp 2 halves times, trim removes 0.2 s
    times = bc.map_times([0.5, 1.0, 1.5], offset=0.2, scale=0.5, duration=0.6)
    assert times == [(0.0, 0.05), (0.05, 0.3), (0.3, 0.6)]


def test_presets_grow():
    smoke, cpu, gpu = (bc.PRESETS[k] for k in ("smoke", "cpu", "gpu"))
    n_speakers = [len(p.voices) * len(p.variants) for p in (smoke, cpu, gpu)]
    assert n_speakers[0] < n_speakers[1] < n_speakers[2] and n_speakers[1] >= 14
    assert smoke.music_clips < cpu.music_clips < gpu.music_clips
