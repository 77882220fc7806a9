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

Topology (``ModelConfig.topology``) decides what one latent position *means* -- the coordinate
system a generator will have to predict in.  One interface for all four: ``encode(x, spans)``
returns z shaped (B, width, slots) and ``decode(z, length, spans)`` inverts it.

- ``"grid"``: a uniform time grid, one vector every 1/latent_rate seconds (strided convs).
- ``"phone"``: one vector per text token (phone), pooled over the phone's frames; the durations
  travel with the latent as ``spans`` (phone index of every STFT frame) and the decoder expands
  each vector over its span.  Needs the phone timings of the corpus.
- ``"chunk"``: one wide summary vector per fixed chunk of ``chunk_s`` seconds.
- ``"global+frame"``: slot 0 is one utterance vector (pooled over the whole clip) and slots 1..
  are a uniform grid at latent_rate; the decoder sees the global vector at every frame.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from course_lib.bottlenecks import make_bottleneck

TOPOLOGIES = ("grid", "phone", "chunk", "global+frame")


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
    bottleneck: str = "plain"  # one of bottlenecks.KINDS: which error the latent owns (see bottlenecks.py)
    kl_weight: float = 1e-4  # KL weight of "kl", "sigma", "varfloor"; the starting weight of "target_kl"
    sigma: float = 0.5  # "sigma": fixed posterior std, latent units
    target_kl: float = 1000.0  # "target_kl": KL the controller holds, nats per second of audio
    var_floor: float = 0.1  # "varfloor": minimum posterior *std* (logvar >= log(var_floor ** 2))
    tanh_bound: float = 3.0  # "tanh": |z| < tanh_bound
    latent_dropout: float = 0.1  # "dropout": probability of zeroing a whole latent channel in training
    latent_noise: float = 0.1  # "noise": training noise std, in units of the latent's RMS
    n_fft: int = 512
    hop: int = 160
    dim: int = 192
    enc_blocks: tuple[int, int] = (2, 2)  # ConvNeXt blocks at (frame rate, latent rate)
    dec_blocks: tuple[int, int] = (2, 2)  # ConvNeXt blocks at (latent rate, frame rate)
    phase: str = "atan2"  # decoder phase head: "atan2" (two outputs, APNet-style) or "angle" (one, Vocos)
    topology: str = "grid"  # what one latent slot means: see TOPOLOGIES and the module docstring
    chunk_s: float = 0.32  # "chunk" topology: seconds summarised by one latent vector
    # > 0: the decoder also gets a learned speaker embedding from *outside* the latent (AUTOVC): with a
    # narrow latent, the voice no longer has to travel through z, so it need not be there.
    speakers: int = 0
    speaker_dim: int = 16

    def __post_init__(self):
        if self.topology not in TOPOLOGIES:
            raise ValueError(f"unknown topology {self.topology!r}; choose one of {TOPOLOGIES}")

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def pooled(self) -> bool:
        """True when latent slots are pooled over spans of frames (phone, chunk), not strided."""
        return self.topology in ("phone", "chunk")

    @property
    def chunk_frames(self) -> int:
        n = self.chunk_s * self.frame_rate
        if abs(n - round(n)) > 1e-6 or round(n) < 1:
            raise ValueError(f"chunk_s={self.chunk_s} s must be a whole number of STFT hops ({self.hop} samples)")
        return int(round(n))

    @property
    def down(self) -> int:
        """STFT frames per latent frame (1 for the pooled topologies: they pool after the encoder)."""
        if self.pooled:
            return 1
        ratio = self.frame_rate / self.latent_rate
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(
                f"latent_rate={self.latent_rate} Hz must divide the STFT frame rate "
                f"{self.frame_rate} Hz (sample_rate / hop) by a whole number"
            )
        return int(round(ratio))

    @property
    def samples_per_latent(self) -> int:
        """Audio is padded to a multiple of this: one latent frame, one chunk, or one hop (phone)."""
        if self.topology == "chunk":
            return self.hop * self.chunk_frames
        return self.hop * self.down

    @property
    def has_global(self) -> bool:
        return self.topology == "global+frame"

    def scalars_per_second(self, phones_per_second: float = 12.0, clip_s: float = 2.6) -> float:
        """Latent numbers per second of audio: the budget a generator has to predict."""
        if self.topology == "phone":
            return self.width * phones_per_second
        if self.topology == "chunk":
            return self.width / self.chunk_s
        extra = self.width / clip_s if self.has_global else 0.0
        return self.width * self.latent_rate + extra

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


