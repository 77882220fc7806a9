"""Reconstruction losses for the oracle path x -> E -> D -> x_hat.

The spectral losses come from auraloss (maintained, well tested); this module only picks
resolutions and weights and gives the combinations names a notebook can sweep over.

- ``"l1"``: waveform L1.  Punishes any phase difference, even inaudible ones.
- ``"mrstft"``: multi-resolution STFT (spectral convergence + log magnitude), Yamamoto et al.
- ``"mel"``: multi-resolution log-mel L1 (what the ear roughly hears) + a small waveform L1 that
  anchors polarity and low frequencies.  The course's default.
- ``"mel+mrstft"`` (alias ``"mrstft+mel"``): both spectral terms.
- ``"mel+lin"``: mel + the same linear-frequency STFT loss at shorter windows, the mel term's three
  shortest FFT sizes (256, 512, 1024), whose STFTs the two terms share (``share_stfts``).  The `cpu`
  oracle's loss.  Measured (notebook 00, section 8): it lifts the high voices, whose magnitude the
  mel loss alone leaves worst, and at these windows it keeps STOI, which the longer default ones cost.
- ``"mel+phase"``: mel + anti-wrapping phase losses (APNet): instantaneous phase, group delay and
  instantaneous frequency against the target's phase.
- ``"mel+complex"``: mel + a compressed complex-STFT term (phase-aware, as in speech
  enhancement): it asks for the right phase as well as the right magnitude, so overlapping frames
  add up coherently instead of smearing.
- ``"mel+ms"`` (stereo only): the L/R mel above + a mid/side mel term (auraloss
  ``SumAndDifferenceSTFTLoss``): log-mel L1 on mid = L + R and on side = L - R.
- ``"mel+cqt"``: mel + a constant-Q log-magnitude term (nnAudio), semitone-wide bins for pitch.

Stereo (B, 2, T): auraloss folds channels into the batch (``x.view(-1, T)``), so every spectral
term compares left with left and right with right; the log-magnitude L1 is per bin, hence per
channel.  (Only the spectral-convergence part of ``"mrstft"`` pools: one Frobenius ratio over batch
and channels, so a quiet channel's errors weigh less there.)  A per-channel *magnitude* loss is blind
to the phase between the channels: flipping R's polarity leaves every L/R term of ``"mel"`` at zero
except the waveform L1.  The side signal L - R sees it; that is what ``"mel+ms"`` adds.  auraloss
uses ``.view``: pass contiguous tensors (a transposed view raises).
"""

from __future__ import annotations

import math

import auraloss
import torch
from nnAudio.features import CQT1992v2
from torch import nn

MEL_FFTS = (256, 512, 1024, 2048)


