"""Data adapters: the user's own audio, or a public dataset already on disk, as a course manifest.

``scan(root)`` reads a folder and returns a ``Scan`` whose ``manifest`` has exactly the course's
columns (``data.MANIFEST_COLUMNS``) with paths relative to the folder, so ``data.load_clip(root, row)``,
``ClipBank``, the probes and the report card work on it unchanged.  Nothing is downloaded and nothing
is written into the folder.  Files that cannot be used are skipped, one line each in ``Scan.problems``
(``"<relative path>: <what is wrong and the fix>"``); a folder with nothing usable raises
``DatasetError`` with one line.

Layouts (``layout="auto"`` picks one with ``detect_layout``; the rules are checked in this order):

``course``   a corpus built by ``data_scripts/build_corpus.py``: ``root/manifest.csv`` exists::

    corpus/
      manifest.csv
      audio/speech/clean/speech-00000-clean.wav ...
      labels/speech-00000-clean.json ...

``libritts`` LibriTTS or LibriTTS-R: a subset folder (``train-clean-100``, ``train-other-500``,
``dev-clean``, ``test-other`` ...: ``(train|dev|test)-(clean|other)[-N]``) holding at least one
``<digits>/<digits>/*.wav``, either as ``root`` itself or as a child of ``root``.  Text from
``<stem>.normalized.txt``, else ``<stem>.original.txt``, else ""; split from the subset name
(train-* -> train, dev-* -> valid, test-* -> test); speaker = the speaker folder::

    LibriTTS/
      train-clean-100/84/121123/84_121123_000007_000001.wav
                               84_121123_000007_000001.normalized.txt
                               84_121123_000007_000001.original.txt
      dev-clean/...  test-clean/...

``vctk``     VCTK: ``root/wav48`` (0.80, wav) or ``root/wav48_silence_trimmed`` (0.92, flac, one file per
microphone: only ``_mic1`` is kept unless ``mic="mic2"``; when both folders exist the 0.92 one is read).
Text from ``txt/<speaker>/<utterance>.txt``; speaker = ``p225``.  Split: with 3 or more speakers, the
speakers whose sorted index i has ``(i + 1) % 10 == 0`` (or, with fewer than 10 speakers, the last one)
are held out as test; about 10% of every other speaker's utterances (by a hash of the utterance id)
are valid, the rest train::

    VCTK-Corpus/                         VCTK-Corpus-0.92/
      wav48/p225/p225_001.wav              wav48_silence_trimmed/p225/p225_001_mic1.flac
      txt/p225/p225_001.txt                                           p225_001_mic2.flac
                                           txt/p225/p225_001.txt

``musdb18``  MUSDB18-HQ: ``root/train`` or ``root/test`` holds a track folder with ``mixture.wav``
(or .flac/.ogg), or ``.stem.mp4`` files (MUSDB18, which is not read here: each becomes a problem line
saying to use MUSDB18-HQ or ``musdbconvert``).  One row per mixture (domain "music"); ``stems=True``
adds drums/bass/other/vocals rows with ``condition`` = the stem name and ``source_id`` = the mixture's
clip_id.  Split from the top folder; about 10% of the train tracks (by a hash of the track) are valid::

    musdb18hq/
      train/A Classic Education - NightOwl/{mixture,drums,bass,other,vocals}.wav
      test/Al James - Schoolboy Facination/{mixture,drums,bass,other,vocals}.wav

``folder``   anything else: every .wav/.flac/.ogg under ``root``, recursively.  About 15% of the files
(by a hash of the relative path; at least one when there are two or more) are valid, the rest train;
``speakers="parent"`` makes the immediate parent folder the speaker id::

    my audio/
      alice/take1.wav
      bob/take1.flac
      notes.txt                          (not audio: ignored)
      song.mp3                           (a problem line: convert it to wav/flac)

Everywhere: hidden files and folders (a leading ".") are ignored, as are files without an audio
extension; a file with an audio extension soundfile does not read here (.mp3, .m4a, ...) is a
problem line.  ``limit`` keeps at most that many clips, picked before any file is opened: a seeded
round-robin over speakers (folders for ``folder``, tracks for ``musdb18``), so every speaker keeps a
share.  ``check=True`` reads every kept file once (``audio.load``: decodable, non-empty, finite,
at most two channels, not silent; at least ``MIN_SECONDS`` long) and records its sha1;
``check=False`` reads the headers only (``sha1`` is then "").

Example::

    >>> from course_lib import adapters, data
    >>> s = adapters.scan("~/datasets/LibriTTS", limit=200, domain="speech")
    >>> print(s.summary())
    libritts layout: 200 clips (180 train / 12 valid / 8 test), 17.9 min, 0 skipped
    >>> x = data.load_clip(s.root, s.manifest.iloc[0])   # (1, samples) at 16 kHz
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from course_lib import audio, data
from course_lib.files import file_hash

LAYOUTS = ("course", "folder", "libritts", "vctk", "musdb18")
# .oga is Ogg audio too (the freedesktop sound theme ships its sounds as .oga)
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga")
MIN_SECONDS = 0.25

# audio-looking extensions that are not read here: each such file is a problem line, not ignored
_OTHER_AUDIO = (".mp3", ".m4a", ".mp4", ".aac", ".wma", ".opus", ".aif", ".aiff", ".webm", ".amr")
_SUBSET = re.compile(r"^(train|dev|test)-(clean|other)(-\d+)?$")
_SUBSET_SPLIT = {"train": "train", "dev": "valid", "test": "test"}
_STEMS = ("drums", "bass", "other", "vocals")
_DEFAULT_DOMAIN = {"folder": "audio", "libritts": "speech", "vctk": "speech", "musdb18": "music"}


class DatasetError(ValueError):
    """The folder cannot be read as a dataset at all (one line, naming the folder and the fix)."""


@dataclass
class Scan:
    """What ``scan`` found: the resolved root, the layout, the manifest and the skipped files."""

    root: Path
    layout: str
    manifest: pd.DataFrame
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line, e.g. ``folder layout: 37 clips (31 train / 6 valid), 12.3 min, 2 skipped``."""
        m = self.manifest
        n = len(m)
        counts = m["split"].astype(str).value_counts() if n else pd.Series(dtype=int)
        parts = [f"{int(counts[s])} {s}" for s in ("train", "valid", "test") if s in counts]
        parts += [f"{int(c)} {s}" for s, c in counts.items() if s not in ("train", "valid", "test")]
        minutes = float(pd.to_numeric(m["duration_s"], errors="coerce").fillna(0).sum()) / 60 if n else 0.0
        split = f" ({' / '.join(parts)})" if parts else ""
        return (f"{self.layout} layout: {n} clip{'s' if n != 1 else ''}{split}, {minutes:.1f} min, "
                f"{len(self.problems)} skipped")


