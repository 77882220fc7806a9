"""Data adapters on tiny fake trees (sines and noise written here): a plain folder, LibriTTS, VCTK 0.80 and
0.92, MUSDB18-HQ and a course corpus; bad files among good ones; folders that cannot be used at all."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import soundfile as sf

from course_lib import adapters, data
from course_lib.audio import SAMPLE_RATE


def tone(path, seconds=0.4, sr=16000, channels=1, f0=220.0, seed=0, subtype=None):
    """A short sine plus a little noise; parents are created."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    x = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.01 * rng.standard_normal(len(t))
    audio = np.stack([x, 0.6 * x][:channels] if channels <= 2 else [x] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, sr, subtype=subtype)
    return path


def snapshot(root):
    return sorted((p.relative_to(root).as_posix(), p.stat().st_mtime_ns, p.stat().st_size)
                  for p in root.rglob("*"))


def make_folder(root):
    """Mixed rates, mono and stereo, wav / flac / ogg, in subfolders; hidden and non-audio files."""
    specs = [("a/one.wav", 16000, 1), ("a/two.flac", 22050, 2), ("b/three.ogg", 24000, 1),
             ("b/four.wav", 44100, 2), ("five.wav", 48000, 1), ("b/deep/six.flac", 48000, 1),
             ("a b/se ven!.wav", 16000, 1)]
    for i, (rel, sr, ch) in enumerate(specs):
        tone(root / rel, sr=sr, channels=ch, f0=150 + 40 * i, seed=i)
    tone(root / ".hidden.wav")
    tone(root / "a" / "._one.wav")
    tone(root / ".git" / "x.wav")
    (root / "notes.txt").write_text("not audio")
    (root / "b" / "meta.json").write_text("{}")
    return root, specs


def make_libritts(root):
    """LibriTTS/{train-clean-100, dev-clean, test-clean}/<spk>/<chapter>/<spk>_<chapter>_<para>_<sent>.wav"""
    utts = [("train-clean-100", "19", "198"), ("train-clean-100", "19", "198"), ("train-clean-100", "84", "121123"),
            ("dev-clean", "1272", "128104"), ("test-clean", "2300", "131720")]
    for i, (subset, spk, chap) in enumerate(utts):
        stem = f"{spk}_{chap}_{i:06d}_000001"
        d = root / subset / spk / chap
        tone(d / f"{stem}.wav", sr=24000, seed=i)
        if i == 1:
            (d / f"{stem}.original.txt").write_text("Original only.\n")
        elif i != 2:
            (d / f"{stem}.normalized.txt").write_text(f"Sentence number {i}.\n")
            (d / f"{stem}.original.txt").write_text(f"Sentence no. {i}.\n")
    (root / "SPEAKERS.txt").write_text(";; speakers")
    return root


def make_vctk(root, version="0.80", speakers=("p225", "p226", "p227"), n_utts=4):
    for s, spk in enumerate(speakers):
        for u in range(1, n_utts + 1):
            utt = f"{spk}_{u:03d}"
            if version == "0.80":
                tone(root / "wav48" / spk / f"{utt}.wav", sr=48000, seed=10 * s + u)
            else:
                for m, mic in enumerate(("mic1", "mic2")):
                    tone(root / "wav48_silence_trimmed" / spk / f"{utt}_{mic}.flac", sr=48000, f0=200 + 100 * m,
                         seed=10 * s + u)
            (root / "txt" / spk).mkdir(parents=True, exist_ok=True)
            (root / "txt" / spk / f"{utt}.txt").write_text(f"Please call {spk} number {u}.\n")
    return root


def make_musdb(root, train=("Track A", "Track B", "Track C"), test=("Track D",)):
    for top, tracks in (("train", train), ("test", test)):
        for t, track in enumerate(tracks):
            for s, stem in enumerate(("mixture", "drums", "bass", "other", "vocals")):
                tone(root / top / track / f"{stem}.wav", seconds=0.3, sr=44100, channels=2, f0=100 + 50 * s,
                     seed=t)
    return root


# --- detection ------------------------------------------------------------------------------------

