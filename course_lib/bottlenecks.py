"""Bottlenecks: one interface, several answers to "who absorbs prediction error?".

Every bottleneck maps encoder features h (B, in_factor * width, L) to a ``BottleneckOutput``:
``z`` (B, width, L), a dict of ``stats`` for the dashboard, and ``reg``, a scalar regulariser the
trainer adds to the loss (already weighted).  Later lessons add more kinds with the same interface.

- ``PlainBottleneck`` owns nothing: the latent is whatever the encoder emits.  Sharp and easy to
  reconstruct from, but nothing stops it from being hard to predict.
- ``KLBottleneck`` (a VAE posterior q(z|x) = N(mu, sigma^2)) owns *prior difficulty*: the KL term
  pulls latents toward N(0, I), and sampling during training teaches the decoder to tolerate
  small latent errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class BottleneckOutput:
    z: torch.Tensor  # what the decoder receives (a sample during training for a VAE)
    mean: torch.Tensor  # the deterministic latent (mu); what a downstream model usually predicts
    reg: torch.Tensor  # weighted regulariser, a scalar
    stats: dict = field(default_factory=dict)
    logvar: torch.Tensor | None = None


class PlainBottleneck(nn.Module):
    """z = h.  Owns no error: use it as the plain-codec baseline."""

    in_factor = 1

    def __init__(self, width: int):
        super().__init__()
        self.width = width

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        zero = h.new_zeros(())
        stats = {"latent_rms": h.detach().pow(2).mean().sqrt()}
        return BottleneckOutput(z=h, mean=h, reg=zero, stats=stats)


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

    def forward(self, h: torch.Tensor, sample: bool | None = None) -> BottleneckOutput:
        mean, logvar = h.chunk(2, dim=1)
        logvar = logvar.clamp(self.logvar_min, 8.0)
        sample = self.training if sample is None else sample
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)  # per element, nats
        kl_per_frame = kl.sum(dim=1).mean()
        stats = {
            "kl_per_frame": kl_per_frame.detach(),
            "latent_rms": mean.detach().pow(2).mean().sqrt(),
            "posterior_std": torch.exp(0.5 * logvar).detach().mean(),
        }
        return BottleneckOutput(z=z, mean=mean, reg=self.weight * kl.mean(), stats=stats, logvar=logvar)


def make_bottleneck(kind: str, width: int, kl_weight: float = 1e-4) -> nn.Module:
    """Build a bottleneck by name ("plain" or "kl")."""
    if kind == "plain":
        return PlainBottleneck(width)
    if kind == "kl":
        return KLBottleneck(width, weight=kl_weight)
    raise ValueError(f"unknown bottleneck {kind!r}: choose 'plain' or 'kl'")
