"""Bottlenecks: one interface, several answers to "who absorbs prediction error?".

Every bottleneck maps encoder features h (B, in_factor * width, L) to a ``BottleneckOutput``:
``z`` (B, width, L), what the decoder receives; ``mean``, the deterministic latent a downstream
model predicts; ``reg``, a scalar regulariser the trainer adds to the loss (already weighted); and
a dict of cheap, detached scalar ``stats`` for the dashboard (always ``latent_rms``, and
``kl_per_frame`` where a KL is defined).  ``sample`` defaults to ``self.training``; at evaluation
every kind is deterministic and ``z == mean``.

Each kind names the error it owns, and its knob (the ``ModelConfig`` field, with its default):

- ``plain`` -- owns nothing: the latent is whatever the encoder emits; the predictor pays.  No knob.
- ``kl`` -- prior difficulty: KL(q || N(0, I)) pulls latents toward a simple prior and sampling
  teaches the decoder small errors.  Knob: ``kl_weight`` (1e-4).
- ``sigma`` -- decoder tolerance to one *fixed* error size (sigma-VAE): the encoder predicts only
  the mean, z = mean + sigma * eps, so the posterior cannot collapse its variance.
  Knobs: ``sigma`` (0.5, latent units), ``kl_weight`` on 0.5 * mean^2.
- ``target_kl`` -- the rate: a controller steers the KL weight to hold a chosen KL in nats per
  second (the knob of a rate-distortion sweep).  Knob: ``target_kl`` (1000 nats/s ~ 1.4 kbit/s).
- ``softnorm`` -- scale drift and outliers in *norm*: every frame is divided by its RMS over
  channels, so latents live on a shell of RMS ``scale`` (1.0).  No ModelConfig knob.
- ``tanh`` -- outliers in *value*: z = bound * tanh(h / bound) stays in (-bound, bound).
  Knob: ``tanh_bound`` (3.0).
- ``dropout`` -- reliance on any single channel: whole channels are zeroed while training (and the
  rest rescaled by 1 / (1 - p)), so information is spread redundantly.  Knob: ``latent_dropout`` (0.1).
- ``varfloor`` -- posterior variance collapse: a KL-VAE whose posterior std never falls below a
  floor, so the decoder always sees at least that much noise.  Knobs: ``var_floor`` (0.1, a *std*
  in latent units: logvar >= log(var_floor^2)), ``kl_weight``.
- ``noise`` -- small prediction errors, uniformly over channels: additive Gaussian noise of std
  ``latent_noise`` (0.1) times the latent's (detached) RMS while training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

KINDS = ("plain", "kl", "sigma", "target_kl", "softnorm", "tanh", "dropout", "varfloor", "noise")


# One line per kind for tables and plots: the error each one owns (the module docstring says how).
OWNS = {
    "plain": "nothing: the predictor pays",
    "kl": "prior difficulty (KL to N(0, I))",
    "sigma": "a fixed error size (sigma-VAE)",
    "target_kl": "the rate, in nats per second",
    "softnorm": "scale drift (norm outliers)",
    "tanh": "value outliers (bounded range)",
    "dropout": "reliance on single channels",
    "varfloor": "posterior variance collapse",
    "noise": "small errors, on every channel",
}

@dataclass
class BottleneckOutput:
    z: torch.Tensor  # what the decoder receives (a sample during training for a VAE)
    mean: torch.Tensor  # the deterministic latent (mu); what a downstream model usually predicts
    reg: torch.Tensor  # weighted regulariser, a scalar
    stats: dict = field(default_factory=dict)
    logvar: torch.Tensor | None = None


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.detach().pow(2).mean().sqrt()


class PlainBottleneck(nn.Module):
    """z = h.  Owns no error: use it as the plain-codec baseline."""

    in_factor = 1

    def __init__(self, width: int):
        super().__init__()
        self.width = width

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        return BottleneckOutput(z=h, mean=h, reg=h.new_zeros(()), stats={"latent_rms": _rms(h)})


class KLBottleneck(nn.Module):
    """Diagonal-Gaussian posterior with a KL(q || N(0, I)) penalty.

    ``sample`` defaults to ``self.training``: sample while training, use the mean at evaluation.
    ``stats['kl_per_frame']`` is the KL in nats per latent frame, summed over channels (multiply by
    the latent rate for nats per second).
    """

    in_factor = 2

    def __init__(self, width: int, weight: float = 1e-4, logvar_min: float = -12.0):
        super().__init__()
        self.width = width
        self.weight = weight
        self.logvar_min = logvar_min

    def _logvar(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.clamp(self.logvar_min, 8.0)

    def _kl_weight(self) -> float | torch.Tensor:
        return self.weight

    def _posterior(self, h: torch.Tensor, sample: bool | None):
        mean, raw = h.chunk(2, dim=1)
        logvar = self._logvar(raw)
        sample = self.training if sample is None else sample
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)  # per element, nats
        stats = {
            "kl_per_frame": kl.detach().sum(dim=1).mean(),
            "latent_rms": _rms(mean),
            "posterior_std": torch.exp(0.5 * logvar).detach().mean(),
        }
        return z, mean, logvar, kl, stats

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        z, mean, logvar, kl, stats = self._posterior(h, sample)
        reg = self._kl_weight() * kl.mean()
        return BottleneckOutput(z=z, mean=mean, reg=reg, stats=stats, logvar=logvar)


class VarFloorBottleneck(KLBottleneck):
    """KL-VAE whose posterior std never drops below ``floor``: owns posterior variance collapse.

    A soft floor, var = floor^2 + exp(raw), so logvar >= log(floor^2) and the gradient never dies.
    """

    def __init__(self, width: int, weight: float = 1e-4, floor: float = 0.1):
        super().__init__(width, weight)
        if floor <= 0:
            raise ValueError(f"var_floor must be > 0 (a posterior std), got {floor}")
        self.floor = floor

    def _logvar(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.logaddexp(raw.clamp(max=8.0), raw.new_tensor(2.0 * math.log(self.floor)))


class TargetKLBottleneck(KLBottleneck):
    """KL-VAE whose KL weight a controller steers to hold ``target`` nats per second: owns the rate.

    A PI controller on the log-weight, active in training forward passes only (``self.training``
    with gradients enabled).  With e = clip(log(kl_per_s / target), -1, 1) from this batch:

    - integral: ``log_weight += ki * e`` -- the weight grows while the latent carries too many
      nats and shrinks while it carries too few.  A buffer: saved in the state_dict, so a resumed
      run continues where it stopped.
    - proportional: this batch is penalised with ``exp(log_weight + kp * e)``, an immediate
      reaction that damps the overshoot the lagging integral alone causes (the encoder needs
      optimiser steps to answer a new weight).

    ``frames_per_second`` converts KL per latent frame to per second (for pooled topologies the
    Autoencoder passes an average rate: see ``ModelConfig.scalars_per_second``).
    """

    def __init__(self, width: int, target: float = 1000.0, frames_per_second: float = 50.0,
                 init_weight: float = 1e-4, ki: float = 0.1, kp: float = 2.0,
                 weight_range: tuple[float, float] = (1e-8, 10.0)):
        super().__init__(width, init_weight)
        if target <= 0 or frames_per_second <= 0 or init_weight <= 0:
            raise ValueError(f"target_kl ({target}), frames_per_second ({frames_per_second}) and the "
                             f"initial kl_weight ({init_weight}) must be > 0")
        self.target = target
        self.frames_per_second = frames_per_second
        self.ki, self.kp = ki, kp
        self.log_range = (math.log(weight_range[0]), math.log(weight_range[1]))
        self.register_buffer("log_weight", torch.tensor(math.log(init_weight)))

    @property
    def kl_weight(self) -> float:
        """The controller's current (integral) weight."""
        return math.exp(float(self.log_weight))

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        z, mean, logvar, kl, stats = self._posterior(h, sample)
        kl_per_s = stats["kl_per_frame"] * self.frames_per_second
        log_w = self.log_weight.clone()
        if self.training and torch.is_grad_enabled():
            err = torch.log(kl_per_s.clamp_min(1e-6) / self.target).clamp(-1.0, 1.0)
            log_w = log_w + self.kp * err
            with torch.no_grad():
                self.log_weight.add_(self.ki * err).clamp_(*self.log_range)
        weight = log_w.clamp(*self.log_range).exp()
        stats["kl_per_s"] = kl_per_s
        stats["kl_weight"] = weight
        return BottleneckOutput(z=z, mean=mean, reg=weight * kl.mean(), stats=stats, logvar=logvar)