def test_detect_layout_of_each_tree(tmp_path, fake_corpus):
    assert adapters.detect_layout(fake_corpus) == "course"
    assert adapters.detect_layout(make_folder(tmp_path / "f")[0]) == "folder"
    lt = make_libritts(tmp_path / "LibriTTS")
    assert adapters.detect_layout(lt) == "libritts"
    assert adapters.detect_layout(lt / "dev-clean") == "libritts"  # a single subset folder
    assert adapters.detect_layout(make_vctk(tmp_path / "v80")) == "vctk"
    assert adapters.detect_layout(make_vctk(tmp_path / "v92", "0.92", n_utts=1)) == "vctk"
    assert adapters.detect_layout(make_musdb(tmp_path / "m", train=("T",), test=())) == "musdb18"
    (tmp_path / "mp4" / "test").mkdir(parents=True)
    (tmp_path / "mp4" / "test" / "Song.stem.mp4").write_bytes(b"\x00" * 64)
    assert adapters.detect_layout(tmp_path / "mp4") == "musdb18"
    # decoys: a train/ folder of plain files, LibriSpeech-like flac, a subset name without digit folders
    tone(tmp_path / "d1" / "train" / "x.wav")
    tone(tmp_path / "d2" / "dev-clean" / "1272" / "128104" / "1272-128104-0000.flac")
    tone(tmp_path / "d3" / "test-clean" / "songs" / "x.wav")
    for d in ("d1", "d2", "d3"):
        assert adapters.detect_layout(tmp_path / d) == "folder", d


# --- folder -----------------------------------------------------------------------------------------

def test_folder_rows_read_the_real_files_and_load_at_16k(tmp_path):
    root, specs = make_folder(tmp_path / "my audio")
    before = snapshot(root)
    s = adapters.scan(root)
    assert snapshot(root) == before  # nothing written into the user's folder
    m = s.manifest
    assert s.layout == "folder" and s.root == root.resolve() and s.problems == []
    assert list(m.columns) == data.MANIFEST_COLUMNS
    assert list(m["path"]) == sorted(rel for rel, _, _ in specs)  # hidden files, .txt and .json left out
    assert m["clip_id"].is_unique and all(re.fullmatch(r"[A-Za-z0-9._-]+", c) for c in m["clip_id"])
    assert set(m.loc[m["path"] == "a/one.wav", "clip_id"]) == {"a__one"}
    assert (m["source_id"] == m["clip_id"]).all()
    assert set(m["domain"]) == {"audio"} and set(m["condition"]) == {"clean"}
    assert set(m["speaker"]) == {""} and set(m["text"]) == {""} and set(m["labels"]) == {""}
    for col in ("room_id", "rt60_s", "noise_type", "snr_db", "cutoff_hz"):
        assert set(m[col]) == {""}
    splits = list(m["split"])
    assert set(splits) == {"train", "valid"} and 1 <= splits.count("valid") <= 2
    for rel, sr, ch in specs:
        r = m[m["path"] == rel].iloc[0]
        assert (r["sample_rate"], r["channels"], r["num_frames"]) == (sr, ch, int(round(0.4 * sr)))
        assert r["duration_s"] == pytest.approx(0.4, abs=1e-3)
        assert r["sha1"] == hashlib.sha1((root / rel).read_bytes()).hexdigest()
        x = data.load_clip(s.root, r)
        assert x.shape[0] == ch and abs(x.shape[1] - int(0.4 * SAMPLE_RATE)) <= 1
    assert s.summary() == f"folder layout: 7 clips ({splits.count('train')} train / {splits.count('valid')} valid), " \
                          f"0.0 min, 0 skipped"
    again = adapters.scan(root)  # deterministic
    assert again.manifest.equals(m)


def test_folder_speakers_from_parent_and_domain(tmp_path):
    root, _ = make_folder(tmp_path / "f")
    m = adapters.scan(root, speakers="parent", domain="speech").manifest.set_index("path")
    assert m.loc["a/one.wav", "speaker"] == "a" and m.loc["b/deep/six.flac", "speaker"] == "deep"
    assert m.loc["five.wav", "speaker"] == "" and set(m["domain"]) == {"speech"}


# --- LibriTTS ---------------------------------------------------------------------------------------

