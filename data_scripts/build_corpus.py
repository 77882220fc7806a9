#!/usr/bin/env python
"""Build the course corpus: a small, labelled, multi-domain audio corpus rendered offline.

Probes need ground truth, and real datasets rarely ship it (exact phone timings, F0, note lists,
pan positions, event onsets).  So the course *renders* its corpus from Debian packages and PyPI
libraries, with no download at all, and keeps every label the renderer knows:

* **speech** (mono): synthetic speakers from festival and flite.  Each base voice is widened into
  several "speakers" by changing its pitch target, its speaking rate and a resampling warp (which
  moves pitch *and* formants together, like a different vocal-tract length).  Sentences come from a
  small seeded grammar.  Labels: transcript, phones (and words for festival) with times, speaker,
  and an F0 contour measured with Praat (parselmouth) on the audio that was written.
* **music** (stereo): random multi-instrument General-MIDI pieces rendered with fluidsynth.  Each
  instrument is rendered alone (mono) and panned with a constant-power law, so the pan and the
  left/right gains in the labels are exact.  Labels: notes, programs, pans, gains, stem levels.
* **effects** (mono): 2-4 events (impacts, clicks, sweeps, noise bursts, hums and short desktop
  sounds from the Debian sound themes) at known onsets over a quiet background.
* **conditions**: every clean clip also exists ``reverb`` (simulated shoebox rooms), ``noisy``
  (white/pink/brown/hum/babble at a drawn SNR) and ``bandlimited`` (low-pass), giving
  degraded -> clean pairs for restoration.  A degraded clip shares the label file of its source.

Splits are fixed by the seed.  Speech ``test`` holds out whole base voices (every speaker made from
them), ``valid`` holds new sentences of training speakers.  Some rooms are used only by test clips.

The manifest (``manifest.csv``) is the only interface to the rest of the course; ``corpus.json``
records what was built.  The same preset and seed give a byte-identical manifest (every row
carries the sha1 of its wav), so the manifest hash identifies the corpus.

Usage::

    python data_scripts/build_corpus.py --preset smoke|cpu|gpu [--seed 0] [--out DIR] [--force]
                                        [--jobs N]

or from Python: ``build_corpus("cpu")`` returns the corpus directory (workers are *spawned*, so a
script that calls it needs the usual ``if __name__ == "__main__":`` guard; notebooks do not).
A build that is already up to date returns at once; an interrupted build never leaves a
half-written corpus behind (it is written to a temporary directory and renamed at the end).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np

# Heavy imports (scipy, soundfile, parselmouth, pretty_midi, fluidsynth, pyroomacoustics) happen
# inside the functions that need them, so that the "already up to date" path stays well under 1 s.

BUILDER_VERSION = "1.0.0"  # bump whenever the rendered audio or labels change
SAMPLE_RATE = 16000
REPO_ROOT = Path(__file__).resolve().parent.parent

MANIFEST_COLUMNS = [
    "clip_id", "path", "split", "domain", "condition", "source_id", "sample_rate", "channels",
    "num_frames", "duration_s", "speaker", "text", "room_id", "rt60_s", "noise_type", "snr_db",
    "cutoff_hz", "labels", "sha1",
]
CONDITIONS = ("clean", "reverb", "noisy", "bandlimited")
DOMAIN_CODES = {"speech": 1, "music": 2, "effects": 3, "rooms": 4, "sentences": 5, "splits": 6}

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
FESTIVAL_VOICE_DIRS = {
    "voice_kal_diphone": ("/usr/share/festival/voices/english/kal_diphone", "festvox-kallpc16k"),
    "voice_ked_diphone": ("/usr/share/festival/voices/english/ked_diphone", "festvox-kdlpc16k"),
    "voice_cmu_us_slt_arctic_hts": ("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts",
                                    "festvox-us-slt-hts"),
}
# Desktop sound themes (short real recordings / designed sounds).  The spoken "front left" channel
# tests and the test tone are skipped: speech does not belong in the effects domain.
THEME_GLOBS = [
    "/usr/share/sounds/freedesktop/stereo/*.oga",
    "/usr/share/sounds/Yaru/stereo/*.oga",
    "/usr/share/sounds/Oxygen-*.ogg",
]
THEME_SKIP = re.compile(r"audio-channel-|audio-test-signal")
THEME_PACKAGES = "sound-theme-freedesktop oxygen-sounds yaru-theme-sound"


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CorpusPreset:
    """How big a corpus is.  Durations are per clip; counts are clean clips (x4 with conditions)."""

    name: str
    variants: tuple[str, ...]   # speaker variants made from every base voice (see VARIANTS)
    voices: tuple[str, ...]     # base voices used (see VOICES)
    train_sentences: int        # sentences per training speaker (train split)
    valid_sentences: int        # extra sentences per training speaker (valid split)
    test_sentences: int         # sentences per held-out speaker (test split)
    music_clips: int
    music_seconds: float
    effects_clips: int
    effects_seconds: float
    rooms: int                  # simulated rooms for the reverb condition ...
    test_rooms: int             # ... of which these are used by test clips only


ALL_VOICES = ("flite-awb", "flite-slt", "flite-kal16", "flite-rms",
              "festival-kal", "festival-ked", "festival-slt")

PRESETS: dict[str, CorpusPreset] = {
    # CI: every code path (both engines, held-out voices, all domains) in a few seconds.
    "smoke": CorpusPreset(
        name="smoke", variants=("mid",),
        voices=("flite-awb", "festival-kal", "festival-slt", "flite-rms", "festival-ked"),
        train_sentences=2, valid_sentences=1, test_sentences=2,
        music_clips=5, music_seconds=4.0, effects_clips=5, effects_seconds=3.0,
        rooms=4, test_rooms=1),
    # A laptop: 35 speakers (25 train, 10 held out), ~27 min of clean speech.
    "cpu": CorpusPreset(
        name="cpu", variants=("lo", "mid", "hi", "fast", "slow"), voices=ALL_VOICES,
        train_sentences=20, valid_sentences=2, test_sentences=10,
        music_clips=54, music_seconds=4.0, effects_clips=40, effects_seconds=3.0,
        rooms=8, test_rooms=2),
    # One GPU: about three times the cpu corpus, 56 speakers (40 train, 16 held out).
    "gpu": CorpusPreset(
        name="gpu", variants=("lo", "mid", "hi", "fast", "slow", "deep", "bright", "brisk"),
        voices=ALL_VOICES,
        train_sentences=32, valid_sentences=4, test_sentences=16,
        music_clips=160, music_seconds=4.0, effects_clips=120, effects_seconds=3.0,
        rooms=8, test_rooms=2),
}


# --------------------------------------------------------------------------------------------
# Errors and system tools
# --------------------------------------------------------------------------------------------

class MissingToolError(RuntimeError):
    """A system tool or data package the corpus needs is not installed."""


def require_tools() -> dict[str, str]:
    """Check every external ingredient up front, so a build fails in one second, not halfway.

    Returns the absolute paths of the command-line tools.  Raises ``MissingToolError`` with one line
    per missing thing, each naming the Debian package (or pip package) that provides it.
    """
    problems = []
    tools = {}
    for tool, package in (("flite", "flite"), ("festival", "festival")):
        path = shutil.which(tool)
        if path is None:
            problems.append(f"{tool} not found: sudo apt-get install {package}")
        else:
            tools[tool] = path
    for voice, (folder, package) in FESTIVAL_VOICE_DIRS.items():
        if not Path(folder).is_dir():
            problems.append(f"festival voice {voice} not found: sudo apt-get install {package}")
    if not SOUNDFONT.is_file():
        problems.append(f"soundfont {SOUNDFONT} not found: sudo apt-get install timgm6mb-soundfont")
    if not theme_sound_files():
        problems.append(f"no desktop sound themes found: sudo apt-get install {THEME_PACKAGES}")
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; it also needs the C library)
    except ImportError as err:
        problems.append(f"pyfluidsynth/libfluidsynth not usable ({err}): "
                        "sudo apt-get install fluidsynth; pip install pyfluidsynth")
    try:
        import parselmouth  # noqa: F401
    except ImportError:
        problems.append("parselmouth not found: pip install praat-parselmouth")
    if problems:  # where the packages cannot be installed at all, a room kit brings a rendered corpus
        raise MissingToolError("; ".join(problems) + " (or, where these cannot be installed, unpack a room kit "
                               "made on a machine that has them: make unkit KIT=…)")
    return tools


def theme_sound_files() -> list[Path]:
    """The desktop sounds usable as effect events, in a fixed order."""
    import glob
    files = []
    for pattern in THEME_GLOBS:
        files += [Path(p) for p in glob.glob(pattern) if not THEME_SKIP.search(p)]
    return sorted(files)


# --------------------------------------------------------------------------------------------
# Small audio helpers
# --------------------------------------------------------------------------------------------

def clip_rng(seed: int, domain: str, index: int, stream: int = 0) -> np.random.Generator:
    """A random generator owned by one clip.

    Seeding per clip (not per process) is what makes the corpus independent of how the clips
    were spread over worker processes.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, DOMAIN_CODES[domain], index, stream]))


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def resample(x: np.ndarray, sr_in: int | float, sr_out: int | float) -> np.ndarray:
    """Polyphase resampling by a rational factor (zero-phase, so time stamps stay put)."""
    from scipy.signal import resample_poly
    ratio = Fraction(sr_out / sr_in).limit_denominator(1000)
    if ratio == 1:
        return x
    return resample_poly(x, ratio.numerator, ratio.denominator, axis=0)


