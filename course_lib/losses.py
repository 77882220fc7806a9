"""Reconstruction losses for the oracle path x -> E -> D -> x_hat.

The spectral losses come from auraloss (maintained, well tested); this module only picks
resolutions and weights and gives the combinations names a notebook can sweep over.

- ``"l1"``: waveform L1.  Punishes any phase difference, even inaudible ones.
- ``"mrstft"``: multi-resolution STFT (spectral convergence + log magnitude), Yamamoto et al.
- ``"mel"``: multi-resolution log-mel L1 (what the ear roughly hears) + a small waveform L1 that
  anchors polarity and low frequencies.  The course's default.
- ``"mel+mrstft"``: both spectral terms.
- ``"mel+phase"``: mel + anti-wrapping phase losses (APNet): instantaneous phase, group delay and
  instantaneous frequency against the target's phase.
- ``"mel+complex"``: mel + a compressed complex-STFT term (phase-aware, as in speech
  enhancement): it asks for the right phase as well as the right magnitude, so overlapping frames
  add up coherently instead of smearing.
"""

from __future__ import annotations

import math

import auraloss
import torch
from torch import nn

MEL_FFTS = (256, 512, 1024, 2048)


def multires_mel(sample_rate: int = 16000, fft_sizes=MEL_FFTS, n_mels: int = 80) -> nn.Module:
    """Multi-resolution log-mel L1 (auraloss), hop = fft / 4 at every resolution."""
    return auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=list(fft_sizes), hop_sizes=[f // 4 for f in fft_sizes], win_lengths=list(fft_sizes),
        scale="mel", n_bins=n_mels, sample_rate=sample_rate, w_sc=0.0, w_log_mag=1.0, w_lin_mag=0.0,
    )


def multires_stft(fft_sizes=(512, 1024, 2048)) -> nn.Module:
    """Multi-resolution linear-frequency STFT loss (auraloss defaults: SC + log magnitude)."""
    return auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=list(fft_sizes), hop_sizes=[f // 4 for f in fft_sizes], win_lengths=list(fft_sizes)
    )


class ComplexSTFTLoss(nn.Module):
    """Compressed complex-spectrum loss: |S_hat^c - S^c|^2 + (|S_hat|^c - |S|^c)^2, c = 0.3.

    Power-law compression (c < 1) keeps quiet bins from being ignored; the complex term carries
    phase.  Not in auraloss, so written here (a few lines, standard in speech enhancement).
    """

    def __init__(self, n_fft: int = 512, hop: int = 160, power: float = 0.3):
        super().__init__()
        self.n_fft, self.hop, self.power = n_fft, hop, power
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def _compressed(self, x):
        spec = torch.stft(x.reshape(-1, x.shape[-1]), self.n_fft, self.hop, window=self.window,
                          return_complex=True)
        re, im = spec.real, spec.imag
        mag = torch.sqrt(re * re + im * im + 1e-9)  # the epsilon keeps the gradient finite at 0
        scale = mag.pow(self.power) / mag
        return re * scale, im * scale, mag.pow(self.power)

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        (r1, i1, m1), (r2, i2, m2) = self._compressed(x_hat), self._compressed(x)
        return ((r1 - r2) ** 2 + (i1 - i2) ** 2).mean() + ((m1 - m2) ** 2).mean()


def _anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """Distance of a phase difference to the nearest multiple of 2*pi (APNet's anti-wrapping)."""
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


class PhaseLoss(nn.Module):
    """APNet-style anti-wrapping phase losses: instantaneous phase, group delay (phase difference
    across frequency) and instantaneous frequency (difference across time), each weighted by the
    target's compressed magnitude so silent bins, whose phase is noise, do not count.
    Not in auraloss, so written here.
    """

    def __init__(self, n_fft: int = 512, hop: int = 160):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        def stft(a):
            return torch.stft(a.reshape(-1, a.shape[-1]), self.n_fft, self.hop, window=self.window,
                              return_complex=True)

        s_hat, s = stft(x_hat), stft(x)
        p_hat = torch.atan2(s_hat.imag, s_hat.real + 1e-9)
        p = torch.atan2(s.imag, s.real + 1e-9)
        w = s.abs().pow(0.3)
        w = w / (w.mean() + 1e-9)
        ip = (w * _anti_wrap(p_hat - p)).mean()
        gd = (w[:, 1:] * _anti_wrap(torch.diff(p_hat, dim=1) - torch.diff(p, dim=1))).mean()
        iaf = (w[..., 1:] * _anti_wrap(torch.diff(p_hat, dim=2) - torch.diff(p, dim=2))).mean()
        return (ip + gd + iaf) / 3


class ReconstructionLoss(nn.Module):
    """A named reconstruction loss: ``kind`` is one of ``KINDS``.

    Returns the total and a dict of its terms (for logging which term dominates).
    """

    KINDS = ("l1", "mrstft", "mel", "mel+mrstft", "mel+complex", "mel+phase")

    def __init__(self, kind: str = "mel", sample_rate: int = 16000, l1_weight: float = 1.0):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown loss {kind!r}; choose one of {self.KINDS}")
        self.kind = kind
        self.l1_weight = l1_weight
        self.mel = multires_mel(sample_rate) if "mel" in kind else None
        self.stft = multires_stft() if "mrstft" in kind else None
        self.complex = ComplexSTFTLoss() if "complex" in kind else None
        self.phase = PhaseLoss() if "phase" in kind else None

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        terms = {}
        if self.kind == "l1":
            terms["l1"] = (x_hat - x).abs().mean()
        else:
            if self.mel is not None:
                terms["mel"] = self.mel(x_hat, x)
                terms["l1"] = self.l1_weight * (x_hat - x).abs().mean()
            if self.stft is not None:
                terms["mrstft"] = self.stft(x_hat, x)
            if self.complex is not None:
                terms["complex"] = self.complex(x_hat, x)
            if self.phase is not None:
                terms["phase"] = self.phase(x_hat, x)
        return sum(terms.values()), {k: float(v.detach()) for k, v in terms.items()}