def test_libritts_rows(tmp_path):
    root = make_libritts(tmp_path / "LibriTTS")
    s = adapters.scan(root)
    m = s.manifest.set_index("clip_id")
    assert s.layout == "libritts" and s.problems == [] and len(m) == 5
    r = m.loc["19_198_000000_000001"]
    assert r["path"] == "train-clean-100/19/198/19_198_000000_000001.wav"
    assert (r["speaker"], r["text"], r["split"], r["domain"]) == ("19", "Sentence number 0.", "train", "speech")
    assert r["sample_rate"] == 24000 and r["num_frames"] == 9600
    assert m.loc["19_198_000001_000001", "text"] == "Original only."  # no .normalized.txt
    assert m.loc["84_121123_000002_000001", "text"] == ""  # no text at all
    assert m.loc["1272_128104_000003_000001", "split"] == "valid"
    assert m.loc["2300_131720_000004_000001", "split"] == "test"
    assert sorted(m["speaker"]) == ["1272", "19", "19", "2300", "84"]
    for _, row in s.manifest.iterrows():
        assert data.load_clip(s.root, row).shape == (1, 6400)
    one = adapters.scan(root / "dev-clean")  # a single subset folder
    assert one.layout == "libritts" and list(one.manifest["path"]) == ["1272/128104/1272_128104_000003_000001.wav"]
    assert list(one.manifest["split"]) == ["valid"] and data.load_clip(one.root, one.manifest.iloc[0]).shape[1] == 6400


# --- VCTK -------------------------------------------------------------------------------------------

def test_vctk_080_rows_and_splits(tmp_path):
    root = make_vctk(tmp_path / "VCTK-Corpus", speakers=("p225", "p226", "p227", "p228"), n_utts=5)
    s = adapters.scan(root)
    m = s.manifest
    assert s.layout == "vctk" and s.problems == [] and len(m) == 20
    r = m.set_index("clip_id").loc["p226_003"]
    assert (r["path"], r["speaker"], r["text"]) == ("wav48/p226/p226_003.wav", "p226", "Please call p226 number 3.")
    assert (r["sample_rate"], r["domain"]) == (48000, "speech")
    assert set(m.loc[m["speaker"] == "p228", "split"]) == {"test"}  # the last of < 10 speakers is held out
    rest = m[m["speaker"] != "p228"]
    assert "test" not in set(rest["split"]) and (rest["split"] == "valid").sum() >= 1
    assert (rest["split"] == "train").sum() >= 10
    for _, row in m.iloc[::7].iterrows():
        assert data.load_clip(s.root, row).shape == (1, 6400)


def test_vctk_092_keeps_one_mic(tmp_path):
    root = make_vctk(tmp_path / "VCTK-0.92", "0.92", speakers=("p225", "p226"), n_utts=3)
    m1 = adapters.scan(root).manifest
    assert list(m1["path"]) == [f"wav48_silence_trimmed/{s}/{s}_{u:03d}_mic1.flac"
                                for s in ("p225", "p226") for u in (1, 2, 3)]
    assert m1.loc[0, "text"] == "Please call p225 number 1." and m1.loc[0, "speaker"] == "p225"
    assert "test" not in set(m1["split"])  # fewer than 3 speakers: no held-out speaker
    m2 = adapters.scan(root, "vctk", mic="mic2").manifest
    assert all(p.endswith("_mic2.flac") for p in m2["path"]) and len(m2) == 6
    assert m2.loc[0, "text"] == "Please call p225 number 1."
    assert list(m2["split"]) == list(m1["split"])  # split by utterance, not by file


# --- MUSDB18 ----------------------------------------------------------------------------------------

def test_musdb_mixtures_and_stems(tmp_path):
    root = make_musdb(tmp_path / "musdb18hq")
    s = adapters.scan(root)
    m = s.manifest.set_index("path")
    assert s.layout == "musdb18" and s.problems == [] and len(m) == 4
    assert set(m["domain"]) == {"music"} and set(m["channels"]) == {2} and set(m["sample_rate"]) == {44100}
    assert m.loc["test/Track D/mixture.wav", "split"] == "test"
    train_splits = [m.loc[f"train/{t}/mixture.wav", "split"] for t in ("Track A", "Track B", "Track C")]
    assert train_splits.count("valid") >= 1 and train_splits.count("train") >= 1
    assert m.loc["train/Track A/mixture.wav", "clip_id"] == "Track_A"
    st = adapters.scan(root, stems=True).manifest
    assert len(st) == 20 and sorted(set(st["condition"])) == ["bass", "clean", "drums", "other", "vocals"]
    mix = st[st["condition"] == "clean"].set_index("clip_id")
    for _, r in st[st["condition"] != "clean"].iterrows():
        track = r["path"].rsplit("/", 1)[0]
        assert mix.loc[r["source_id"], "path"] == f"{track}/mixture.wav"
        assert r["split"] == mix.loc[r["source_id"], "split"] and r["clip_id"] == f"{r['source_id']}-{r['condition']}"
    assert data.load_clip(root, st.iloc[0]).shape == (2, 4800)