def peak(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else 0.0


def limit_peak(x: np.ndarray, max_db: float = -1.0) -> np.ndarray:
    """Scale down (never up) so the peak is at most ``max_db`` dBFS: degraded clips must not clip."""
    p = peak(x)
    limit = db_to_gain(max_db)
    return x * (limit / p) if p > limit else x


def normalise_peak(x: np.ndarray, target_db: float = -1.0) -> np.ndarray:
    p = peak(x)
    return x * (db_to_gain(target_db) / p) if p > 0 else x


def frame_rms(x: np.ndarray, hop: int = 160) -> np.ndarray:
    """RMS of consecutive 10 ms frames of a mono signal."""
    n = len(x) // hop
    if n == 0:
        return np.zeros(1)
    return np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-20)


def active_bounds(x: np.ndarray, threshold_db: float = -40.0, hop: int = 160) -> tuple[int, int]:
    """First and last sample of the part of ``x`` louder than ``threshold_db`` below its peak frame."""
    rms = frame_rms(x, hop)
    loud = np.nonzero(rms > rms.max() * db_to_gain(threshold_db))[0]
    if loud.size == 0:
        return 0, len(x)
    return int(loud[0] * hop), int(min(len(x), (loud[-1] + 1) * hop))


def wav_bytes(x: np.ndarray) -> bytes:
    """16-bit PCM wav bytes.  Written from memory so the sha1 is of exactly what lands on disk."""
    import soundfile as sf
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def fmt(x: float | None, digits: int = 4) -> str:
    """Fixed float formatting for the manifest (deterministic text, empty when not applicable)."""
    return "" if x is None else f"{x:.{digits}f}"


# --------------------------------------------------------------------------------------------
# Sentences: a small seeded grammar
# --------------------------------------------------------------------------------------------

NAMES = ("Anna", "Peter", "Maria", "David", "Laura", "Thomas", "Emma", "Oliver", "Sophie", "Daniel",
         "Clara", "Martin", "Nora", "Simon", "Julia", "Victor", "Helen", "Robert", "Alice", "George")
PEOPLE = ("the old man", "my sister", "a young teacher", "the children", "our neighbour",
          "the pilot", "the baker", "my uncle", "the doctor", "a tired student", "the farmer",
          "her brother", "the captain", "his mother", "the gardener", "a quiet girl")
ADJECTIVES = ("small", "heavy", "bright", "quiet", "broken", "golden", "narrow", "warm", "cold",
              "yellow", "wooden", "empty", "famous", "strange", "gentle", "rusty", "silver", "muddy",
              "ancient", "little", "shiny", "dusty", "purple", "careful", "lonely", "round")
NOUNS = (("box", "boxes"), ("lamp", "lamps"), ("letter", "letters"), ("basket", "baskets"),
         ("window", "windows"), ("bottle", "bottles"), ("blanket", "blankets"), ("map", "maps"),
         ("bicycle", "bicycles"), ("garden", "gardens"), ("ladder", "ladders"), ("kettle", "kettles"),
         ("piano", "pianos"), ("candle", "candles"), ("jacket", "jackets"), ("coin", "coins"),
         ("shell", "shells"), ("bridge", "bridges"), ("clock", "clocks"), ("boat", "boats"),
         ("carpet", "carpets"), ("mirror", "mirrors"), ("pencil", "pencils"), ("drum", "drums"),
         ("rabbit", "rabbits"), ("tomato", "tomatoes"), ("feather", "feathers"), ("key", "keys"))
VERBS = (("painted", "paint"), ("carried", "carry"), ("found", "find"), ("opened", "open"),
         ("cleaned", "clean"), ("bought", "buy"), ("sold", "sell"), ("fixed", "fix"),
         ("moved", "move"), ("dropped", "drop"), ("borrowed", "borrow"), ("packed", "pack"),
         ("counted", "count"), ("noticed", "notice"), ("collected", "collect"), ("hid", "hide"),
         ("washed", "wash"), ("measured", "measure"), ("wrapped", "wrap"), ("lifted", "lift"))
PLACES = ("in the garden", "near the station", "behind the church", "on the kitchen table",
          "under the bridge", "at the market", "by the river", "in the attic", "next to the door",
          "on the top shelf", "in the hallway", "outside the school", "across the street")
TIMES = ("this morning", "last winter", "on Sunday", "before dinner", "after the storm",
         "every evening", "yesterday", "at midnight", "in the spring", "on Friday night")
NUMBERS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve")

TEMPLATES = (
    "{Subj} {verb} the {adj} {noun} {place}.",
    "{Time}, {subj} {verb} {num} {adj} {nouns}.",
    "Did {subj} {verb_base} the {noun} {time}?",
    "The {noun} {place} was {adj} and {adj2}.",
    "{Subj} said the {noun} looked {adj}.",
    "Please {verb_base} the {adj} {noun} {time}.",
    "{Subj} and {subj2} {verb} a {adj} {noun}.",
    "Why is the {noun} {place} so {adj}?",
    "We will {verb_base} {num} {nouns} {time}.",
    "{Subj} never {verb} the {adj} {noun} again.",
    "Where did {subj} put the {adj} {nouns}?",
    "{Num} {adj} {nouns} were waiting {place}.",
)


def make_sentence(rng: np.random.Generator) -> str:
    """One sentence from the grammar: spelled-out words only, so the transcript is what is said."""
    def pick(seq):
        return seq[int(rng.integers(len(seq)))]

    def subject():
        return pick(NAMES) if rng.random() < 0.4 else pick(PEOPLE)

    noun, nouns = pick(NOUNS)
    verb, verb_base = pick(VERBS)
    adj = pick(ADJECTIVES)
    adj2 = pick([a for a in ADJECTIVES if a != adj])
    subj, subj2 = subject(), subject()
    while subj2 == subj:
        subj2 = subject()
    words = dict(subj=subj, subj2=subj2, verb=verb, verb_base=verb_base, adj=adj, adj2=adj2,
                 noun=noun, nouns=nouns, place=pick(PLACES), time=pick(TIMES), num=pick(NUMBERS))
    words.update({k.capitalize(): v[0].upper() + v[1:] for k, v in list(words.items())})
    text = pick(TEMPLATES).format(**words)
    return text.replace(" a a", " an a").replace(" a e", " an e").replace(" a o", " an o")


class SentenceSource:
    """Hands out distinct sentences from the seeded grammar, each at most once.

    Distinctness is what keeps valid sentences out of train.  A speaker asks for sentences whose
    *estimated* spoken length fits the 1.5-4 s window at its own rate; sentences that do not fit
    stay in the pool for the next speaker, so the result depends only on the seed.
    """

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, DOMAIN_CODES["sentences"]]))
        self.pool: list[str] = []
        self.seen: set[str] = set()

    def take(self, n: int, fits) -> list[str]:
        out: list[str] = []
        i = 0
        while len(out) < n:
            while i >= len(self.pool):
                s = make_sentence(self.rng)
                if s not in self.seen:
                    self.seen.add(s)
                    self.pool.append(s)
            if fits(self.pool[i]):
                out.append(self.pool.pop(i))
            else:
                i += 1
        return out


