"""Task-shaped encoders and their two oracles (notebook 07).

Some encoders *should* be bad neutral codecs.  A restoration encoder (VoiceBridge) reads degraded
speech and its decoder must produce the clean version: it is built to throw the noise, the room and
the missing band away, so clean x -> E -> D -> x is not its job.  A voice-conversion bottleneck
(AUTOVC) is made so narrow that the voice fits badly, and its decoder gets the voice from outside the
latent: it is built to forget who spoke.  Judge either by the neutral oracle alone and it looks worse
for the exact reason it works.  So each gets two floors:

- the **neutral oracle** (``neutral_oracle``): clean x -> E -> D -> x, how much audio it preserves;
- its **task oracle**: for restoration, degraded -> E -> D against the clean twin
  (``restoration_oracle``, per condition, beside the "do nothing" floor); for conversion, the same
  latent decoded with *another* training voice (``convert``), scored on both halves of the contract
  (``conversion_oracle``): the words stay (the content teacher's frame phone accuracy on the
  converted audio against the *source* sentence's phone labels) and the voice moves (a speaker
  classifier on audio, trained on real recordings, names the *target* voice).  Chance sits beside
  every score.

The data side builds what the trainer needs: ``restoration_bank`` pairs every degraded training
clip with its clean twin (same ``source_id``; ``data.ClipBank`` crops both at the same place with
the same gain), and ``speaker_bank`` attaches a voice id to every clip for the speaker-conditioned
decoder.  ``LatentBridge`` is VoiceBridge's pressure on the latent itself.  ``dual_oracle_lesson``
holds the notebook's models: each task encoder beside a neutral codec of the same budget.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
import torchaudio
from torch import nn

from course_lib import data, metrics, presets, probes

DEGRADATIONS = ("noisy", "reverb", "bandlimited")


# ------------------------------------------------------------------------------------ restoration data

@dataclass
class RestorationPair:
    """One degraded clip and its clean twin (same sentence, same voice, same length)."""

    condition: str
    degraded: torch.Tensor  # (1, T): what the encoder reads
    clean: torch.Tensor  # (1, T): what the decoder must produce
    row: dict  # the degraded clip's manifest row (with ``clean_clip_id``)


def restoration_rows(df: pd.DataFrame, rows_clean: pd.DataFrame,
                     conditions: tuple[str, ...] = DEGRADATIONS) -> pd.DataFrame:
    """The degraded twins of ``rows_clean``, one per (clean clip, condition), with a ``clean_clip_id``
    column naming the twin.

    Raises ``data.CorpusError`` when a twin is missing, and ValueError when a twin's length, split or
    speaker differs: a pair that is not the same recording would teach the decoder to invent audio,
    not to restore it.
    """
    if rows_clean.empty:
        raise data.CorpusError("no clean clips given: nothing to pair")
    bad = sorted(set(rows_clean["condition"]) - {"clean"})
    if bad:
        raise ValueError(f"rows_clean must be clean clips, got conditions {bad}")
    unknown = sorted(set(conditions) - set(DEGRADATIONS))
    if unknown or not conditions:
        raise ValueError(f"conditions must be a non-empty subset of {DEGRADATIONS}, got {tuple(conditions)}")
    index = {(r["source_id"], r["condition"]): r for r in df.to_dict("records")}
    out = []
    for clean in rows_clean.to_dict("records"):
        for cond in conditions:
            twin = index.get((clean["source_id"], cond))
            if twin is None:
                raise data.CorpusError(f"clean clip {clean['clip_id']} has no {cond!r} twin "
                                       f"(source_id {clean['source_id']!r}): rebuild the corpus with its conditions")
            for col in ("num_frames", "split", "speaker"):
                if str(twin[col]) != str(clean[col]):
                    raise ValueError(f"{twin['clip_id']} and its clean twin {clean['clip_id']} differ in {col}: "
                                     f"{twin[col]!r} vs {clean[col]!r}")
            out.append({**twin, "clean_clip_id": clean["clip_id"]})
    return pd.DataFrame(out)


def _load_pairs(corpus, df, rows_clean, conditions) -> tuple[pd.DataFrame, list[torch.Tensor], list[torch.Tensor]]:
    pairs = restoration_rows(df, rows_clean, conditions)
    clean = {r["clip_id"]: data.load_clip(corpus, r, 1) for r in rows_clean.to_dict("records")}
    degraded = [data.load_clip(corpus, r, 1) for r in pairs.to_dict("records")]
    targets = [clean[c] for c in pairs["clean_clip_id"]]  # shared tensors: each clean twin is held once
    for r, x, y in zip(pairs.to_dict("records"), degraded, targets):
        if x.shape != y.shape:
            raise ValueError(f"{r['clip_id']} is {x.shape[-1]} samples, its clean twin {r['clean_clip_id']} "
                             f"{y.shape[-1]}: a restoration pair must be sample-aligned")
    return pairs, degraded, targets


class RestorationBank(data.ClipBank):
    """A ``ClipBank`` of (degraded, clean) pairs that keeps its last batch in ``last``, so a latent
    loss (``LatentBridge``) sees the clean crop the decoder is asked for in the same step."""

    last: data.Batch | None = None

    def batch(self, *args, **kwargs) -> data.Batch:
        self.last = super().batch(*args, **kwargs)
        return self.last


def restoration_bank(corpus, rows_clean: pd.DataFrame | None = None,
                     conditions: tuple[str, ...] = DEGRADATIONS) -> RestorationBank:
    """Degraded clips as inputs, their clean twins as targets: what a restoration encoder trains on.

    ``rows_clean`` defaults to the train split's clean speech; every one of them brings one degraded
    twin per condition.  ``ClipBank.batch`` crops a pair at the same offset with the same gain, so
    the decoder is asked for exactly the clean version of what the encoder heard.
    """
    df = data.read_manifest(corpus)
    if rows_clean is None:
        rows_clean = data.select(df, split="train", domain="speech", condition="clean")
    pairs, degraded, targets = _load_pairs(corpus, df, rows_clean, conditions)
    return RestorationBank(degraded, list(pairs["clip_id"]), targets=targets)


def restoration_eval(corpus, split: str = "test", n: int = 16,
                     conditions: tuple[str, ...] = DEGRADATIONS) -> list[RestorationPair]:
    """The first ``n`` clean speech clips of ``split`` (by clip_id), each with its degraded twins.

    The default ``test`` split holds out voices *and* rooms: what a restoration model meets after
    deployment, not what it memorised."""
    df = data.read_manifest(corpus)
    rows_clean = data.select(df, split=split, domain="speech", condition="clean").head(n)
    pairs, degraded, targets = _load_pairs(corpus, df, rows_clean, conditions)
    return [RestorationPair(r["condition"], x, y, r) for r, x, y in zip(pairs.to_dict("records"), degraded, targets)]


def degraded_probe_set(corpus, n_train: int = 120, conditions: tuple[str, ...] = DEGRADATIONS) -> probes.ProbeSet:
    """Degraded speech only, for leakage probes on what a restoration encoder *reads*: per condition,
    ``n_train`` training-split clips (evenly spaced: a fixed pick, the same for every seed) and every
    test-split clip (voices the encoders never heard: the content probe's test side)."""
    df = data.read_manifest(corpus)
    speech = df[df["domain"] == "speech"]
    parts = []
    for cond in conditions:
        train = data.select(speech, split="train", condition=cond)
        parts.append(train.iloc[:: max(1, len(train) // max(n_train, 1))].head(n_train))
        parts.append(data.select(speech, split="test", condition=cond))
    rows = [r for _, r in pd.concat(parts).iterrows()]
    if not rows:
        raise data.CorpusError(f"{corpus}: no degraded speech to probe")
    return probes.ProbeSet(rows, [data.load_labels(corpus, r) for r in rows],
                           [data.load_clip(corpus, r, 1) for r in rows])


class LatentBridge(nn.Module):
    """VoiceBridge's pressure on the latent: z of a degraded clip should land where a frozen *clean*
    encoder puts its clean twin.

    The audio loss alone only asks for clean audio *out*: a model can restore in its decoder and keep
    the noise in z (notebook 07 measures how much).  The bridge makes the latent itself carry the
    clean speech, so a generator downstream never has to model the degradation.  Loss: ``weight`` x
    mean squared distance to the clean latent, in units of that latent's variance (``bridge_error``).
    ``train(..., aux=bridge)`` calls it with the degraded crop and its z; the clean crop comes from
    the bank's last batch (``RestorationBank``).
    """

    def __init__(self, reference, bank: RestorationBank, weight: float = 1.0, reference_key: str = ""):
        super().__init__()
        self.reference = reference.eval().requires_grad_(False)
        self.bank, self.weight, self.reference_key = bank, float(weight), reference_key

    def key(self) -> str:
        return json.dumps({"bridge_to": self.reference_key, "weight": self.weight}, sort_keys=True)

    def train(self, mode: bool = True):  # the reference encoder stays frozen, in eval mode
        super().train(mode)
        self.reference.eval()
        return self

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, dict]:
        last = self.bank.last
        if last is None or last.target is None or last.x.shape != x.shape:
            raise RuntimeError("LatentBridge needs the clean crop of this step: train on a RestorationBank")
        with torch.no_grad():
            t = self.reference.encode(last.target.to(z.device), sample=False).mean
        err = bridge_error(z, t)
        return self.weight * err, {"bridge": float(err.detach())}


def bridge_error(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of z to a target latent, in units of the target's variance (0 = on it;
    about 2 = as far as an unrelated clip's latent).  Both (B, C, L); trimmed to the shorter L."""
    n = min(z.shape[-1], target.shape[-1])
    return (z[..., :n] - target[..., :n]).pow(2).mean() / (target.var() + 1e-6)


@torch.no_grad()
def latent_distance_to_clean(model, reference, pairs: list[RestorationPair]) -> pd.Series:
    """Per condition, ``bridge_error`` of model's latent of the *degraded* clip to ``reference``'s
    latent of its *clean twin*: how much of the degradation is still in z.  (The reference is the
    neutral codec: scored on itself, it says how far the degradation pushes a latent that never
    learned to ignore it.)"""
    model.eval()
    reference.eval()
    rows = [{"condition": p.condition,
             "distance": float(bridge_error(model.encode(p.degraded[None], sample=False).mean,
                                            reference.encode(p.clean[None], sample=False).mean))} for p in pairs]
    return pd.DataFrame(rows).groupby("condition", sort=False)["distance"].mean()


# ---------------------------------------------------------------------------------------- voice data

def voice_of(corpus, row) -> str:
    """The voice a clip is spoken in: the label's ``voice``, else the manifest's ``speaker``.

    We convert *voices*, not manifest speakers.  The corpus renders every TTS voice in five styles
    (``-lo``, ``-hi``, ``-fast`` ...) that change pitch register and rate -- prosody, which a
    frame-aligned decoder cannot re-time and which must travel with the content -- while the timbre
    stays.  One id per voice also gives each speaker embedding 5x more training clips (measured in
    cpu, seed 0: a 25-id table left the narrow decoder's own-voice decode recognisable 40 % of the
    time, a 5-id table 88 %).  The speaker probe uses the same identity
    (``probes.speaker_identity``), so probe, decoder and classifier agree on who is speaking."""
    return probes.speaker_identity(row, data.load_labels(corpus, row))


@dataclass(frozen=True)
class Voices:
    """The decoder's speaker table: voice name <-> integer id (sorted names, so ids are stable)."""

    names: tuple[str, ...]

    def id(self, name: str) -> int:
        if name not in self.names:
            raise ValueError(f"voice {name!r} is not a training voice ({', '.join(self.names)}): "
                             "a speaker-conditioned decoder can only speak voices it was trained with")
        return self.names.index(name)

    def __len__(self) -> int:
        return len(self.names)


def speaker_bank(corpus, rows: pd.DataFrame | None = None) -> tuple[data.ClipBank, Voices]:
    """Clean clips with the id of their voice (``voice_of``), and the id map.

    ``rows`` defaults to the train split's clean speech.  Conversion targets must be *training*
    voices: a voice outside the table has no embedding to decode with (``Voices.id`` refuses it).
    """
    if rows is None:
        rows = data.select(data.read_manifest(corpus), split="train", domain="speech", condition="clean")
    if rows.empty:
        raise data.CorpusError("no clips given for the speaker bank")
    names = [voice_of(corpus, r) for _, r in rows.iterrows()]
    voices = Voices(tuple(sorted(set(names))))
    clips = [data.load_clip(corpus, r, 1) for _, r in rows.iterrows()]
    return data.ClipBank(clips, list(rows["clip_id"]), speakers=[voices.id(v) for v in names]), voices


# --------------------------------------------------------------------------------------------- oracles

@torch.no_grad()
def autoencode(model, x: torch.Tensor, speaker: int | None = None) -> torch.Tensor:
    """D(E(x)) of one clip (channels, T) through the posterior mean; ``speaker`` (an id) feeds a
    speaker-conditioned decoder and must be None for one without a speaker table."""
    model.eval()
    z = model.encode(x[None], sample=False).mean
    kw = {} if speaker is None else {"speaker": int(speaker)}
    return model.decode(z, x.shape[-1], **kw)[0]


def convert(model, x: torch.Tensor, speaker: int) -> torch.Tensor:
    """Voice conversion, AUTOVC's way: encode x, decode the same latent with ``speaker``'s embedding.

    Whatever of the source voice survives in z comes out too: a wide latent converts little."""
    if not getattr(model.cfg, "speakers", 0):
        raise ValueError("this model's decoder takes no speaker (ModelConfig.speakers == 0): it cannot convert")
    return autoencode(model, x, speaker)


def _mel(est: torch.Tensor, ref: torch.Tensor) -> float:
    n = min(est.shape[-1], ref.shape[-1])
    return metrics.mel_distance(est[..., :n], ref[..., :n])


def neutral_oracle(model, clips: list[torch.Tensor], speakers: list[int] | None = None) -> float:
    """clean x -> E -> D -> x: mean log-mel distance over ``clips`` (lower is better).

    A speaker-conditioned decoder gets each clip's *own* voice (``speakers``): the neutral question
    is how much of x the codec gives back, not whether it can change it.  (Log-mel, not SI-SDR: these
    decoders predict their own phase, so a waveform-exact score would rank phase, not audio.)"""
    if not clips:
        raise ValueError("no clips to score")
    if speakers is not None and len(speakers) != len(clips):
        raise ValueError(f"{len(speakers)} speaker ids for {len(clips)} clips")
    return float(np.mean([_mel(autoencode(model, x, None if speakers is None else speakers[i]), x)
                          for i, x in enumerate(clips)]))


def restoration_oracle(model, pairs: list[RestorationPair]) -> pd.Series:
    """degraded -> E -> D against the clean twin: mean log-mel distance per condition and over all.

    ``model=None`` scores the degraded input itself: the "do nothing" floor a restoration model must
    beat (a neutral codec that reproduced its input perfectly would land on it)."""
    if not pairs:
        raise ValueError("no restoration pairs to score")
    rows = [{"condition": p.condition,
             "mel": _mel(p.degraded if model is None else autoencode(model, p.degraded), p.clean)} for p in pairs]
    df = pd.DataFrame(rows)
    out = df.groupby("condition", sort=False)["mel"].mean()
    out["all"] = df["mel"].mean()
    return out


# ------------------------------------------------------------------------------ speaker classifier

_MFCC = {}


def voice_features(x: torch.Tensor, sample_rate: int = 16000) -> np.ndarray:
    """Per-utterance timbre summary: mean and std of MFCC 1-19 over the clip's non-silent frames.

    MFCC 0 (loudness) is left out so a classifier cannot name a voice by its level, and frames more
    than 20 dB below the loudest are left out so pauses do not dilute the envelope."""
    if sample_rate not in _MFCC:
        _MFCC[sample_rate] = torchaudio.transforms.MFCC(
            sample_rate, n_mfcc=20, melkwargs={"n_fft": 512, "hop_length": 160, "n_mels": 40})
    x = x.float().mean(dim=0) if x.dim() == 2 else x.float()
    m = _MFCC[sample_rate](x)
    m = m[1:, m[0] > m[0].max() - 20.0]
    return torch.cat([m.mean(dim=1), m.std(dim=1, correction=0)]).numpy()


@dataclass
class SpeakerClassifier:
    """A voice classifier on audio (``voice_features`` -> logistic regression), trained on real
    recordings of the training voices.  ``accuracy`` is measured on held-out real sentences: the
    instrument's own ceiling, to read beside what it says about decoded audio."""

    voices: Voices
    pipeline: object
    accuracy: float

    @property
    def chance(self) -> float:
        """A classifier that ignored the audio would name a given voice 1 time in n."""
        return 1.0 / len(self.voices)

    def predict(self, clips: list[torch.Tensor]) -> np.ndarray:
        """The voice id each clip sounds like."""
        return self.pipeline.predict(np.stack([voice_features(x) for x in clips]))


def train_speaker_classifier(corpus, voices: Voices, train_rows: pd.DataFrame, test_rows: pd.DataFrame,
                             seed: int = 0) -> SpeakerClassifier:
    """Fit on ``train_rows`` (real audio), score on ``test_rows`` (real audio, other sentences)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def xy(rows):
        recs = rows.to_dict("records")
        return (np.stack([voice_features(data.load_clip(corpus, r, 1)) for r in recs]),
                np.array([voices.id(voice_of(corpus, r)) for r in recs]))

    X, y = xy(train_rows)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)
    Xt, yt = xy(test_rows)
    return SpeakerClassifier(voices, pipe, float(np.mean(pipe.predict(Xt) == yt)))


# ----------------------------------------------------------------------------------- conversion oracle

def conversion_targets(sources: list[int], n_voices: int) -> list[int]:
    """A different training voice for every clip, rotating so every (source, target) pair appears."""
    if n_voices < 2:
        raise ValueError("conversion needs at least two training voices")
    return [(s + 1 + i % (n_voices - 1)) % n_voices for i, s in enumerate(sources)]


@dataclass
class ConversionResult:
    """The conversion task oracle of one model, beside its controls and chance levels.

    content_*: the content teacher's frame phone accuracy against the *source* sentence's labels on
    the original audio (the teacher's ceiling), the own-voice decode, and the converted decode;
    content_chance: always answering the most common phone.  speaker_*: how often the classifier
    names the own voice on the own-voice decode, the *target* voice on the converted decode, and
    still the source voice on the converted decode; speaker_chance: 1 / voices.
    """

    content_original: float
    content_own: float
    content_converted: float
    content_chance: float
    speaker_own: float
    speaker_target: float
    speaker_source: float
    speaker_chance: float
    targets: list = field(default_factory=list)  # the target voice id of every clip
    converted: list = field(default_factory=list, repr=False)  # the converted clips, for listening

    @property
    def content_kept(self) -> float:
        """Of what the codec carries above chance (own-voice decode), the share that survives the
        voice swap: 1 = conversion costs no words; 0 = the converted audio is at chance."""
        own = self.content_own - self.content_chance
        return float((self.content_converted - self.content_chance) / own) if own > 0 else float("nan")

    def row(self) -> dict[str, float]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("converted", "targets")}
        return {**out, "content_kept": self.content_kept}


def conversion_oracle(model, clips: list[torch.Tensor], labels: list[dict], sources: list[int], teacher,
                      classifier: SpeakerClassifier, targets: list[int] | None = None) -> ConversionResult:
    """Decode every clip with another training voice (``conversion_targets`` unless given): are the
    sentence's phones still recognised, and does the classifier hear the target voice?"""
    from course_lib.teachers import IGNORE, frame_accuracy, phone_targets

    if not (len(clips) == len(labels) == len(sources)) or not clips:
        raise ValueError(f"{len(clips)} clips, {len(labels)} label dicts and {len(sources)} source ids: "
                         "they must be parallel and non-empty")
    targets = conversion_targets(sources, len(classifier.voices)) if targets is None else list(targets)
    if len(targets) != len(sources) or any(t == s for t, s in zip(targets, sources)):
        raise ValueError("every clip needs one conversion target that differs from its source voice")
    own = [autoencode(model, x, s) for x, s in zip(clips, sources)]
    conv = [convert(model, x, t) for x, t in zip(clips, targets)]
    phones = [phone_targets(lab, x.shape[-1] // 160) for x, lab in zip(clips, labels)]
    counts = torch.bincount(torch.cat([p[p != IGNORE] for p in phones]))
    pred_own, pred_conv = classifier.predict(own), classifier.predict(conv)
    src, tgt = np.asarray(sources), np.asarray(targets)
    return ConversionResult(
        content_original=frame_accuracy(teacher, clips, phones),
        content_own=frame_accuracy(teacher, own, phones),
        content_converted=frame_accuracy(teacher, conv, phones),
        content_chance=float(counts.max() / counts.sum()),
        speaker_own=float(np.mean(pred_own == src)),
        speaker_target=float(np.mean(pred_conv == tgt)),
        speaker_source=float(np.mean(pred_conv == src)),
        speaker_chance=classifier.chance,
        targets=list(targets),
        converted=conv,
    )


# ------------------------------------------------------------------------------------------- presets

RESTORATION_WIDTH = 8  # both restoration models: 50 Hz x 8
WIDE_WIDTH = 64  # the conversion codec that can carry the voice
NARROW_WIDTH = 2  # AUTOVC's squeeze: 50 Hz x 2 (measured in cpu, seed 0: x4 kept the speaker probe at 0.78)
BRIDGE_WEIGHT = 1.0  # LatentBridge weight (cpu, seed 0: 5.0 gave the same latent distance and audio)


@dataclass(frozen=True)
class DualOracleLesson:
    """Notebook 07's models and budgets.

    ``restoration``: "neutral codec" (clean -> clean) and "restoration encoder" (degraded -> clean,
    bridged to the neutral codec's clean latent), one network, width and step budget.
    ``conversion``: "wide codec" and "narrow bottleneck", both with the speaker-conditioned decoder,
    so the only difference is the bottleneck's width.  ``teacher``: the content teacher config
    (notebook 05's, so a cached teacher is reused).  ``eval_clips``: clean test sentences for the
    restoration oracles (each with its three degraded twins); ``conversion_clips``: valid-split
    sentences of the training voices for the conversion oracles; ``probe_clips``: training clips per
    condition in the degraded probe set, and training clips in the clean one.
    """

    restoration: dict
    conversion: dict
    teacher: object
    bridge_weight: float
    eval_clips: int
    conversion_clips: int
    probe_clips: tuple[int, int]


def dual_oracle_lesson(name: str = "auto", seed: int = 0, voices: int = 5) -> DualOracleLesson:
    """The sweep-sized network at 50 Hz and one step budget for all four encoders.

    ``voices`` sizes the decoders' speaker table: the number of training voices (``len`` of the
    ``Voices`` that ``speaker_bank`` returns; 5 in the course corpus, 3 in smoke).
    """
    name = presets.resolve(name)
    base = presets.sweep_base(name, seed)
    teacher = presets.teacher_lesson(name, seed).teacher
    if name == "smoke":
        steps, eval_clips, conversion_clips, probe_clips = base.train.steps, 2, 3, (6, 12)
    elif name == "cpu":
        steps, eval_clips, conversion_clips, probe_clips = 300, 16, 50, (120, 250)
    else:
        steps, eval_clips, conversion_clips, probe_clips = base.train.steps, 32, 50, (250, 500)
    base = replace(base, train=replace(base.train, steps=steps, checkpoint_every=steps))

    def shaped(width, speakers=0):
        return replace(base, model=replace(base.model, latent_rate=50.0, width=width, speakers=speakers))

    restoration = {"neutral codec": shaped(RESTORATION_WIDTH), "restoration encoder": shaped(RESTORATION_WIDTH)}
    conversion = {"wide codec": shaped(WIDE_WIDTH, voices), "narrow bottleneck": shaped(NARROW_WIDTH, voices)}
    return DualOracleLesson(restoration, conversion, teacher, BRIDGE_WEIGHT, eval_clips, conversion_clips,
                            probe_clips)
