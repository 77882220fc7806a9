"""Small downstream models of a fixed budget: the course's stand-ins for the generator.

An encoder is judged by how well *another model* can predict its latents.  The real generator
(a TTS diffusion model, an AR language model) is far too big for a laptop, so every lesson uses the
same small predictors with a fixed budget -- the same size, steps, batch and data -- and changes
only the encoder.  Then a difference in predicted-latent quality is the encoder's doing.

- ``ConditionalPredictor``: phones + durations + speaker -> latents, non-autoregressive (a
  FastSpeech-like TTS in miniature).  Its frame-level features are pooled into *the encoder's own
  coordinate system* (``Autoencoder.slot_index``), so one predictor serves every topology.
  ``head="regression"`` predicts the mean; ``head="flow"`` is a tiny flow-matching head that
  samples instead (rectified flow, a few Euler steps).
- ``ARPredictor``: next-latent prediction with a Gaussian head (mean and log-variance), causal
  convolutions; ``rollout`` generates freely from a prompt.  With ``n_phones`` it also reads the
  text (a per-token TTS generator in miniature).
- ``TextConditioner``: the text encoder both share (phones, durations, speaker -> features per slot).
- ``sweep_point``: one point of a fixed-generator sweep (train or load a codec, study it with the
  fixed predictor, score D(E(x)) and D(ẑ)): notebook 04's rows; ``rate_sweep`` runs 04's rate curve
  from one plain start, ``dial_inputs`` turns its points into what ``widgets.sweep_dial`` plays.

Latents are standardised per channel (``LatentStats``) before prediction so that the losses of
different encoders are comparable: a normalised MSE of 1.0 means "no better than the mean".

One tensor through it:  labels -> phone ids (F,) per 10 ms frame -> embeddings (size, F)
-> ConvNeXt at 100 Hz -> mean over each latent slot's frames (size, S) -> ConvNeXt -> z_hat (width, S)
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from course_lib import data, decode_paths, training
from course_lib.files import atomic_write
from course_lib.models import N_POSITION_FEATURES, Autoencoder, ConvNeXtBlock, span_mean, span_positions

PAD = 0  # phone id used for padding; real phones start at 1


@dataclass(frozen=True)
class PredictorConfig:
    """The fixed budget.  ``size`` is the one knob (channels of every layer); the rest stays put."""

    size: int = 64
    layers: int = 2  # ConvNeXt blocks at frame rate, and again at slot rate
    steps: int = 300
    batch_size: int = 8
    lr: float = 2e-3
    flow_steps: int = 8  # Euler steps when sampling the flow head
    seed: int = 0
    targets: str = "mean"  # "mean": learn the posterior mean; "sample": a fresh draw of q(z|x) every batch

    def __post_init__(self):
        if self.steps < 3:  # the one-cycle schedule warms up over 2.5 steps (train_predictor)
            raise ValueError(f"PredictorConfig.steps must be at least 3, got {self.steps}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Utterance:
    """One clip as a predictor sees it (all at the STFT frame rate, 100 Hz, unless noted)."""

    clip_id: str
    z: torch.Tensor  # (width, slots): the encoder's latent (posterior mean), the target
    phones: torch.Tensor  # (frames,) phone id of every frame (1..), the text with its durations
    spans: torch.Tensor  # (frames,) phone index of every frame: the durations
    slots: torch.Tensor  # (frames,) latent slot of every frame (Autoencoder.slot_index)
    speaker: int
    length: int  # samples
    logvar: torch.Tensor | None = None  # (width, slots) posterior log-variance, for sampled targets


@dataclass
class LatentStats:
    """Per-channel mean and std of the training latents."""

    mean: torch.Tensor  # (width, 1)
    std: torch.Tensor

    @classmethod
    def of(cls, utterances: list[Utterance]) -> LatentStats:
        allz = torch.cat([u.z for u in utterances], dim=1)
        return cls(allz.mean(dim=1, keepdim=True), allz.std(dim=1, keepdim=True).clamp_min(1e-5))

    def norm(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std

    def denorm(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean


def phone_vocab(corpus, rows) -> dict[str, int]:
    """Phone name -> id (from 1; 0 is padding), from the labels of ``rows``."""
    names = set()
    for _, r in rows.iterrows():
        names.update(p["phone"] for p in data.load_labels(corpus, r)["phones"])
    return {p: i + 1 for i, p in enumerate(sorted(names))}


@torch.no_grad()
def encode_utterances(model: Autoencoder, corpus, rows, vocab: dict[str, int], speakers: dict[str, int],
                      progress: bool = True) -> list[Utterance]:
    """Encode every clip of ``rows`` (whole utterances) into the predictor's training examples."""
    model.eval()
    hop = model.cfg.hop
    out = []
    for _, r in tqdm(list(rows.iterrows()), desc="encoding", disable=not progress, leave=False):
        x = data.load_clip(corpus, r, model.cfg.channels)
        padded = model.pad(x[None])
        n_frames = padded.shape[-1] // hop
        spans, names = data.phone_spans(data.load_labels(corpus, r), n_frames, hop / model.cfg.sample_rate)
        enc = model.encode(padded, sample=False, spans=spans[None])
        ids = torch.tensor([vocab.get(p, PAD) for p in names])[spans]
        slots = model.slot_index(n_frames, 1, spans[None])[0]
        logvar = enc.logvar[0] if enc.logvar is not None else None
        out.append(Utterance(r["clip_id"], enc.mean[0], ids, spans, slots, speakers.get(r["speaker"], 0), x.shape[-1],
                             logvar))
    return out