# --------------------------------------------------------------------------------------------
# Speakers: base voices widened by pitch, rate and warp
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Voice:
    engine: str          # "flite" or "festival"
    name: str            # flite -voice name or festival voice function
    native_f0: float     # measured median F0 of the unmodified voice (Hz)
    pitch_control: bool  # does the engine honour an F0 target for this voice?
    held_out: bool       # test split only


VOICES = {
    "flite-awb": Voice("flite", "awb", 130.0, True, False),
    "flite-slt": Voice("flite", "slt", 175.0, True, False),
    "flite-kal16": Voice("flite", "kal16", 101.0, True, False),
    # rms ignores int_f0_target_mean (checked with Praat), so its variants differ by warp and rate.
    "flite-rms": Voice("flite", "rms", 101.0, False, True),
    "festival-kal": Voice("festival", "voice_kal_diphone", 105.0, True, False),
    "festival-ked": Voice("festival", "voice_ked_diphone", 104.0, True, True),
    # festival's HTS engine ignores pitch (-fm) and all-pass (-a) options; rate (-r) works.
    "festival-slt": Voice("festival", "voice_cmu_us_slt_arctic_hts", 174.0, False, False),
}

class Variant(NamedTuple):
    """How one base voice is turned into one speaker."""

    f0_factor: float      # F0 target relative to the voice's own (voices with pitch control)
    stretch: float        # duration stretch (> 1 = slower)
    warp: float           # resampling warp; > 1 raises pitch *and* formants and shortens the clip
    warp_no_pitch: float  # the warp used instead for voices that ignore the F0 target


# A crude but effective "vocal tract" change is the warp: playing the audio back faster or
# slower.  Voices without pitch control get a larger warp so that their variants still differ.
VARIANTS = {
    "lo": Variant(0.82, 1.06, 0.94, 0.90),
    "mid": Variant(1.00, 1.00, 1.00, 1.00),
    "hi": Variant(1.22, 0.94, 1.05, 1.10),
    "fast": Variant(1.08, 0.84, 1.02, 1.04),
    "slow": Variant(0.92, 1.20, 0.97, 0.95),
    "deep": Variant(0.75, 1.10, 0.91, 0.87),
    "bright": Variant(1.12, 0.98, 1.09, 1.13),
    "brisk": Variant(0.96, 0.88, 0.96, 0.97),
}


@dataclass(frozen=True)
class Speaker:
    speaker_id: str
    voice_key: str
    f0_factor: float
    stretch: float
    warp: float

    @property
    def voice(self) -> Voice:
        return VOICES[self.voice_key]

    def settings(self) -> dict:
        """The synthesis settings, as recorded in the labels."""
        v = self.voice
        s = {"duration_stretch": self.stretch, "warp": self.warp}
        if v.pitch_control:
            s["f0_target_mean"] = round(v.native_f0 * self.f0_factor, 1)
        return s

    def estimated_seconds(self, text: str) -> float:
        """Spoken length after trimming, from a fit on built corpora (about +-0.3 s)."""
        return 0.1 + 0.056 * len(text) * self.stretch / self.warp

    def expected_f0(self) -> float:
        """Roughly where this speaker's F0 sits; used to pick the pitch tracker's floor/ceiling."""
        f = self.f0_factor if self.voice.pitch_control else 1.0
        return self.voice.native_f0 * f * self.warp


def make_speaker(voice_key: str, variant: str) -> Speaker:
    v = VARIANTS[variant]
    warp = v.warp if VOICES[voice_key].pitch_control else v.warp_no_pitch
    return Speaker(f"{voice_key}-{variant}", voice_key, v.f0_factor, v.stretch, warp)


# --------------------------------------------------------------------------------------------
# Speech synthesis
# --------------------------------------------------------------------------------------------