@dataclass
class _Entry:
    """One candidate clip before it is opened."""

    rel: str  # POSIX path relative to the root
    split: str
    group: str  # what ``limit`` spreads over (speaker, folder, track)
    split_key: str  # what the valid carve-out hashes (moved together: a track's stems follow it)
    id_base: str
    speaker: str = ""
    text_files: tuple[Path, ...] = ()
    condition: str = "clean"
    source_of: str | None = None  # the rel path of the clip this one derives from (a musdb stem's mixture)
    clip_id: str = ""


# --- helpers ----------------------------------------------------------------------------------------

def _frac(key: str) -> float:
    """A stable number in [0, 1) from a string (the same on every machine and Python run)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:12], 16) / 16 ** 12


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-") or "clip"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _strip_audio_ext(name: str) -> str:
    low = name.lower()
    for ext in AUDIO_EXTENSIONS:
        if low.endswith(ext):
            return name[: -len(ext)]
    return name


def _format_problem(rel: str, name: str) -> str | None:
    """A problem line for an audio-looking file soundfile does not read here, else None."""
    low = name.lower()
    if low.endswith(".stem.mp4"):
        return (f"{rel}: MUSDB18 .stem.mp4 files are not read here (soundfile): use MUSDB18-HQ (wav stems) "
                f"or convert with `musdbconvert <musdb18 dir> <output dir>` (pip install musdb)")
    ext = os.path.splitext(low)[1]
    if ext in _OTHER_AUDIO:
        e = ext[1:]
        return f"{rel}: {e} is not read here (soundfile): convert to wav/flac, e.g. `ffmpeg -i in.{e} out.wav`"
    return None


def _walk(base: Path, root: Path) -> tuple[list[str], list[str]]:
    """Audio files under ``base`` (POSIX paths relative to ``root``, sorted), and problem lines for the
    audio-looking files that are not read here.  Hidden files and folders are skipped."""
    found, problems, seen = [], [], set()
    for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            bad = _format_problem(rel, name)
            if bad is not None:
                problems.append(bad)
            elif os.path.splitext(name.lower())[1] in AUDIO_EXTENSIONS:
                found.append(rel)
    return sorted(found), sorted(problems)


def _read_text(files: tuple[Path, ...]) -> str:
    for f in files:
        if f.is_file():
            try:
                return _one_line(f.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                return ""
    return ""


# --- detection --------------------------------------------------------------------------------------

def _is_libritts_subset(d: Path) -> bool:
    """A subset-named folder with at least one ``<digits>/<digits>/*.wav`` (first few speakers looked at)."""
    if not (d.is_dir() and _SUBSET.match(d.name)):
        return False
    for spk in [p for p in _subdirs(d) if p.name.isdigit()][:5]:
        for chap in [p for p in _subdirs(spk) if p.name.isdigit()][:5]:
            try:
                if any(f.suffix.lower() == ".wav" and f.is_file() for f in chap.iterdir()):
                    return True
            except OSError:
                continue
    return False


def _vctk_audio_dir(root: Path) -> Path | None:
    for name in ("wav48_silence_trimmed", "wav48"):
        if (root / name).is_dir():
            return root / name
    return None


def _looks_musdb(root: Path) -> bool:
    for top in ("train", "test"):
        d = root / top
        if not d.is_dir():
            continue
        try:
            if any(f.name.lower().endswith(".stem.mp4") for f in d.iterdir() if f.is_file()):
                return True
        except OSError:
            continue
        for track in _subdirs(d):
            if any((track / f"mixture{ext}").is_file() for ext in AUDIO_EXTENSIONS):
                return True
    return False


def detect_layout(root) -> str:
    """The layout of ``root``, by these rules in order (see the module docstring for the trees):

    - ``course``: ``root/manifest.csv`` exists;
    - ``libritts``: ``root`` is, or has a child that is, a folder named like a LibriTTS subset
      (``train-clean-100``, ``dev-other``, ``test-clean`` ...) holding ``<digits>/<digits>/*.wav``;
    - ``vctk``: ``root/wav48`` or ``root/wav48_silence_trimmed`` is a folder;
    - ``musdb18``: ``root/train`` or ``root/test`` holds a track folder with ``mixture.wav`` (.flac,
      .ogg) or ``*.stem.mp4`` files;
    - ``folder``: anything else.
    """
    root = Path(root).expanduser()
    if (root / "manifest.csv").is_file():
        return "course"
    if _is_libritts_subset(root) or any(_is_libritts_subset(d) for d in _subdirs(root) if _SUBSET.match(d.name)):
        return "libritts"
    if _vctk_audio_dir(root) is not None:
        return "vctk"
    if _looks_musdb(root):
        return "musdb18"
    return "folder"


# --- the layouts ------------------------------------------------------------------------------------

def _folder(root: Path, speakers: str) -> tuple[list[_Entry], list[str]]:
    if speakers not in ("none", "parent"):
        raise DatasetError(f"speakers={speakers!r}: use 'none' or 'parent' (the parent folder names the speaker)")
    files, problems = _walk(root, root)
    entries = []
    for rel in files:
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        speaker = parent.rsplit("/", 1)[-1] if speakers == "parent" and parent else ""
        split = "valid" if _frac(rel) < 0.15 else "train"
        entries.append(_Entry(rel, split, group=parent, split_key=rel,
                              id_base=_safe(_strip_audio_ext(rel).replace("/", "__")), speaker=speaker))
    return entries, problems


def _libritts(root: Path) -> tuple[list[_Entry], list[str]]:
    if _SUBSET.match(root.name):
        subsets = [root]
    else:
        subsets = [d for d in _subdirs(root) if _SUBSET.match(d.name)]
    if not subsets:
        raise DatasetError(
            f"{root}: not a LibriTTS folder: expected subset folders (train-clean-100, dev-clean, test-clean ...) "
            f"holding <speaker>/<chapter>/<speaker>_<chapter>_<para>_<sent>.wav, or one such subset folder; "
            f"use layout='folder' for other audio")
    entries, problems = [], []
    for sub in subsets:
        split = _SUBSET_SPLIT[sub.name.split("-")[0]]
        files, bad = _walk(sub, root)
        problems += bad
        for rel in files:
            parts = Path(rel).relative_to(sub.relative_to(root)).parts if sub != root else Path(rel).parts
            speaker = parts[0] if len(parts) == 3 and parts[0].isdigit() else ""
            path = root / rel
            stem = _strip_audio_ext(path.name)
            texts = (path.with_name(stem + ".normalized.txt"), path.with_name(stem + ".original.txt"))
            entries.append(_Entry(rel, split, group=speaker, split_key=rel, id_base=_safe(stem), speaker=speaker,
                                  text_files=texts))
    return entries, sorted(problems)


def _vctk_test_speakers(speakers: list[str]) -> set[str]:
    n = len(speakers)
    if n < 3:
        return set()
    return {s for i, s in enumerate(speakers) if (i + 1) % 10 == 0 or (n < 10 and i == n - 1)}


def _vctk(root: Path, mic: str) -> tuple[list[_Entry], list[str]]:
    if mic not in ("mic1", "mic2"):
        raise DatasetError(f"mic={mic!r}: VCTK 0.92 has 'mic1' and 'mic2'")
    wav_dir = _vctk_audio_dir(root)
    if wav_dir is None:
        raise DatasetError(
            f"{root}: not a VCTK folder: expected wav48/ (VCTK 0.80) or wav48_silence_trimmed/ (VCTK 0.92) "
            f"with one folder per speaker (p225/...) and txt/; use layout='folder' for other audio")
    files, problems = _walk(wav_dir, root)
    items = []
    for rel in files:
        parts = Path(rel).relative_to(wav_dir.relative_to(root)).parts
        speaker = parts[0] if len(parts) == 2 else ""
        stem = _strip_audio_ext(parts[-1])
        m = re.match(r"^(.*)_(mic[12])$", stem)
        utt, this_mic = (m.group(1), m.group(2)) if m else (stem, None)
        if this_mic is not None and this_mic != mic:
            continue
        items.append((rel, speaker, utt, stem))
    test = _vctk_test_speakers(sorted({s for _, s, _, _ in items if s}))
    entries = []
    for rel, speaker, utt, stem in items:
        split = "test" if speaker in test else ("valid" if _frac(utt) < 0.10 else "train")
        texts = (root / "txt" / speaker / f"{utt}.txt",) if speaker else ()
        entries.append(_Entry(rel, split, group=speaker, split_key=utt, id_base=_safe(stem), speaker=speaker,
                              text_files=texts))
    return entries, problems


def _musdb(root: Path, stems: bool) -> tuple[list[_Entry], list[str]]:
    tops = [root / t for t in ("train", "test") if (root / t).is_dir()]
    if not tops:
        raise DatasetError(
            f"{root}: not a MUSDB18 folder: expected train/ and test/ holding one folder per track with "
            f"mixture.wav, drums.wav, bass.wav, other.wav, vocals.wav (MUSDB18-HQ); use layout='folder' for "
            f"other audio")
    entries, problems = [], []
    for top in tops:
        files, bad = _walk(top, root)
        problems += bad
        by_track: dict[str, dict[str, str]] = {}
        for rel in files:
            parts = Path(rel).parts
            if len(parts) != 3:
                continue  # only <top>/<track>/<stem>.wav are tracks
            name = _strip_audio_ext(parts[2]).lower()
            if name in ("mixture", *_STEMS):
                by_track.setdefault(parts[1], {}).setdefault(name, rel)
        for track, found in sorted(by_track.items()):
            track_rel = f"{top.name}/{track}"
            if "mixture" not in found:
                problems.append(f"{track_rel}/: no mixture.wav in this track folder; re-extract the track "
                                f"from MUSDB18-HQ")
                continue
            if top.name == "test":
                split = "test"
            else:
                split = "valid" if _frac(track) < 0.10 else "train"
            base = _safe(track)
            mix = found["mixture"]
            entries.append(_Entry(mix, split, group=track_rel, split_key=track_rel, id_base=base))
            if stems:
                for stem in _STEMS:
                    if stem in found:
                        entries.append(_Entry(found[stem], split, group=track_rel, split_key=track_rel,
                                              id_base=f"{base}-{stem}", condition=stem, source_of=mix))
    return entries, sorted(problems)


def _course(root: Path, limit: int | None, domain: str | None, check: bool) -> Scan:
    if not (root / "manifest.csv").is_file():
        raise DatasetError(f"{root}: not a course corpus (no manifest.csv); build one with `make corpus`, "
                           f"or use layout='auto' / 'folder' for other audio")
    try:
        df = data.read_manifest(root)
    except data.CorpusError as e:
        raise DatasetError(_one_line(e)) from None
    if domain:
        found = sorted(set(df["domain"].astype(str)))
        df = df[df["domain"].astype(str) == domain]
        if df.empty:
            raise DatasetError(f"{root}: no clips of domain {domain!r} in this corpus (it has: {', '.join(found)})")
    df = df.sort_values("clip_id")
    if limit is not None and len(df) > limit:
        df = df.iloc[np.unique(np.linspace(0, len(df) - 1, limit).round().astype(int))]
    problems = []
    if check:
        exists = df["path"].map(lambda p: (root / str(p)).is_file())
        problems = [f"{p}: listed in manifest.csv but missing; rebuild the corpus (`make corpus`) or remove the row"
                    for p in df.loc[~exists, "path"]]
        df = df[exists]
        if df.empty:
            raise DatasetError(f"{root}: none of the manifest's files exist; first problem: {problems[0]}")
    return Scan(root, "course", df.reset_index(drop=True), problems)


# --- picking, measuring, splitting --------------------------------------------------------------

def _assign_ids(entries: list[_Entry]) -> None:
    """Unique clip ids: the readable base, plus a short hash of the path where two bases collide."""
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.id_base] = counts.get(e.id_base, 0) + 1
    used: set[str] = set()
    for e in entries:
        cid = e.id_base if counts[e.id_base] == 1 else f"{e.id_base}-{hashlib.sha1(e.rel.encode()).hexdigest()[:8]}"
        k, base = 1, cid
        while cid in used:
            k += 1
            cid = f"{base}-{k}"
        used.add(cid)
        e.clip_id = cid


def _pick(entries: list[_Entry], limit: int | None, seed: int, keep_order: bool) -> list[_Entry]:
    """At most ``limit`` entries: a seeded round-robin over the groups (each group in a seeded order,
    or in its given order when ``keep_order``), so every speaker / folder / track keeps a share."""
    if limit is None or len(entries) <= limit:
        return entries
    rng = np.random.default_rng(seed)
    groups: dict[str, list[_Entry]] = {}
    for e in entries:
        groups.setdefault(e.group, []).append(e)
    keys = sorted(groups)
    queues = []
    for i in rng.permutation(len(keys)):
        g = groups[keys[i]]
        queues.append(g if keep_order else [g[j] for j in rng.permutation(len(g))])
    picked: list[_Entry] = []
    depth = 0
    while len(picked) < limit:
        for q in queues:
            if depth < len(q):
                picked.append(q[depth])
                if len(picked) == limit:
                    break
        depth += 1
    return sorted(picked, key=lambda e: e.rel)


def _measure(root: Path, e: _Entry, check: bool) -> dict | str:
    """The file's numbers (a dict), or its problem line (a str)."""
    path = root / e.rel
    if check:
        try:
            x = audio.load(path, sample_rate=None)
        except audio.AudioError as err:
            msg = _one_line(err)
            for prefix in (f"{path}: ", f"{path}"):
                if msg.startswith(prefix):
                    msg = msg[len(prefix):].lstrip(": ")
                    break
            return f"{e.rel}: {msg.replace(str(path), e.rel)}"  # libsndfile's own text names the file too
        try:
            sr = int(sf.info(str(path)).samplerate)
        except Exception as err:  # decoded a moment ago, so unlikely
            return f"{e.rel}: header cannot be read ({_one_line(err)})"
        channels, frames = int(x.shape[0]), int(x.shape[1])
        sha1 = file_hash(path, "sha1")
    else:
        try:
            info = sf.info(str(path))
        except Exception as err:
            return (f"{e.rel}: header cannot be read ({_one_line(err)}); the file is corrupt, truncated or not a "
                    f"format soundfile reads (wav, flac, ogg)")
        sr, channels, frames, sha1 = int(info.samplerate), int(info.channels), int(info.frames), ""
        if frames <= 0:
            return f"{e.rel}: the audio is empty (0 samples); remove the file or re-export it"
        if channels > 2:
            return (f"{e.rel}: has {channels} channels; the course handles mono or stereo: downmix it first "
                    f"(e.g. `sox in.wav -c 2 out.wav`)")
    seconds = frames / sr
    if seconds < MIN_SECONDS:
        return (f"{e.rel}: only {seconds:.3f} s long, shorter than {MIN_SECONDS} s: too short to use; "
                f"drop it or use a longer recording")
    return {"sample_rate": sr, "channels": channels, "num_frames": frames, "duration_s": round(seconds, 4),
            "sha1": sha1}


def _ensure_valid(entries: list[_Entry]) -> None:
    """At least one valid clip (and one train clip) when there are two or more train/valid groups:
    the group with the smallest hash moves to valid (the largest back to train)."""
    train = sorted({e.split_key for e in entries if e.split == "train"}, key=_frac)
    valid = sorted({e.split_key for e in entries if e.split == "valid"}, key=_frac)
    if not valid and len(train) >= 2:
        move, to = train[0], "valid"
    elif not train and len(valid) >= 2:
        move, to = valid[-1], "train"
    else:
        return
    for e in entries:
        if e.split_key == move:
            e.split = to


def scan(root, layout: str = "auto", limit: int | None = None, domain: str | None = None, seed: int = 0,
         check: bool = True, *, speakers: str = "none", mic: str = "mic1", stems: bool = False) -> Scan:
    """Read ``root`` as ``layout`` (``"auto"``: ``detect_layout``) into a course manifest.

    ``limit``: keep at most this many clips, a seeded pick spread over speakers / folders / tracks,
    made before any file is opened.  ``domain``: the rows' domain (default "speech" for libritts and
    vctk, "music" for musdb18, "audio" for folder); for a course corpus, keep only that domain.
    ``check``: read every kept file (``audio.load``) and skip the bad ones; ``False`` reads headers only.
    ``speakers`` ("none" / "parent": the parent folder is the speaker id) is for ``folder``; ``mic``
    ("mic1" / "mic2") for VCTK 0.92; ``stems`` (add the four stems as rows) for ``musdb18``.
    Raises ``DatasetError`` (one line) when nothing at all can be used.
    """
    if layout != "auto" and layout not in LAYOUTS:
        raise DatasetError(f"unknown layout {layout!r}: use 'auto' or one of {', '.join(LAYOUTS)}")
    if limit is not None and limit < 1:
        raise DatasetError(f"limit={limit}: give a positive number of clips, or None for all")
    given = Path(root).expanduser()
    if not given.exists():
        raise DatasetError(f"{given}: does not exist; check the path to the folder that holds your audio")
    if not given.is_dir():
        raise DatasetError(f"{given}: is a file, not a folder; give the folder that holds your audio files")
    root = given.resolve()
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "course":
        return _course(root, limit, domain, check)

    if layout == "folder":
        entries, problems = _folder(root, speakers)
    elif layout == "libritts":
        entries, problems = _libritts(root)
    elif layout == "vctk":
        entries, problems = _vctk(root, mic)
    else:
        entries, problems = _musdb(root, stems)
    if not entries and not problems:
        raise DatasetError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {root}; put your audio there "
                           f"(subfolders are read too)")
    _assign_ids(entries)
    picked = _pick(entries, limit, seed, keep_order=layout == "musdb18")
    n_tried = len(picked) + len(problems)
    kept, numbers = [], {}
    for e in picked:
        got = _measure(root, e, check)
        if isinstance(got, str):
            problems.append(got)
        else:
            kept.append(e)
            numbers[e.rel] = got
    problems.sort()
    if not kept:
        raise DatasetError(f"none of the {n_tried} audio file{'s' if n_tried != 1 else ''} under {root} could be "
                           f"used; first problem: {problems[0]}")
    if layout in ("folder", "vctk", "musdb18"):
        _ensure_valid(kept)

    ids = {e.rel: e.clip_id for e in entries}
    dom = domain or _DEFAULT_DOMAIN[layout]
    rows = []
    for e in kept:
        row = dict.fromkeys(data.MANIFEST_COLUMNS, "")
        row.update(clip_id=e.clip_id, path=e.rel, split=e.split, domain=dom, condition=e.condition,
                   source_id=ids.get(e.source_of, e.clip_id) if e.source_of else e.clip_id,
                   speaker=e.speaker, text=_read_text(e.text_files), **numbers[e.rel])
        rows.append(row)
    manifest = pd.DataFrame(rows, columns=data.MANIFEST_COLUMNS).sort_values("path").reset_index(drop=True)
    return Scan(root, layout, manifest, problems)
