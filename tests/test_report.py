"""The report card CLI on folders a user might bring: good audio, bad files among good ones, nothing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from course_lib import decode_paths, report, training


@pytest.fixture()
def ckpt_root(tmp_path, monkeypatch):
    """Checkpoints (and the scans' manifests) go to a temp dir, not the repo's build/."""
    root = tmp_path / "build" / "checkpoints"
    monkeypatch.setattr(training, "CHECKPOINT_ROOT", root)
    return root


def _tone(seconds: float, sr: int, f0: float, seed: int, stereo: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * t))
    x = x + 0.02 * rng.standard_normal(len(t))
    return np.stack([x, 0.7 * x], axis=1) if stereo else x


def good_folder(root, n: int = 8):
    """Mixed sample rates and formats, one stereo file among mono ones, in subfolders."""
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    rates = (16000, 22050, 44100, 48000)
    for i in range(n):
        sr = rates[i % len(rates)]
        ext = ".flac" if i % 3 == 1 else ".wav"
        sf.write(root / ("a" if i % 2 else "b") / f"clip{i}{ext}", _tone(1.5, sr, 110 + 30 * i, i, stereo=i == 3), sr)
    return root


def run_cli(capsys, *args) -> tuple[int, str, str]:
    rc = report.main([*map(str, args), "--preset", "smoke", "--quiet"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_good_folder_writes_a_complete_card(tmp_path, ckpt_root, capsys):
    audio_dir, out = good_folder(tmp_path / "my audio"), tmp_path / "out"
    rc, stdout, stderr = run_cli(capsys, "--audio", audio_dir, "--out", out)
    assert rc == 0, stderr
    assert "Traceback" not in stderr
    card = json.loads((out / "report.json").read_text())
    rows = [r["decode path"] for r in card["decode_paths"]]
    assert rows == ["D(E(x))", "D(sample q(z|x))", "D(E(x)+ε)", "D(ẑ)", "D(project(ẑ))"]
    assert all(np.isfinite(r["mel_dist"]) for r in card["decode_paths"])
    assert card["problems"] == []
    assert "regime" in card["places"] and card["timings_s"]["total"] > 0
    curve = {r["k"]: r for r in card["channel_curve"]}  # channels k at a time, widest first
    assert list(curve)[:3] == [1, 2, 4] and all(np.isfinite(r["mute_first"]) for r in curve.values())
    assert card["findings"]["mute_widest_k_mel"] == pytest.approx(curve[card["findings"]["channels_k"]]["mute_first"])
    assert any(n.startswith("Channels (notebook 03)") for n in card["notes"])
    assert "autoregressive" in card["predictor"]  # no phone timings in a plain folder
    html = (out / "report.html").read_text()
    assert html.count("<audio") == 6 and "data:image/png;base64," in html  # reference + five paths, figures embedded
    md = (out / "report.md").read_text()
    assert "predicted-latent gap" in md and "data:image/png;base64," in md and "channels k at a time" in md
    assert "wrote" in stdout and "gap" in stdout
    # a second run on the same folder loads the encoder from the cache and gives the same table
    rc, _, _ = run_cli(capsys, "--audio", audio_dir, "--out", tmp_path / "again")
    again = json.loads((tmp_path / "again" / "report.json").read_text())
    assert rc == 0 and "loaded from the cache" in again["model"]["origin"]
    assert again["decode_paths"][0]["mel_dist"] == pytest.approx(card["decode_paths"][0]["mel_dist"], abs=1e-6)
    # --checkpoint judges that trained encoder without training
    rc, _, stderr = run_cli(capsys, "--audio", audio_dir, "--out", tmp_path / "ckpt", "--checkpoint",
                            card["model"]["checkpoint_dir"])
    assert rc == 0, stderr
    assert "loaded from" in json.loads((tmp_path / "ckpt" / "report.json").read_text())["model"]["origin"]


def test_bad_files_are_skipped_with_one_line_each(tmp_path, ckpt_root, capsys):
    audio_dir = good_folder(tmp_path / "mixed", n=6)
    (audio_dir / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    sf.write(audio_dir / "silent.wav", np.zeros(16000), 16000)
    sf.write(audio_dir / "nan.wav", np.full(16000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    (audio_dir / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    rc, stdout, stderr = run_cli(capsys, "--audio", audio_dir, "--out", out)
    assert rc == 0, stderr
    assert "Traceback" not in stdout + stderr
    skipped = [line for line in (stdout + stderr).splitlines() if line.startswith("skipped ")]
    for name in ("broken.wav", "silent.wav", "nan.wav"):
        assert sum(name in line for line in skipped) == 1, (name, skipped)
    assert not any("notes.txt" in line for line in skipped)
    card = json.loads((out / "report.json").read_text())
    assert len(card["problems"]) == 3
    assert "Skipped files" in (out / "report.md").read_text()


def test_strict_stops_and_leaves_the_previous_card_untouched(tmp_path, ckpt_root, capsys):
    audio_dir = good_folder(tmp_path / "mixed", n=4)
    (audio_dir / "broken.wav").write_bytes(b"not a wav at all")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("the previous card")
    rc, _, stderr = run_cli(capsys, "--audio", audio_dir, "--out", out, "--strict")
    assert rc == 2
    assert stderr.startswith("report: ") and "--strict" in stderr and "broken.wav" in stderr
    assert "Traceback" not in stderr
    assert (out / "report.md").read_text() == "the previous card"
    assert not (out / "report.html").exists()


@pytest.mark.parametrize("make", ["empty", "missing", "only_bad", "one_clip"])
def test_unusable_folders_fail_with_one_clear_line(tmp_path, ckpt_root, capsys, make):
    audio_dir = tmp_path / "in"
    if make != "missing":
        audio_dir.mkdir()
    if make == "only_bad":
        (audio_dir / "x.wav").write_bytes(b"garbage")
    if make == "one_clip":
        sf.write(audio_dir / "only.wav", _tone(1.0, 16000, 200, 0), 16000)
    out = tmp_path / "out"
    rc, _, stderr = run_cli(capsys, "--audio", audio_dir, "--out", out)
    assert rc == 2
    lines = [ln for ln in stderr.splitlines() if ln.startswith("report: ")]
    assert len(lines) == 1 and "Traceback" not in stderr
    expect = {"empty": "no audio", "missing": "not", "only_bad": "x.wav", "one_clip": "at least 2"}[make]
    assert expect in lines[0], lines[0]
    assert not (out / "report.md").exists()


def test_bad_checkpoint_is_one_line(tmp_path, ckpt_root, capsys):
    audio_dir = good_folder(tmp_path / "a", n=4)
    bogus = tmp_path / "ckpt"
    bogus.mkdir()
    (bogus / "model.pt").write_bytes(b"not a checkpoint")
    rc, _, stderr = run_cli(capsys, "--audio", audio_dir, "--out", tmp_path / "o", "--checkpoint", bogus)
    assert rc == 2 and "info.json" in stderr and "Traceback" not in stderr
    (bogus / "info.json").write_text(json.dumps({"preset": {"model": {"width": 8}}}))
    rc, _, stderr = run_cli(capsys, "--audio", audio_dir, "--out", tmp_path / "o", "--checkpoint", bogus)
    assert rc == 2 and "cannot be loaded" in stderr


def test_course_corpus_uses_the_conditional_predictor_and_the_ledger(fake_corpus, ckpt_root, tmp_path):
    card = report.build(fake_corpus, "smoke", domain="speech", progress=False, log=lambda *_: None)
    assert card.predictor.startswith("conditional")
    assert card.ledger is not None and set(card.ledger["factor"]) >= {"content", "speaker"}
    assert set(card.findings) >= {"gap_mel", "noise_share_of_gap", "probes_above_chance"}
    assert card.findings["gap_mel"] == pytest.approx(card.findings["predicted_mel"] - card.findings["oracle_mel"])


def test_stereo_music_folder_trains_a_stereo_codec(tmp_path, ckpt_root):
    """A MUSDB18-HQ tree: stereo mixtures at 44.1 kHz -> a stereo encoder, music metrics (no PESQ/STOI)."""
    for split, n in (("train", 4), ("test", 2)):
        for k in range(n):
            track = tmp_path / "musdb" / split / f"Track {split} {k}"
            track.mkdir(parents=True)
            sf.write(track / "mixture.wav", _tone(1.5, 44100, 90 + 45 * k, k, stereo=True), 44100)
    card = report.build(tmp_path / "musdb", "smoke", progress=False, log=lambda *_: None)
    assert card.source.startswith("musdb18 layout")
    assert "stereo" in card.model["interface"] and card.fitted.model.cfg.channels == 2
    assert "mrstft" in card.table.columns and "stoi" not in card.table.columns
    assert all(x.shape[0] == 2 for x in card.clips.values())


def test_speakers_in_a_dataset_layout_are_probed(tmp_path, ckpt_root):
    """A VCTK tree: the speaker ids become a speaker probe in the card's ledger."""
    root = tmp_path / "VCTK-Corpus"
    for s, spk in enumerate(("p225", "p226", "p227")):
        (root / "wav48" / spk).mkdir(parents=True)
        (root / "txt" / spk).mkdir(parents=True)
        for u in range(1, 7):
            sf.write(root / "wav48" / spk / f"{spk}_{u:03d}.wav", _tone(1.0, 48000, 100 + 80 * s + 3 * u, u), 48000)
            (root / "txt" / spk / f"{spk}_{u:03d}.txt").write_text("please call stella")
    card = report.build(root, "smoke", progress=False, log=lambda *_: None)
    assert card.ledger is not None and list(card.ledger["factor"]) == ["speaker"]
    assert "speaker" in card.findings["probes_above_chance"]
    assert "stoi" in card.table.columns  # VCTK is speech: the speech metrics are on


def _path_table(oracle: float, gaps: dict) -> pd.DataFrame:
    """A decode-path table with the given gaps (mel distance above the oracle's)."""
    rows = {decode_paths.ORACLE: 0.0, decode_paths.NOISY: gaps["noisy"], decode_paths.PREDICTED: gaps["predicted"],
            decode_paths.PROJECTED: gaps["projected"]}
    return pd.DataFrame({"mel_dist": {k: oracle + g for k, g in rows.items()}, "gap": rows})


@pytest.mark.parametrize("projected, expect", [
    (0.1267, "leaves a gap of +0.127: it recovers nothing (the gap grows by 0.0004 mel)"),  # cpu seed 0's case
    (0.1262, "leaves a gap of +0.126: it recovers nothing measurable (0.0001 mel)"),
    (0.0630, "leaves a gap of +0.063: it recovers 0.063 of it (50%)"),
])
def test_projection_note_says_what_it_recovers(projected, expect):
    """The projection note: never "does not recover 0.000"; a gap that grew recovers nothing, signed."""
    table = _path_table(0.72, {"noisy": 0.009, "predicted": 0.1263, "projected": projected})
    _, notes = report._findings(table, {}, {}, 0.13)
    note = next(n for n in notes if n.startswith("Projecting ẑ"))
    assert note.endswith(expect + "."), note
    assert "does not recover" not in note and "recovers 0.000" not in note

