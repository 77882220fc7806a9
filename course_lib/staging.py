"""Stage training by gradient ownership: phases, and who owns the encoder in each.

A blended loss (reconstruction + prior + teacher + adversarial, all on the encoder from step 0)
hides a conflict: each term pulls the latent somewhere else, and the sum says nothing about who won.
A staged schedule gives each pressure its own phase and *declares* what it owns:

    phase 1  reconstruction + light prior shaping     owns the latent's geometry
    phase 2  + a semantic teacher, probes watching     owns content structure
    phase 3  frozen encoder, adversarial decoder polish owns waveform texture, moves no latent
    phase 4  frozen encoder, predicted-latent replay   owns the decoder's tolerance to the generator
    phase 5  a short joint tune, kept only if the latent barely moves

What this module measures, so that staging is a debugging tool and not folklore:

- ``loss_gradients``: the encoder's gradient from each loss term on its own (its norm), and the
  cosine between every pair (negative: one loss undoes the other's step).  The per-loss gradients
  add up to the gradient of the sum; that is what makes the split meaningful.
- ``linear_cka``: how far the latent moved from a reference encoder's (1.0: the same geometry up to
  a rotation and scale; linear CKA, Kornblith et al. 2019 -- written here, a few lines of numpy).
- ``OwnershipMonitor``: both, logged by ``training.train`` every few steps into the history.
- ``ReplayBank``: phase 4's training data -- latents a small predictor *predicted* for the training
  clips (cross-fitted: each half predicted by a predictor that never saw it), paired with the audio.
- ``Phase`` / ``run_schedule``: the phases as presets, trained (or loaded) one after the other,
  each starting from the previous one's weights, with a boundary report after each.
"""

from __future__ import annotations

import hashlib
import json
from copy import deepcopy
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from course_lib import data, predictors
from course_lib.data import Batch
from course_lib.models import Autoencoder
from course_lib.presets import Preset

# --- who owns the encoder -------------------------------------------------------------------------


def encoder_parameters(model: Autoencoder) -> list[torch.nn.Parameter]:
    """The parameters that shape the latent: the encoder and the bottleneck (trainable ones only)."""
    return [p for m in (model.encoder, model.bottleneck) for p in m.parameters() if p.requires_grad]


