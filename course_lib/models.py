"""Frame-rate autoencoders: an STFT-domain encoder and a Vocos-style iSTFT decoder.

Why frame rate?  A waveform autoencoder (DAC, Oobleck) runs its first and last layers at the
sample rate: 16 000 positions per second.  Here every layer runs on STFT frames (100 per second at
hop 160) or on latent frames (12.5-50 per second), and the waveform is produced by one inverse STFT
at the end.  That is what lets a laptop CPU train a usable codec in minutes.

One tensor, end to end (mono, 1 s at 16 kHz, 50 Hz x 64 latent):

    x (B, 1, 16000) -> STFT (B, 257, 100) -> features (B, 771, 100) -> ConvNeXt at 100 Hz
      -> strided conv to 50 Hz -> ConvNeXt -> bottleneck -> z (B, 64, 50)
    z -> ConvNeXt at 50 Hz -> transposed conv to 100 Hz -> ConvNeXt -> (log-magnitude, phase)
      -> iSTFT -> x_hat (B, 1, 16000)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from course_lib.bottlenecks import make_bottleneck


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines the autoencoder's shape.

    latent_rate (Hz) x width is the *interface*: what a downstream generator has to predict.
    The frame rate of the STFT (sample_rate / hop) must be an integer multiple of latent_rate.
    """

    sample_rate: int = 16000
    channels: int = 1  # 1 = mono, 2 = stereo
    latent_rate: float = 50.0
    width: int = 64
    bottleneck: str = "plain"  # "plain" or "kl" (see bottlenecks.py)
    kl_weight: float = 1e-4
    n_fft: int = 512
    hop: int = 160
    dim: int = 192
    enc_blocks: tuple[int, int] = (2, 2)  # ConvNeXt blocks at (frame rate, latent rate)
    dec_blocks: tuple[int, int] = (2, 2)  # ConvNeXt blocks at (latent rate, frame rate)
    phase: str = "atan2"  # decoder phase head: "atan2" (two outputs, APNet-style) or "angle" (one, Vocos)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def down(self) -> int:
        """STFT frames per latent frame."""
        ratio = self.frame_rate / self.latent_rate
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(
                f"latent_rate={self.latent_rate} Hz must divide the STFT frame rate "
                f"{self.frame_rate} Hz (sample_rate / hop) by a whole number"
            )
        return int(round(ratio))

    @property
    def samples_per_latent(self) -> int:
        return self.hop * self.down

    def to_dict(self) -> dict:
        return asdict(self)


