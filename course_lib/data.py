"""The corpus as the code sees it: a manifest, clips in memory, fixed evaluation batches, regimes.

The manifest (``<corpus>/manifest.csv``, one row per clip) is the only interface between the data
scripts and the lessons.  Columns:

    clip_id, path, split, domain, condition, source_id, sample_rate, channels, num_frames,
    duration_s, speaker, text, room_id, rt60_s, noise_type, snr_db, cutoff_hz, labels, sha1

``split`` is train / valid (new sentences of training speakers) / test (held-out speakers and
rooms); ``condition`` is clean / reverb / noisy / bandlimited, and ``source_id`` links a degraded
clip to its clean original.  ``labels`` is a JSON file shared by a clean clip and its degraded
copies (phones and F0 for speech, notes and pans for music, event onsets for effects).

The corpus is small, so clips are held in RAM: drawing a training batch is a few tensor copies and
never stalls the optimiser step.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from course_lib.audio import SAMPLE_RATE, load, to_channels

MANIFEST_COLUMNS = [
    "clip_id", "path", "split", "domain", "condition", "source_id", "sample_rate", "channels",
    "num_frames", "duration_s", "speaker", "text", "room_id", "rt60_s", "noise_type", "snr_db",
    "cutoff_hz", "labels", "sha1",
]
REPO_ROOT = Path(__file__).resolve().parent.parent


class CorpusError(RuntimeError):
    """The corpus is missing or does not look like one."""


def data_root() -> Path:
    """Where generated data lives: ``$COURSE_DATA`` or ``<repo>/data``."""
    return Path(os.environ.get("COURSE_DATA", REPO_ROOT / "data"))


def corpus_dir(preset: str) -> Path:
    """The directory of the corpus built for a preset (``data/corpus/<preset>``)."""
    return data_root() / "corpus" / preset


def read_manifest(corpus: str | os.PathLike) -> pd.DataFrame:
    """Load and check ``manifest.csv``; a missing corpus gets an error saying how to build it."""
    corpus = Path(corpus)
    path = corpus / "manifest.csv"
    if not path.exists():
        raise CorpusError(
            f"no corpus at {corpus}: build it with `make corpus` "
            f"(or `python data_scripts/build_corpus.py --preset {corpus.name}`)"
        )
    df = pd.read_csv(path, dtype={"speaker": str, "text": str, "room_id": str, "noise_type": str},
                     keep_default_na=False)
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise CorpusError(f"{path}: missing columns {missing}; rebuild the corpus with --force")
    return df


def corpus_hash(corpus: str | os.PathLike) -> str:
    """A short hash that changes whenever the manifest (and so any clip) or the builder changes.

    The manifest holds every clip's sha1, so it tracks the audio; the builder version in
    ``corpus.json`` is folded in because a label-format change leaves the audio (and manifest) as is.
    """
    path = Path(corpus) / "manifest.csv"
    if not path.exists():
        read_manifest(corpus)  # raises the helpful error
    h = hashlib.sha256(path.read_bytes())
    meta = Path(corpus) / "corpus.json"
    if meta.exists():
        h.update(str(json.loads(meta.read_text()).get("builder_version", "")).encode())
    return h.hexdigest()[:16]


def select(df: pd.DataFrame, **where) -> pd.DataFrame:
    """Rows whose columns equal the given values; a list value means "any of these".

    >>> select(df, split="train", domain="speech", condition="clean")
    """
    mask = pd.Series(True, index=df.index)
    for col, val in where.items():
        if val is None:
            continue
        mask &= df[col].isin(val) if isinstance(val, (list, tuple, set)) else df[col] == val
    return df[mask].sort_values("clip_id").reset_index(drop=True)


def load_clip(corpus: str | os.PathLike, row, channels: int | None = None) -> torch.Tensor:
    """One clip as (channels, samples) at the course rate; ``channels`` converts mono <-> stereo."""
    x = load(Path(corpus) / row["path"], sample_rate=SAMPLE_RATE, allow_silent=True)
    return x if channels is None else to_channels(x, channels)


def load_labels(corpus: str | os.PathLike, row) -> dict:
    return json.loads((Path(corpus) / row["labels"]).read_text())


@dataclass
class Batch:
    """One training batch: what the encoder reads, and what the decoder must produce from it.

    ``x`` (B, C, T) is the input audio; ``target`` the audio to reconstruct (default: ``x`` itself;
    the clean version for restoration).  ``z`` replaces the encoder altogether (a latent replayed
    from a predictor, for a decoder-only phase); ``speaker`` (B,) feeds a speaker-conditioned decoder;
    ``spans`` the phone topology's frame-to-slot map.
    """

    x: torch.Tensor | None
    target: torch.Tensor | None = None
    z: torch.Tensor | None = None
    speaker: torch.Tensor | None = None
    spans: torch.Tensor | None = None

    @property
    def audio_target(self) -> torch.Tensor:
        return self.target if self.target is not None else self.x


class ClipBank:
    """Clips held in memory, and random fixed-length crops of them for training.

    Crops come from a ``torch.Generator`` so a seeded run draws the same batches every time.
    """

    def __init__(self, clips: list[torch.Tensor], names: list[str] | None = None,
                 spans: list[torch.Tensor] | None = None, targets: list[torch.Tensor] | None = None,
                 speakers: list[int] | None = None):
        """``spans`` (optional): per clip, the phone index of every STFT frame (``phone_spans``).
        ``targets`` (optional): per clip, the audio the model must *produce* from it (e.g. the clean
        version of a degraded clip: a restoration pair), cropped at the same place.
        ``speakers`` (optional): per clip, an integer speaker id for a speaker-conditioned decoder."""
        if not clips:
            raise CorpusError("no clips selected: check the split / domain / condition filters")
        self.clips = clips
        self.names = names or [str(i) for i in range(len(clips))]
        self.channels = clips[0].shape[0]
        self.spans = spans
        for what, other in (("targets", targets), ("speakers", speakers)):
            if other is not None and len(other) != len(clips):
                raise ValueError(f"{len(other)} {what} for {len(clips)} clips")
        if targets is not None:
            for name, c, t in zip(self.names, clips, targets):
                if c.shape != t.shape:
                    raise ValueError(f"clip {name}: input {tuple(c.shape)} and target {tuple(t.shape)} differ")
        self.targets, self.speakers = targets, speakers

    def key(self) -> str:
        """What, besides the preset and the corpus, decides what this bank trains (joins the cache key)."""
        blob = json.dumps({"names": self.names, "targets": self.targets is not None, "speakers": self.speakers})
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def from_manifest(cls, corpus, rows: pd.DataFrame, channels: int | None = None,
                      phones: bool = False, hop: int = 160) -> ClipBank:
        """Load ``rows`` into memory; ``phones=True`` also loads each clip's phone spans (speech only)."""
        clips = [load_clip(corpus, r, channels) for _, r in rows.iterrows()]
        spans = None
        if phones:
            spans = [phone_spans(load_labels(corpus, r), c.shape[-1] // hop, hop / SAMPLE_RATE)[0]
                     for c, (_, r) in zip(clips, rows.iterrows())]
        return cls(clips, list(rows["clip_id"]), spans)

    @property
    def seconds(self) -> float:
        return sum(c.shape[-1] for c in self.clips) / SAMPLE_RATE

    def sample(self, batch_size: int, segment: int, generator: torch.Generator,
               gain_db: tuple[float, float] = (-10.0, 0.0)) -> torch.Tensor:
        """A (batch, channels, segment) batch of random crops with random gain.

        The gain augmentation keeps the model from relying on one loudness; clips shorter than
        ``segment`` are zero-padded at the end.
        """
        idx = torch.randint(len(self.clips), (batch_size,), generator=generator)
        out = torch.zeros(batch_size, self.channels, segment)
        for b, i in enumerate(idx.tolist()):
            clip = self.clips[i]
            n = clip.shape[-1]
            start = int(torch.randint(max(n - segment, 0) + 1, (1,), generator=generator))
            piece = clip[:, start:start + segment]
            out[b, :, : piece.shape[-1]] = piece
        lo, hi = gain_db
        gains = 10 ** ((lo + (hi - lo) * torch.rand(batch_size, 1, 1, generator=generator)) / 20)
        return out * gains

    def batch(self, batch_size: int, segment: int, generator: torch.Generator, spans: bool = False,
              hop: int = 160) -> Batch:
        """A training ``Batch``: random crops (``sample`` / ``sample_with_spans``: the same draws) and,
        when the bank has them, the target crops (same place, same gain) and the speaker ids."""
        if self.targets is None and self.speakers is None:
            if spans:
                x, sp = self.sample_with_spans(batch_size, segment, generator, hop)
                return Batch(x, spans=sp)
            return Batch(self.sample(batch_size, segment, generator))
        if spans:
            raise ValueError("paired or speaker-labelled banks crop without phone spans")
        state = generator.get_state()  # replay the same draws on the targets: identical crops and gains
        idx = torch.randint(len(self.clips), (batch_size,), generator=generator)
        generator.set_state(state)
        x = self.sample(batch_size, segment, generator)
        target = None
        if self.targets is not None:
            generator.set_state(state)
            target = ClipBank(self.targets, self.names).sample(batch_size, segment, generator)
        speaker = torch.tensor([self.speakers[i] for i in idx.tolist()]) if self.speakers is not None else None
        return Batch(x, target=target, speaker=speaker)

    def sample_with_spans(self, batch_size: int, segment: int, generator: torch.Generator, hop: int = 160,
                          gain_db: tuple[float, float] = (-10.0, 0.0)) -> tuple[torch.Tensor, torch.Tensor]:
        """Like ``sample``, but crops start on a hop boundary and come with their phone spans
        (batch, segment // hop), renumbered from 0 inside each crop (a cut phone is a shorter span)."""
        if self.spans is None:
            raise ValueError("this ClipBank has no phone spans: build it with from_manifest(..., phones=True)")
        frames = segment // hop
        idx = torch.randint(len(self.clips), (batch_size,), generator=generator)
        out = torch.zeros(batch_size, self.channels, segment)
        spans = torch.zeros(batch_size, frames, dtype=torch.long)
        for b, i in enumerate(idx.tolist()):
            clip, track = self.clips[i], self.spans[i]
            n = min(clip.shape[-1] // hop, track.shape[0])
            start = int(torch.randint(max(n - frames, 0) + 1, (1,), generator=generator))
            piece = clip[:, start * hop: start * hop + segment]
            out[b, :, : piece.shape[-1]] = piece
            t = track[start: start + frames] - track[start]
            spans[b, : t.shape[0]] = t
            spans[b, t.shape[0]:] = t[-1] + 1  # zero padding past the clip end is one more span
        lo, hi = gain_db
        gains = 10 ** ((lo + (hi - lo) * torch.rand(batch_size, 1, 1, generator=generator)) / 20)
        return out * gains, spans


def phone_spans(labels: dict, n_frames: int, hop_s: float = 0.01) -> tuple[torch.Tensor, list[str]]:
    """The phone index of every STFT frame (n_frames,) and the phone names, from speech labels.

    A frame belongs to the phone whose interval holds the frame's centre; frames past the last
    phone belong to it.  These are the durations a phone-aligned latent carries.
    """
    phones = labels.get("phones") or []
    if not phones:
        raise CorpusError(f"labels of a {labels.get('domain', '?')} clip have no phone timings")
    ends = torch.tensor([float(p["end"]) for p in phones])
    centres = (torch.arange(n_frames, dtype=torch.float64) + 0.5) * hop_s
    idx = torch.searchsorted(ends.double(), centres, right=True).clamp(max=len(phones) - 1)
    return idx.long(), [p["phone"] for p in phones]


def eval_clips(corpus, rows: pd.DataFrame, n: int, channels: int | None = None,
               max_seconds: float | None = None, spread: bool = False) -> tuple[list[torch.Tensor], list[str]]:
    """A fixed evaluation set: the first ``n`` rows by clip_id, whole clips (optionally cut).

    ``spread=True`` takes ``n`` rows evenly spaced over the clip_id order instead.  The corpus writes
    a speaker's clips next to each other, so the first 16 held-out clips are two speakers of one
    voice; spread over the split, they cover every voice (notebook 00 scores its oracle this way:
    PESQ-wb differs by voice more than by most training choices).
    Deterministic by construction, so every lesson scores the same audio.
    """
    rows = rows.sort_values("clip_id")
    if spread and len(rows) > n:
        rows = rows.iloc[np.round(np.linspace(0, len(rows) - 1, n)).astype(int)]
    rows = rows.head(n)
    clips = []
    for _, r in rows.iterrows():
        x = load_clip(corpus, r, channels)
        if max_seconds is not None:
            x = x[:, : int(max_seconds * SAMPLE_RATE)]
        clips.append(x)
    return clips, list(rows["clip_id"])


def regime_masks(x: torch.Tensor, sample_rate: int = SAMPLE_RATE, hop: int = 160,
                 silence_db: float = -45.0, flux_db: float = 6.0) -> dict[str, torch.Tensor]:
    """Label every hop-sized frame of ``x`` (channels, samples) as silence, transient or steady.

    - silence: frame energy more than ``silence_db`` below the clip's loudest frame;
    - transient: not silent, and the energy jumps by more than ``flux_db`` over the previous frame;
    - steady: everything else.
    Returns boolean masks of shape (frames,) that partition the frames.  Used by the dashboard to
    split latent statistics by acoustic regime.
    """
    mono = x.mean(dim=0)
    n = mono.shape[-1] // hop
    frames = mono[: n * hop].reshape(n, hop)
    energy_db = 10 * torch.log10(frames.pow(2).mean(dim=1) + 1e-10)
    silence = energy_db < energy_db.max() + silence_db
    rise = torch.zeros_like(energy_db)
    rise[1:] = energy_db[1:] - energy_db[:-1]
    transient = (~silence) & (rise > flux_db)
    steady = ~(silence | transient)
    return {"silence": silence, "transient": transient, "steady": steady}


def ensure_corpus(preset: str, seed: int = 0) -> Path:
    """Build the corpus for ``preset`` if needed (an up-to-date corpus returns at once) and return its dir.

    The corpus seed is fixed at 0 by default: every lesson and every training seed sees the same data.
    """
    import sys

    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from data_scripts.build_corpus import build_corpus

    return Path(build_corpus(preset, seed=seed, out=corpus_dir(preset)))


PAUSES = {"pau", "sil", "h#", "#", "_", "ssil"}
# The 41 phone symbols of the corpus's speech labels (festival and flite share this ARPAbet set):
# the classes of the content teacher and of the content probe.
PHONES = ("aa", "ae", "ah", "ao", "aw", "ax", "ay", "b", "ch", "d", "dh", "eh", "er", "ey", "f", "g", "hh", "ih",
          "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "pau", "r", "s", "sh", "t", "th", "uh", "uw", "v",
          "w", "y", "z", "zh")


def stems_ild_db(labels: dict) -> float:
    """The inter-channel level difference (dB, left over right) a music clip's labels imply: the
    stems' RMS levels times their pan gains, summed as powers per side."""
    inst = labels["instruments"]
    left = sum((i["stem_rms"] * i["gain_l"]) ** 2 for i in inst)
    right = sum((i["stem_rms"] * i["gain_r"]) ** 2 for i in inst)
    return float(10 * np.log10((left + 1e-12) / (right + 1e-12)))


def phone_class(phone: str) -> str:
    """pause / vowel / consonant, from the phone symbol (ARPAbet-like sets of festival and flite)."""
    p = phone.lower()
    if p in PAUSES:
        return "pause"
    return "vowel" if p[0] in "aeiou" else "consonant"


def check_labels(corpus, df: pd.DataFrame, n_speech: int = 8, n_music: int = 8) -> dict:
    """Compare corpus labels with independent measurements on the rendered audio.

    - F0: the label contour (Praat) vs librosa's pYIN on the same clip: median absolute error in
      cents over frames both call voiced, and the fraction of frames where they agree on voicing.
    - phone timings: mean level of pauses, vowels and consonants inside their labelled spans.
    - stereo: the ILD implied by the labelled pans and stem levels vs the ILD measured on the mix.
    Returns a ``summary`` dict of numbers, plus material for plots.
    """
    import librosa

    cents, agree, levels, example = [], [], {"pause": [], "vowel": [], "consonant": []}, None
    speech = select(df, domain="speech", condition="clean").head(n_speech)
    for _, row in speech.iterrows():
        x = load_clip(corpus, row)[0].numpy()
        lab = load_labels(corpus, row)
        hop = int(round(lab["f0"]["hop_s"] * SAMPLE_RATE))
        # quarter-semitone pitch states: 20x faster than pYIN's default, still far finer than the
        # 50-cent agreement we test for
        f0_pyin, voiced, _ = librosa.pyin(x, fmin=50, fmax=500, sr=SAMPLE_RATE, frame_length=1024,
                                          hop_length=hop, resolution=0.25)
        label = np.asarray(lab["f0"]["hz"], dtype=float)
        n = min(len(label), len(f0_pyin))
        label, f0_pyin, voiced = label[:n], np.nan_to_num(f0_pyin[:n]), voiced[:n]
        both = (label > 0) & voiced & (f0_pyin > 0)
        cents.extend(np.abs(1200 * np.log2(f0_pyin[both] / label[both])))
        agree.append(np.mean((label > 0) == voiced))
        if example is None:
            example = {"hop_s": lab["f0"]["hop_s"], "label": label, "measured": np.where(voiced, f0_pyin, 0)}
        for p in lab["phones"]:
            a, b = int(p["start"] * SAMPLE_RATE), int(p["end"] * SAMPLE_RATE)
            if b - a >= 80:
                levels[phone_class(p["phone"])].append(10 * np.log10(np.mean(x[a:b] ** 2) + 1e-10))
    pans = []
    music = select(df, domain="music", condition="clean").head(n_music)
    for _, row in music.iterrows():
        x = load_clip(corpus, row).numpy()
        lab = load_labels(corpus, row)
        pans.append({"clip_id": row["clip_id"], "expected_ild_db": stems_ild_db(lab),
                     "measured_ild_db": 10 * np.log10((np.mean(x[0] ** 2) + 1e-12) / (np.mean(x[1] ** 2) + 1e-12))})
    pan = pd.DataFrame(pans)
    phone_energy = pd.Series({k: float(np.mean(v)) if v else float("nan") for k, v in levels.items()})
    summary = {
        "f0_median_abs_cents": float(np.median(cents)) if cents else float("nan"),
        "f0_voicing_agreement": float(np.mean(agree)) if agree else float("nan"),
        "pan_ild_correlation": float(np.corrcoef(pan["expected_ild_db"], pan["measured_ild_db"])[0, 1])
        if len(pan) > 2 else float("nan"),
        "pan_ild_max_error_db": float((pan["expected_ild_db"] - pan["measured_ild_db"]).abs().max())
        if len(pan) else float("nan"),
        "pause_minus_vowel_db": float(phone_energy["pause"] - phone_energy["vowel"]),
    }
    return {"summary": summary, "f0_example": example, "pan": pan, "phone_energy": phone_energy}