def loss_gradients(params: list[torch.nn.Parameter], parts: dict[str, torch.Tensor]) -> dict[str, float]:
    """Each loss term's gradient on ``params`` alone: ``grad/<name>`` (its L2 norm), ``grad/total``
    (the norm of the summed gradient) and ``cos/<a>~<b>`` for every pair of terms.

    The graph is kept (``retain_graph``) so the trainer can still backpropagate the sum afterwards;
    nothing is written into ``.grad``.  A term that does not reach ``params`` has gradient zero (and
    no cosine).  Gradients are summed in float64 so that ``sum of per-loss vectors == total`` holds to
    rounding, which is what the test checks.
    """
    if not params:
        return {}
    vecs = {}
    for name, loss in parts.items():
        if not loss.requires_grad:
            continue
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        vecs[name] = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).double()
                                for g, p in zip(grads, params)])
    out = {f"grad/{k}": float(v.norm()) for k, v in vecs.items()}
    if vecs:
        out["grad/total"] = float(sum(vecs.values()).norm())
    names = list(vecs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            na, nb = vecs[a].norm(), vecs[b].norm()
            if na > 0 and nb > 0:
                out[f"cos/{a}~{b}"] = float(vecs[a] @ vecs[b] / (na * nb))
    return out


def linear_cka(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """Linear CKA between two representations of the same n items, (n, d1) and (n, d2): 1.0 when
    one is a rotation and scaling of the other, near 0 when unrelated."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"need (n, d) arrays with the same n, got {x.shape} and {y.shape}")
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if den == 0:
        raise ValueError("a representation is constant: CKA is undefined")
    return float(np.linalg.norm(y.T @ x) ** 2 / den)


@torch.no_grad()
def frame_latents(model: Autoencoder, clips: list[torch.Tensor]) -> np.ndarray:
    """The posterior means of ``clips`` stacked frame by frame, (frames, width)."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    z = [model.encode(c[None].to(device), sample=False).mean[0].T.cpu() for c in clips]
    model.train(was)
    return torch.cat(z).numpy()


def drift(reference: np.ndarray, now: np.ndarray) -> dict[str, float]:
    """How far the latent moved from ``reference`` (same clips): ``cka`` (1 = same geometry),
    ``max_abs_change`` (0 = not one number moved) and the RMS of the latent now."""
    return {"cka": linear_cka(reference, now), "max_abs_change": float(np.abs(now - reference).max()),
            "latent_rms": float(np.sqrt((now ** 2).mean()))}


class OwnershipMonitor:
    """Logged by ``training.train(monitor=...)`` every ``every`` steps: who owns the encoder.

    Per-loss encoder gradient norms and cosines (``loss_gradients``; skipped when the encoder is
    frozen), and the latent's drift from the ``reference`` model (the phase-start encoder) on a few
    fixed clips: ``drift/cka``, ``drift/max_abs_change``, ``drift/latent_rms``.
    """

    def __init__(self, clips: list[torch.Tensor], reference: Autoencoder, every: int = 20):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.clips, self.every = clips, every
        self.reference = frame_latents(reference, clips)
        self._reference_model = reference
        self._reference_device = next(reference.parameters()).device
        self._reference_on = {}  # device -> the reference's latents encoded there

    def key(self) -> str:
        return f"every={self.every}"  # the logs do not change the weights; only when they are taken

    def reference_for(self, model: Autoencoder) -> np.ndarray:
        """The reference latents encoded on ``model``'s device: drift compares two encodes made on one
        device, so a frozen encoder training on a GPU logs no drift from CPU-vs-GPU rounding (TF32)."""
        device = next(model.parameters()).device
        if device == self._reference_device:
            return self.reference
        if device not in self._reference_on:
            copy = deepcopy(self._reference_model).to(device)  # the caller's reference stays where it is
            self._reference_on[device] = frame_latents(copy, self.clips)
        return self._reference_on[device]

    def __call__(self, model: Autoencoder, step: int, parts: dict[str, torch.Tensor]) -> dict[str, float]:
        out = loss_gradients(encoder_parameters(model), parts)
        now = frame_latents(model, self.clips)
        out.update({f"drift/{k}": v for k, v in drift(self.reference_for(model), now).items()})
        return out


def ownership_table(history: list[dict]) -> pd.DataFrame:
    """The monitor's rows of a training history, one per logged step (``step`` as the index)."""
    rows = [{k: v for k, v in r.items() if k == "step" or k.startswith(("grad/", "cos/", "drift/"))}
            for r in history if any(k.startswith("drift/") for k in r)]
    return pd.DataFrame(rows).set_index("step") if rows else pd.DataFrame()


def conflict(table, loss_names: tuple[str, ...] | None = None, min_share: float = 0.0) -> dict:
    """Summarise ownership over a phase's logged steps: the mean cosine of each pair, the share of
    the summed per-loss norms each loss holds, and the most negative pair among the pairs whose two
    losses each hold at least ``min_share`` of the gradient.

    Why ``min_share``: a loss with a tiny share (a light KL prior) has a gradient whose direction is
    mostly noise, and its negative cosine with another loss moves the encoder by nothing; counting
    it would call a conflict that no step feels."""
    cos = {c[4:]: float(table[c].mean()) for c in table.columns if c.startswith("cos/")}
    norms = {c[5:]: float(table[c].mean()) for c in table.columns
             if c.startswith("grad/") and c != "grad/total" and (loss_names is None or c[5:] in loss_names)}
    total = sum(norms.values()) or 1.0
    share = {k: v / total for k, v in norms.items()}
    counted = {pair: v for pair, v in cos.items() if all(share.get(k, 0.0) >= min_share for k in pair.split("~"))}
    worst = min(counted, key=counted.get) if counted else None
    return {"mean_cos": cos, "share": share, "counted": sorted(counted), "worst_pair": worst,
            "worst_cos": counted[worst] if worst else float("nan"),
            "dominant": max(share, key=share.get) if share else None,
            "dominant_share": max(share.values()) if share else float("nan")}


def per_encoder(fn):
    """Memoise ``fn(model)`` by the encoder's weights (``predictors.encoder_fingerprint``): probes of
    a latent need not be re-run after a phase that froze the encoder -- its latents are the same."""
    memo = {}

    def wrapped(model):
        fp = predictors.encoder_fingerprint(model)
        if fp not in memo:
            memo[fp] = fn(model)
        return memo[fp]

    return wrapped


# --- phase 4: predicted-latent replay ------------------------------------------------------------


class ReplayBank:
    """Training batches for a decoder-only phase: crops of latents paired with the audio they came
    from.  A fraction ``replay_frac`` of each batch carries the *predicted* latent ẑ (what the
    generator will hand the decoder), the rest the encoder's own E(x), so the decoder learns to map
    both to the real audio without forgetting the oracle path."""

    def __init__(self, clips: list[torch.Tensor], z_true: list[torch.Tensor], z_hat: list[torch.Tensor],
                 samples_per_latent: int, replay_frac: float = 0.5, names: list[str] | None = None):
        if not (len(clips) == len(z_true) == len(z_hat)) or not clips:
            raise ValueError(f"need as many clips, latents and predictions: {len(clips)}, {len(z_true)}, {len(z_hat)}")
        if not 0.0 <= replay_frac <= 1.0:
            raise ValueError(f"replay_frac must be in [0, 1], got {replay_frac}")
        for i, (zt, zh) in enumerate(zip(z_true, z_hat)):
            if zt.shape != zh.shape:
                raise ValueError(f"clip {i}: E(x) {tuple(zt.shape)} and ẑ {tuple(zh.shape)} differ")
        self.clips, self.z_true, self.z_hat = clips, z_true, z_hat
        self.spl, self.replay_frac = samples_per_latent, replay_frac
        self.names = names or [str(i) for i in range(len(clips))]
        self.spans = None

    def key(self) -> str:
        h = hashlib.sha256()
        for z in self.z_hat:  # the predictions decide what the decoder learns: hash them
            h.update(z.detach().float().numpy().round(4).tobytes())
        h.update(json.dumps({"names": self.names, "frac": self.replay_frac}).encode())
        return h.hexdigest()[:16]

    @property
    def seconds(self) -> float:
        return sum(c.shape[-1] for c in self.clips) / data.SAMPLE_RATE

    def batch(self, batch_size: int, segment: int, generator: torch.Generator, spans: bool = False,
              hop: int = 160) -> Batch:
        if spans:
            raise ValueError("latent replay is for grid latents (no phone spans)")
        n_lat = max(1, segment // self.spl)
        idx = torch.randint(len(self.clips), (batch_size,), generator=generator).tolist()
        use_hat = (torch.rand(batch_size, generator=generator) < self.replay_frac).tolist()
        width = self.z_true[0].shape[0]
        z = torch.zeros(batch_size, width, n_lat)
        y = torch.zeros(batch_size, self.clips[0].shape[0], n_lat * self.spl)
        for b, i in enumerate(idx):
            src = self.z_hat[i] if use_hat[b] else self.z_true[i]
            start = int(torch.randint(max(src.shape[-1] - n_lat, 0) + 1, (1,), generator=generator))
            piece = src[:, start:start + n_lat]
            z[b, :, : piece.shape[-1]] = piece
            audio = self.clips[i][:, start * self.spl: (start + n_lat) * self.spl]
            y[b, :, : audio.shape[-1]] = audio
        return Batch(None, target=y, z=z)


class DeferredBank:
    """A bank whose key is known up front but whose data is built only when training needs it:
    when the phase it feeds is already cached, the (slow) build never runs."""

    spans = None

    def __init__(self, key: str, build):
        self._key, self._build, self._bank = key, build, None

    def key(self) -> str:
        return self._key

    @property
    def bank(self):
        if self._bank is None:
            self._bank = self._build()
        return self._bank

    @property
    def seconds(self) -> float:
        return self.bank.seconds

    def batch(self, *args, **kwargs) -> Batch:
        return self.bank.batch(*args, **kwargs)


def cross_fitted_predictions(model: Autoencoder, corpus, rows, vocab: dict, speakers: dict,
                             cfg: predictors.PredictorConfig, folds: int = 2,
                             progress: bool = False) -> tuple[list, list[torch.Tensor]]:
    """ẑ for every clip of ``rows``, each predicted by a predictor trained on the *other* folds, so
    the replayed errors are the size of held-out errors, not of memorised ones.  Returns the
    utterances (with E(x) as ``z``) and the predictions, in ``rows`` order."""
    utts = predictors.encode_utterances(model, corpus, rows, vocab, speakers, progress)
    z_hat: list[torch.Tensor | None] = [None] * len(utts)
    for f in range(folds):
        train = [u for i, u in enumerate(utts) if i % folds != f]
        held = [i for i in range(len(utts)) if i % folds == f]
        stats = predictors.LatentStats.of(train)
        with torch.random.fork_rng(devices=range(torch.cuda.device_count())):  # every seeded generator restored
            torch.manual_seed(cfg.seed + f)
            pred = predictors.ConditionalPredictor(len(vocab), len(speakers), model.cfg.width, model.cfg.has_global,
                                                   cfg)
            predictors.train_predictor(pred, train, stats, progress, predictors.default_device())
            pred.cpu()
            for i, zh in zip(held, predictors.predict(pred, [utts[i] for i in held], stats, cfg.seed)):
                z_hat[i] = zh
    return utts, z_hat


def replay_bank(model: Autoencoder, corpus, task, cfg: predictors.PredictorConfig,
                replay_frac: float = 0.5, progress: bool = False) -> DeferredBank:
    """Phase 4's data: the training clips of ``task`` (``predictors.SpeechTask``), their E(x) and
    their cross-fitted ẑ -- built only if the phase has to train.  Its key is what decides ẑ: the
    encoder's weights, the predictor's budget, the clips and the replay fraction."""

    def build() -> ReplayBank:
        utts, z_hat = cross_fitted_predictions(model, corpus, task.train_rows, task.vocab, task.speakers, cfg,
                                               progress=progress)
        clips = [data.load_clip(corpus, r, model.cfg.channels) for _, r in task.train_rows.iterrows()]
        clips = [model.pad(c[None])[0] for c in clips]
        return ReplayBank(clips, [u.z for u in utts], z_hat, model.cfg.samples_per_latent, replay_frac,
                          [u.clip_id for u in utts])

    blob = json.dumps({"encoder": predictors.encoder_fingerprint(model), "predictor": cfg.to_dict(),
                       "clips": list(task.train_rows["clip_id"]), "frac": replay_frac}, sort_keys=True)
    return DeferredBank(hashlib.sha256(blob.encode()).hexdigest()[:16], build)


# --- the schedule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One phase of a schedule: how long, which pressures, and what it declares it owns."""

    name: str
    steps: int
    owns: str  # one line: the job of this phase's pressure
    encoder: bool = True  # False: the encoder and bottleneck are frozen (only the decoder learns)
    teacher: bool = False  # the semantic teacher's coupling loss on the latent
    adversarial: bool = False  # discriminator + feature matching on the decoder's output
    replay: bool = False  # decode predicted latents (``ReplayBank``); needs encoder=False
    lr_scale: float = 1.0
    max_drift: float | None = None  # keep the phase only if CKA to its start stays >= 1 - max_drift

    def __post_init__(self):
        if self.replay and self.encoder:
            raise ValueError(f"phase {self.name!r}: replay trains the decoder only (encoder=False)")
        if self.steps < 1:
            raise ValueError(f"phase {self.name!r}: steps must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


def phase_preset(base: Preset, phase: Phase, adv_weight: float = 1.0) -> Preset:
    """``base`` with the phase's step budget, freezing, adversarial weight and learning rate."""
    warm = min(base.train.warmup, max(1, phase.steps // 5))
    return replace(base, train=replace(base.train, steps=phase.steps, warmup=warm, lr=base.train.lr * phase.lr_scale,
                                       freeze_encoder=not phase.encoder,
                                       adv_weight=adv_weight if phase.adversarial else 0.0,
                                       checkpoint_every=phase.steps, probe_every=0))


@dataclass
class PhaseResult:
    phase: Phase
    run: object  # training.TrainedModel
    model: Autoencoder  # the model after this phase (the previous one's if the phase was rejected)
    boundary: dict  # the boundary report (``boundary_report``)
    kept: bool = True


def _gate_scores(gate, model: Autoencoder, cache_dir=None) -> dict:
    """``gate.evaluate(model)``, saved in ``cache_dir`` (the run's checkpoint directory) under the
    gate's key, so a re-run of a cached phase does not retrain the probe predictor."""
    from pathlib import Path

    from course_lib.files import atomic_write

    path = Path(cache_dir) / f"gate-{gate.key()}.json" if cache_dir is not None else None
    if path is not None and path.exists():
        return json.loads(path.read_text())
    scores = gate.evaluate(model)
    if path is not None:
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(scores)))
    return scores


def boundary_report(model: Autoencoder, reference: Autoencoder, clips: list[torch.Tensor], gate=None,
                    probe_fn=None, alignment=None, cache_dir=None) -> dict:
    """What a phase boundary logs: drift from ``reference`` (the phase start), latent norm and KL,
    oracle and predicted-latent quality (``gate``: a ``predictors.ProbeGate``; its scores are cached
    in ``cache_dir`` when given), the protected-factor
    probes (``probe_fn(model) -> {factor: score}``) and the teacher alignment (``alignment``: a
    ``teachers.TeacherAlignment``, its cosine or KL on ``clips``)."""
    out = {f"drift_{k}": v for k, v in drift(frame_latents(reference, clips), frame_latents(model, clips)).items()}
    with torch.no_grad():
        stats = [model.encode(c[None], sample=False).stats for c in clips]
    if "kl_per_frame" in stats[0]:
        out["kl_per_frame"] = float(np.mean([float(s["kl_per_frame"]) for s in stats]))
    if gate is not None:
        out.update(_gate_scores(gate, model, cache_dir))
    if probe_fn is not None:
        out.update({f"probe_{k}": v for k, v in probe_fn(model).items()})
    if alignment is not None:
        alignment.eval()
        with torch.no_grad():
            terms = [alignment(c[None], model.encode(c[None], sample=False).mean)[1] for c in clips]
        out.update({k: float(np.mean([t[k] for t in terms])) for k in terms[0]})
    return out


def run_schedule(base: Preset, phases: list[Phase], corpus, clips: list[torch.Tensor], *, alignment=None,
                 gate=None, probe_fn=None, replay=None, init=None, monitor_every: int = 20,
                 adv_weight: float = 1.0, progress: bool = True) -> list[PhaseResult]:
    """Train ``phases`` in order, each from the previous one's weights (``train_or_load(init=...)``:
    cached per phase, so a re-run loads), with an ``OwnershipMonitor`` on ``clips`` and a
    ``boundary_report`` after each phase.

    ``alignment``: the teacher coupling for phases with ``teacher=True`` (its projection head keeps
    training across those phases).  ``replay(model) -> ReplayBank`` builds phase 4's data from the
    model as it is then.  A phase with ``max_drift`` is *kept* only if the latent's CKA to the phase
    start stays >= 1 - max_drift; otherwise the schedule goes on from the phase start (``kept=False``).
    """
    from course_lib import training

    start = init
    model = init.model if init is not None else None
    results = []
    aligned = False  # the teacher's projection head means something only once a teacher phase trained it
    for phase in tqdm(phases, desc="phases", disable=not progress):
        if phase.teacher and alignment is None:
            raise ValueError(f"phase {phase.name!r} needs the teacher: pass alignment=")
        if phase.replay and replay is None:
            raise ValueError(f"phase {phase.name!r} replays predicted latents: pass replay=")
        p = phase_preset(base, phase, adv_weight)
        reference = model if model is not None else training.new_model(p.model, p.train.seed)
        monitor = OwnershipMonitor(clips, reference, monitor_every)
        bank = replay(model) if phase.replay else None
        run = training.train_or_load(p, corpus, progress=False, init=start,
                                     aux=alignment if phase.teacher else None, bank=bank, monitor=monitor)
        aligned = aligned or phase.teacher
        report = boundary_report(run.model, reference, clips, gate, probe_fn, alignment if aligned else None,
                                 cache_dir=run.info["dir"])
        kept = phase.max_drift is None or report["drift_cka"] >= 1 - phase.max_drift
        report["kept"] = kept
        if kept:
            start, model = run, run.model
        results.append(PhaseResult(phase, run, model, report, kept))
    return results
