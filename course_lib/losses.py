"""Reconstruction losses for the oracle path x -> E -> D -> x_hat.

The spectral losses come from auraloss (maintained, well tested); this module only picks
resolutions and weights and gives the combinations names a notebook can sweep over.

- ``"l1"``: waveform L1.  Punishes any phase difference, even inaudible ones.
- ``"mrstft"``: multi-resolution STFT (spectral convergence + log magnitude), Yamamoto et al.
- ``"mel"``: multi-resolution log-mel L1 (what the ear roughly hears) + a small waveform L1 that
  anchors polarity and low frequencies.  The course's default.
- ``"mel+mrstft"``: both spectral terms.
- ``"mel+complex"``: mel + a compressed complex-STFT term (phase-aware, as in speech
  enhancement): it asks for the right phase as well as the right magnitude, so overlapping frames
  add up coherently instead of smearing.
"""

from __future__ import annotations

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


class ReconstructionLoss(nn.Module):
    """A named reconstruction loss: ``kind`` is one of ``KINDS``.

    Returns the total and a dict of its terms (for logging which term dominates).
    """

    KINDS = ("l1", "mrstft", "mel", "mel+mrstft", "mel+complex")

    def __init__(self, kind: str = "mel", sample_rate: int = 16000, l1_weight: float = 1.0):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown loss {kind!r}; choose one of {self.KINDS}")
        self.kind = kind
        self.l1_weight = l1_weight
        self.mel = multires_mel(sample_rate) if "mel" in kind else None
        self.stft = multires_stft() if "mrstft" in kind else None
        self.complex = ComplexSTFTLoss() if "complex" in kind else None

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
        return sum(terms.values()), {k: float(v.detach()) for k, v in terms.items()}