class ConvNeXtBlock(nn.Module):
    """1-D ConvNeXt block (depthwise conv -> LayerNorm -> MLP), as in Vocos."""

    def __init__(self, dim: int, kernel_size: int = 7, mult: int = 3):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pw1 = nn.Linear(dim, dim * mult)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(dim * mult, dim)
        # Small layer scale keeps a fresh deep stack close to identity, so short runs train stably.
        self.gamma = nn.Parameter(torch.full((dim,), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, dim, T)
        h = self.dwconv(x).transpose(1, 2)
        h = self.pw2(self.act(self.pw1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


def _stack(dim: int, n: int) -> nn.Sequential:
    return nn.Sequential(*[ConvNeXtBlock(dim) for _ in range(n)])


class STFTEncoder(nn.Module):
    """Waveform (B, C, T) -> pre-bottleneck features (B, out_dim, T / samples_per_latent)."""

    def __init__(self, cfg: ModelConfig, out_dim: int):
        super().__init__()
        self.cfg = cfg
        n_bins = cfg.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        # Per channel: log-magnitude plus the magnitude-compressed real and imaginary parts, so the
        # encoder sees phase (needed to keep stereo and transients) without huge dynamic range.
        self.inp = nn.Conv1d(3 * n_bins * cfg.channels, cfg.dim, kernel_size=1)
        self.frame_blocks = _stack(cfg.dim, cfg.enc_blocks[0])
        d = cfg.down
        self.downsample = (
            nn.Conv1d(cfg.dim, cfg.dim, kernel_size=2 * d, stride=d, padding=d // 2) if d > 1 else nn.Identity()
        )
        self.latent_blocks = _stack(cfg.dim, cfg.enc_blocks[1])
        self.norm = nn.LayerNorm(cfg.dim)
        self.out = nn.Conv1d(cfg.dim, out_dim, kernel_size=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        spec = torch.stft(
            x.reshape(b * c, t), self.cfg.n_fft, self.cfg.hop, window=self.window, center=True, return_complex=True
        )[..., : t // self.cfg.hop]  # drop the extra centre frame: exactly T / hop frames
        mag = spec.abs()
        comp = spec / (mag + 1e-5) * mag.pow(0.3)  # power-law compressed complex spectrum
        feats = torch.cat([torch.log(mag + 1e-5), comp.real, comp.imag], dim=1)
        return feats.reshape(b, -1, feats.shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.frame_blocks(self.inp(self.features(x)))
        h = self.latent_blocks(self.downsample(h))
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        return self.out(h)[..., : x.shape[-1] // self.cfg.samples_per_latent]


class ISTFTDecoder(nn.Module):
    """Latent (B, width, L) -> waveform (B, C, L * samples_per_latent), Vocos-style.

    The network predicts a log-magnitude and a phase for every STFT bin; one inverse STFT turns
    them into audio.  No layer runs at the sample rate.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.n_bins = cfg.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.inp = nn.Conv1d(cfg.width, cfg.dim, kernel_size=3, padding=1)
        self.latent_blocks = _stack(cfg.dim, cfg.dec_blocks[0])
        d = cfg.down
        self.upsample = nn.ConvTranspose1d(cfg.dim, cfg.dim, kernel_size=d, stride=d) if d > 1 else nn.Identity()
        self.frame_blocks = _stack(cfg.dim, cfg.dec_blocks[1])
        self.norm = nn.LayerNorm(cfg.dim)
        self.n_out = 3 if cfg.phase == "atan2" else 2
        self.head = nn.Linear(cfg.dim, self.n_out * self.n_bins * cfg.channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        h = self.latent_blocks(self.inp(z))
        h = self.frame_blocks(self.upsample(h))
        h = nn.functional.pad(h, (0, 1), mode="replicate")  # iSTFT with centre=True wants T/hop + 1 frames
        h = self.head(self.norm(h.transpose(1, 2)))  # (B, N, 2 * bins * C)
        b, n, _ = h.shape
        h = h.reshape(b, n, cfg.channels, self.n_out, self.n_bins).permute(0, 2, 3, 4, 1)  # (B, C, k, bins, N)
        mag = torch.exp(h[:, :, 0].clamp(max=6.0))  # clamp: an early spike must not overflow the iSTFT
        if self.n_out == 3:
            # Phase as the angle of a free 2-D vector (APNet): no wrap-around for the net to fight.
            re, im = h[:, :, 1], h[:, :, 2]
            norm = torch.sqrt(re * re + im * im + 1e-8)
            spec = torch.complex(mag * re / norm, mag * im / norm)
        else:
            spec = torch.polar(mag, h[:, :, 1])
        spec = spec.reshape(b * cfg.channels, self.n_bins, n)
        length = (n - 1) * cfg.hop
        y = torch.istft(spec, cfg.n_fft, cfg.hop, window=self.window, center=True, length=length)
        return y.reshape(b, cfg.channels, length)


class Autoencoder(nn.Module):
    """E -> bottleneck -> D.  ``encode`` returns the bottleneck output (z, stats, regulariser)."""

    def __init__(self, cfg: ModelConfig, encoder: nn.Module | None = None, decoder: nn.Module | None = None):
        """``encoder`` / ``decoder`` replace the STFT / iSTFT networks (e.g. a waveform baseline);
        they must map (B, C, T) -> (B, width * bottleneck.in_factor, T / samples_per_latent) and back."""
        super().__init__()
        self.cfg = cfg
        self.bottleneck = make_bottleneck(cfg.bottleneck, cfg.width, cfg.kl_weight)
        self.encoder = encoder if encoder is not None else STFTEncoder(cfg, cfg.width * self.bottleneck.in_factor)
        self.decoder = decoder if decoder is not None else ISTFTDecoder(cfg)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Right-pad with zeros to a whole number of latent frames."""
        spl = self.cfg.samples_per_latent
        return nn.functional.pad(x, (0, (-x.shape[-1]) % spl))

    def encode(self, x: torch.Tensor, sample: bool | None = None):
        if x.dim() != 3 or x.shape[1] != self.cfg.channels:
            raise ValueError(
                f"expected audio shaped (batch, {self.cfg.channels}, samples), got {tuple(x.shape)}"
            )
        return self.bottleneck(self.encoder(self.pad(x)), sample=sample)

    def decode(self, z: torch.Tensor, length: int | None = None) -> torch.Tensor:
        y = self.decoder(z)
        return y if length is None else y[..., :length]

    def forward(self, x: torch.Tensor):
        out = self.encode(x)
        return self.decode(out.z, x.shape[-1]), out


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