# Span pooling and expansion: plain scatter/gather, because no audio library has "one vector per
# variable-length span" (it is the length regulator of FastSpeech, written out).
N_POSITION_FEATURES = 7


def span_mean(h: torch.Tensor, spans: torch.Tensor, n_slots: int) -> torch.Tensor:
    """Mean of frame features h (B, D, F) over each span: spans (B, F) holds a slot index per frame."""
    b, d, f = h.shape
    idx = spans[:, None, :].expand(b, d, f)
    total = h.new_zeros(b, d, n_slots).scatter_add_(2, idx, h)
    count = h.new_zeros(b, 1, n_slots).scatter_add_(2, spans[:, None, :], h.new_ones(b, 1, f))
    return total / count.clamp_min(1.0)


def span_expand(z: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
    """Copy each slot vector of z (B, C, S) to every frame of its span -> (B, C, F)."""
    return z.gather(2, spans[:, None, :].expand(z.shape[0], z.shape[1], spans.shape[1]))


def span_positions(spans: torch.Tensor) -> torch.Tensor:
    """Where each frame sits inside its span, (B, 7, F): sin/cos of the relative position at three
    frequencies and the log span length.  This is how durations 'travel with' a pooled latent."""
    b, f = spans.shape
    n_slots = int(spans.max()) + 1
    ones = torch.ones(b, f, dtype=torch.float32, device=spans.device)
    count = torch.zeros(b, n_slots, device=spans.device).scatter_add_(1, spans, ones)
    start = torch.cumsum(count, dim=1) - count
    frame = torch.arange(f, device=spans.device, dtype=torch.float32).expand(b, f)
    length = count.gather(1, spans)
    rel = (frame - start.gather(1, spans) + 0.5) / length.clamp_min(1.0)
    feats = [torch.sin(math.pi * k * rel) for k in (1, 2, 3)] + [torch.cos(math.pi * k * rel) for k in (1, 2, 3)]
    feats.append(torch.log(length.clamp_min(1.0)) / 4.0)
    return torch.stack(feats, dim=1)


def chunk_spans(n_frames: int, chunk_frames: int, batch: int = 1, device=None) -> torch.Tensor:
    """Slot index of every frame for fixed chunks: 0,0,..,0,1,1,.. (batch, n_frames)."""
    return (torch.arange(n_frames, device=device) // chunk_frames).expand(batch, n_frames).contiguous()


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
        if cfg.pooled:
            # Each frame learns where it sits in its span before the span is averaged, so the pooled
            # vector can say *when* inside the phone / chunk something happened.
            self.position = nn.Conv1d(N_POSITION_FEATURES, cfg.dim, kernel_size=1)
        if cfg.has_global:
            self.global_out = nn.Linear(cfg.dim, out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        spec = torch.stft(
            x.reshape(b * c, t), self.cfg.n_fft, self.cfg.hop, window=self.window, center=True, return_complex=True
        )[..., : t // self.cfg.hop]  # drop the extra centre frame: exactly T / hop frames
        mag = spec.abs()
        comp = spec / (mag + 1e-5) * mag.pow(0.3)  # power-law compressed complex spectrum
        feats = torch.cat([torch.log(mag + 1e-5), comp.real, comp.imag], dim=1)
        return feats.reshape(b, -1, feats.shape[-1])

    def forward(self, x: torch.Tensor, spans: torch.Tensor | None = None) -> torch.Tensor:
        h = self.frame_blocks(self.inp(self.features(x)))
        h = self.latent_blocks(self.downsample(h))
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        if self.cfg.pooled:  # (B, dim, frames) -> one vector per span
            h = h[..., : spans.shape[1]] + self.position(span_positions(spans))
            return self.out(span_mean(h, spans, int(spans.max()) + 1))
        h = h[..., : x.shape[-1] // self.cfg.samples_per_latent]
        z = self.out(h)
        if self.cfg.has_global:  # slot 0: the clip summarised in one vector
            z = torch.cat([self.global_out(h.mean(dim=-1))[:, :, None], z], dim=2)
        return z


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
        in_ch = cfg.width * (2 if cfg.has_global else 1) + (N_POSITION_FEATURES if cfg.pooled else 0)
        in_ch += cfg.speaker_dim if cfg.speakers else 0
        self.inp = nn.Conv1d(in_ch, cfg.dim, kernel_size=3, padding=1)
        self.latent_blocks = _stack(cfg.dim, cfg.dec_blocks[0])
        d = cfg.down
        self.upsample = nn.ConvTranspose1d(cfg.dim, cfg.dim, kernel_size=d, stride=d) if d > 1 else nn.Identity()
        self.frame_blocks = _stack(cfg.dim, cfg.dec_blocks[1])
        self.norm = nn.LayerNorm(cfg.dim)
        self.n_out = 3 if cfg.phase == "atan2" else 2
        self.head = nn.Linear(cfg.dim, self.n_out * self.n_bins * cfg.channels)

    def forward(self, z: torch.Tensor, spans: torch.Tensor | None = None,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        """``cond`` (B, speaker_dim): a per-utterance vector given to every latent frame."""
        spec = self.spectrogram(z, spans, cond)
        length = (spec.shape[-1] - 1) * self.cfg.hop
        y = torch.istft(spec, self.cfg.n_fft, self.cfg.hop, window=self.window, center=True, length=length)
        return y.reshape(-1, self.cfg.channels, length)

    def spectrogram(self, z: torch.Tensor, spans: torch.Tensor | None = None,
                    cond: torch.Tensor | None = None) -> torch.Tensor:
        """The complex STFT the decoder predicts, (B * channels, bins, frames), before its inverse
        STFT: for diagnostics that need the decoder's own magnitude and phase."""
        cfg = self.cfg
        if cfg.has_global:  # give every frame the global vector alongside its own
            g, z = z[..., :1], z[..., 1:]
            z = torch.cat([z, g.expand(-1, -1, z.shape[-1])], dim=1)
        if cfg.pooled:  # expand each span's vector over its frames, with its position in the span
            z = torch.cat([span_expand(z, spans), span_positions(spans)], dim=1)
        if cond is not None:
            z = torch.cat([z, cond[..., None].expand(-1, -1, z.shape[-1])], dim=1)
        h = self.latent_blocks(self.inp(z))
        h = self.frame_blocks(self.upsample(h))
        h = nn.functional.pad(h, (0, 1), mode="replicate")  # iSTFT with centre=True wants T/hop + 1 frames
        with torch.autocast(h.device.type, enabled=False):  # the head in float32 even under bf16 autocast:
            # its log-magnitudes go through exp(), where bfloat16's 8-bit mantissa would be a 2 % error
            h = self.head(self.norm(h.float().transpose(1, 2)))  # (B, N, n_out * bins * C)
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
        return spec.reshape(b * cfg.channels, self.n_bins, n)


class Autoencoder(nn.Module):
    """E -> bottleneck -> D.  ``encode`` returns the bottleneck output (z, stats, regulariser)."""

    def __init__(self, cfg: ModelConfig, encoder: nn.Module | None = None, decoder: nn.Module | None = None):
        """``encoder`` / ``decoder`` replace the STFT / iSTFT networks (e.g. a waveform baseline);
        they must map (B, C, T) -> (B, width * bottleneck.in_factor, T / samples_per_latent) and back."""
        super().__init__()
        self.cfg = cfg
        self.bottleneck = make_bottleneck(
            cfg.bottleneck, cfg.width, cfg.kl_weight, sigma=cfg.sigma, target_kl=cfg.target_kl,
            frames_per_second=cfg.scalars_per_second() / cfg.width, var_floor=cfg.var_floor,
            tanh_bound=cfg.tanh_bound, latent_dropout=cfg.latent_dropout, latent_noise=cfg.latent_noise,
        )
        self.encoder = encoder if encoder is not None else STFTEncoder(cfg, cfg.width * self.bottleneck.in_factor)
        self.decoder = decoder if decoder is not None else ISTFTDecoder(cfg)
        self.speaker_table = nn.Embedding(cfg.speakers, cfg.speaker_dim) if cfg.speakers else None

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Right-pad with zeros to a whole number of latent frames."""
        spl = self.cfg.samples_per_latent
        return nn.functional.pad(x, (0, (-x.shape[-1]) % spl))

    def spans_for(self, n_frames: int, batch: int, spans: torch.Tensor | None = None) -> torch.Tensor | None:
        """The span (slot) index of every STFT frame for the pooled topologies, else None.

        ``phone`` needs the caller's spans (from the corpus timings; see ``data.phone_spans``): they
        are cut or extended (last span) to ``n_frames``.  ``chunk`` spans follow from the length.
        """
        if self.cfg.topology == "chunk":
            return chunk_spans(n_frames, self.cfg.chunk_frames, batch, self.decoder.window.device)
        if self.cfg.topology != "phone":
            return None
        if spans is None:
            raise ValueError("the phone topology needs spans: the phone index of every STFT frame "
                             "(data.phone_spans(labels, n_frames)), shaped (batch, frames)")
        spans = spans.to(torch.long)
        if spans.dim() == 1:
            spans = spans[None].expand(batch, -1)
        if spans.shape[1] < n_frames:
            spans = torch.cat([spans, spans[:, -1:].expand(-1, n_frames - spans.shape[1])], dim=1)
        return spans[:, :n_frames].contiguous()

    def slot_index(self, n_frames: int, batch: int = 1, spans: torch.Tensor | None = None) -> torch.Tensor:
        """Which latent slot every STFT frame belongs to, (batch, n_frames): the map a predictor
        uses to pool its frame-level conditioning into the encoder's coordinate system.
        For ``global+frame`` this indexes the frame stream (slots 1..); slot 0 covers every frame."""
        if self.cfg.pooled:
            return self.spans_for(n_frames, batch, spans)
        idx = torch.arange(n_frames) // self.cfg.down
        return (idx + 1 if self.cfg.has_global else idx).expand(batch, n_frames).contiguous()

    def encode(self, x: torch.Tensor, sample: bool | None = None, spans: torch.Tensor | None = None):
        if x.dim() != 3 or x.shape[1] != self.cfg.channels:
            raise ValueError(
                f"expected audio shaped (batch, {self.cfg.channels}, samples), got {tuple(x.shape)}"
            )
        x = self.pad(x)
        sp = self.spans_for(x.shape[-1] // self.cfg.hop, x.shape[0], spans)
        h = self.encoder(x) if sp is None else self.encoder(x, sp)
        with torch.autocast(h.device.type, enabled=False):  # under bf16 autocast: z and its KL stay float32
            return self.bottleneck(h.float(), sample=sample)

    def speaker_vector(self, speaker: torch.Tensor | int | None, batch: int) -> torch.Tensor | None:
        """The decoder's outside speaker embedding (batch, speaker_dim), or None without ``speakers``."""
        if self.speaker_table is None:
            if speaker is not None:
                raise ValueError("this decoder takes no speaker (ModelConfig.speakers == 0)")
            return None
        if speaker is None:
            raise ValueError(f"this decoder gets the voice from outside the latent: pass speaker= "
                             f"(ids 0..{self.cfg.speakers - 1})")
        speaker = torch.as_tensor(speaker, dtype=torch.long, device=self.speaker_table.weight.device).reshape(-1)
        if speaker.numel() == 1:
            speaker = speaker.expand(batch)
        if speaker.numel() != batch or int(speaker.min()) < 0 or int(speaker.max()) >= self.cfg.speakers:
            raise ValueError(f"speaker ids must be {batch} values in 0..{self.cfg.speakers - 1}, "
                             f"got {speaker.tolist()}")
        return self.speaker_table(speaker)

    def decode(self, z: torch.Tensor, length: int | None = None, spans: torch.Tensor | None = None,
               speaker: torch.Tensor | int | None = None) -> torch.Tensor:
        """z (B, width, slots) -> audio; ``speaker`` (ids, one per item or one for all) only for a
        decoder built with ``ModelConfig.speakers``: the same z decoded with another id is conversion."""
        cond = self.speaker_vector(speaker, z.shape[0])
        extra = {} if cond is None else {"cond": cond}
        if self.cfg.pooled:
            n_frames = spans.shape[-1] if spans is not None else z.shape[-1] * self.cfg.chunk_frames
            if length is not None:
                n_frames = -(-length // self.cfg.hop)
            y = self.decoder(z, self.spans_for(n_frames, z.shape[0], spans), **extra)
        else:
            y = self.decoder(z, **extra)
        return y if length is None else y[..., :length]

    def load_from(self, state: dict, logvar0: float = -6.0) -> None:
        """Start from another autoencoder's weights (fine-tuning).

        The same architecture loads as is.  A Gaussian bottleneck (KL, target-KL: its encoder emits
        a mean *and* a log-variance per channel) may also start from a plain codec of the same
        shape: the mean half of each output projection is the plain codec's, the log-variance half
        starts at ``logvar0`` everywhere (a posterior std of e^(logvar0 / 2), 0.05 by default), so
        fine-tuning begins at the plain codec's reconstructions and the KL term widens the posterior
        from there.  The bottleneck's own state (target-KL's weight) keeps its initial value.
        """
        own = self.state_dict()
        if set(state) == set(own) and all(state[k].shape == v.shape for k, v in own.items()):
            self.load_state_dict(state)
            return
        if getattr(self.bottleneck, "in_factor", 1) != 2:
            raise ValueError("these weights do not fit this autoencoder, and only a Gaussian bottleneck "
                             "(kl, target_kl, ...) can start from a differently shaped codec")
        merged = {}
        for k, v in own.items():
            if k not in state:
                if not k.startswith("bottleneck."):
                    raise ValueError(f"the source weights lack {k!r}: not a codec of the same architecture")
                merged[k] = v  # the bottleneck's own state (e.g. target-KL's controller) starts fresh
            elif state[k].shape == v.shape:
                merged[k] = state[k]
            elif v.shape[0] == 2 * state[k].shape[0] and v.shape[1:] == state[k].shape[1:]:
                # an output projection: [mean; log-variance] rows from the plain codec's rows
                logvar = torch.full_like(state[k], logvar0 if k.endswith("bias") else 0.0)
                merged[k] = torch.cat([state[k], logvar])
            else:
                raise ValueError(f"{k}: source {tuple(state[k].shape)} does not fit {tuple(v.shape)}")
        self.load_state_dict(merged)

    def forward(self, x: torch.Tensor, spans: torch.Tensor | None = None, speaker=None):
        out = self.encode(x, spans=spans)
        return self.decode(out.z, x.shape[-1], spans=spans, speaker=speaker), out


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