class STFTMagnitude(torch.autograd.Function):
    """``sqrt(max(|STFT(x)|², eps))`` of already padded frames, with a hand-written backward.

    Why by hand: autograd's way back through ``torch.stft`` → real/imag → pow → clamp → sqrt keeps
    five intermediate tensors and ends in an ``index_add_`` overlap-add; on 2 CPU cores that backward
    took three times the loss's forward (a ``"mel+lin"`` loss on 16 × 1 s: 62–79 ms forward and
    backward, 47–49 ms with this one).  No maintained library ships a faster one.  The gradient is the
    adjoint of the same computation: the complex gradient ``g · X / |X|`` back through the one-sided
    FFT (an inverse real FFT with the inner bins halved, times ``n_fft``), the window, and an
    overlap-add done as ``n_fft / hop`` shifted slice additions.  It equals autograd's up to float
    rounding (about 1e-14 of the largest entry in float64; a test checks it).
    """

    @staticmethod
    def forward(ctx, padded, n_fft: int, hop: int, window, eps: float):
        spec = torch.stft(padded, n_fft, hop, n_fft, window, center=False, return_complex=True)
        power = spec.real**2 + spec.imag**2
        mag = torch.sqrt(torch.clamp(power, min=eps))
        ctx.save_for_backward(spec, mag, power, window)
        ctx.n_fft, ctx.hop, ctx.eps, ctx.length = n_fft, hop, eps, padded.shape[-1]
        return mag

    @staticmethod
    def backward(ctx, grad):
        spec, mag, power, window = ctx.saved_tensors
        n, hop = ctx.n_fft, ctx.hop
        # clamp passes no gradient below eps; sqrt's and the power's chain give g · X / |X|
        h = spec * torch.where(power >= ctx.eps, grad / mag, torch.zeros((), dtype=grad.dtype, device=grad.device))
        h[:, 1:-1] *= 0.5  # the one-sided FFT's adjoint: irfft counts each inner bin twice
        frames = torch.fft.irfft(h.transpose(1, 2), n=n) * (n * window)  # (B, frames, n_fft)
        b, t, _ = frames.shape
        out = frames.new_zeros(b, max(ctx.length, (t - 1) * hop + n))
        for j in range(n // hop):  # overlap-add: slice j of every frame lands j hops further on
            out[:, j * hop:(j + t) * hop] += frames[:, :, j * hop:(j + 1) * hop].reshape(b, t * hop)
        return out[:, :ctx.length], None, None, None, None


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor, eps: float) -> torch.Tensor:
    """``sqrt(clamp(|torch.stft(x, centre=True, reflect padding)|², eps))`` of (B, T) with the
    fast backward of ``STFTMagnitude``: the same values as auraloss computes, bit for bit."""
    if n_fft % hop:
        raise ValueError(f"the fast STFT backward needs hop to divide n_fft, got {n_fft} and {hop}")
    padded = nn.functional.pad(x[:, None], (n_fft // 2, n_fft // 2), mode="reflect")[:, 0]
    return STFTMagnitude.apply(padded, n_fft, hop, window, eps)


class _NoPhaseSTFTLoss(auraloss.freq.STFTLoss):
    """auraloss' ``STFTLoss`` with its phase left out when nothing uses it (``w_phs == 0``).

    auraloss 0.4 computes ``torch.angle`` of every STFT, input and target, even with a zero phase
    weight; with autograd recording it, that was 16 % of a training step of the sweep codec on 2
    CPU cores (measured with torch.profiler).  The magnitude is computed exactly as auraloss does, so
    the loss and its gradients are bit-identical.
    """

    memo: dict | None = None  # set by ``share_stfts``: magnitudes already computed in this forward pass
    fast_grad: bool = False  # set by ``fast_stft_grad``: the estimate's magnitude via ``stft_magnitude``

    def stft(self, x):
        if self.w_phs:
            return super().stft(x)
        key = (x.data_ptr(), tuple(x.shape), x._version, self.fft_size, self.hop_size, self.win_length, self.eps)
        if self.memo is not None and key in self.memo:
            return self.memo[key], None
        if self.fast_grad and x.requires_grad and self.win_length == self.fft_size:
            mag = stft_magnitude(x, self.fft_size, self.hop_size, self.window, self.eps)
        else:
            x_stft = torch.stft(x, self.fft_size, self.hop_size, self.win_length, self.window, return_complex=True)
            mag = torch.sqrt(torch.clamp((x_stft.real**2) + (x_stft.imag**2), min=self.eps))
        if self.memo is not None:
            self.memo[key] = mag
        return mag, None


def skip_unused_phase(loss: nn.Module) -> nn.Module:
    """Make every auraloss ``STFTLoss`` inside ``loss`` skip the phase it would compute and ignore."""
    for m in loss.modules():
        if type(m) is auraloss.freq.STFTLoss and not m.w_phs:
            m.__class__ = _NoPhaseSTFTLoss  # same attributes, one overridden method
    return loss


def share_stfts(*losses: nn.Module) -> dict:
    """Let every phase-skipping STFT loss inside ``losses`` reuse one another's magnitudes.

    A mel term and a linear-frequency term at the same FFT size, hop and window take the same
    magnitude of the same signal; auraloss computes it once per term, forward and backward.  With a
    shared memo the second term reads the first one's tensor (autograd adds both terms' gradients
    into it), so the loss is the same as computing twice and its gradient the same up to float
    rounding (the two terms' gradients are added before the STFT's backward instead of after), for one
    STFT.  The caller owns the returned
    dict and must ``clear()`` it after every forward pass: entries are keyed by the input's storage.
    """
    memo: dict = {}
    for loss in losses:
        for m in loss.modules():
            if isinstance(m, _NoPhaseSTFTLoss):
                m.memo = memo
    return memo


def fast_stft_grad(*losses: nn.Module) -> None:
    """Let every phase-skipping STFT loss inside ``losses`` take its gradient through
    ``stft_magnitude``: the same loss, the same gradient up to float rounding, a faster backward
    (a ``"mel+lin"`` training step of notebook 00's oracle about a tenth faster on 2 CPU cores)."""
    for loss in losses:
        for m in loss.modules():
            if isinstance(m, _NoPhaseSTFTLoss):
                m.fast_grad = True


def multires_mel(sample_rate: int = 16000, fft_sizes=MEL_FFTS, n_mels: int = 80) -> nn.Module:
    """Multi-resolution log-mel L1 (auraloss), hop = fft / 4 at every resolution."""
    return skip_unused_phase(auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=list(fft_sizes), hop_sizes=[f // 4 for f in fft_sizes], win_lengths=list(fft_sizes),
        scale="mel", n_bins=n_mels, sample_rate=sample_rate, w_sc=0.0, w_log_mag=1.0, w_lin_mag=0.0,
    ))


LINEAR_FFTS = (512, 1024, 2048)  # "mrstft": auraloss' defaults
SHORT_LINEAR_FFTS = (256, 512, 1024)  # "mel+lin": the mel term's three shortest, so their STFTs are shared


def multires_stft(fft_sizes=LINEAR_FFTS) -> nn.Module:
    """Multi-resolution linear-frequency STFT loss (auraloss defaults: SC + log magnitude)."""
    return skip_unused_phase(auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=list(fft_sizes), hop_sizes=[f // 4 for f in fft_sizes], win_lengths=list(fft_sizes)
    ))


def mid_side_mel(sample_rate: int = 16000, fft_sizes=MEL_FFTS, n_mels: int = 80, eps: float = 1e-4) -> nn.Module:
    """Mid/side log-mel L1 (auraloss ``SumAndDifferenceSTFTLoss``, Steinmetz et al. 2020).

    (mel(L + R) + mel(L - R)) / 2 with the resolutions of ``multires_mel``: mid and side count alike
    although the side is usually 10-20 dB quieter, which is the point: on a log scale an image
    error costs as much as a timbre error.  ``eps`` is auraloss' floor on each STFT bin's power; its
    default 1e-8 (a magnitude floor 115-135 dB under a full-scale sine's peak bin at these FFT sizes)
    turned independent noise at -80 dB on a mono reference, whose side is digitally zero, into a
    side loss of ~3, a thousand times its L/R mel; at 1e-4 (floor 75-95 dB under) that dust costs
    nothing and -60 dB leakage ~0.7 (measured on a two-tone test signal).
    Raises ValueError on anything but (B, 2, T).
    """
    return skip_unused_phase(auraloss.freq.SumAndDifferenceSTFTLoss(
        fft_sizes=list(fft_sizes), hop_sizes=[f // 4 for f in fft_sizes], win_lengths=list(fft_sizes),
        scale="mel", n_bins=n_mels, sample_rate=sample_rate, w_sc=0.0, w_log_mag=1.0, w_lin_mag=0.0, eps=eps,
    ))


class CQTLoss(nn.Module):
    """Log-magnitude L1 on a constant-Q transform: 12 bins per octave from C2 (65.4 Hz), 6 octaves.

    Why, for music: below 1 kHz the 80 mel bands at 16 kHz are a fixed ~37 Hz apart, wider than a
    semitone under ~600 Hz (about ten semitones at C2), so a mel loss barely tells a bass note from
    its neighbour; CQT bins are a semitone apart at every pitch, and their long low kernels (~4100
    samples at C2) resolve notes that a 2048-point STFT (7.8 Hz bins; a semitone at C2 is 3.9 Hz)
    cannot (see the bass-semitone test).  The CQT is nnAudio's (maintained, differentiable,
    librosa-compatible kernels), ``CQT1992v2``: one strided convolution, the fastest of its CQTs on
    CPU (2.5x ``CQT2010v2`` here).  Zero padding, not
    nnAudio's default reflection, so clips shorter than the longest kernel work too.  Channels fold
    into the batch (per channel, like auraloss).
    """

    def __init__(self, sample_rate: int = 16000, fmin: float = 65.41, n_bins: int = 72,
                 bins_per_octave: int = 12, hop: int = 256, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.cqt = CQT1992v2(sr=sample_rate, hop_length=hop, fmin=fmin, n_bins=n_bins,
                             bins_per_octave=bins_per_octave, pad_mode="constant", output_format="Complex",
                             verbose=False)

    def log_magnitude(self, x: torch.Tensor) -> torch.Tensor:
        c = self.cqt(x.reshape(-1, x.shape[-1]))  # (B*C, bins, frames, re/im)
        # log |C| with the floor inside: nnAudio's own "Magnitude" output is sqrt(re^2 + im^2) without
        # one, whose gradient is NaN where the input is digitally silent.
        return 0.5 * torch.log(c.square().sum(-1) + self.eps)

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (self.log_magnitude(x_hat) - self.log_magnitude(x)).abs().mean()


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
    """A named reconstruction loss: ``kind`` is one of ``KINDS``; terms are joined with ``+``.

    Returns the total and a dict of its terms (for logging which term dominates).  Every kind with
    a mel term also carries ``l1_weight`` x waveform L1; ``"mel+ms"`` adds ``ms_weight`` x the
    mid/side term and ``"mel+cqt"`` ``cqt_weight`` x the CQT term, both 1 by default so that the
    new term weighs as much as the L/R mel it is added to.  ``STEREO_KINDS`` need (B, 2, T).
    ``fast_grad`` takes the spectral terms' gradients through ``stft_magnitude`` (``fast_stft_grad``).
    """

    KINDS = ("l1", "mrstft", "mel", "mel+mrstft", "mrstft+mel", "mel+lin", "mel+complex", "mel+phase", "mel+ms",
             "mel+cqt")
    STEREO_KINDS = ("mel+ms",)

    def __init__(self, kind: str = "mel", sample_rate: int = 16000, l1_weight: float = 1.0,
                 ms_weight: float = 1.0, cqt_weight: float = 1.0, fast_grad: bool = False):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown loss {kind!r}; choose one of {self.KINDS}")
        self.kind = kind
        self.l1_weight, self.ms_weight, self.cqt_weight = l1_weight, ms_weight, cqt_weight
        parts = set(kind.split("+"))
        self.mel = multires_mel(sample_rate) if "mel" in parts else None
        self.stft = multires_stft() if "mrstft" in parts else None
        self.lin = multires_stft(SHORT_LINEAR_FFTS) if "lin" in parts else None
        # "mel+lin" computes each shared STFT once.  "mel+mrstft" keeps auraloss' separate STFTs: the
        # sum is the same, but not bit for bit, and notebook 02's measured rows were trained that way.
        self._memo = share_stfts(self.mel, self.lin) if self.lin is not None else None
        self.complex = ComplexSTFTLoss() if "complex" in parts else None
        self.phase = PhaseLoss() if "phase" in parts else None
        self.ms = mid_side_mel(sample_rate) if "ms" in parts else None
        self.cqt = CQTLoss(sample_rate) if "cqt" in parts else None
        if fast_grad:
            fast_stft_grad(self)

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        if self.ms is not None and (x.dim() != 3 or x.shape[1] != 2):
            raise ValueError(f"loss {self.kind!r} needs stereo (B, 2, T), got {tuple(x.shape)}")
        try:
            terms = self._terms(x_hat, x)
        finally:
            if self._memo is not None:
                self._memo.clear()  # keyed by storage: never let the next batch read this one's magnitudes
        return sum(terms.values()), {k: float(v.detach()) for k, v in terms.items()}

    def _terms(self, x_hat: torch.Tensor, x: torch.Tensor) -> dict:
        terms = {}
        if self.kind == "l1":
            terms["l1"] = (x_hat - x).abs().mean()
        else:
            if self.mel is not None:
                terms["mel"] = self.mel(x_hat, x)
                terms["l1"] = self.l1_weight * (x_hat - x).abs().mean()
            if self.stft is not None:
                terms["mrstft"] = self.stft(x_hat, x)
            if self.lin is not None:
                terms["lin"] = self.lin(x_hat, x)
            if self.complex is not None:
                terms["complex"] = self.complex(x_hat, x)
            if self.phase is not None:
                terms["phase"] = self.phase(x_hat, x)
            if self.ms is not None:
                terms["ms"] = self.ms_weight * self.ms(x_hat, x)
            if self.cqt is not None:
                terms["cqt"] = self.cqt_weight * self.cqt(x_hat, x)
        return terms