def synth_flite(flite: str, speaker: Speaker, text: str, wav: Path) -> tuple[np.ndarray, int, list]:
    """Speak one sentence with flite; returns (audio, sample rate, [(phone, end_s), ...]).

    ``-psdur`` makes flite print every phone with its end time; no word times are available.
    """
    import soundfile as sf
    cmd = [flite, "-voice", speaker.voice.name, "--setf", f"duration_stretch={speaker.stretch}"]
    if speaker.voice.pitch_control:
        cmd += ["--setf", f"int_f0_target_mean={speaker.settings()['f0_target_mean']}"]
    cmd += ["-t", text, "-o", str(wav), "-psdur"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    phones = []
    for tok in out.split():
        name, _, end = tok.rpartition(":")
        phones.append((name, float(end)))
    audio, sr = sf.read(wav, dtype="float64")
    return audio, sr, phones


SILENCE_PHONES = {"pau", "h#", "sil"}

FESTIVAL_SAY = r"""
(define (course_say idx text wavfile)
  (let ((u (eval (list 'Utterance 'Text text))))
    (utt.synth u)
    (utt.save.wave u wavfile 'riff)
    (mapcar
     (lambda (s)
       (format t "SEG\t%d\t%s\t%f\t%s\t%s\n" idx (item.name s) (item.feat s "end")
               (item.feat s "R:SylStructure.parent.parent.id")
               (item.feat s "R:SylStructure.parent.parent.name")))
     (utt.relation.items u 'Segment))
    t))
"""


def festival_setup(speaker: Speaker) -> str:
    """Scheme that selects the voice and applies the speaker's pitch and rate."""
    v = speaker.voice
    lines = [f"({v.name})"]
    if v.name.endswith("_hts"):
        # HTS generates its own durations; its "-r" speed option is the rate control.
        rate = 1.0 / speaker.stretch
        lines.append("(set! hts_engine_params (append cmu_us_slt_arctic_hts::hts_engine_params "
                     f"(list '(\"-r\" {rate:.4f}))))")
    else:
        # Diphone voices: the linear-regression intonation model maps onto this target mean.
        # The voice function resets int_lr_params, so this must come after it.
        f0 = speaker.settings()["f0_target_mean"]
        lines.append(f"(set! int_lr_params '((target_f0_mean {f0}) (target_f0_std {f0 * 0.14:.1f}) "
                     "(model_f0_mean 170) (model_f0_std 34)))")
        lines.append(f"(Parameter.set 'Duration_Stretch {speaker.stretch})")
    return "\n".join(lines)


def synth_festival(festival: str, speaker: Speaker, texts: list[str], workdir: Path) -> list:
    """Speak a batch of sentences in ONE festival process (its start-up costs ~0.5 s).

    Returns a list of (audio, sample rate, [(phone, end_s, word_id, word), ...]).
    """
    import soundfile as sf
    script = [FESTIVAL_SAY, festival_setup(speaker)]
    wavs = []
    for i, text in enumerate(texts):
        wav = workdir / f"fest-{i}.wav"
        wavs.append(wav)
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        script.append(f'(course_say {i} "{quoted}" "{wav}")')
    scm = workdir / "batch.scm"
    scm.write_text("\n".join(script) + "\n")
    res = subprocess.run([festival, "-b", str(scm)], capture_output=True, text=True)
    if res.returncode != 0 or not all(w.exists() for w in wavs):
        raise RuntimeError(f"festival failed for {speaker.speaker_id}: {res.stderr.strip()[-500:]}")
    segs: list[list] = [[] for _ in texts]
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 6 and parts[0] == "SEG":
            segs[int(parts[1])].append((parts[2], float(parts[3]), parts[4], parts[5]))
    results = []
    for wav, seg in zip(wavs, segs):
        audio, sr = sf.read(wav, dtype="float64")
        results.append((audio, sr, seg))
    return results


def words_from_segments(segs: list, times: list[tuple[float, float]]) -> list[dict]:
    """Group festival segments by the word they belong to (segments outside words are pauses)."""
    words = []
    for (_, _, word_id, word), (start, end) in zip(segs, times):
        if word_id in ("0", "") or end <= start:
            continue
        if words and words[-1]["_id"] == word_id:
            words[-1]["end"] = end
        else:
            words.append({"_id": word_id, "word": word.lower(), "start": start, "end": end})
    for w in words:
        del w["_id"]
    return words


def f0_contour(x: np.ndarray, floor: float, ceiling: float, hop_s: float = 0.01) -> list[float]:
    """F0 (Hz, 0 = unvoiced) on the grid t = k * hop_s, k = 0 .. floor(duration / hop_s).

    Praat's autocorrelation tracker is fast and robust on clean synthetic speech.  Its own frames
    are centred inside the signal, so they are mapped onto our grid by nearest frame.
    """
    import parselmouth
    snd = parselmouth.Sound(x, sampling_frequency=SAMPLE_RATE)
    pitch = snd.to_pitch(time_step=hop_s, pitch_floor=floor, pitch_ceiling=ceiling)
    hz = pitch.selected_array["frequency"]
    times = pitch.xs()
    n = int(len(x) / SAMPLE_RATE / hop_s) + 1
    grid = np.arange(n) * hop_s
    out = np.zeros(n)
    if len(times):
        idx = np.clip(np.round((grid - times[0]) / hop_s).astype(int), 0, len(times) - 1)
        near = np.abs(times[idx] - grid) <= hop_s / 2 + 1e-9
        out[near] = hz[idx[near]]
    return [round(float(v), 1) for v in out]


def finish_speech(audio: np.ndarray, sr: int, segs: list,
                  speaker: Speaker) -> tuple[np.ndarray, float, float]:
    """Resample, warp, trim silence and set the level of one synthesized sentence.

    ``segs`` are the synthesizer's segments (name, end time, ...).  Returns (audio at 16 kHz,
    offset, scale): a time t in the synthesizer's output is at t * scale - offset in the clip
    (see ``map_times``).
    """
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    # Warp = play back faster/slower: resample from sr*warp to 16 kHz, so all times scale by 1/warp.
    x = resample(audio, sr * speaker.warp, SAMPLE_RATE)
    scale = 1.0 / speaker.warp
    # Trim to 0.1 s before the first and after the last non-pause phone.  Using the phone times
    # (not an energy threshold) treats every voice alike, whatever its background hiss.
    starts = [0.0] + [seg[1] for seg in segs[:-1]]
    spoken = [(s0, seg[1]) for s0, seg in zip(starts, segs) if seg[0] not in SILENCE_PHONES]
    if spoken:
        pad = 0.1
        start = max(0, int(round((spoken[0][0] * scale - pad) * SAMPLE_RATE)))
        end = min(len(x), int(round((spoken[-1][1] * scale + pad) * SAMPLE_RATE)))
        x = x[start:end].copy()
    else:
        start = 0
    fade = min(len(x) // 2, int(0.01 * SAMPLE_RATE))  # 10 ms fades: no clicks at the cut points
    if fade:
        x[:fade] *= np.linspace(0.0, 1.0, fade)
        x[len(x) - fade:] *= np.linspace(1.0, 0.0, fade)
    # Level: active speech at about -20 dBFS RMS, peak never above -1 dBFS.
    rms = frame_rms(x)
    active = rms[rms > rms.max() * db_to_gain(-30)]
    level = math.sqrt(float(np.mean(active ** 2))) if active.size else 1.0
    x = limit_peak(x * (db_to_gain(-20.0) / level), -1.0)
    return x, start / SAMPLE_RATE, scale


def map_times(ends: list[float], offset: float, scale: float, duration: float) -> list[tuple]:
    """Segment end times from the synthesizer -> (start, end) in the written clip.

    Each segment starts where the previous one ended; times are clamped into the clip, so a pause
    that fell entirely into the trimmed silence gets zero length (and is dropped by the caller).
    """
    out, prev = [], 0.0
    for t_end in ends:
        s = min(max(prev * scale - offset, 0.0), duration)
        e = min(max(t_end * scale - offset, 0.0), duration)
        out.append((round(s, 4), round(e, 4)))
        prev = t_end
    if out:  # the final pause runs to the end of the clip
        out[-1] = (out[-1][0], round(duration, 4))
    return out


# --------------------------------------------------------------------------------------------
# Music
# --------------------------------------------------------------------------------------------

# General-MIDI programs by role.  Varied families so probes can tell instruments apart.
ROLE_PROGRAMS = {
    "melody": (40, 56, 65, 71, 73, 68, 11, 12, 80, 26, 22, 0),
    "chords": (0, 1, 4, 16, 19, 24, 25, 48, 49, 61, 88, 46),
    "bass": (32, 33, 34, 38, 43, 58),
    "arp": (6, 8, 13, 46, 24, 10),
    "drums": (0,),
}
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (5, 3, 0, 4), (1, 4, 0, 5), (0, 5, 3, 4))
FLUID_BLOCK = 64  # fluidsynth renders in 64-sample blocks; note times snap to this grid (4 ms)


def snap(t: float) -> float:
    """Snap a time to fluidsynth's block grid, so the labelled time is the sample-exact onset."""
    return round(t * SAMPLE_RATE / FLUID_BLOCK) * FLUID_BLOCK / SAMPLE_RATE


def compose(rng: np.random.Generator, seconds: float) -> dict:
    """A random little piece: key, tempo, 2-4 parts with roles, notes on a beat grid."""
    tonic = int(rng.integers(0, 12))
    minor = bool(rng.random() < 0.4)
    scale = MINOR if minor else MAJOR
    tempo = float(rng.integers(80, 145))
    beat = 60.0 / tempo
    n_parts = int(rng.integers(2, 5))
    roles = ["melody", "chords", "bass", "arp", "drums"]
    weights = np.array([0.3, 0.25, 0.2, 0.12, 0.13])
    chosen = list(rng.choice(roles, size=n_parts, replace=False, p=weights))
    if chosen == ["drums"] or set(chosen) <= {"drums"}:
        chosen.append("melody")
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    end_t = seconds - 0.35  # leave room for release tails inside the clip
    chord_len = 2 * beat

    def degree_pitch(degree: int, octave_base: int) -> int:
        return octave_base + tonic + scale[degree % 7] + 12 * (degree // 7)

    def chord_at(t: float) -> int:
        return progression[int(t / chord_len) % len(progression)]

    parts = []
    for role in chosen:
        program = int(rng.choice(ROLE_PROGRAMS[role]))
        notes = []
        if role == "chords":
            t = 0.0
            while t < end_t:
                root = chord_at(t)
                vel = int(rng.integers(55, 86))
                for d in (root, root + 2, root + 4):
                    notes.append((degree_pitch(d, 48), t, min(t + chord_len * 0.95, end_t), vel))
                t += chord_len
        elif role == "bass":
            t = 0.0
            step = beat if rng.random() < 0.6 else 2 * beat
            while t < end_t:
                notes.append((degree_pitch(chord_at(t), 36), t, min(t + step * 0.9, end_t),
                              int(rng.integers(70, 106))))
                t += step
        elif role == "melody":
            t, degree = 0.0, int(rng.integers(0, 7))
            while t < end_t:
                dur = beat * float(rng.choice([0.5, 1.0, 1.0, 2.0]))
                if rng.random() < 0.85:
                    notes.append((degree_pitch(degree, 60), t, min(t + dur * 0.95, end_t),
                                  int(rng.integers(70, 111))))
                degree = int(np.clip(degree + rng.integers(-2, 3), -3, 11))
                t += dur
        elif role == "arp":
            t, k = 0.0, 0
            step = beat / 2 if rng.random() < 0.6 else beat / 4
            while t < end_t:
                d = chord_at(t) + (0, 2, 4, 7)[k % 4]
                notes.append((degree_pitch(d, 60), t, min(t + step * 0.9, end_t),
                              int(rng.integers(60, 96))))
                t, k = t + step, k + 1
        else:  # drums: kick on 1 and 3, snare on 2 and 4, closed hi-hat on eighths
            t, k = 0.0, 0
            while t < end_t:
                if k % 4 == 0:
                    notes.append((36, t, t + 0.1, int(rng.integers(90, 121))))
                if k % 4 == 2:
                    notes.append((38, t, t + 0.1, int(rng.integers(80, 116))))
                notes.append((42, t, t + 0.05, int(rng.integers(50, 86))))
                t, k = t + beat / 2, k + 1
        notes = [(p, snap(s), snap(e), v) for p, s, e, v in notes if snap(e) > snap(s)]
        parts.append({"role": role, "program": program, "is_drum": role == "drums", "notes": notes})
    return {"tempo": tempo, "key": tonic, "mode": "minor" if minor else "major", "parts": parts}


def render_part(part: dict, seconds: float) -> np.ndarray:
    """Render one instrument alone with fluidsynth, returned as mono float (n,).

    A fresh synth per part keeps renders independent of each other (no leftover voices or
    controller state), and the float output avoids fluidsynth's dithering noise.  Internal reverb
    and chorus are off: the course adds its own rooms.
    """
    import ctypes

    import fluidsynth
    synth = fluidsynth.Synth(gain=0.5, samplerate=float(SAMPLE_RATE),
                             **{"synth.reverb.active": 0, "synth.chorus.active": 0})
    write_float = fluidsynth.cfunc(
        "fluid_synth_write_float", ctypes.c_int,
        ("synth", ctypes.c_void_p, 1), ("len", ctypes.c_int, 1),
        ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1), ("lincr", ctypes.c_int, 1),
        ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1), ("rincr", ctypes.c_int, 1))
    try:
        sfid = synth.sfload(str(SOUNDFONT))
        chan = 9 if part["is_drum"] else 0
        synth.program_select(chan, sfid, 128 if part["is_drum"] else 0, part["program"])
        synth.cc(chan, 10, 64)  # centre: the course pans the mono stem itself
        synth.cc(chan, 91, 0)
        synth.cc(chan, 93, 0)
        events = []
        for pitch, start, end, vel in part["notes"]:
            events.append((round(start * SAMPLE_RATE), 1, pitch, vel))
            events.append((round(end * SAMPLE_RATE), 0, pitch, 0))  # note-offs sort first
        events.sort()
        total = int(round(seconds * SAMPLE_RATE))
        out = np.zeros((total, 2), dtype=np.float32)
        pos = 0

        def advance(upto: int):
            nonlocal pos
            n = upto - pos
            if n > 0:
                buf = np.zeros((n, 2), dtype=np.float32)
                write_float(synth.synth, n, buf.ctypes.data, 0, 2, buf.ctypes.data, 1, 2)
                out[pos:upto] = buf
                pos = upto

        for sample, kind, pitch, vel in events:
            advance(min(sample, total))
            if kind:
                synth.noteon(chan, pitch, vel)
            else:
                synth.noteoff(chan, pitch)
        advance(total)
    finally:
        synth.delete()
    return out.mean(axis=1).astype(np.float64)