class SigmaBottleneck(nn.Module):
    """Fixed-variance sigma-VAE: the encoder emits only the mean; z = mean + sigma * eps in training.

    The KL to N(0, I) with a fixed variance is 0.5 * mean^2 plus a constant, so ``reg`` is
    ``weight * 0.5 * mean(mean^2)``; ``kl_per_frame`` reports the full KL (constant included).
    """

    in_factor = 1

    def __init__(self, width: int, weight: float = 1e-4, sigma: float = 0.5):
        super().__init__()
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0 (a std in latent units), got {sigma}")
        self.width = width
        self.weight = weight
        self.sigma = sigma
        self.kl_const = 0.5 * (sigma * sigma - 1.0 - 2.0 * math.log(sigma))  # per element

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        sample = self.training if sample is None else sample
        z = h + self.sigma * torch.randn_like(h) if sample else h
        half_sq = 0.5 * h.pow(2)
        stats = {
            "kl_per_frame": (half_sq.detach() + self.kl_const).sum(dim=1).mean(),
            "latent_rms": _rms(h),
        }
        return BottleneckOutput(z=z, mean=h, reg=self.weight * half_sq.mean(), stats=stats)


class SoftNormBottleneck(nn.Module):
    """z = scale * h / sqrt(mean_c(h^2) + eps): every frame on a shell of RMS ``scale`` over channels.

    Owns scale drift and norm outliers; no regulariser.  ``pre_norm_rms`` shows the drift it absorbs.
    Soft: ``eps`` (in RMS^2 units) keeps near-silent frames (RMS << sqrt(eps)) near zero instead of
    blowing their noise up to the shell.
    """

    in_factor = 1

    def __init__(self, width: int, scale: float = 1.0, eps: float = 1e-4):
        super().__init__()
        self.width = width
        self.scale = scale
        self.eps = eps

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        z = self.scale * h * torch.rsqrt(h.pow(2).mean(dim=1, keepdim=True) + self.eps)
        stats = {"latent_rms": _rms(z), "pre_norm_rms": _rms(h)}
        return BottleneckOutput(z=z, mean=z, reg=h.new_zeros(()), stats=stats)