def _bucket(n: int, step: int) -> int:
    return -(-n // step) * step


def _batch(utts: list[Utterance], stats: LatentStats, sample: torch.Generator | None = None):
    """Pad a list of utterances into tensors; padded frames go to a dump slot that is dropped.

    With ``sample`` (a generator), targets are fresh draws mean + std * noise from each utterance's
    posterior instead of its mean (SALAD-style sampled targets; needs ``Utterance.logvar``).

    Lengths are rounded up to buckets so that only a few tensor shapes ever occur: CPU convolution
    backends (oneDNN) set up a kernel per new shape, which costs more than the step itself.
    """
    n_frames = _bucket(max(u.phones.shape[0] for u in utts), 128)
    n_slots = _bucket(max(u.z.shape[1] for u in utts), 16)
    b, width = len(utts), utts[0].z.shape[0]
    phones = torch.full((b, n_frames), PAD, dtype=torch.long)
    spans = torch.zeros(b, n_frames, dtype=torch.long)
    slots = torch.full((b, n_frames), n_slots, dtype=torch.long)  # n_slots = the dump slot
    z = torch.zeros(b, width, n_slots)
    mask = torch.zeros(b, 1, n_slots)
    for i, u in enumerate(utts):
        f, s = u.phones.shape[0], u.z.shape[1]
        phones[i, :f], spans[i, :f], slots[i, :f] = u.phones, u.spans, u.slots
        spans[i, f:] = u.spans[-1] + 1
        target = u.z
        if sample is not None and u.logvar is not None:
            target = u.z + torch.exp(0.5 * u.logvar) * torch.randn(u.z.shape, generator=sample)
        z[i, :, :s] = stats.norm(target)
        mask[i, :, :s] = 1.0
    speaker = torch.tensor([u.speaker for u in utts])
    return phones, spans, slots, speaker, z, mask


class TextConditioner(nn.Module):
    """Phones + durations + speaker -> conditioning features for every latent slot, (B, size, S).

    Phone and speaker embeddings and each frame's place in its phone, ConvNeXt at the frame rate,
    a mean over each latent slot's frames (the encoder's own coordinate system), ConvNeXt at the
    slot rate.  It sees the whole sentence: the text is known before any latent is generated.
    ``frame_layers`` (default ``layers``) sets the frame-rate blocks apart; 0 pools the embeddings
    straight away, for a cheaper encoder.
    """

    def __init__(self, n_phones: int, n_speakers: int, size: int, layers: int, has_global: bool = False,
                 frame_layers: int | None = None):
        super().__init__()
        self.has_global = has_global
        self.phone = nn.Embedding(n_phones + 1, size, padding_idx=PAD)
        self.speaker = nn.Embedding(max(n_speakers, 1), size)
        self.position = nn.Conv1d(N_POSITION_FEATURES, size, 1)
        frame_layers = layers if frame_layers is None else frame_layers
        self.frame_net = nn.Sequential(*[ConvNeXtBlock(size) for _ in range(frame_layers)])
        self.global_proj = nn.Linear(size, size)
        self.slot_net = nn.Sequential(*[ConvNeXtBlock(size, kernel_size=3) for _ in range(layers)])

    def forward(self, phones, spans, slots, speaker, n_slots: int) -> torch.Tensor:
        h = self.phone(phones).transpose(1, 2) + self.speaker(speaker)[:, :, None]
        h = self.frame_net(h + self.position(span_positions(spans)))
        pooled = span_mean(h, slots, n_slots + 1)[..., :n_slots]  # drop the dump slot
        if self.has_global:  # slot 0 summarises the whole utterance
            valid = (phones != PAD).float()[:, None]
            g = (h * valid).sum(-1) / valid.sum(-1).clamp_min(1.0)
            pooled = torch.cat([self.global_proj(g)[:, :, None], pooled[..., 1:]], dim=2)
        return self.slot_net(pooled)


class ConditionalPredictor(nn.Module):
    """Phones + durations + speaker -> latents in the encoder's coordinate system (non-AR)."""

    def __init__(self, n_phones: int, n_speakers: int, width: int, has_global: bool = False,
                 cfg: PredictorConfig = PredictorConfig(), head: str = "regression"):
        super().__init__()
        if head not in ("regression", "flow"):
            raise ValueError(f"head must be 'regression' or 'flow', got {head!r}")
        d = cfg.size
        self.cfg, self.head_kind, self.has_global, self.width = cfg, head, has_global, width
        self.text = TextConditioner(n_phones, n_speakers, d, cfg.layers, has_global)
        self.out = nn.Conv1d(d, width, 1) if head == "regression" else FlowHead(width, d)

    def features(self, phones, spans, slots, speaker, n_slots: int) -> torch.Tensor:
        """Conditioning features for every latent slot, (B, size, n_slots)."""
        return self.text(phones, spans, slots, speaker, n_slots)

    def loss(self, batch) -> torch.Tensor:
        phones, spans, slots, speaker, z, mask = batch
        c = self.features(phones, spans, slots, speaker, z.shape[-1])
        if self.head_kind == "regression":
            err = (self.out(c) - z).pow(2)
        else:
            err = self.out.loss(z, c)
        return (err * mask).sum() / (mask.sum() * z.shape[1])

    @torch.no_grad()
    def predict(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        phones, spans, slots, speaker, z, mask = batch
        c = self.features(phones, spans, slots, speaker, z.shape[-1])
        if self.head_kind == "regression":
            return self.out(c)
        return self.out.sample(c, self.cfg.flow_steps, generator)


class FlowHead(nn.Module):
    """A tiny conditional flow-matching head (rectified flow): learns the velocity that carries
    Gaussian noise to the latent, given the slot's conditioning.  Sampling integrates it with Euler.

    Unlike a regression head it does not average the possible latents: it draws one of them.
    """

    def __init__(self, width: int, cond_dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or cond_dim
        self.net = nn.Sequential(
            nn.Conv1d(width + cond_dim + 16, hidden, 1), nn.GELU(),
            nn.Conv1d(hidden, hidden, 3, padding=1), nn.GELU(),
            nn.Conv1d(hidden, width, 1),
        )

    @staticmethod
    def _time(t: torch.Tensor, n: int) -> torch.Tensor:  # (B,) -> (B, 16, n) sinusoidal embedding
        freqs = torch.exp(torch.linspace(0, math.log(100.0), 8, device=t.device))
        ang = t[:, None] * freqs[None] * math.pi
        return torch.cat([ang.sin(), ang.cos()], dim=1)[:, :, None].expand(-1, -1, n)

    def velocity(self, zt: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([zt, cond, self._time(t, zt.shape[-1])], dim=1))

    def loss(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Per-element squared velocity error, (B, width, S)."""
        noise = torch.randn_like(z)
        t = torch.rand(z.shape[0], device=z.device)
        zt = (1 - t[:, None, None]) * noise + t[:, None, None] * z
        return (self.velocity(zt, t, cond) - (z - noise)).pow(2)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, steps: int = 8, generator: torch.Generator | None = None) -> torch.Tensor:
        b, _, n = cond.shape
        width = self.net[-1].out_channels
        z = torch.randn(b, width, n, generator=generator).to(cond)
        for i in range(steps):
            t = torch.full((b,), i / steps, device=cond.device)
            z = z + self.velocity(z, t, cond) / steps
        return z


class ARPredictor(nn.Module):
    """Next-latent prediction with a Gaussian head: p(z_t | z_<t) = N(mu, sigma^2), causal convs.

    With ``n_phones`` > 0 it also reads the text (``TextConditioner``: phones, durations, speaker):
    p(z_t | z_<t, text), a per-token TTS generator in miniature.  The text features of the slot being
    predicted are added to the past's before the causal convolutions: the text, known in full before
    anything is generated, is read around each target slot; the latents only before it.
    """

    def __init__(self, width: int, cfg: PredictorConfig = PredictorConfig(), kernel: int = 3,
                 n_phones: int = 0, n_speakers: int = 0):
        super().__init__()
        d, self.kernel, self.cfg = cfg.size, kernel, cfg
        self.inp = nn.Conv1d(width, d, 1)
        self.convs = nn.ModuleList([nn.Conv1d(d, d, kernel, dilation=2 ** i) for i in range(cfg.layers)])
        self.out = nn.Conv1d(d, 2 * width, 1)
        # created after the audio-only layers, so an audio-only predictor initialises as it always did.
        # No blocks at the frame rate: they cost twice the rest of the step (14 s instead of 5 for 04's
        # 300 steps on 2 cores); the slot-rate blocks and the causal convolutions see the neighbours.
        self.text = TextConditioner(n_phones, n_speakers, d, cfg.layers, frame_layers=0) if n_phones > 0 else None

    @property
    def receptive_field(self) -> int:
        """How many past slots one prediction reads: 1 + (kernel - 1) * (2^layers - 1)."""
        return 1 + (self.kernel - 1) * (2 ** len(self.convs) - 1)

    def conditioning(self, batch) -> torch.Tensor | None:
        """The text features of every slot of ``batch`` (B, size, S), or None for an audio-only model."""
        if self.text is None:
            return None
        phones, spans, slots, speaker, z, _ = batch
        return self.text(phones, spans, slots, speaker, z.shape[-1])

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Given z (B, width, S), the Gaussian for every *next* position: mean, logvar (B, width, S).

        ``cond`` (text models only): the text features of those next positions, (B, size, S).
        """
        if cond is None and self.text is not None:
            raise ValueError("this ARPredictor reads text: pass cond, the next slots' ARPredictor.conditioning(batch)")
        if cond is not None and self.text is None:
            raise ValueError("this ARPredictor is audio-only (n_phones=0): it takes no cond")
        h = self.inp(z)
        if cond is not None:
            h = h + cond
        for i, conv in enumerate(self.convs):
            pad = (self.kernel - 1) * 2 ** i  # left padding only: position t never sees t+1
            h = h + torch.nn.functional.gelu(conv(nn.functional.pad(h, (pad, 0))))
        mean, logvar = self.out(h).chunk(2, dim=1)
        return mean, logvar.clamp(-8.0, 4.0)

    def loss(self, batch) -> torch.Tensor:
        *_, z, mask = batch
        c = self.conditioning(batch)
        mean, logvar = self(z[..., :-1], None if c is None else c[..., 1:])
        target, m = z[..., 1:], mask[..., 1:]
        nll = 0.5 * (logvar + (target - mean).pow(2) / logvar.exp() + math.log(2 * math.pi))
        return (nll * m).sum() / (m.sum() * z.shape[1])

    @torch.no_grad()
    def predict(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """Teacher-forced: every slot predicted from the true past (slot 0 is copied)."""
        *_, z, _ = batch
        c = self.conditioning(batch)
        mean, _ = self(z[..., :-1], None if c is None else c[..., 1:])
        return torch.cat([z[..., :1], mean], dim=-1)

    @torch.no_grad()
    def rollout(self, prompt: torch.Tensor, n: int, temperature: float = 0.0,
                generator: torch.Generator | None = None, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Free-running generation of ``n`` slots after ``prompt`` (B, width, P), standardised units.

        ``cond`` (text models): the text features of the whole utterance, (B, size, >= P + n)."""
        if cond is not None and cond.shape[-1] < prompt.shape[-1] + n:
            raise ValueError(f"cond covers {cond.shape[-1]} slots; the rollout needs {prompt.shape[-1] + n}")
        z, rf = prompt, self.receptive_field
        for _ in range(n):
            length = z.shape[-1]
            start = max(0, length - rf)  # the next slot reads only the last `rf` ones: feed no more
            mean, logvar = self(z[..., start:], None if cond is None else cond[..., start + 1:length + 1])
            step = mean[..., -1:]
            if temperature > 0:
                noise = torch.randn(step.shape, generator=generator).to(step)
                step = step + temperature * (0.5 * logvar[..., -1:]).exp() * noise
            z = torch.cat([z, step], dim=-1)
        return z[..., prompt.shape[-1]:]


def _to(batch: tuple, device) -> tuple:
    return tuple(t.to(device) for t in batch)


def default_device() -> str:
    """Predictors are small: a GPU when there is one, else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def train_predictor(predictor: nn.Module, utterances: list[Utterance], stats: LatentStats,
                    progress: bool = True, device: str = "cpu") -> list[float]:
    """Train for the fixed budget in ``predictor.cfg`` on ``device``; returns the loss per step.

    The predictor is left on ``device``; batches are built on the CPU and moved.
    """
    cfg = predictor.cfg
    if cfg.targets not in ("mean", "sample"):
        raise ValueError(f"targets must be 'mean' or 'sample', got {cfg.targets!r}")
    if cfg.targets == "sample" and any(u.logvar is None for u in utterances):
        raise ValueError("targets='sample' needs a posterior: encode with a KL-type bottleneck (Utterance.logvar)")
    predictor.to(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    sampler = torch.Generator().manual_seed(cfg.seed + 1) if cfg.targets == "sample" else None
    opt = torch.optim.AdamW(predictor.parameters(), lr=cfg.lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps,
                                                pct_start=max(0.1, 2.5 / cfg.steps))
    predictor.train()
    history = []
    for _ in tqdm(range(cfg.steps), desc="predictor", disable=not progress, leave=False):
        idx = torch.randint(len(utterances), (cfg.batch_size,), generator=gen).tolist()
        loss = predictor.loss(_to(_batch([utterances[i] for i in idx], stats, sampler), device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(predictor.parameters(), 1.0)
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
    predictor.eval()
    return history


@torch.no_grad()
def predict(predictor: nn.Module, utterances: list[Utterance], stats: LatentStats,
            seed: int = 0) -> list[torch.Tensor]:
    """z_hat for every utterance, in the encoder's units (width, slots), on the CPU."""
    predictor.eval()
    device = next(predictor.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    out = []
    for u in utterances:
        z_hat = predictor.predict(_to(_batch([u], stats), device), generator=gen)[0, :, : u.z.shape[1]].cpu()
        out.append(stats.denorm(z_hat))
    return out


def normalised_mse(z_hat: list[torch.Tensor], utterances: list[Utterance], stats: LatentStats) -> float:
    """Mean squared error in standardised units: 1.0 = as good as predicting the mean latent."""
    num = sum(float((stats.norm(p) - stats.norm(u.z)).pow(2).sum()) for p, u in zip(z_hat, utterances))
    den = sum(u.z.numel() for u in utterances)
    return num / den


@dataclass
class PredictionStudy:
    """A predictor trained on one encoder's latents, and what it predicts for the evaluation clips.

    ``train`` and ``predictor`` are None when the study was loaded from its cache (see ``study``).
    """

    train: list[Utterance] | None
    eval: list[Utterance]
    stats: LatentStats
    predictor: nn.Module | None
    history: list[float]
    z_hat: list[torch.Tensor]  # one per eval utterance, encoder units
    nmse: float  # normalised MSE on the eval utterances (1.0 = predicting the mean)
    loaded: bool = False


def study_key(cfg: PredictorConfig, head: str, train_rows, eval_rows, vocab: dict, speakers: dict) -> str:
    """Hash of everything besides the encoder that determines a study's predictions."""
    blob = json.dumps({"cfg": cfg.to_dict(), "head": head, "train": list(train_rows["clip_id"]),
                       "eval": list(eval_rows["clip_id"]), "vocab": vocab, "speakers": speakers}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def study(model: Autoencoder, corpus, train_rows, eval_rows, vocab: dict[str, int], speakers: dict[str, int],
          cfg: PredictorConfig = PredictorConfig(), head: str = "regression",
          progress: bool = True, cache_dir=None, device: str | None = None) -> PredictionStudy:
    """Encode the clips, train a ``ConditionalPredictor`` with the fixed budget ``cfg`` on the
    training latents, and predict the evaluation latents from their phones, durations and speaker.

    With ``cache_dir`` (the encoder's checkpoint directory: its key covers the encoder and the
    corpus) the predictions are saved atomically and a re-run only encodes the evaluation clips.
    """
    eval_u = encode_utterances(model, corpus, eval_rows, vocab, speakers, progress)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"study-{study_key(cfg, head, train_rows, eval_rows, vocab, speakers)}.pt"
        if path.exists():
            st = torch.load(path, weights_only=True, map_location="cpu")
            stats = LatentStats(st["mean"], st["std"])
            return PredictionStudy(None, eval_u, stats, None, st["history"], st["z_hat"], st["nmse"], loaded=True)
    train_u = encode_utterances(model, corpus, train_rows, vocab, speakers, progress)
    stats = LatentStats.of(train_u)
    torch.manual_seed(cfg.seed)
    pred = ConditionalPredictor(len(vocab), len(speakers), model.cfg.width, model.cfg.has_global, cfg, head)
    history = train_predictor(pred, train_u, stats, progress, device or default_device())
    z_hat = predict(pred, eval_u, stats, cfg.seed)
    pred.cpu()
    nmse = normalised_mse(z_hat, eval_u, stats)
    if path is not None:
        atomic_write(path, lambda tmp: torch.save({"z_hat": z_hat, "nmse": nmse, "history": history,
                                                   "mean": stats.mean, "std": stats.std}, tmp))
    return PredictionStudy(train_u, eval_u, stats, pred, history, z_hat, nmse)


@torch.no_grad()
def audio_utterances(model: Autoencoder, clips: list[torch.Tensor], names: list[str] | None = None
                     ) -> list[Utterance]:
    """Encode unlabelled clips (channels, samples) into predictor examples: no phones, no speaker.

    What the AR predictor needs (it reads only ``z``); the phone fields are padding.  Used when the
    audio has no transcripts: a folder of the learner's own recordings (``report``).
    """
    if model.cfg.pooled:
        raise ValueError(f"unlabelled audio has no phone spans: topology {model.cfg.topology!r} needs them")
    model.eval()
    hop, out = model.cfg.hop, []
    for i, x in enumerate(clips):
        padded = model.pad(x[None])
        n_frames = padded.shape[-1] // hop
        enc = model.encode(padded, sample=False)
        zeros = torch.zeros(n_frames, dtype=torch.long)
        slots = model.slot_index(n_frames, 1, None)[0]
        logvar = enc.logvar[0] if enc.logvar is not None else None
        out.append(Utterance(names[i] if names else str(i), enc.mean[0], zeros, zeros, slots, 0, x.shape[-1], logvar))
    return out


@torch.no_grad()
def predict_ahead(predictor: ARPredictor, utterances: list[Utterance], stats: LatentStats,
                  horizon: int, temperature: float = 0.0, generator: torch.Generator | None = None
                  ) -> list[torch.Tensor]:
    """z_hat for every utterance from an AR predictor running free for ``horizon`` slots at a time.

    The latent is cut into chunks of ``horizon`` slots; each chunk is generated from the *true*
    latent before it: greedy (the mean of the Gaussian) at ``temperature`` 0, else sampled, each
    step fed back as the next step's past (``ARPredictor.rollout``).  ``horizon=1`` is teacher
    forcing.  Slot 0 is copied (there is no past to predict it from).  Encoder units, (width, slots)
    each, on the CPU.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 slot, got {horizon}")
    predictor.eval()
    device = next(predictor.parameters()).device
    out = []
    for u in utterances:
        z = stats.norm(u.z)[None].to(device)  # (1, width, S), standardised
        cond = None if predictor.text is None else predictor.conditioning(_to(_batch([u], stats), device))
        pieces = [z[..., :1]]
        for s0 in range(1, z.shape[-1], horizon):
            n = min(horizon, z.shape[-1] - s0)
            pieces.append(predictor.rollout(z[..., :s0], n, temperature, generator, cond))
        out.append(stats.denorm(torch.cat(pieces, dim=-1)[0].cpu()))
    return out


def train_ar_predictor(train: list[Utterance], stats: LatentStats, cfg: PredictorConfig, progress: bool = True,
                       device: str | None = None, n_phones: int = 0, n_speakers: int = 0
                       ) -> tuple[ARPredictor, list[float]]:
    """An ``ARPredictor`` initialised from ``cfg.seed`` (the global RNG is left as it was) and trained
    on ``train`` for ``cfg``'s budget: (predictor, loss per step).  The predictor stays on ``device``.
    ``n_phones`` > 0 (the phone vocabulary's size, with ``n_speakers``) makes it read the text."""
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):  # manual_seed seeds every GPU too
        torch.manual_seed(cfg.seed)
        pred = ARPredictor(train[0].z.shape[0], cfg, n_phones=n_phones, n_speakers=n_speakers)
    return pred, train_predictor(pred, train, stats, progress, device or default_device())


def ar_generations(train: list[Utterance], eval_u: list[Utterance], stats: LatentStats, cfg: PredictorConfig,
                   horizon: int, temperatures: tuple[float, ...] = (0.0, 1.0), seed: int = 0,
                   device: str | None = None, n_phones: int = 0, n_speakers: int = 0, cache_dir=None
                   ) -> dict[float, list[torch.Tensor]]:
    """Train an ``ARPredictor`` on ``train`` (``cfg.targets``: posterior means, or a fresh posterior
    draw every batch) and generate ``eval_u`` ``horizon`` slots at a time from the true past
    (``predict_ahead``), once per temperature: temperature -> z_hat per utterance (encoder units).

    Why an autoregressive generator for the mean-vs-sampled question: its targets are also its
    next inputs.  Trained on means it only ever reads smooth pasts, and generating it reads its own
    draws; trained on samples it has read noisy pasts all along (SALAD's per-token diffusion).
    The predictor is seeded with ``cfg.seed`` (the global RNG is restored) and every temperature's
    draws with ``seed``, so mean and sampled targets are compared on the same draws
    (``train_ar_predictor``).  With ``n_phones`` > 0 it also reads each sentence's phones, durations
    and speaker (a per-token TTS generator in miniature).

    With ``cache_dir`` (the encoder's checkpoint directory, as for ``study``) the generations are
    saved atomically under a hash of everything else that determines them, and a re-run loads them."""
    path = None
    if cache_dir is not None:
        blob = json.dumps({"cfg": cfg.to_dict(), "horizon": horizon, "temperatures": [float(t) for t in temperatures],
                           "seed": seed, "text": [n_phones, n_speakers], "train": [u.clip_id for u in train],
                           "eval": [u.clip_id for u in eval_u]}, sort_keys=True)
        path = Path(cache_dir) / f"ar-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.pt"
        if path.exists():
            saved = torch.load(path, weights_only=True, map_location="cpu")
            return dict(zip(saved["temperatures"], saved["z_hat"]))
    pred, _ = train_ar_predictor(train, stats, cfg, progress=False, device=device, n_phones=n_phones,
                                 n_speakers=n_speakers)
    out = {t: predict_ahead(pred, eval_u, stats, horizon, t, torch.Generator().manual_seed(seed))
           for t in temperatures}
    pred.cpu()
    if path is not None:
        atomic_write(path, lambda tmp: torch.save({"temperatures": list(out), "z_hat": list(out.values())}, tmp))
    return out


def ar_study(model: Autoencoder, train_clips: list[torch.Tensor], eval_clips: list[torch.Tensor],
             cfg: PredictorConfig = PredictorConfig(), horizon_s: float = 0.2, progress: bool = True,
             device: str | None = None) -> PredictionStudy:
    """``study`` for audio without labels: an ``ARPredictor`` trained on the training clips' latents
    generates the evaluation clips' latents ``horizon_s`` seconds at a time, each stretch from the
    true past before it (``predict_ahead``).

    Why not one step ahead: at 50 Hz the next latent is nearly the current one, so teacher forcing
    scores almost any encoder as perfectly predictable (normalised error ~0.03 on the sound themes).
    A generator runs free; a fixed horizon lets its errors build up the way they do in generation,
    while the true past keeps them from drifting without bound, so ẑ still lines up with the audio.
    The gap it measures is a proxy kept alive during development, not a score of a real generator.
    """
    train_u, eval_u = audio_utterances(model, train_clips), audio_utterances(model, eval_clips)
    stats = LatentStats.of(train_u)
    pred, history = train_ar_predictor(train_u, stats, cfg, progress, device)
    horizon = max(1, round(horizon_s * model.cfg.latent_rate))
    z_hat = predict_ahead(pred, eval_u, stats, horizon)
    pred.cpu()
    return PredictionStudy(train_u, eval_u, stats, pred, history, z_hat, normalised_mse(z_hat, eval_u, stats))


class ProbeGate:
    """A probe predictor kept alive while an encoder trains: scores the encoder *as an interface*.

    Every time it is asked (``training.train`` calls ``evaluate`` every ``probe_every`` steps) it
    re-encodes a fixed set of training utterances with the encoder as it is now, trains a fresh
    small ``ConditionalPredictor`` on those latents (fixed budget, fixed seed: the generator this
    encoder would get if training stopped here), predicts a fixed set of held-out utterances and
    decodes both paths.  Scores are mel distances to the reference audio:

        oracle      D(E(x))           generation  D(ẑ)           gap = generation - oracle

    Gating checkpoints on ``generation`` (which includes the gap) instead of ``oracle`` is the
    point: the two need not peak at the same step.

    ``head="regression"`` probes with a predictor that outputs the mean latent; ``head="flow"``
    with one that samples (its draws use ``cfg.seed``, so every evaluation draws the same noise
    and a change between steps is the encoder's, not the dice's).
    """

    def __init__(self, corpus, train_rows, eval_rows, vocab: dict[str, int], speakers: dict[str, int],
                 cfg: PredictorConfig = PredictorConfig(steps=150), device: str | None = None,
                 head: str = "regression"):
        if head not in ("regression", "flow"):
            raise ValueError(f"head must be 'regression' or 'flow', got {head!r}")
        self.corpus, self.train_rows, self.eval_rows = corpus, train_rows, eval_rows
        self.vocab, self.speakers, self.cfg, self.head = vocab, speakers, cfg, head
        self.device = device
        self.refs = None  # the eval audio, loaded once
        self._seen = {}  # encoder fingerprint -> (eval utterances, z_hat, nmse): a frozen encoder is re-used

    def key(self) -> str:
        """What determines the probe's scores (joins the training run's checkpoint key)."""
        return study_key(self.cfg, self.head, self.train_rows, self.eval_rows, self.vocab, self.speakers)

    def evaluate(self, model: Autoencoder) -> dict[str, float]:
        from course_lib import decode_paths, metrics

        was = next(model.parameters()).device
        model.cpu()  # encoding and decoding whole utterances: the CPU path is the tested one
        if self.refs is None:
            self.refs = [data.load_clip(self.corpus, r, model.cfg.channels) for _, r in self.eval_rows.iterrows()]
        fp = encoder_fingerprint(model)
        if fp in self._seen:  # same encoder weights: same latents, same predictor, same ẑ
            eval_u, z_hat, nmse = self._seen[fp]
        else:
            train_u = encode_utterances(model, self.corpus, self.train_rows, self.vocab, self.speakers, False)
            eval_u = encode_utterances(model, self.corpus, self.eval_rows, self.vocab, self.speakers, False)
            stats = LatentStats.of(train_u)
            # the probe must not change the encoder's own training randomness: every generator it seeds
            # (manual_seed seeds the GPUs' too, where a CUDA run's encoder draws its noise) is restored
            with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
                torch.manual_seed(self.cfg.seed)
                pred = ConditionalPredictor(len(self.vocab), len(self.speakers), model.cfg.width,
                                            model.cfg.has_global, self.cfg, self.head)
                train_predictor(pred, train_u, stats, False, self.device or default_device())
                z_hat = predict(pred, eval_u, stats, self.cfg.seed)
            nmse = normalised_mse(z_hat, eval_u, stats)
            if len(self._seen) >= 16:  # a probe scored during training sees a new encoder every time
                self._seen.pop(next(iter(self._seen)))
            self._seen[fp] = (eval_u, z_hat, nmse)
        lengths, spans = [u.length for u in eval_u], [u.spans for u in eval_u]
        oracle = decode_paths.decode_latents(model, [u.z for u in eval_u], lengths, spans)
        generated = decode_paths.decode_latents(model, z_hat, lengths, spans)
        model.to(was)
        o = float(np.mean([metrics.mel_distance(e, r) for e, r in zip(oracle, self.refs)]))
        g = float(np.mean([metrics.mel_distance(e, r) for e, r in zip(generated, self.refs)]))
        return {"oracle": o, "generation": g, "gap": g - o, "nmse": nmse}



def encoder_fingerprint(model: Autoencoder) -> str:
    """A hash of the encoder and bottleneck weights: equal fingerprints, equal latents (a frozen
    encoder keeps its fingerprint through any amount of decoder training)."""
    h = hashlib.sha256()
    for module in (model.encoder, model.bottleneck):
        for k, v in module.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()[:16]


@dataclass
class SpeechTask:
    """The prediction task notebooks 01, 03 and 04 share: clean speech, the predictor learns from the
    training speakers and is scored on new sentences of the same speakers (the ``valid`` split)."""

    train_rows: object  # manifest rows (pandas DataFrame) the predictor trains on
    eval_rows: object  # manifest rows it is scored on
    vocab: dict[str, int]
    speakers: dict[str, int]
    refs: list[torch.Tensor]  # the evaluation audio, (1, samples) each


def speech_task(corpus, preset: str, n_eval: int) -> SpeechTask:
    """Build the shared speech task for ``preset``.  In ``cpu`` the predictor gets every other
    training sentence: its data budget, the same for every encoder it is trained on."""
    df = data.read_manifest(corpus)
    train_rows = data.select(df, split="train", domain="speech", condition="clean")
    if preset == "cpu":
        train_rows = train_rows.iloc[::2]
    eval_rows = data.select(df, split="valid", domain="speech", condition="clean").head(n_eval)
    speakers = {s: i for i, s in enumerate(sorted(train_rows["speaker"].unique()))}
    refs = [data.load_clip(corpus, r, 1) for _, r in eval_rows.iterrows()]
    return SpeechTask(train_rows, eval_rows, phone_vocab(corpus, train_rows), speakers, refs)


@dataclass
class SweepPoint:
    """One point of a fixed-generator sweep: the codec, the fixed predictor's study of it, its two
    decode paths (``decode_paths.ORACLE`` and ``PREDICTED``, audio per evaluation clip) and ``row``,
    the scores a sweep table shows (bottleneck, KL nats/s, oracle mel / STOI, predictor nMSE,
    D(ẑ) mel / STOI, gap mel)."""

    run: object  # a training.Run
    study: PredictionStudy
    paths: dict[str, list[torch.Tensor]]
    row: dict

    def listen(self, i: int) -> dict[str, torch.Tensor]:
        """Evaluation clip ``i`` through both decode paths: {D(E(x)): audio, D(ẑ): audio}."""
        return {path: clips[i] for path, clips in self.paths.items()}

    def score(self, metric: str = "STOI") -> dict[str, float]:
        """One metric of ``row`` per decode path ("mel" or "STOI"): {D(E(x)): ..., D(ẑ): ...}."""
        return {decode_paths.ORACLE: float(self.row[f"oracle {metric}"]),
                decode_paths.PREDICTED: float(self.row[f"D(ẑ) {metric}"])}


def sweep_point(preset, corpus, task: SpeechTask, budget: PredictorConfig, head: str = "regression",
                targets: str = "mean", init=None, seed: int = 0, root=None) -> SweepPoint:
    """Train (or load) the codec of ``preset`` on ``corpus`` (from ``init``'s weights when given: a
    trained run, as ``training.train_or_load`` takes it), train the fixed predictor ``budget`` on its
    latents with ``head`` and ``targets`` ("mean" or "sample"), and score D(E(x)) and D(ẑ) against
    ``task.refs``.  Only the codec changes between the points of a sweep; everything else is held.
    A cached codec and study load (the study is stored in the codec's checkpoint directory, under
    ``root``: default the course's checkpoint cache)."""
    run = training.train_or_load(preset, corpus=corpus, root=root, progress=False, init=init)
    st = study(run.model, corpus, task.train_rows, task.eval_rows, task.vocab, task.speakers,
               replace(budget, targets=targets), head=head, progress=False, cache_dir=run.info["dir"])
    paths = decode_paths.all_paths(run.model, st, seed=seed, rows=(decode_paths.ORACLE, decode_paths.PREDICTED))
    tab = decode_paths.decode_path_table(task.refs, paths, pesq=False)
    oracle, predicted = tab.loc[decode_paths.ORACLE], tab.loc[decode_paths.PREDICTED]
    tail = run.history[-20:]  # the KL actually held at the end of training
    kl = (np.mean([h["kl_per_frame"] for h in tail]) * preset.model.latent_rate
          if "kl_per_frame" in tail[-1] else np.inf)
    row = {"bottleneck": preset.model.bottleneck, "KL nats/s": kl, "oracle mel": oracle["mel_dist"],
           "oracle STOI": oracle["stoi"], "predictor nMSE": st.nmse, "D(ẑ) mel": predicted["mel_dist"],
           "D(ẑ) STOI": predicted["stoi"], "gap mel": predicted["gap"]}
    return SweepPoint(run, st, paths, row)


def rate_sweep(sweep: dict, corpus, task: SpeechTask, budget: PredictorConfig, head: str = "flow",
               seed: int = 0, root=None, progress: bool = True) -> dict[str, SweepPoint]:
    """Notebook 04's rate curve: ``sweep`` (label -> preset, ``presets.ownership_sweep``'s first
    dict, the plain codec last) trained from one start, the plain codec's own run, so every point
    gets the same start and differs only in its rate limit; each point a ``sweep_point`` with
    ``head``.  Notebook 04 and its workshop app call this, so the app loads 04's checkpoints."""
    from tqdm.auto import tqdm

    start = training.train_or_load(list(sweep.values())[-1], corpus=corpus, root=root, progress=False)
    return {label: sweep_point(p, corpus, task, budget, head=head, init=start, seed=seed, root=root)
            for label, p in tqdm(sweep.items(), desc="rate sweep", disable=not progress)}


def dial_inputs(points: dict[str, SweepPoint], i: int = 0, metric: str = "STOI"):
    """What ``widgets.sweep_dial`` plays and draws for a sweep: (point -> clip ``i`` through both
    decode paths, a DataFrame of ``metric`` per point and path)."""
    import pandas as pd

    clips = {label: pt.listen(i) for label, pt in points.items()}
    scores = pd.DataFrame({label: pt.score(metric) for label, pt in points.items()}).T
    return clips, scores