def test_musdb_stem_mp4_is_a_problem_line(tmp_path):
    root = make_musdb(tmp_path / "m", train=("Track A", "Track B"), test=())
    (root / "test").mkdir()
    (root / "test" / "Song X.stem.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    s = adapters.scan(root)
    assert len(s.manifest) == 2
    assert len(s.problems) == 1 and s.problems[0].startswith("test/Song X.stem.mp4: ")
    assert "MUSDB18-HQ" in s.problems[0] and "musdbconvert" in s.problems[0]
    only = tmp_path / "only"
    (only / "train").mkdir(parents=True)
    (only / "train" / "A.stem.mp4").write_bytes(b"x")
    pattern = r"none of the 1 audio file under .*: train/A\.stem\.mp4: .*musdbconvert"
    with pytest.raises(adapters.DatasetError, match=pattern):
        adapters.scan(only)


# --- limit -------------------------------------------------------------------------------------------

def test_limit_is_seeded_spread_and_applied_before_reading(tmp_path):
    root = tmp_path / "spk"
    for g in ("ann", "bob", "cy"):
        for i in range(6):
            tone(root / g / f"{i:02d}.wav", seconds=0.3, seed=i)
    picks = {seed: list(adapters.scan(root, limit=6, seed=seed, check=False).manifest["path"]) for seed in (0, 1)}
    assert picks[0] == list(adapters.scan(root, limit=6, seed=0, check=False).manifest["path"])  # deterministic
    assert picks[0] != picks[1]
    for p in picks.values():
        assert len(p) == 6 and sorted(q.split("/")[0] for q in p) == ["ann", "ann", "bob", "bob", "cy", "cy"]
    all_paths = sorted(f"{g}/{i:02d}.wav" for g in ("ann", "bob", "cy") for i in range(6))
    assert picks[0] != all_paths[:6]
    # speech datasets spread over speakers; files left out by the limit are never opened
    v = make_vctk(tmp_path / "v", speakers=("p225", "p226", "p227"), n_utts=4)
    assert sorted(adapters.scan(v, limit=3).manifest["speaker"]) == ["p225", "p226", "p227"]
    (v / "wav48" / "p225" / "p225_009.wav").write_bytes(b"garbage")
    assert len(adapters.scan(v, limit=100).problems) == 1
    scans = [adapters.scan(v, limit=3, seed=seed) for seed in range(6)]
    assert all(len(s.manifest) + len(s.problems) == 3 for s in scans)
    assert all(p.startswith("wav48/p225/p225_009.wav: ") for s in scans for p in s.problems)
    assert any(s.problems == [] for s in scans)  # not picked: never opened


# --- bad files --------------------------------------------------------------------------------------

@pytest.fixture()
def mixed(tmp_path):
    root = tmp_path / "mixed"
    for i in range(3):
        tone(root / f"good{i}.wav", f0=200 + 50 * i, seed=i)
    bad = root / "bad"
    bad.mkdir()
    (bad / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    sf.write(bad / "silent.wav", np.zeros(8000), 16000)
    sf.write(bad / "nan.wav", np.full(8000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    tone(bad / "three.wav", channels=3)
    (bad / "song.mp3").write_bytes(b"ID3\x03\x00\x00\x00fake mp3")
    tone(bad / "short.wav", seconds=0.1)
    (bad / "notes.txt").write_text("not audio")
    return root


EXPECTED = {"broken.wav": "cannot be decoded", "silent.wav": "is silent", "nan.wav": "NaN/Inf",
            "three.wav": "has 3 channels", "song.mp3": "mp3 is not read here (soundfile): convert to wav/flac, "
            "e.g. `ffmpeg -i in.mp3 out.wav`", "short.wav": "shorter than 0.25 s"}


def test_each_bad_file_is_one_problem_line_and_good_files_are_kept(mixed):
    s = adapters.scan(mixed)
    assert sorted(s.manifest["path"]) == ["good0.wav", "good1.wav", "good2.wav"]
    assert len(s.problems) == len(EXPECTED)
    for name, what in EXPECTED.items():
        lines = [p for p in s.problems if name in p]
        assert len(lines) == 1, (name, s.problems)
        assert lines[0].startswith(f"bad/{name}: ") and what in lines[0], lines[0]
        assert "\n" not in lines[0] and str(mixed) not in lines[0]
    assert not any("notes.txt" in p for p in s.problems)
    assert s.summary().endswith(", 6 skipped")


def test_check_false_reads_headers_only(mixed):
    s = adapters.scan(mixed, check=False)
    assert sorted(s.manifest["path"]) == ["bad/nan.wav", "bad/silent.wav", "good0.wav", "good1.wav", "good2.wav"]
    assert set(s.manifest["sha1"]) == {""} and set(s.manifest["num_frames"]) == {8000, 6400}
    for name in ("broken.wav", "three.wav", "song.mp3", "short.wav"):
        assert sum(name in p for p in s.problems) == 1, (name, s.problems)
    assert len(s.problems) == 4


# --- unusable folders -------------------------------------------------------------------------------

def _one_line_error(root, match, **kw):
    with pytest.raises(adapters.DatasetError, match=match) as err:
        adapters.scan(root, **kw)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_unusable_folders_raise_one_clear_line(tmp_path):
    msg = _one_line_error(tmp_path / "nowhere", "does not exist")
    assert str(tmp_path / "nowhere") in msg
    (tmp_path / "a.wav").write_bytes(b"x")
    _one_line_error(tmp_path / "a.wav", "is a file, not a folder")
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "readme.txt").write_text("hi")
    tone(empty / ".hidden.wav")
    msg = _one_line_error(empty, r"no audio files \(\.wav, \.flac, \.ogg, \.oga\) under ")
    assert str(empty.resolve()) in msg
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.wav").write_bytes(b"garbage")
    sf.write(bad / "y.wav", np.zeros(8000), 16000)
    _one_line_error(bad, r"none of the 2 audio files under .*; first problem: x\.wav: cannot be decoded")
    _one_line_error(bad, "unknown layout 'kaldi'", layout="kaldi")


def test_forced_layout_that_does_not_match(tmp_path, fake_corpus):
    root, _ = make_folder(tmp_path / "f")
    _one_line_error(root, r"not a VCTK folder: expected wav48/ .* or wav48_silence_trimmed/", layout="vctk")
    _one_line_error(root, r"not a LibriTTS folder: expected subset folders", layout="libritts")
    _one_line_error(root, r"not a MUSDB18 folder: expected train/ and test/", layout="musdb18")
    _one_line_error(root, r"not a course corpus \(no manifest.csv\)", layout="course")
    forced = adapters.scan(fake_corpus, "folder")  # a corpus read as a plain folder is fine
    assert forced.layout == "folder" and len(forced.manifest) == 8


# --- course corpus ----------------------------------------------------------------------------------

def test_course_layout_on_the_fake_corpus(fake_corpus):
    s = adapters.scan(fake_corpus)
    ref = data.read_manifest(fake_corpus)
    assert s.layout == "course" and s.problems == [] and list(s.manifest.columns) == data.MANIFEST_COLUMNS
    assert sorted(s.manifest["clip_id"]) == sorted(ref["clip_id"])
    assert list(s.manifest.set_index("clip_id").loc[ref["clip_id"], "labels"]) == list(ref["labels"])
    assert s.summary() == "course layout: 8 clips (5 train / 1 valid / 2 test), 0.2 min, 0 skipped"
    music = adapters.scan(fake_corpus, domain="music").manifest
    assert sorted(music["clip_id"]) == ["music-00006-clean", "music-00007-clean"]
    three = adapters.scan(fake_corpus, limit=3).manifest["clip_id"]
    assert list(three) == ["music-00006-clean", "speech-00002-clean", "speech-00005-clean"]  # evenly spaced by clip_id
    row = ref[ref["clip_id"] == "speech-00002-clean"].iloc[0]
    (fake_corpus / row["path"]).unlink()
    s = adapters.scan(fake_corpus)
    assert len(s.manifest) == 7 and "speech-00002-clean" not in set(s.manifest["clip_id"])
    assert s.problems == [f"{row['path']}: listed in manifest.csv but missing; rebuild the corpus (`make corpus`) "
                          f"or remove the row"]
    with pytest.raises(adapters.DatasetError, match="no clips of domain 'effects'"):
        adapters.scan(fake_corpus, domain="effects")