class TanhBottleneck(nn.Module):
    """z = bound * tanh(h / bound): linear near 0, never beyond +-bound.  Owns value outliers.

    ``saturated`` is the fraction of values past 90% of the bound (where gradients fade).
    """

    in_factor = 1

    def __init__(self, width: int, bound: float = 3.0):
        super().__init__()
        if bound <= 0:
            raise ValueError(f"tanh_bound must be > 0, got {bound}")
        self.width = width
        self.bound = bound

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        z = self.bound * torch.tanh(h / self.bound)
        stats = {"latent_rms": _rms(z), "saturated": (z.detach().abs() > 0.9 * self.bound).float().mean()}
        return BottleneckOutput(z=z, mean=z, reg=h.new_zeros(()), stats=stats)


class DropoutBottleneck(nn.Module):
    """Latent channel dropout: while training, each example loses whole channels (all frames) with
    probability p and the survivors are scaled by 1 / (1 - p).  Identity at evaluation.
    Owns reliance on any single channel: the decoder learns to read information redundantly."""

    in_factor = 1

    def __init__(self, width: int, p: float = 0.1):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"latent_dropout must be in [0, 1), got {p}")
        self.width = width
        self.p = p

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        sample = self.training if sample is None else sample
        z = h
        if sample and self.p > 0:
            keep = torch.rand(h.shape[0], h.shape[1], 1, device=h.device) >= self.p
            z = h * keep.to(h.dtype) / (1.0 - self.p)
        return BottleneckOutput(z=z, mean=h, reg=h.new_zeros(()), stats={"latent_rms": _rms(h)})


class NoiseBottleneck(nn.Module):
    """Plain latent plus N(0, (std * RMS(h))^2) noise while training, the same std on every channel.

    The RMS is detached, so the encoder cannot shrink the noise by shrinking its output: the
    signal-to-noise ratio is fixed.  Owns small prediction errors (decoder tolerance)."""

    in_factor = 1

    def __init__(self, width: int, std: float = 0.1):
        super().__init__()
        if std < 0:
            raise ValueError(f"latent_noise must be >= 0, got {std}")
        self.width = width
        self.std = std

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        sample = self.training if sample is None else sample
        rms = _rms(h)
        z = h + torch.randn_like(h) * (self.std * rms) if sample and self.std > 0 else h
        return BottleneckOutput(z=z, mean=h, reg=h.new_zeros(()), stats={"latent_rms": rms})


def make_bottleneck(kind: str, width: int, kl_weight: float = 1e-4, *, sigma: float = 0.5,
                    target_kl: float = 1000.0, frames_per_second: float = 50.0, var_floor: float = 0.1,
                    tanh_bound: float = 3.0, latent_dropout: float = 0.1, latent_noise: float = 0.1) -> nn.Module:
    """Build a bottleneck by name (one of ``KINDS``); each kind reads only its own knobs.

    ``kl_weight`` is the KL weight of kl / sigma / varfloor and the starting weight of target_kl.
    ``frames_per_second`` is the latent rate target_kl uses to turn KL per frame into KL per second
    (``Autoencoder`` passes ``cfg.scalars_per_second() / cfg.width``; 50 is the default grid rate).
    """
    if kind == "plain":
        return PlainBottleneck(width)
    if kind == "kl":
        return KLBottleneck(width, weight=kl_weight)
    if kind == "sigma":
        return SigmaBottleneck(width, weight=kl_weight, sigma=sigma)
    if kind == "target_kl":
        return TargetKLBottleneck(width, target=target_kl, frames_per_second=frames_per_second, init_weight=kl_weight)
    if kind == "softnorm":
        return SoftNormBottleneck(width)
    if kind == "tanh":
        return TanhBottleneck(width, bound=tanh_bound)
    if kind == "dropout":
        return DropoutBottleneck(width, p=latent_dropout)
    if kind == "varfloor":
        return VarFloorBottleneck(width, weight=kl_weight, floor=var_floor)
    if kind == "noise":
        return NoiseBottleneck(width, std=latent_noise)
    raise ValueError(f"unknown bottleneck {kind!r}; choose one of {KINDS}")