def render_music(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, dict]:
    """Compose, render every part, pan each with the constant-power law, mix to -1 dBFS."""
    import pretty_midi
    piece = compose(rng, seconds)
    n = int(round(seconds * SAMPLE_RATE))
    mix = np.zeros((n, 2))
    stems, instruments = [], []
    for part in piece["parts"]:
        stem = render_part(part, seconds)
        stem = stem / max(peak(stem), 1e-9)
        level_db = float(rng.uniform(-8.0, 0.0))
        pan = float(rng.uniform(-1.0, 1.0))
        theta = (pan + 1.0) * math.pi / 4.0  # -1 -> hard left, 0 -> centre, +1 -> hard right
        gain_l, gain_r = math.cos(theta), math.sin(theta)
        stem = stem * db_to_gain(level_db)
        mix[:, 0] += gain_l * stem
        mix[:, 1] += gain_r * stem
        stems.append(stem)
        name = ("Drum kit" if part["is_drum"]
                else pretty_midi.program_to_instrument_name(part["program"]))
        instruments.append({"program": part["program"], "name": name, "role": part["role"],
                            "is_drum": part["is_drum"], "pan": round(pan, 4),
                            "gain_l": round(gain_l, 6), "gain_r": round(gain_r, 6)})
    norm = db_to_gain(-1.0) / max(peak(mix), 1e-9)
    mix *= norm
    for inst, stem in zip(instruments, stems):
        # RMS of the mono stem as it sits in the mix (before panning): lets a test predict the ILD.
        inst["stem_rms"] = round(float(np.sqrt(np.mean((stem * norm) ** 2))), 6)
    notes = [{"instrument": i, "program": part["program"], "is_drum": part["is_drum"], "pitch": p,
              "start": round(s, 4), "end": round(e, 4), "velocity": v}
             for i, part in enumerate(piece["parts"]) for p, s, e, v in part["notes"]]
    notes.sort(key=lambda d: (d["start"], d["instrument"], d["pitch"]))
    labels = {"domain": "music", "tempo": piece["tempo"], "key": piece["key"], "mode": piece["mode"],
              "instruments": instruments, "notes": notes}
    return mix, labels


# --------------------------------------------------------------------------------------------
# Effects
# --------------------------------------------------------------------------------------------

_THEME_CACHE: dict[str, np.ndarray] = {}


def load_theme_sound(path: Path, max_s: float = 1.5) -> np.ndarray:
    """A desktop sound as mono 16 kHz, silence trimmed, at most ``max_s`` long with a fade-out."""
    key = str(path)
    if key not in _THEME_CACHE:
        import soundfile as sf
        info = sf.info(key)
        x, sr = sf.read(key, frames=int(info.samplerate * (max_s + 1.0)), dtype="float64",
                        always_2d=True)
        x = resample(x.mean(axis=1), sr, SAMPLE_RATE)
        start, end = active_bounds(x, threshold_db=-45.0, hop=80)
        x = x[start:end][: int(max_s * SAMPLE_RATE)].copy()
        fade = min(len(x), int(0.05 * SAMPLE_RATE))
        x[len(x) - fade:] *= np.linspace(1.0, 0.0, fade)
        _THEME_CACHE[key] = normalise_peak(x, 0.0)
    return _THEME_CACHE[key]


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    f[0] = f[1] if n > 1 else 1.0
    spec /= f ** (exponent / 2.0)
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def bandpass(x: np.ndarray, lo: float, hi: float, order: int = 4) -> np.ndarray:
    from scipy.signal import butter, sosfilt
    hi = min(hi, 0.45 * SAMPLE_RATE)
    sos = butter(order, [lo, hi], btype="band", fs=SAMPLE_RATE, output="sos")
    return sosfilt(sos, x)


