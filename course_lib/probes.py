"""Probes: what a frozen latent still says about the audio it encodes.

A probe is a small model trained on frozen latents ``z`` to read out one factor (the phone being
spoken, the speaker, the room, the F0, the stereo image).  The encoder is never updated: the probe
only measures what is already there.  A high score means the factor is *readable* from z; a score at
chance means the probe found nothing -- with this probe, this budget, this data.

- Linear first.  What a linear probe reads is what a small generator (or a small predictor head) can
  use without spending its capacity on decoding z.  The MLP probe (one hidden layer of 64) is the
  second look: a factor only an MLP finds is present but entangled.
- Chance beside every score.  Accuracy 0.4 is excellent with 41 phone classes and nothing with two
  rooms of which one fills 60 % of the test set.  Every result carries the score of predicting the
  most frequent *training* class (or, for R², the training mean: 0), and ``above_chance`` normalises
  the score so factors with different class counts can be compared and thresholded.
- Held-out speakers for content.  A phone probe trained and tested on the same voices can succeed
  by memorising speaker-specific spectra; testing on voices never seen in training asks whether z
  carries the phone itself.  ``content_known`` is that other probe on purpose (new sentences of
  the training voices only): beside ``content`` it shows whether an encoder's phone code holds for
  the voices it was trained on but not for new ones.  A diagnostic, never a substitute.  Likewise
  room and degradation probes hold out whole sentences (``source_id``), so a probe cannot recognise
  the sentence instead of the room.
- Fixed budgets and seeds.  Training sets are subsampled to ``max_train`` rows and every solver has a
  fixed iteration budget (convergence warnings are silenced on purpose: the budget *is* the probe),
  so two encoders are compared by the same ruler and a rerun gives the same number.

``probe_factor`` is the single entry point: it turns per-clip latents, manifest rows and label
dicts into a dataset for one of ``FACTORS``, splits it the way that factor needs, and probes it.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from course_lib import data

PHONES = data.PHONES  # the corpus's phone set: the content probe's classes
# factor -> metric; the metric decides classify (accuracy) or regress (r2)
FACTOR_METRIC = {"content": "accuracy", "content_known": "accuracy", "speaker": "accuracy", "prosody": "r2",
                 "energy": "r2", "room": "accuracy", "condition": "accuracy", "degradation": "accuracy", "stereo": "r2"}
FACTORS = tuple(FACTOR_METRIC)
KINDS = ("linear", "mlp")
LINEAR_MAX_ITER = 300
MLP_MAX_ITER = 100
MLP_HIDDEN = (64,)


@dataclass
class ProbeResult:
    """One probe's score, with the chance level and the split it was measured on.

    ``reason`` is empty for a probe that ran; for a factor that could not be probed (missing data,
    one class) it says why, and score/chance are NaN.
    """

    factor: str
    task: str  # "classify" | "regress"
    metric: str  # "accuracy" | "r2"
    score: float
    chance: float
    n_train: int
    n_test: int
    n_classes: int  # 0 for regression
    split: str
    kind: str  # "linear" | "mlp"
    reason: str = ""

    @property
    def probed(self) -> bool:
        return not self.reason

    @property
    def above_chance(self) -> float:
        """The score normalised so 0 is chance and 1 is perfect: comparable across class counts.

        Accuracy: (score - chance) / (1 - chance); NaN when chance is already 1 (a one-class test
        set measures nothing).  R²: the score itself, since the constant predictor scores 0.
        """
        if not self.probed:
            return float("nan")
        if self.metric == "r2":
            return float(self.score)
        if self.chance >= 1.0:
            return float("nan")
        return float((self.score - self.chance) / (1.0 - self.chance))

    def to_dict(self) -> dict:
        return {**asdict(self), "above_chance": self.above_chance}


def not_probed(factor: str, reason: str, kind: str = "linear") -> ProbeResult:
    """A placeholder result for a factor whose data was missing, keeping the reason."""
    metric = FACTOR_METRIC.get(factor, "")
    task = "regress" if metric == "r2" else "classify"
    return ProbeResult(factor, task, metric, float("nan"), float("nan"), 0, 0, 0, "", kind, reason=reason)


# --------------------------------------------------------------------------------------------- probes

def _check_xy(X_tr, y_tr, X_te, y_te) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays, with the mistakes that would otherwise surface as a cryptic sklearn error named."""
    X_tr, X_te = np.asarray(X_tr), np.asarray(X_te)
    y_tr, y_te = np.asarray(y_tr), np.asarray(y_te)
    for name, X, y in (("train", X_tr, y_tr), ("test", X_te, y_te)):
        if X.ndim != 2:
            raise ValueError(f"{name} features must be 2-D (rows, features), got shape {X.shape}")
        if y.ndim != 1:
            raise ValueError(f"{name} targets must be 1-D, got shape {y.shape}")
        if len(X) != len(y):
            raise ValueError(f"{name} features and targets differ in length: {len(X)} rows vs {len(y)} targets")
        if len(X) == 0:
            raise ValueError(f"empty {name} set: nothing to probe")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{name} features contain NaN or inf ({int((~np.isfinite(X)).sum())} values)")
    if X_tr.shape[1] != X_te.shape[1]:
        raise ValueError(f"train and test have different feature counts: {X_tr.shape[1]} vs {X_te.shape[1]}")
    return X_tr, y_tr, X_te, y_te