def procedural_event(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One synthetic event, peak 1, starting at its first sample (so its onset is exact)."""
    sr = SAMPLE_RATE
    if kind == "impact":  # a few decaying modes plus a short noise transient: a knock or a clang
        n = int(rng.uniform(0.25, 0.7) * sr)
        t = np.arange(n) / sr
        x = np.zeros(n)
        for _ in range(int(rng.integers(3, 7))):
            f = rng.uniform(120, 3500)
            x += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t) * np.exp(-t / rng.uniform(0.02, 0.2))
        x += bandpass(rng.standard_normal(n), 500, 6000) * np.exp(-t / 0.004) * 2.0
    elif kind == "click":
        n = int(rng.uniform(0.004, 0.015) * sr)
        lo = rng.uniform(800, 3000)
        x = bandpass(rng.standard_normal(n + 64), lo, lo * 3)[:n] * np.exp(-np.arange(n) / (n / 4))
    elif kind == "sweep":
        n = int(rng.uniform(0.2, 0.8) * sr)
        t = np.arange(n) / sr
        f0, f1 = rng.uniform(200, 1500), rng.uniform(300, 6000)
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * t[-1]))
        x = np.sin(phase) * np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    elif kind == "noise_burst":
        n = int(rng.uniform(0.05, 0.3) * sr)
        lo = rng.uniform(100, 2000)
        x = bandpass(rng.standard_normal(n), lo, lo * rng.uniform(2, 6))
        x *= np.minimum(1.0, np.arange(n)[::-1] / (0.3 * n))
    else:  # hum: a harmonic tone with soft edges
        n = int(rng.uniform(0.3, 1.0) * sr)
        t = np.arange(n) / sr
        f = rng.uniform(80, 400)
        x = sum(np.sin(2 * np.pi * f * k * t) / k ** rng.uniform(0.8, 1.6)
                for k in range(1, int(rng.integers(4, 9))))
        x = x * np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.03)
    return normalise_peak(np.asarray(x, dtype=np.float64), 0.0)


EFFECT_KINDS = ("impact", "click", "sweep", "noise_burst", "hum", "theme")


def render_effects(rng: np.random.Generator, seconds: float, themes: list[Path]) -> tuple:
    """2-4 events at known onsets over quiet pink noise; offsets are where each event ends."""
    n = int(round(seconds * SAMPLE_RATE))
    x = coloured_noise(rng, n, 1.0) * db_to_gain(rng.uniform(-60.0, -48.0))
    events = []
    t = float(rng.uniform(0.05, 0.4))
    for _ in range(int(rng.integers(2, 5))):
        if t > seconds - 0.2:
            break
        kind = EFFECT_KINDS[int(rng.integers(len(EFFECT_KINDS)))]
        if kind == "theme":
            path = themes[int(rng.integers(len(themes)))]
            ev = load_theme_sound(path)
            source = str(path.relative_to("/usr/share/sounds"))
        else:
            ev = procedural_event(kind, rng)
            source = "procedural"
        start = int(round(t * SAMPLE_RATE))
        ev = ev[: n - start] * db_to_gain(rng.uniform(-10.0, 0.0))
        x[start: start + len(ev)] += ev
        offset = (start + len(ev)) / SAMPLE_RATE
        events.append({"kind": kind, "onset": round(start / SAMPLE_RATE, 4),
                       "offset": round(offset, 4), "source": source})
        # The next event may overlap this one's tail a little, but never its beginning.
        t = start / SAMPLE_RATE + min(len(ev) / SAMPLE_RATE, 0.8) + float(rng.uniform(0.1, 0.6))
    x = normalise_peak(x, -1.0)
    return x, {"domain": "effects", "events": events}


# --------------------------------------------------------------------------------------------
# Conditions: rooms, noise, band limits
# --------------------------------------------------------------------------------------------

def build_rooms(n_rooms: int, n_test: int, seed: int) -> dict:
    """Simulate ``n_rooms`` shoebox rooms once per build; the last ``n_test`` are test-only.

    Each room has a target RT60 (spread from dry to live); pyroomacoustics' inverse Sabine formula
    gives the wall absorption, the image-source order is capped at 20 for speed, and the RT60 that
    is recorded is the one *measured* on the impulse response actually used.
    """
    import pyroomacoustics as pra
    rng = np.random.default_rng(np.random.SeedSequence([seed, DOMAIN_CODES["rooms"]]))
    targets = np.linspace(0.2, 0.9, n_rooms)
    rng.shuffle(targets)
    rooms = {}
    for i in range(n_rooms):
        size = [float(rng.uniform(3.0, 10.0)), float(rng.uniform(2.5, 8.0)), float(rng.uniform(2.4, 4.0))]
        absorption, order = pra.inverse_sabine(float(targets[i]), size)
        absorption = float(min(max(absorption, 0.03), 0.99))
        order = int(min(order, 20))
        room = pra.ShoeBox(size, fs=SAMPLE_RATE, materials=pra.Material(absorption),
                           max_order=order, air_absorption=False, ray_tracing=False)
        src = [float(rng.uniform(0.5, s - 0.5)) for s in size[:2]] + [float(rng.uniform(1.0, 1.8))]
        mic = [float(rng.uniform(0.5, s - 0.5)) for s in size[:2]] + [float(rng.uniform(1.0, 1.8))]
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
        # Align: start 2 samples before the direct path and give it gain 1, so the reverberant clip
        # is time-aligned with its clean source (same onsets, same phone times).
        direct = int(np.argmax(np.abs(rir)))
        rir = rir[max(direct - 2, 0):]
        rir = rir / np.abs(rir).max()
        rt60 = float(pra.experimental.measure_rt60(rir, fs=SAMPLE_RATE, decay_db=20))
        room_id = f"room-{i:02d}"
        rooms[room_id] = {
            "split": "test" if i >= n_rooms - n_test else "train",
            "size_m": [round(s, 2) for s in size], "absorption": round(absorption, 4),
            "max_order": order, "target_rt60_s": round(float(targets[i]), 3),
            "rt60_s": round(rt60, 3), "source_m": [round(v, 2) for v in src],
            "mic_m": [round(v, 2) for v in mic], "rir": rir,
        }
    return rooms


NOISE_TYPES = ("white", "pink", "brown", "hum", "babble")


def make_noise(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS noise of one of NOISE_TYPES."""
    if kind == "white":
        return coloured_noise(rng, n, 0.0)
    if kind == "pink":
        return coloured_noise(rng, n, 1.0)
    if kind == "brown":
        return coloured_noise(rng, n, 2.0)
    t = np.arange(n) / SAMPLE_RATE
    if kind == "hum":  # mains hum with harmonics and a little hiss
        f = 50.0 if rng.random() < 0.5 else 60.0
        x = sum(np.sin(2 * np.pi * f * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 8))
        x = x + 0.05 * rng.standard_normal(n)
    else:  # babble-like: several speech-band noise "talkers", each with a syllable-rate envelope
        x = np.zeros(n)
        for _ in range(6):
            talker = bandpass(coloured_noise(rng, n, 1.0), 150.0, 3500.0, order=2)
            rate = rng.uniform(3.0, 6.0)
            env = np.maximum(0.0, np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))) ** 2
            x += talker * env
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def add_reverb(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with the room (per channel) and keep the clean clip's length and alignment."""
    from scipy.signal import fftconvolve
    h = rir if x.ndim == 1 else rir[:, None]
    y = fftconvolve(x, h, axes=0)[: len(x)]
    return limit_peak(y, -1.0)


def add_noise(x: np.ndarray, kind: str, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add noise at an exact SNR (signal power over the whole clip; independent noise per channel)."""
    noise = np.stack([make_noise(kind, rng, len(x)) for _ in range(1 if x.ndim == 1 else x.shape[1])],
                     axis=-1)
    noise = noise[:, 0] if x.ndim == 1 else noise
    p_signal = float(np.mean(x ** 2))
    y = x + noise * math.sqrt(p_signal / db_to_gain(snr_db) ** 2)
    return limit_peak(y, -1.0)  # scaling both parts together keeps the SNR


def band_limit(x: np.ndarray, cutoff: float) -> np.ndarray:
    """Zero-phase 8th-order Butterworth low-pass (zero phase keeps the clip aligned)."""
    from scipy.signal import butter, sosfiltfilt
    sos = butter(8, cutoff, btype="low", fs=SAMPLE_RATE, output="sos")
    return limit_peak(sosfiltfilt(sos, x, axis=0), -1.0)


CUTOFFS = (2000, 3000, 4000)


# --------------------------------------------------------------------------------------------
# Writing a clip and its degraded partners
# --------------------------------------------------------------------------------------------

_ROOMS: dict = {}    # room id -> metadata and "rir", loaded by every worker (see _init_worker)
_CONTEXT: dict = {}  # seed, tool paths, output dir, theme files


def _init_worker(context: dict) -> None:
    """Set up a worker: the build context, and the rooms' impulse responses read from disk.

    The impulse responses travel through a file rather than through the process pipe: large
    start-up arguments can hang a spawned pool whose worker dies early (a CPython quirk).
    """
    _CONTEXT.clear()
    _CONTEXT.update(context)
    _ROOMS.clear()
    with np.load(context["rirs_file"]) as rirs:
        for room_id, meta in context["rooms"].items():
            _ROOMS[room_id] = {**meta, "rir": rirs[room_id]}


def write_clip_set(clip_id: str, domain: str, split: str, x: np.ndarray, labels: dict,
                   index: int, speaker: str = "", text: str = "") -> list[dict]:
    """Write the clean clip, its three degraded versions and the shared label file.

    Returns the four manifest rows.  The degradations draw from their own per-clip generator,
    so they do not depend on anything else in the build.
    """
    out = Path(_CONTEXT["out"])
    seed = _CONTEXT["seed"]
    rng = clip_rng(seed, domain, index, stream=1)
    label_rel = f"labels/{clip_id}.json"
    (out / label_rel).write_text(json.dumps(labels, separators=(",", ":")))

    rooms_ok = sorted(r for r, room in _ROOMS.items() if (room["split"] == "test") == (split == "test"))
    room_id = rooms_ok[int(rng.integers(len(rooms_ok)))]
    noise_type = NOISE_TYPES[int(rng.integers(len(NOISE_TYPES)))]
    snr_db = round(float(rng.uniform(0.0, 20.0)), 2)
    cutoff = CUTOFFS[int(rng.integers(len(CUTOFFS)))]

    versions = {
        "clean": (x, {}),
        "reverb": (add_reverb(x, _ROOMS[room_id]["rir"]),
                   {"room_id": room_id, "rt60_s": fmt(_ROOMS[room_id]["rt60_s"], 3)}),
        "noisy": (add_noise(x, noise_type, snr_db, rng), {"noise_type": noise_type,
                                                            "snr_db": fmt(snr_db, 2)}),
        "bandlimited": (band_limit(x, cutoff), {"cutoff_hz": str(cutoff)}),
    }
    rows = []
    for condition, (audio, extra) in versions.items():
        cid = clip_id if condition == "clean" else f"{clip_id}-{condition}"
        rel = f"audio/{domain}/{condition}/{cid}.wav"
        data = wav_bytes(audio)
        (out / rel).write_bytes(data)
        row = dict.fromkeys(MANIFEST_COLUMNS, "")
        row.update(clip_id=cid, path=rel, split=split, domain=domain, condition=condition,
                   source_id=clip_id, sample_rate=str(SAMPLE_RATE),
                   channels=str(1 if audio.ndim == 1 else audio.shape[1]), num_frames=str(len(audio)),
                   duration_s=fmt(len(audio) / SAMPLE_RATE), speaker=speaker, text=text,
                   labels=label_rel, sha1=hashlib.sha1(data).hexdigest(), **extra)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Jobs (what one worker does at a time)
# --------------------------------------------------------------------------------------------

def render_speech_job(job: dict) -> list[dict]:
    """Speak a batch of sentences of one speaker and write every clip set."""
    speaker = make_speaker(job["voice"], job["variant"])
    tools = _CONTEXT["tools"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="corpus-tts-") as tmp:
        tmp = Path(tmp)
        texts = [c["text"] for c in job["clips"]]
        if speaker.voice.engine == "festival":
            rendered = synth_festival(tools["festival"], speaker, texts, tmp)
        else:
            rendered = [synth_flite(tools["flite"], speaker, t, tmp / "flite.wav") for t in texts]
        for clip, (audio, sr, segs) in zip(job["clips"], rendered):
            x, offset, scale = finish_speech(audio, sr, segs, speaker)
            times = map_times([seg[1] for seg in segs], offset, scale, len(x) / SAMPLE_RATE)
            phones = [{"phone": seg[0], "start": s, "end": e} for seg, (s, e) in zip(segs, times) if e > s]
            f0 = speaker.expected_f0()
            floor, ceiling = max(40.0, 0.5 * f0), min(600.0, 2.4 * f0)
            labels = {"domain": "speech", "text": clip["text"], "speaker": speaker.speaker_id,
                      "voice": speaker.voice_key, "engine": speaker.voice.engine,
                      "settings": speaker.settings(), "phones": phones}
            if speaker.voice.engine == "festival":  # flite prints no word times
                labels["words"] = words_from_segments(segs, times)
            labels["f0"] = {"hop_s": 0.01, "floor_hz": round(floor, 1), "ceiling_hz": round(ceiling, 1),
                            "method": "praat-ac", "hz": f0_contour(x, floor, ceiling)}
            rows += write_clip_set(clip["clip_id"], "speech", clip["split"], x, labels, clip["index"],
                                   speaker=speaker.speaker_id, text=clip["text"])
    return rows


def render_music_job(job: dict) -> list[dict]:
    rng = clip_rng(_CONTEXT["seed"], "music", job["index"])
    x, labels = render_music(rng, job["seconds"])
    return write_clip_set(job["clip_id"], "music", job["split"], x, labels, job["index"])


def render_effects_job(job: dict) -> list[dict]:
    rng = clip_rng(_CONTEXT["seed"], "effects", job["index"])
    themes = [Path(p) for p in _CONTEXT["themes"]]
    x, labels = render_effects(rng, job["seconds"], themes)
    return write_clip_set(job["clip_id"], "effects", job["split"], x, labels, job["index"])


def run_job(job: dict) -> tuple[int, list[dict]]:
    """Entry point of a worker: returns (number of clean clips, manifest rows)."""
    fn = {"speech": render_speech_job, "music": render_music_job,
          "effects": render_effects_job}[job["domain"]]
    rows = fn(job)
    return sum(r["condition"] == "clean" for r in rows), rows


# --------------------------------------------------------------------------------------------
# Planning: who says what, which clip goes to which split
# --------------------------------------------------------------------------------------------

SPEECH_CHUNK = 12  # sentences per job: one festival start-up per chunk, small enough to balance


def plan_speakers(preset: CorpusPreset) -> list[Speaker]:
    return [make_speaker(v, var) for v in preset.voices for var in preset.variants]


def seeded_splits(n: int, seed: int, domain: str) -> list[str]:
    """An exact 80/10/10 train/valid/test assignment of ``n`` clips (at least one valid and test)."""
    n_test = max(1, round(0.1 * n)) if n >= 3 else 0
    n_valid = max(1, round(0.1 * n)) if n >= 3 else 0
    labels = ["test"] * n_test + ["valid"] * n_valid + ["train"] * (n - n_test - n_valid)
    rng = np.random.default_rng(np.random.SeedSequence([seed, DOMAIN_CODES["splits"],
                                                        DOMAIN_CODES[domain]]))
    return [labels[i] for i in rng.permutation(n)]


def plan_jobs(preset: CorpusPreset, seed: int) -> tuple[list[dict], dict]:
    """Every job of the build, in a fixed order, plus the speaker lists for corpus.json.

    The plan depends only on (preset, seed), never on the number of workers.
    """
    speakers = plan_speakers(preset)
    counts = [preset.test_sentences if s.voice.held_out
              else preset.train_sentences + preset.valid_sentences for s in speakers]
    sentences = SentenceSource(seed)
    jobs: list[dict] = []
    index = 0
    for spk, count in zip(speakers, counts):
        texts = sentences.take(count, lambda t, spk=spk: 1.6 <= spk.estimated_seconds(t) <= 3.7)
        clips = []
        for k, text in enumerate(texts):
            if spk.voice.held_out:
                split = "test"
            else:
                split = "valid" if k >= preset.train_sentences else "train"
            clips.append({"clip_id": f"speech-{index:05d}", "index": index, "text": text,
                          "split": split})
            index += 1
        for c in range(0, len(clips), SPEECH_CHUNK):
            jobs.append({"domain": "speech", "voice": spk.voice_key,
                         "variant": spk.speaker_id.rsplit("-", 1)[1], "clips": clips[c: c + SPEECH_CHUNK]})
    for domain, n, seconds in (("music", preset.music_clips, preset.music_seconds),
                               ("effects", preset.effects_clips, preset.effects_seconds)):
        for i, split in enumerate(seeded_splits(n, seed, domain)):
            jobs.append({"domain": domain, "clip_id": f"{domain}-{i:05d}", "index": i, "split": split,
                         "seconds": seconds})
    speaker_lists = {
        "train": [s.speaker_id for s in speakers if not s.voice.held_out],
        "test": [s.speaker_id for s in speakers if s.voice.held_out],
    }
    return jobs, speaker_lists


def clean_clip_count(job: dict) -> int:
    return len(job["clips"]) if job["domain"] == "speech" else 1


# --------------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------------

def default_corpus_dir(preset: str) -> Path:
    """``data/corpus/<preset>`` under the repository, or under ``$COURSE_DATA`` when it is set."""
    root = Path(os.environ["COURSE_DATA"]) if os.environ.get("COURSE_DATA") else REPO_ROOT / "data"
    return root / "corpus" / preset


def corpus_key(manifest: bytes, builder_version: str = BUILDER_VERSION) -> str:
    """The short corpus hash the course keys its checkpoints on (``course_lib.data.corpus_hash``).

    sha256 of the manifest's bytes and then the builder version, 16 hex digits. Written here as well
    as in ``course_lib.data`` because the builder's up-to-date path must not import torch; a test
    checks that the two agree, so ``make corpus`` prints the hash the notebooks show.
    """
    return hashlib.sha256(manifest + builder_version.encode()).hexdigest()[:16]


def up_to_date_hash(out: Path, preset: str, seed: int) -> str | None:
    """The manifest hash if ``out`` holds a complete corpus for (preset, seed, this builder)."""
    try:
        meta = json.loads((out / "corpus.json").read_text())
        manifest = (out / "manifest.csv").read_bytes()
    except (OSError, ValueError):
        return None
    if (meta.get("preset"), meta.get("seed"), meta.get("builder_version")) != (preset, seed,
                                                                               BUILDER_VERSION):
        return None
    digest = hashlib.sha256(manifest).hexdigest()
    if digest != meta.get("manifest_sha256"):
        return None
    rows = list(csv.DictReader(io.StringIO(manifest.decode("utf-8"))))
    files = {r["path"] for r in rows} | {r["labels"] for r in rows}
    if len(rows) != meta.get("n_clips") or not all((out / f).is_file() for f in files):
        return None
    return digest


def _remove_stale_temp_dirs(out: Path) -> None:
    """Leftovers of builds that were killed (older than an hour, so never a build in progress)."""
    for p in out.parent.glob(f".{out.name}.tmp-*"):
        if p.is_dir() and time.time() - p.stat().st_mtime > 3600:
            shutil.rmtree(p, ignore_errors=True)


def _run_jobs(jobs: list[dict], context: dict, n_workers: int, desc: str) -> list[dict]:
    """Run every job (in a process pool when n_workers > 1) with a progress bar over clean clips."""
    import multiprocessing

    from tqdm import tqdm
    rows: list[dict] = []
    # Biggest jobs first so the pool does not end on a long festival batch.
    order = sorted(range(len(jobs)), key=lambda i: -clean_clip_count(jobs[i]))
    ordered = [jobs[i] for i in order]
    total = sum(clean_clip_count(j) for j in jobs)
    if n_workers <= 1:
        _init_worker(context)
        with tqdm(total=total, desc=desc, unit="clip", mininterval=0.5) as bar:
            for job in ordered:
                n, r = run_job(job)
                rows += r
                bar.update(n)
        return rows
    # "spawn" gives every worker a fresh interpreter.  Forking would be faster to start, but it
    # deadlocks when the parent has already used fluidsynth (or torch, in a notebook): locks held
    # by the parent's threads are copied into the child, and nobody is left to release them.
    # ProcessPoolExecutor (unlike multiprocessing.Pool) fails fast if a worker dies.
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    _make_importable_by_workers()
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(context,)) as pool:
            futures = [pool.submit(run_job, job) for job in ordered]
            with tqdm(total=total, desc=desc, unit="clip", mininterval=0.5) as bar:
                for fut in as_completed(futures):
                    n, r = fut.result()
                    rows += r
                    bar.update(n)
    except BrokenProcessPool as err:
        raise RuntimeError(
            "a corpus worker process died. If you call build_corpus() from a script, put the call "
            "under `if __name__ == \"__main__\":` (worker processes re-import the main script)"
        ) from err
    return rows


def _make_importable_by_workers() -> None:
    """Spawned workers import this module by name; when it was loaded from its file path (as the
    tests do), its folder must be on sys.path, which the workers inherit."""
    folder = str(Path(__file__).resolve().parent)
    if "." not in __name__ and __name__ != "__main__" and folder not in sys.path:
        sys.path.append(folder)


def _in_worker_bootstrap() -> bool:
    """True inside a spawned worker that is still importing the parent's main script."""
    import multiprocessing
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def write_manifest(rows: list[dict], path: Path) -> str:
    """Write manifest.csv (sorted by clip_id, fixed column order) and return its sha256."""
    rows = sorted(rows, key=lambda r: r["clip_id"])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def build_corpus(preset: str, seed: int = 0, out: Path | None = None, force: bool = False,
                 jobs: int | None = None) -> Path:
    """Build (or find up to date) the corpus for ``preset`` and ``seed``; returns its directory."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    if _in_worker_bootstrap():
        raise RuntimeError("build_corpus() was called while a worker process imported the main script: "
                           "put the call under `if __name__ == \"__main__\":`")
    cfg = PRESETS[preset]
    out = Path(out) if out is not None else default_corpus_dir(preset)
    if not force:
        digest = up_to_date_hash(out, preset, seed)
        if digest:
            print(f"corpus up to date: {out} (corpus hash {corpus_key((out / 'manifest.csv').read_bytes())})")
            return out
    if out.exists() and not (out / "corpus.json").exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} exists and is not a corpus; pass --force to replace it")
    tools = require_tools()
    started = time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the finished corpus should be readable like any folder
    try:
        for domain in ("speech", "music", "effects"):
            for condition in CONDITIONS:
                (tmp / "audio" / domain / condition).mkdir(parents=True)
        (tmp / "labels").mkdir()
        rooms = build_rooms(cfg.rooms, cfg.test_rooms, seed)
        job_list, speakers = plan_jobs(cfg, seed)
        room_meta = {k: {f: v for f, v in room.items() if f != "rir"} for k, room in rooms.items()}
        rirs_file = tmp / "_rirs.npz"  # build-time only, removed below
        np.savez(rirs_file, **{k: room["rir"] for k, room in rooms.items()})
        context = {"seed": seed, "out": str(tmp), "tools": tools, "rooms": room_meta,
                   "rirs_file": str(rirs_file), "themes": [str(p) for p in theme_sound_files()]}
        n_workers = max(1, min(jobs or os.cpu_count() or 1, len(job_list)))
        rows = _run_jobs(job_list, context, n_workers, desc=f"corpus {preset}")
        rirs_file.unlink()
        digest = write_manifest(rows, tmp / "manifest.csv")
        seconds: dict[str, float] = {}
        for r in rows:
            if r["condition"] == "clean":
                seconds[r["domain"]] = seconds.get(r["domain"], 0.0) + float(r["duration_s"])
        meta = {
            "preset": preset, "seed": seed, "builder_version": BUILDER_VERSION,
            "manifest_sha256": digest, "sample_rate": SAMPLE_RATE, "n_clips": len(rows),
            "seconds_by_domain": {k: round(v, 2) for k, v in sorted(seconds.items())},
            "clean_clips_by_domain": {d: sum(r["condition"] == "clean" and r["domain"] == d for r in rows)
                                      for d in ("speech", "music", "effects")},
            "speakers": speakers,
            "rooms": room_meta,
            "preset_sizes": asdict(cfg),
            "soundfont": str(SOUNDFONT),
            "build_seconds": round(time.time() - started, 1),
        }
        (tmp / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n")
        # Swap the finished corpus in: at no moment is a half-written corpus visible at `out`.
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    mins = ", ".join(f"{d} {s / 60:.1f} min" for d, s in meta["seconds_by_domain"].items())
    print(f"corpus built: {out} ({len(rows)} clips; clean {mins}; "
          f"corpus hash {corpus_key((out / 'manifest.csv').read_bytes())}; "
          f"{meta['build_seconds']:.0f} s)")
    return out


def music_corpus(n_pieces: int, out: Path, seed: int = 0, jobs: int | None = None) -> Path:
    """A corpus of ``n_pieces`` music pieces (with the smoke preset's few speech and effects clips),
    rendered by this builder into ``out``; up to date -> returned as is.

    For more music than a preset holds (the music experiments, the GPU kit): piece *i* is rendered
    the same way in every build, so ``music-00000`` .. of a preset's corpus are also here; only the
    split assignment differs (it depends on the number of pieces), so select the extra pieces by
    clip id, not by split.
    """
    name = f"music{n_pieces}"
    PRESETS[name] = replace(PRESETS["smoke"], name=name, music_clips=n_pieces, effects_clips=2)
    return build_corpus(name, seed=seed, out=out, jobs=jobs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="corpus directory (default: data/corpus/<preset>, or $COURSE_DATA/corpus/...)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    args = parser.parse_args(argv)
    try:
        build_corpus(args.preset, seed=args.seed, out=args.out, force=args.force, jobs=args.jobs)
    except (MissingToolError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