def _subsample(X: np.ndarray, y: np.ndarray, max_train: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subset of at most ``max_train`` rows: a fixed budget keeps probes fast and comparable."""
    if len(X) <= max_train:
        return X, y
    keep = np.sort(np.random.default_rng(seed).choice(len(X), size=max_train, replace=False))
    return X[keep], y[keep]


def _model(task: str, kind: str, seed: int):
    if kind not in KINDS:
        raise ValueError(f"unknown probe kind {kind!r}: use one of {KINDS}")
    if task == "classify":
        head = (LogisticRegression(max_iter=LINEAR_MAX_ITER) if kind == "linear" else
                MLPClassifier(hidden_layer_sizes=MLP_HIDDEN, early_stopping=False, max_iter=MLP_MAX_ITER,
                              random_state=seed))
        return make_pipeline(StandardScaler(), head)
    head = (Ridge(alpha=1.0) if kind == "linear" else
            MLPRegressor(hidden_layer_sizes=MLP_HIDDEN, early_stopping=False, max_iter=MLP_MAX_ITER,
                         random_state=seed))
    # targets in dB or log2 Hz are far from unit scale; an MLP fits them badly unless they are standardised
    return TransformedTargetRegressor(regressor=make_pipeline(StandardScaler(), head), transformer=StandardScaler())


def _fit_predict(model, X, y, X_te) -> np.ndarray:
    # one BLAS thread: these matrices are small, and threaded BLAS on them was 10x *slower* (measured
    # on a 2-core machine); the fixed budget is the point, so a convergence warning is not a fault
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y).predict(X_te)


def probe_classify(X_tr, y_tr, X_te, y_te, factor: str, split: str, kind: str = "linear", seed: int = 0,
                   max_train: int = 20000) -> ProbeResult:
    """Test accuracy of a classifier probe, beside the majority-class chance level.

    Chance is the accuracy of always answering the most frequent training class: what a probe that
    ignores z would score on this test set.  Test classes absent from training just count as errors.
    """
    X_tr, y_tr, X_te, y_te = _check_xy(X_tr, y_tr, X_te, y_te)
    classes, counts = np.unique(y_tr, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"{factor}: fewer than 2 training classes ({list(classes)}): nothing to discriminate")
    chance = float(np.mean(y_te == classes[np.argmax(counts)]))
    X_fit, y_fit = _subsample(X_tr, y_tr, max_train, seed)
    if len(np.unique(y_fit)) < 2:
        raise ValueError(f"{factor}: the {max_train}-row training subsample holds a single class")
    score = float(np.mean(_fit_predict(_model("classify", kind, seed), X_fit, y_fit, X_te) == y_te))
    return ProbeResult(factor, "classify", "accuracy", score, chance, len(y_fit), len(y_te), len(classes), split,
                       kind)


def probe_regress(X_tr, y_tr, X_te, y_te, factor: str, split: str, kind: str = "linear", seed: int = 0,
                  max_train: int = 20000) -> ProbeResult:
    """Test R² of a regression probe; chance is 0 (predicting the training mean scores about 0 or below).

    R² is measured against the *test* mean.  On held-out speakers whose pitch register differs from
    training, the training-mean predictor scores far below 0 (about -7 for F0 on the smoke corpus), so
    R² > 0 already asks z to place a new voice's register, not only its contour.
    """
    X_tr, y_tr, X_te, y_te = _check_xy(X_tr, y_tr, X_te, y_te)
    y_tr, y_te = y_tr.astype(float), y_te.astype(float)
    if not (np.all(np.isfinite(y_tr)) and np.all(np.isfinite(y_te))):
        raise ValueError(f"{factor}: regression targets contain NaN or inf")
    if np.ptp(y_te) == 0:
        raise ValueError(f"{factor}: test targets are constant ({y_te[0]}), R² is undefined")
    X_fit, y_fit = _subsample(X_tr, y_tr, max_train, seed)
    score = float(r2_score(y_te, _fit_predict(_model("regress", kind, seed), X_fit, y_fit, X_te)))
    return ProbeResult(factor, "regress", "r2", score, 0.0, len(y_fit), len(y_te), 0, split, kind)


# ----------------------------------------------------------------------------------- dataset builders

def _as_latents(latents) -> list[np.ndarray]:
    out = [np.asarray(z, dtype=np.float32) for z in latents]
    if not out:
        raise ValueError("no latents given")
    for i, z in enumerate(out):
        if z.ndim != 2:
            raise ValueError(f"latent {i} must be (channels, frames), got shape {z.shape}")
        if z.shape[0] != out[0].shape[0]:
            raise ValueError(f"latent {i} has {z.shape[0]} channels, latent 0 has {out[0].shape[0]}")
    return out


def _same_length(latents, other, name: str) -> None:
    if len(latents) != len(other):
        raise ValueError(f"{len(latents)} latents but {len(other)} {name}: they must be parallel lists")


def _centres(n_frames: int, frame_rate: float) -> np.ndarray:
    """Latent frame t covers [t, t+1) / frame_rate seconds; its centre is where it is labelled."""
    return (np.arange(n_frames) + 0.5) / float(frame_rate)


def _stack(xs: list, ys: list, idx: list, channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not xs:
        return np.zeros((0, channels), np.float32), np.zeros(0), np.zeros(0, int)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(idx)


def phone_frames(latents, labels: list[dict], frame_rate: float,
                 phone_to_id: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per latent frame: X (N, C), y the id of the phone covering the frame centre, clip_index.

    Frames whose centre falls outside every phone (past the last one, in a gap) are dropped rather
    than guessed.  Every phone in the labels must be in the mapping, so a new symbol fails loudly
    instead of silently becoming a wrong class.
    """
    zs = _as_latents(latents)
    _same_length(zs, labels, "label dicts")
    mapping = phone_to_id if phone_to_id is not None else {p: i for i, p in enumerate(PHONES)}
    xs, ys, idx = [], [], []
    for i, (z, lab) in enumerate(zip(zs, labels)):
        phones = sorted((lab or {}).get("phones") or [], key=lambda p: float(p["start"]))
        if not phones:
            raise ValueError(f"clip {i} has no phone labels")
        unknown = sorted({p["phone"] for p in phones} - set(mapping))
        if unknown:
            raise ValueError(f"clip {i}: unknown phone(s) {unknown}: not in the phone mapping")
        starts = np.array([float(p["start"]) for p in phones])
        ends = np.array([float(p["end"]) for p in phones])
        ids = np.array([mapping[p["phone"]] for p in phones])
        c = _centres(z.shape[1], frame_rate)
        k = np.searchsorted(starts, c, side="right") - 1  # the last phone starting at or before c
        keep = (k >= 0) & (c < ends[np.clip(k, 0, None)])
        xs.append(z[:, keep].T)
        ys.append(ids[k[keep]])
        idx.append(np.full(int(keep.sum()), i))
    return _stack(xs, ys, idx, zs[0].shape[0])


def f0_frames(latents, labels: list[dict], frame_rate: float, relative: bool = True
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voiced latent frames only: X (N, C), y = log2 F0 (so an octave is 1 everywhere), clip_index.

    ``relative`` (the default) subtracts each clip's mean voiced log2 F0: y is the *intonation
    contour* in octaves around the speaker's own register.  The register itself identifies the
    voice (the speaker probe's business); without this, a held-out voice with a new register makes
    the R² meaningless however well z follows the melody.
    F0 frame j sits at j * hop_s (centred analysis, as pYIN and Praat report it); each latent frame
    takes the F0 frame nearest its centre.  Unvoiced frames (0 Hz) have no pitch to read and are skipped.
    """
    zs = _as_latents(latents)
    _same_length(zs, labels, "label dicts")
    xs, ys, idx = [], [], []
    for i, (z, lab) in enumerate(zip(zs, labels)):
        f0 = (lab or {}).get("f0")
        if not f0:
            raise ValueError(f"clip {i} has no f0 labels")
        hz = np.asarray(f0["hz"], dtype=float)
        j = np.rint(_centres(z.shape[1], frame_rate) / float(f0["hop_s"])).astype(int)
        inside = j < len(hz)
        voiced = np.zeros_like(inside)
        voiced[inside] = hz[j[inside]] > 0
        xs.append(z[:, voiced].T)
        y = np.log2(hz[j[voiced]])
        ys.append(y - y.mean() if relative and len(y) else y)
        idx.append(np.full(int(voiced.sum()), i))
    return _stack(xs, ys, idx, zs[0].shape[0])


def energy_frames(latents, audio: list[np.ndarray], frame_rate: float,
                  sample_rate: int = 16000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per latent frame: X (N, C), y = RMS in dB of the samples that frame covers, clip_index.

    Stereo audio (channels, samples) is averaged to mono first.  Frames past the end of the audio are
    dropped.  A floor of -100 dB keeps digital silence finite.
    """
    zs = _as_latents(latents)
    _same_length(zs, audio, "audio clips")
    spf = sample_rate / float(frame_rate)  # samples per latent frame, possibly fractional
    xs, ys, idx = [], [], []
    for i, (z, x) in enumerate(zip(zs, audio)):
        x = np.asarray(x, dtype=np.float64)
        x = x.mean(axis=0) if x.ndim == 2 else x
        t = np.arange(z.shape[1])
        a, b = np.rint(t * spf).astype(int), np.rint((t + 1) * spf).astype(int)
        keep = b <= len(x)
        power = np.cumsum(np.concatenate([[0.0], x ** 2]))  # frame sums in O(1) each
        ms = (power[b[keep]] - power[a[keep]]) / np.maximum(b[keep] - a[keep], 1)
        xs.append(z[:, keep].T)
        ys.append(10 * np.log10(ms + 1e-10))
        idx.append(np.full(int(keep.sum()), i))
    return _stack(xs, ys, idx, zs[0].shape[0])


def utterance_stats(latents) -> np.ndarray:
    """(n_clips, 2C): per-clip mean then std of every channel over time.

    Speaker, room, condition and stereo are properties of a whole clip; pooling mean and spread is
    the simplest summary a clip-level probe (or a conditioning vector) could use.
    """
    zs = _as_latents(latents)
    return np.stack([np.concatenate([z.mean(axis=1), z.std(axis=1)]) for z in zs])


# ----------------------------------------------------------------------------------------------- splits

def split_groups(groups, test_groups=None, test_frac: float = 0.3, seed: int = 0) -> np.ndarray:
    """Boolean test mask that holds out whole groups (speakers, sentences): no group on both sides.

    ``test_groups`` names them; otherwise a seeded ``test_frac`` of the groups (at least one, and
    at least one left for training).
    """
    groups = np.asarray(groups)
    if test_groups is not None:
        return np.isin(groups, list(test_groups))
    names = np.unique(groups)
    if len(names) < 2:
        raise ValueError(f"need at least 2 groups to hold one out, got {len(names)}")
    n_test = int(min(max(round(test_frac * len(names)), 1), len(names) - 1))
    held = np.random.default_rng(seed).permutation(names)[:n_test]
    return np.isin(groups, held)


def split_within_groups(groups, test_frac: float = 0.3, seed: int = 0, units=None) -> np.ndarray:
    """Boolean test mask with every group (with ≥2 units) on both sides: e.g. a speaker-id probe.

    ``units`` (optional, parallel to groups) are kept whole -- e.g. ``source_id``, so the clean and
    the noisy copy of one sentence never sit on opposite sides.  Default: each row is its own unit.
    A group with a single unit stays in training.
    """
    groups = np.asarray(groups)
    units = np.arange(len(groups)) if units is None else np.asarray(units)
    if len(units) != len(groups):
        raise ValueError(f"{len(groups)} groups but {len(units)} units")
    rng = np.random.default_rng(seed)
    held = []
    for g in np.unique(groups):
        mine = np.unique(units[groups == g])
        if len(mine) < 2:
            continue
        n_test = int(min(max(round(test_frac * len(mine)), 1), len(mine) - 1))
        held.extend(rng.permutation(mine)[:n_test])
    return np.isin(units, held)


# ------------------------------------------------------------------------------------------ probe_factor

def _as_rows(rows) -> list:
    return [r for _, r in rows.iterrows()] if isinstance(rows, pd.DataFrame) else list(rows)


def _pick(rows: list, **where) -> np.ndarray:
    """Indices of rows whose fields equal the given values."""
    return np.array([i for i, r in enumerate(rows) if all(r.get(k) == v for k, v in where.items())], dtype=int)


ild_db = data.stems_ild_db  # the stereo probe's target (the same label ILD notebook 00 checks)


def _speaker_split(rows: list, seed: int) -> tuple[np.ndarray, str]:
    """Per-clip test mask holding out speakers: the corpus's test split when it is one, else a seeded pick."""
    is_test = np.array([r.get("split") == "test" for r in rows])
    speakers = np.array([str(r.get("speaker")) for r in rows])
    if is_test.any() and (~is_test).any() and not set(speakers[is_test]) & set(speakers[~is_test]):
        return is_test, f"held-out speakers ({len(set(speakers[is_test]))} test voices, split == 'test')"
    mask = split_groups(speakers, seed=seed)
    return mask, f"held-out speakers ({len(set(speakers[mask]))} of {len(set(speakers))}, seeded)"


def speaker_identity(row, labels: dict | None) -> str:
    """Who is speaking: the label's ``voice`` when there is one, else the manifest's ``speaker``.

    The course corpus renders each TTS voice in five styles (``festival-kal-lo``, ``-hi``, ``-fast``
    ...): the style changes pitch register and rate -- prosody -- not the voice.  A speaker probe
    that had to tell ``-mid`` from ``-fast`` would partly measure rhythm, so identity is the voice.
    """
    if labels and labels.get("voice"):
        return str(labels["voice"])
    return str(row["speaker"])


def _need(idx: np.ndarray, what: str) -> np.ndarray:
    if len(idx) == 0:
        raise ValueError(f"no rows with {what}")
    return idx


def probe_factor(factor: str, latents, rows, labels, frame_rate: float, audio=None, kind: str = "linear",
                 seed: int = 0) -> ProbeResult:
    """Probe one factor of ``FACTORS`` from per-clip latents (C, T), their manifest rows and labels.

    ``rows`` is a DataFrame or a list of rows (Series or dicts) parallel to ``latents``; ``labels``
    the parallel label dicts (may be None for factors read from the manifest alone); ``audio`` the
    parallel waveforms, needed only for "energy".  Each factor picks its rows and its split:

    - content / prosody / energy (speech): held-out speakers -- a probe must not pass by knowing the voice;
    - content_known (speech): phones again, on the *training* voices only (the clips ``content`` trains
      on), new sentences held out (``source_id``) -- what ``content`` would say if voices never changed;
    - speaker (speech): voice identity (``speaker_identity``), every voice on both sides, different sentences;
    - room (reverb) / condition (all rows) / degradation (noisy): held-out sentences (``source_id``);
    - stereo (music): ILD from the stems' gains, held-out pieces (``source_id``).
    Raises ValueError, naming the factor, when its rows, labels or classes are missing.
    """
    if factor not in FACTOR_METRIC:
        raise ValueError(f"unknown factor {factor!r}: use one of {FACTORS}")
    latents, rows = list(latents), _as_rows(rows)
    _same_length(latents, rows, "manifest rows")
    if labels is not None:
        _same_length(latents, labels, "label dicts")
    labels = [None] * len(rows) if labels is None else list(labels)
    try:
        X, y, test, split = _dataset(factor, latents, rows, labels, frame_rate, audio, seed)
        probe = probe_regress if FACTOR_METRIC[factor] == "r2" else probe_classify
        return probe(X[~test], y[~test], X[test], y[test], factor, split, kind=kind, seed=seed)
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(f"{factor}:") else f"{factor}: {msg}") from e


def _dataset(factor, latents, rows, labels, frame_rate, audio, seed):
    """(X, y, test mask, split description) for one factor."""
    if factor in ("content", "prosody", "energy"):
        sel = _need(_pick(rows, domain="speech"), "domain == 'speech'")
        sub = [latents[i] for i in sel]
        if factor == "content":
            X, y, clip = phone_frames(sub, [labels[i] for i in sel], frame_rate)
        elif factor == "prosody":
            X, y, clip = f0_frames(sub, [labels[i] for i in sel], frame_rate)
        else:
            if audio is None:
                raise ValueError("needs the audio of every clip (audio=...)")
            X, y, clip = energy_frames(sub, [audio[i] for i in sel], frame_rate)
        clip_test, split = _speaker_split([rows[i] for i in sel], seed)
        return X, y, clip_test[clip], split
    if factor == "content_known":
        sel = _need(_pick(rows, domain="speech"), "domain == 'speech'")
        held_voices, _ = _speaker_split([rows[i] for i in sel], seed)
        sel = _need(sel[~held_voices], "speech from the training voices")
        speakers = [str(rows[i].get("speaker")) for i in sel]
        test = split_within_groups(speakers, seed=seed, units=[str(rows[i]["source_id"]) for i in sel])
        X, y, clip = phone_frames([latents[i] for i in sel], [labels[i] for i in sel], frame_rate)
        return X, y, test[clip], f"training voices, new sentences ({len(set(speakers))} voices)"
    if factor == "speaker":
        sel = _need(_pick(rows, domain="speech"), "domain == 'speech'")
        speakers = np.array([speaker_identity(rows[i], labels[i]) for i in sel])
        sources = np.array([str(rows[i]["source_id"]) for i in sel])
        test = split_within_groups(speakers, seed=seed, units=sources)
        return utterance_stats([latents[i] for i in sel]), speakers, test, "within voices (different sentences)"
    if factor == "stereo":
        sel = _need(_pick(rows, domain="music"), "domain == 'music'")
        if any(not (labels[i] or {}).get("instruments") for i in sel):
            raise ValueError("music labels without 'instruments' (stem gains): pass the label dicts")
        y = np.array([ild_db(labels[i]) for i in sel])
        test = split_groups([str(rows[i]["source_id"]) for i in sel], seed=seed)
        return utterance_stats([latents[i] for i in sel]), y, test, "held-out pieces (source_id)"
    # room / condition / degradation: clip-level classes, whole sentences held out
    target, where = {"room": ("room_id", {"condition": "reverb"}), "condition": ("condition", {}),
                     "degradation": ("noise_type", {"condition": "noisy"})}[factor]
    sel = _pick(rows, **where) if where else np.arange(len(rows))
    _need(sel, " and ".join(f"{k} == {v!r}" for k, v in where.items()) or "any condition")
    y = np.array([str(rows[i][target]) for i in sel])
    test = split_groups([str(rows[i]["source_id"]) for i in sel], seed=seed)
    return utterance_stats([latents[i] for i in sel]), y, test, "held-out sentences (source_id)"


def content_squeeze(features, rows, labels, frame_rate: float, width: int, seed: int = 0) -> list[np.ndarray]:
    """``features`` (per-clip (D, frames)) squeezed linearly to ``width`` channels for phone identity.

    The squeeze is linear discriminant analysis (scikit-learn), fitted on the content probe's
    *training* side only (the same speech rows and held-out-speaker split ``probe_factor`` uses), so
    the test voices stay unseen.  LDA keeps the ``width`` directions that best separate the phones:
    probing its output estimates how much phone identity ``width`` linear channels of these features
    can carry: about what a latent of that width coupled to them can reach (an estimate, not a bound;
    LDA is the best linear squeeze only when every class spreads alike).  Returns the squeezed
    (width, frames) arrays for every clip, parallel to ``features``.
    """
    feats, rows = _as_latents(features), _as_rows(rows)
    _same_length(feats, rows, "manifest rows")
    _same_length(feats, labels, "label dicts")
    if not 1 <= width < feats[0].shape[0]:
        raise ValueError(f"width must be between 1 and the feature size minus one ({feats[0].shape[0] - 1}), "
                         f"got {width}")
    X, y, test, _ = _dataset("content", feats, rows, list(labels), frame_rate, None, seed)
    if len(np.unique(y[~test])) <= width:
        n = len(np.unique(y[~test]))
        raise ValueError(f"content squeeze: {n} training phones cannot define {width} directions")
    with threadpool_limits(1):  # small matrices: one BLAS thread is faster here (see _fit_predict)
        X_fit, y_fit = _subsample(X[~test], y[~test], 20000, seed)
        lda = LinearDiscriminantAnalysis(n_components=width).fit(X_fit, y_fit)
    return [lda.transform(f.T).T.astype(np.float32) for f in feats]


@dataclass
class ProbeSet:
    """The clips a ledger is judged on: manifest rows, their labels and mono audio (parallel lists)."""

    rows: list
    labels: list
    audio: list  # torch tensors (1, T)

    def latents(self, model) -> list[np.ndarray]:
        """The posterior-mean latent (C, frames) of every clip under ``model`` (an ``Autoencoder``)."""
        import torch

        model.eval()
        with torch.no_grad():
            return [model.encode(x[None], sample=False).mean[0].numpy() for x in self.audio]

    def mono(self) -> list[np.ndarray]:
        return [x.mean(dim=0).numpy() for x in self.audio]

    def probe(self, latents, frame_rate: float, factors: tuple[str, ...] = ("content", "speaker"),
              seed: int = 0) -> dict[str, ProbeResult]:
        """``probe_factor`` for each of ``factors`` on per-clip ``latents`` parallel to these clips
        (an encoder's, or any features at ``frame_rate`` frames per second): {factor: result}."""
        audio = self.mono() if "energy" in factors else None  # only the energy probe reads the waveform
        return {f: probe_factor(f, latents, self.rows, self.labels, frame_rate, audio=audio, seed=seed)
                for f in factors}


def probe_set(corpus, n_train: int = 250, n_degraded: int = 100, seed: int = 0) -> ProbeSet:
    """Speech for a ledger: ``n_train`` clean training-split clips (evenly spaced), every clean
    test-split clip (voices the encoder never heard: the content probe's test side) and, for the
    room / degradation factors, ``n_degraded`` reverberant and ``n_degraded`` noisy clips."""
    df = data.read_manifest(corpus)
    speech = df[df.domain == "speech"]
    clean_train = data.select(speech, split="train", condition="clean")
    step = max(1, len(clean_train) // max(n_train, 1))
    parts = [clean_train.iloc[::step].head(n_train), data.select(speech, split="test", condition="clean")]
    for condition in ("reverb", "noisy"):
        rows = speech[speech.condition == condition]
        parts.append(rows.sample(n=min(n_degraded, len(rows)), random_state=seed) if len(rows) else rows)
    sel = pd.concat(parts)
    if sel.empty:
        raise ValueError(f"{corpus}: no speech clips to probe")
    rows = [r for _, r in sel.iterrows()]
    return ProbeSet(rows, [data.load_labels(corpus, r) for r in rows], [data.load_clip(corpus, r, 1) for r in rows])
