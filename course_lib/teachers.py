"""Teachers: models whose features a latent is asked to carry -- and, with that, an invariance contract.

A teacher loss says which differences the latent may *collapse* (what the teacher ignores) and
which must stay *measurable* (what the teacher encodes).  Align a narrow latent to a phoneme
recogniser and you ask it to keep words and drop whatever the recogniser ignores -- often the
speaker.  That can be the product (a content tokenizer) or a bug (a voice-cloning codec).

- ``ContentTeacher``: a small phoneme recogniser trained *here* on the corpus's phone labels
  (festival/flite timings), standing in for WavLM/HuBERT.  Its layers run from acoustic (layer 1,
  close to the log-mel input) to linguistic (``"posteriors"``), so "which teacher layer?" is a
  question a learner can try.
- ``TeacherAlignment``: the coupling loss.  A 1x1 projection maps some latent channels onto a
  teacher layer (pooled to the latent rate) and is trained with a cosine loss, as Semantic-VAE
  aligns a VAE latent to WavLM.  ``channels`` picks which latent channels carry the teacher: all of
  them (one coupled latent) or a slice (the semantic half of a two-path latent).

Teachers whose contract fits in a few lines of signal processing, and the hub adapter:

- ``f0_teacher``: log2 F0 and a voicing flag (Praat's autocorrelation pitch, via parselmouth).
  Keeps intonation measurable; says nothing about timbre, words or the stereo image.
- ``chroma_teacher``: 12 pitch classes (librosa ``chroma_stft``).  Keeps harmony; collapses octave,
  instrument and loudness.
- ``ild_teacher``: per-band interaural level difference in dB.  Keeps where a source sits left-right;
  collapses what it is.
- ``HubTeacher``: hidden states of one layer of WavLM / HuBERT / wav2vec 2.0 (``transformers``),
  loaded only from local files -- nothing is ever downloaded at run time.

Frame convention of the DSP and hub teachers: at ``frame_rate`` Hz one frame is ``samples_per_frame =
sample_rate / frame_rate`` samples (a whole number, or ValueError); audio of T samples gives
``teacher_frames(T) = ceil(T / samples_per_frame)`` frames, because the encoder right-pads its input
with zeros to a whole number of latent frames -- so teacher frame k and latent frame k describe the
same samples, ``[k * spf, (k + 1) * spf)``, and the DSP teachers read their value at its centre.
(The content teacher runs at 100 frames/s on T // 160 frames; ``TeacherAlignment`` pools it to the
latent rate and trims both to the shorter length.)

"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import nn
from tqdm.auto import tqdm

from course_lib import data
from course_lib.files import atomic_write

PHONES = data.PHONES  # the corpus's 41 phones: the teacher's classes
PHONE_ID = {p: i for i, p in enumerate(PHONES)}
IGNORE = -100  # frames without a phone label (cross-entropy ignore_index)
# Joins the checkpoint key: bump it when a code change alters what a trained teacher is (targets, schedule,
# architecture), so no stale teacher -- nor an encoder coupled to one -- is ever loaded.
TEACHER_VERSION = 4  # 4: per-band mean normalisation + speed perturbation


@dataclass(frozen=True)
class TeacherConfig:
    """The content teacher's size and training budget (presets.content_teacher picks one per preset)."""

    dim: int = 128
    layers: int = 3  # conv layers; "layer k" is the output of the k-th
    kernel: int = 5
    n_mels: int = 64
    steps: int = 400
    batch_size: int = 16
    segment_s: float = 1.0
    lr: float = 3e-3
    # Kaldi-style speed perturbation: every training clip is also played this much faster/slower,
    # which moves pitch *and* formants, so the teacher meets vocal tracts its five base voices lack.
    speed_perturb: tuple[float, ...] = (0.9, 1.1)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def phone_targets(labels: dict, n_frames: int, hop_s: float = 0.01) -> torch.Tensor:
    """Phone id of every STFT frame (by the frame's centre time), IGNORE where no phone covers it."""
    y = torch.full((n_frames,), IGNORE, dtype=torch.long)
    for p in labels["phones"]:
        if p["phone"] not in PHONE_ID:
            raise ValueError(f"unknown phone {p['phone']!r} in the labels; the teacher knows {len(PHONES)} phones")
        # frame k (centre (k + 0.5) * hop_s) belongs to the phone when start <= centre < end
        a = max(0, math.ceil(p["start"] / hop_s - 0.5 - 1e-9))
        b = min(n_frames, math.ceil(p["end"] / hop_s - 0.5 - 1e-9))
        y[a:b] = PHONE_ID[p["phone"]]
    return y


class ContentTeacher(nn.Module):
    """log-mel (100 frames/s) -> ``layers`` conv blocks -> phone logits.

    Deliberately small (about 0.25 M parameters): it trains on the corpus in well under a minute on
    a CPU, and it is a *teacher*, not an ASR system -- what matters is that its deep layers encode
    phones and discard what phones do not need.
    """

    def __init__(self, cfg: TeacherConfig, sample_rate: int = 16000, hop: int = 160):
        super().__init__()
        self.cfg, self.hop = cfg, hop
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=512, hop_length=hop, n_mels=cfg.n_mels)
        blocks, d_in = [], cfg.n_mels
        for _ in range(cfg.layers):
            blocks.append(nn.Sequential(nn.Conv1d(d_in, cfg.dim, cfg.kernel, padding=cfg.kernel // 2), nn.GELU(),
                                        nn.GroupNorm(1, cfg.dim)))
            d_in = cfg.dim
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv1d(cfg.dim, len(PHONES), 1)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(f"layer{k}" for k in range(1, self.cfg.layers + 1)) + ("logits", "posteriors")

    def layer_dim(self, layer: str) -> int:
        return len(PHONES) if layer in ("logits", "posteriors") else self.cfg.dim

    def log_mel(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) audio (channels mixed to mono) -> (B, n_mels, T // hop) log-mel."""
        if x.dim() != 3:
            raise ValueError(f"expected audio shaped (batch, channels, samples), got {tuple(x.shape)}")
        m = self.mel(x.mean(dim=1))[..., : x.shape[-1] // self.hop]
        return torch.log(m + 1e-5)

    @staticmethod
    def normalise(h: torch.Tensor) -> torch.Tensor:
        """Log-mel (B, n_mels, T) with each band's mean over the clip removed, over one std per clip.

        Per-band mean removal (cepstral mean normalisation, as in ASR front ends) takes out the
        loudness and the average spectral envelope -- what a voice and a room keep constant over a
        clip -- so phones look more alike across speakers.  Measured on the `cpu` corpus (seeds 0,
        1): unseen-voice phone accuracy 0.475 / 0.495 with one mean for all bands (the teacher until
        2026-11-30), 0.549 (seed 0) per band, 0.570 / 0.583 per band plus speed perturbation
        (``TeacherConfig.speed_perturb``).
        """
        h = h - h.mean(dim=2, keepdim=True)
        return h / (h.std(dim=(1, 2), keepdim=True) + 1e-5)

    def forward(self, x: torch.Tensor, layer: str = "posteriors") -> torch.Tensor:
        """Features of ``layer`` at 100 frames/s, (B, D, T // hop)."""
        if layer not in self.layer_names:
            raise ValueError(f"unknown teacher layer {layer!r}; choose one of {self.layer_names}")
        h = self.normalise(self.log_mel(x))
        for k, block in enumerate(self.blocks, start=1):
            h = block(h)
            if layer == f"layer{k}":
                return h
        logits = self.head(h)
        return logits if layer == "logits" else logits.softmax(dim=1)


def speed_perturb(x: torch.Tensor, targets: torch.Tensor, factor: float,
                  sample_rate: int = 16000, hop: int = 160) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` played ``factor`` times faster (pitch and formants up by ``factor``, duration down), and
    its frame phone targets retimed to match: frame k of the result is frame ``round(k * factor)``."""
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    y = torchaudio.functional.resample(x, round(sample_rate * factor), sample_rate)
    n = y.shape[-1] // hop
    idx = torch.clamp((torch.arange(n) * factor).round().long(), max=len(targets) - 1)
    return y, targets[idx]


def _speech_bank(corpus: Path, split: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    df = data.read_manifest(corpus)
    rows = data.select(df, split=split, domain="speech", condition="clean")
    if rows.empty:
        raise data.CorpusError(f"{corpus}: no clean speech in the {split!r} split to train the content teacher on")
    clips, targets = [], []
    for _, r in rows.iterrows():
        x = data.load_clip(corpus, r, channels=1)
        clips.append(x)
        targets.append(phone_targets(data.load_labels(corpus, r), x.shape[-1] // 160))
    return clips, targets


@torch.no_grad()
def frame_accuracy(teacher: ContentTeacher, clips: list[torch.Tensor], targets: list[torch.Tensor]) -> float:
    """Frame phone accuracy of the teacher over whole clips (frames with a label)."""
    teacher.eval()
    hits = total = 0
    for x, y in zip(clips, targets):
        pred = teacher(x[None], "logits")[0].argmax(dim=0)
        n = min(len(pred), len(y))
        keep = y[:n] != IGNORE
        hits += int((pred[:n][keep] == y[:n][keep]).sum())
        total += int(keep.sum())
    return hits / max(total, 1)


def train_content_teacher(corpus: str | os.PathLike, cfg: TeacherConfig, progress: bool = True,
                          device: str | None = None) -> tuple[ContentTeacher, dict]:
    """Train the phone recogniser on the train split's clean speech; report held-out accuracy.

    ``device``: where to train (default: CUDA when available); the returned teacher is on the CPU.

    ``info["test_accuracy"]`` is frame accuracy on the *test* split, whose speakers the teacher
    never heard (chance is the share of the most common phone, ``info["chance"]``).
    """
    corpus = Path(corpus)
    clips, targets = _speech_bank(corpus, "train")
    originals = list(zip(clips, targets))
    for f in cfg.speed_perturb:
        for x, t in originals:
            y, u = speed_perturb(x, t, f)
            clips.append(y)
            targets.append(u)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    teacher = ContentTeacher(cfg).to(device)
    opt = torch.optim.AdamW(teacher.parameters(), lr=cfg.lr, weight_decay=1e-2)
    warm = max(1, cfg.steps // 10)  # linear warm-up, then cosine decay (works for any step count)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: (k + 1) / warm if k < warm else
                                              0.5 * (1 + math.cos(math.pi * (k - warm) / max(1, cfg.steps - warm))))
    gen = torch.Generator().manual_seed(cfg.seed)
    frames = int(cfg.segment_s * 100)
    seg = frames * 160
    t0 = time.time()
    teacher.train()
    for _step in tqdm(range(cfg.steps), desc="content teacher", disable=not progress):
        idx = torch.randint(len(clips), (cfg.batch_size,), generator=gen).tolist()
        xb = torch.zeros(cfg.batch_size, 1, seg)
        yb = torch.full((cfg.batch_size, frames), IGNORE, dtype=torch.long)
        for b, i in enumerate(idx):
            n = min(clips[i].shape[-1] // 160, len(targets[i]))
            s = int(torch.randint(max(n - frames, 0) + 1, (1,), generator=gen))
            piece = clips[i][:, s * 160: s * 160 + seg]
            xb[b, :, : piece.shape[-1]] = piece
            t = targets[i][s: s + frames]
            yb[b, : len(t)] = t
        gain = 10 ** (-10 * torch.rand(cfg.batch_size, 1, 1, generator=gen) / 20)
        loss = nn.functional.cross_entropy(teacher((xb * gain).to(device), "logits"), yb.to(device),
                                           ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    teacher.cpu().eval()
    test_clips, test_targets = _speech_bank(corpus, "test")
    counts = torch.bincount(torch.cat([t[t != IGNORE] for t in test_targets]), minlength=len(PHONES))
    info = {"config": cfg.to_dict(), "train_seconds": time.time() - t0, "final_loss": float(loss.detach()),
            "test_accuracy": frame_accuracy(teacher, test_clips, test_targets),
            "chance": float(counts.max() / counts.sum()), "corpus_hash": data.corpus_hash(corpus)}
    return teacher, info


def content_teacher_or_load(corpus: str | os.PathLike, cfg: TeacherConfig, root: str | os.PathLike | None = None,
                            progress: bool = True) -> tuple[ContentTeacher, dict]:
    """Load the content teacher trained for this config + corpus, or train and save it first."""
    from course_lib.training import CHECKPOINT_ROOT

    corpus = Path(corpus)
    key = hashlib.sha256(json.dumps({"teacher": cfg.to_dict(), "corpus": data.corpus_hash(corpus),
                                     "version": TEACHER_VERSION},
                                    sort_keys=True).encode()).hexdigest()[:16]
    d = Path(root or CHECKPOINT_ROOT) / f"teacher-{key}"
    path = d / "teacher.pt"
    if path.exists():
        state = torch.load(path, weights_only=True, map_location="cpu")
        teacher = ContentTeacher(cfg)
        teacher.load_state_dict(state["model"])
        return teacher.eval(), {**state["info"], "key": key, "loaded": True}
    teacher, info = train_content_teacher(corpus, cfg, progress=progress)
    d.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save({"model": teacher.state_dict(), "info": info}, tmp))
    return teacher, {**info, "key": key, "loaded": False}


@dataclass(frozen=True)
class Coupling:
    """Which teacher layer a latent is aligned to, through which channels, how hard.

    ``channels=(a, b)`` aligns latent channels a..b-1 (``None``: all of them).
    """

    layer: str = "posteriors"
    weight: float = 1.0
    channels: tuple[int, int] | None = None
    loss: str = "cosine"  # "cosine" (any layer) or "kl" (posteriors only: distil the phone distribution)

    def __post_init__(self):
        if self.loss not in ("cosine", "kl"):
            raise ValueError(f"coupling loss must be 'cosine' or 'kl', got {self.loss!r}")
        if self.loss == "kl" and self.layer != "posteriors":
            raise ValueError("the 'kl' coupling loss distils phone posteriors: use layer='posteriors'")

    def to_dict(self) -> dict:
        return asdict(self)


class TeacherAlignment(nn.Module):
    """Coupling loss: weight x (1 - cosine(P z[channels], teacher layer pooled to the latent rate)).

    P is a learned 1x1 convolution (the "projection head" of Semantic-VAE / SALAD-VAE): the latent
    does not have to *equal* the teacher's features, only to make them linearly readable -- which
    is exactly what a downstream generator, or a probe, can use.  The teacher is frozen.
    ``train(..., aux=alignment)`` adds this loss to the reconstruction loss and trains P too.

    P's initial weights come from ``seed`` alone, not from the global RNG: otherwise they would
    depend on what ran before (a teacher trained in this session draws random numbers, a cached one
    does not), and a re-run that loads some checkpoints would train a different encoder.
    """

    def __init__(self, teacher: ContentTeacher, coupling: Coupling, width: int, frames_per_latent: int,
                 teacher_key: str = "", seed: int = 0):
        super().__init__()
        a, b = coupling.channels if coupling.channels is not None else (0, width)
        if not 0 <= a < b <= width:
            raise ValueError(f"coupling channels {coupling.channels} do not fit a latent of width {width}")
        self.teacher = teacher.eval().requires_grad_(False)
        self.coupling, self.span, self.down = coupling, (a, b), frames_per_latent
        self.teacher_key, self.seed = teacher_key, int(seed)
        # leave the caller's RNG streams where they were (manual_seed also seeds every GPU's)
        with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
            torch.manual_seed(self.seed)
            self.proj = nn.Conv1d(b - a, teacher.layer_dim(coupling.layer), kernel_size=1)

    def key(self) -> str:
        """What the trained encoder depends on: the teacher's weights (its key), the coupling and the
        projection head's seed."""
        return json.dumps({"teacher": self.teacher_key, **self.coupling.to_dict(), "proj_seed": self.seed},
                          sort_keys=True)

    def train(self, mode: bool = True):  # the teacher stays in eval mode whatever the trainer does
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, dict]:
        with torch.no_grad():
            t = self.teacher(x, self.coupling.layer)
            t = nn.functional.avg_pool1d(t, self.down, self.down) if self.down > 1 else t
        a, b = self.span
        n = min(z.shape[-1], t.shape[-1])
        pred, t = self.proj(z[:, a:b, :n]), t[..., :n]
        if self.coupling.loss == "kl":  # cross-entropy to the teacher's phone distribution, minus its entropy
            kl = (t * (torch.log(t + 1e-8) - pred.log_softmax(dim=1))).sum(dim=1).mean()
            return self.coupling.weight * kl, {"teacher_kl": float(kl.detach())}
        cos = nn.functional.cosine_similarity(pred, t, dim=1).mean()
        return self.coupling.weight * (1 - cos), {"teacher_cos": float(cos.detach())}


@torch.no_grad()
def teacher_features(teacher: ContentTeacher, audio, layer: str, frame_rate: float) -> list[np.ndarray]:
    """``teacher``'s ``layer`` for each clip, averaged down to ``frame_rate`` like ``TeacherAlignment``
    pools it, as (D, frames) arrays: the teacher read as if it were a latent, so a probe can score it."""
    rate = teacher.mel.sample_rate / teacher.hop  # the teacher's own frames per second (100)
    if not 0 < frame_rate <= rate or abs(rate / frame_rate - round(rate / frame_rate)) > 1e-6:
        raise ValueError(f"frame_rate {frame_rate} Hz must divide the teacher's {rate:g} frames/s "
                         f"({rate / 2:g}, {rate / 4:g}, ...)")
    down = int(round(rate / frame_rate))
    teacher.eval()
    out = []
    for a in audio:
        x = torch.as_tensor(np.asarray(a), dtype=torch.float32)
        x = x.reshape(1, 1, -1) if x.dim() == 1 else x[None]
        t = teacher(x, layer)
        out.append((nn.functional.avg_pool1d(t, down, down) if down > 1 else t)[0].numpy())
    return out


# --- frames -------------------------------------------------------------------------------------


def samples_per_frame(frame_rate: float, sample_rate: int = 16000) -> int:
    """Samples in one teacher frame; a non-integer count is refused so frames never drift against latents."""
    if not frame_rate > 0 or not sample_rate > 0:
        raise ValueError(f"frame_rate and sample_rate must be positive, got {frame_rate} and {sample_rate}")
    spf = sample_rate / frame_rate
    if abs(spf - round(spf)) > 1e-6:
        raise ValueError(f"sample_rate / frame_rate = {sample_rate} / {frame_rate} = {spf:g} is not a whole number "
                         "of samples; pick a frame rate that divides the sample rate (e.g. 12.5, 25, 50, 100 Hz)")
    return int(round(spf))


def teacher_frames(n_samples: int, frame_rate: float, sample_rate: int = 16000) -> int:
    """Frames a teacher returns for ``n_samples`` of audio: ceil(T / spf), like the right-padded encoder."""
    return -(-int(n_samples) // samples_per_frame(frame_rate, sample_rate))


def _check_audio(x: torch.Tensor, name: str) -> torch.Tensor:
    """One place for the input contract, so every teacher fails the same, readable way."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor of audio, got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{name}: expected audio shaped (batch, channels, samples), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[-1] == 0:
        raise ValueError(f"{name}: empty audio, shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected floating-point audio, got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: audio contains NaN or inf samples")
    return x.detach()


def _pad_to_frames(x: torch.Tensor, spf: int) -> torch.Tensor:
    """Right-pad with zeros to a whole number of frames, as the encoder does before it encodes."""
    return nn.functional.pad(x, (0, (-x.shape[-1]) % spf))


def _pad_for_centred_windows(x: torch.Tensor, spf: int, n_fft: int) -> torch.Tensor:
    """Pad so that an uncentred STFT (hop spf, window n_fft) has one window per frame, centred on the frame.

    After right-padding to N whole frames, (n_fft - spf) / 2 zeros on each side give exactly N windows,
    window k centred on sample (k + 0.5) * spf, and every sample of the clip inside some window
    (``center=True`` would centre them on frame *boundaries*; cropping half a frame instead would drop
    the first half frame of audio).
    """
    if n_fft < spf:
        raise ValueError(f"the analysis window ({n_fft} samples) is shorter than a frame ({spf} samples): "
                         "raise n_fft or the frame rate")
    left = (n_fft - spf) // 2
    return nn.functional.pad(_pad_to_frames(x, spf), (left, n_fft - spf - left))


# --- DSP teachers ---------------------------------------------------------------------------------


def f0_teacher(x: torch.Tensor, frame_rate: float, sample_rate: int = 16000, fmin: float = 50.0,
               fmax: float = 500.0) -> torch.Tensor:
    """(B, C, T) audio -> (B, 2, frames): log2 F0 in octaves (0 where unvoiced) and a voicing flag (0/1).

    Praat's autocorrelation pitch (``to_pitch_ac``, the tracker the corpus labels use) on the mono
    mix of each clip, analysed every ``min(5 ms, frame)`` and read at each frame's centre: Praat's
    own frame grid is centred in the sound, not on ours, and a 5 ms grid puts its nearest frame within
    2.5 ms of every centre -- small against its 3 / fmin analysis window (60 ms at 50 Hz).  log2
    makes an octave one unit whatever the register.  Needs at least 3 / fmin seconds of audio.
    """
    import parselmouth

    x = _check_audio(x, "f0_teacher")
    spf = samples_per_frame(frame_rate, sample_rate)
    if not 0 < fmin < fmax < sample_rate / 2:
        raise ValueError(f"f0_teacher: need 0 < fmin < fmax < sample_rate / 2, got fmin={fmin}, fmax={fmax}, "
                         f"sample_rate={sample_rate}")
    n = teacher_frames(x.shape[-1], frame_rate, sample_rate)
    mono = _pad_to_frames(x.mean(dim=1), spf).double().cpu().numpy()
    if mono.shape[-1] / sample_rate < 3 / fmin:
        raise ValueError(f"f0_teacher: {x.shape[-1]} samples is too short for pitch down to fmin={fmin} Hz; Praat "
                         f"needs 3 periods, {math.ceil(3 / fmin * sample_rate)} samples (or raise fmin)")
    centres = (np.arange(n) + 0.5) * spf / sample_rate
    out = np.zeros((x.shape[0], 2, n), dtype=np.float32)
    for b, clip in enumerate(mono):
        pitch = parselmouth.Sound(clip, sampling_frequency=sample_rate).to_pitch_ac(
            time_step=min(0.005, spf / sample_rate), pitch_floor=fmin, pitch_ceiling=fmax)
        hz = pitch.selected_array["frequency"]  # 0 where Praat's path finder says unvoiced
        idx = np.rint((centres - pitch.t1) / pitch.dt).astype(int)
        inside = (idx >= 0) & (idx < len(hz))  # the first/last half-window has no Praat frame: unvoiced
        f = np.where(inside, hz[np.clip(idx, 0, len(hz) - 1)], 0.0)
        voiced = f > 0
        out[b, 0] = np.where(voiced, np.log2(np.where(voiced, f, 1.0)), 0.0)
        out[b, 1] = voiced
    return torch.from_numpy(out).to(x.device)


def chroma_teacher(x: torch.Tensor, frame_rate: float, sample_rate: int = 16000, n_fft: int = 4096) -> torch.Tensor:
    """(B, C, T) audio -> (B, 12, frames) chroma (C, C#, ..., B), each frame summing to 1 (0 for silence).

    librosa ``chroma_stft`` on the mono mix, the same settings as ``metrics.chroma_error``: one STFT
    and a fixed filterbank is ~25x faster than ``chroma_cqt`` here (~10 vs ~250 ms for 3 s), and a
    4096-point STFT at 16 kHz (3.9 Hz bins) separates semitones down to ~65 Hz.  ``tuning=0`` pins
    the A440 grid instead of estimating each clip's tuning, so the target does not depend on the
    clip.  One 4096-point window per frame, centred on the frame (``_pad_for_centred_windows``).
    """
    import librosa

    x = _check_audio(x, "chroma_teacher")
    spf = samples_per_frame(frame_rate, sample_rate)
    n = teacher_frames(x.shape[-1], frame_rate, sample_rate)
    mono = _pad_for_centred_windows(x.mean(dim=1), spf, n_fft).double().cpu().numpy()
    c = librosa.feature.chroma_stft(y=mono, sr=sample_rate, n_fft=n_fft, hop_length=spf, center=False, norm=1,
                                    tuning=0.0)
    return torch.from_numpy(c[..., :n].astype(np.float32)).to(x.device)


def ild_teacher(x: torch.Tensor, frame_rate: float, n_bands: int = 8, sample_rate: int = 16000,
                floor_db: float = -60.0) -> torch.Tensor:
    """(B, 2, T) stereo audio -> (B, n_bands, frames): 10 log10(E_left / E_right) per mel band, in dB.

    Positive = louder on the left (the sign of ``metrics.ild_error_db``); R = L / 2 gives +6.02 dB.
    Band energies come from a Hann STFT two frames long (at least 512 points) hopping one frame,
    pooled by a triangular mel filterbank (torchaudio).  Both channels are floored at ``floor_db``
    under the clip's loudest band-frame, so silence reads 0 dB (no image to keep), a one-sided source
    reads a large but finite ILD (at most -floor_db), and a common gain changes nothing.
    """
    x = _check_audio(x, "ild_teacher")
    if x.shape[1] != 2:
        raise ValueError(f"ild_teacher: ILD needs stereo audio (batch, 2, samples), got {x.shape[1]} channel(s)"
                         + (": a mono clip has no interaural level difference" if x.shape[1] == 1 else ""))
    spf = samples_per_frame(frame_rate, sample_rate)
    if n_bands < 1:
        raise ValueError(f"ild_teacher: n_bands must be >= 1, got {n_bands}")
    n = teacher_frames(x.shape[-1], frame_rate, sample_rate)
    n_fft = max(2 * spf, 512)
    xp = _pad_for_centred_windows(x.float(), spf, n_fft)
    b = xp.shape[0]
    spec = torch.stft(xp.reshape(b * 2, -1), n_fft, spf, window=torch.hann_window(n_fft, device=x.device),
                      center=False, return_complex=True)[..., :n]
    fb = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0.0, sample_rate / 2, n_bands, sample_rate).to(x.device)
    energy = torch.einsum("cft,fm->cmt", spec.abs().square(), fb).reshape(b, 2, n_bands, n)
    floor = energy.amax(dim=(1, 2, 3), keepdim=True) * 10 ** (floor_db / 10) + 1e-12
    energy = energy.clamp_min(floor)
    return 10 * torch.log10(energy[:, 0] / energy[:, 1])


# --- hub models (WavLM / HuBERT / wav2vec 2.0), local weights only ------------------------------------

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")


class TeacherUnavailable(RuntimeError):
    """A teacher's weights are not on this machine (the course never downloads them at run time)."""


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment *now* (HF_HUB_CACHE, HF_HOME/hub, XDG cache).

    huggingface_hub reads these once, at import; reading them per call lets a notebook or a test
    point at another cache after the import.
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _local_model_dir(name_or_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None
                     ) -> tuple[Path | None, str]:
    """(directory with config + weights, or None; where we looked).  Touches only the disk.

    A directory is taken as is; anything else is a hub repo id looked up in the cache with
    ``local_files_only=True``.  Resolving to a directory *before* transformers sees the name means
    transformers is only ever handed a local path, so even an environment without HF_HUB_OFFLINE
    cannot make it reach for the network.
    """
    from huggingface_hub import snapshot_download

    path = Path(name_or_path).expanduser()
    cache = Path(cache_dir).expanduser() if cache_dir is not None else hub_cache_dir()
    if path.is_dir():
        found, where = path, f"the directory {path.resolve()}"
    else:
        where = f"a directory {str(path)!r} (none there) and the Hugging Face cache {cache}"
        try:
            found = Path(snapshot_download(str(name_or_path), cache_dir=cache, local_files_only=True))
        except (OSError, ValueError):  # LocalEntryNotFoundError (an OSError), HFValidationError (a ValueError)
            return None, where
    has_weights = (found / "config.json").is_file() and any((found / f).is_file() for f in _WEIGHT_FILES)
    return (found if has_weights else None), where


class HubTeacher(nn.Module):
    """One layer of a frozen hub SSL speech model, as (B, D, frames) at ``frame_rate`` Hz.

    WavLM / HuBERT / wav2vec 2.0 turn 16 kHz audio into 50 frames/s through a CNN and then a stack
    of transformer layers.  ``layer=0`` is the input of the first transformer layer (the projected
    CNN features plus the convolutional position embedding, layer-normed in the base models),
    ``layer=k`` the output of the k-th; low layers are acoustic, the middle ones carry phones, which
    is why "which layer?" is a design choice.  The features are linearly interpolated
    (``align_corners=False``) from the model's frames to ``teacher_frames(T, frame_rate)``.  Frozen:
    no gradients, eval mode whatever a trainer calls, and ``forward`` runs under ``torch.no_grad``.
    """

    def __init__(self, model: nn.Module, layer: int, frame_rate: float, normalize: bool = False,
                 sample_rate: int = 16000):
        super().__init__()
        cfg = model.config
        for attr in ("conv_kernel", "conv_stride", "num_hidden_layers", "hidden_size"):
            if not hasattr(cfg, attr):
                raise ValueError(f"HubTeacher wraps wav2vec2-family models (WavLM, HuBERT, wav2vec 2.0); "
                                 f"{type(model).__name__}'s config has no {attr!r}")
        if not 0 <= layer <= cfg.num_hidden_layers:
            raise ValueError(f"layer must be 0..{cfg.num_hidden_layers} (0 = CNN features into the transformer, "
                             f"k = output of transformer layer k), got {layer}")
        if sample_rate != 16000:
            raise ValueError(f"hub speech models take 16 kHz audio; got sample_rate={sample_rate}: resample first")
        samples_per_frame(frame_rate, sample_rate)  # validate now, not at the first batch
        self.model = model.float().eval().requires_grad_(False)
        self.layer, self.frame_rate, self.normalize, self.sample_rate = layer, frame_rate, normalize, sample_rate

    @classmethod
    def from_config(cls, config, layer: int, frame_rate: float, normalize: bool = False) -> HubTeacher:
        """Random weights from a ``transformers`` config: the mechanics (shapes, layers, rates) without weights."""
        from transformers import AutoModel

        return cls(AutoModel.from_config(config), layer, frame_rate, normalize=normalize)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, layer: int, frame_rate: float,
                        local_files_only: bool = True, cache_dir: str | os.PathLike | None = None) -> HubTeacher:
        """Load a local checkpoint (a directory, or a repo id already in the hub cache); never download.

        ``normalize`` follows the checkpoint's feature extractor (``preprocessor_config.json``,
        ``do_normalize``: zero mean, unit variance per clip), i.e. the input the model was trained on;
        without that file the waveform goes in as is.  Raises ``TeacherUnavailable`` when the weights are not on disk.
        """
        if not local_files_only:
            raise ValueError("HubTeacher never downloads at run time: fetch the weights beforehand "
                             "(`hf download <repo>` on a machine with internet) and keep local_files_only=True")
        found, where = _local_model_dir(name_or_path, cache_dir)
        if found is None:
            raise TeacherUnavailable(
                f"no local weights for {str(name_or_path)!r}: looked in {where}, found no config.json with "
                f"{' / '.join(_WEIGHT_FILES)}. Nothing is downloaded at run time. On a machine with internet run "
                f"`hf download {name_or_path}` (older huggingface_hub: `huggingface-cli download {name_or_path}`), "
                "copy the cache here and set HF_HOME (or HF_HUB_CACHE) to it -- or pass the snapshot directory "
                "itself as name_or_path.")
        from transformers import AutoModel

        model = AutoModel.from_pretrained(found, local_files_only=True)
        normalize, prep = False, found / "preprocessor_config.json"
        if prep.is_file():
            from transformers import AutoFeatureExtractor

            fe = AutoFeatureExtractor.from_pretrained(found, local_files_only=True)
            normalize = bool(getattr(fe, "do_normalize", False))
            if getattr(fe, "sampling_rate", 16000) != 16000:
                raise ValueError(f"{found} expects {fe.sampling_rate} Hz audio; HubTeacher feeds 16 kHz")
        return cls(model, layer, frame_rate, normalize=normalize)

    @staticmethod
    def available(name_or_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> bool:
        """True when config and weights for ``name_or_path`` are on disk (checked without any network call)."""
        return _local_model_dir(name_or_path, cache_dir)[0] is not None

    @property
    def n_layers(self) -> int:
        """Transformer layers; valid ``layer`` values are 0..n_layers."""
        return int(self.model.config.num_hidden_layers)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def min_samples(self) -> int:
        """Shortest input giving one model frame: the receptive field of the CNN (400 samples for the real models)."""
        r = 1
        for k, s in reversed(list(zip(self.model.config.conv_kernel, self.model.config.conv_stride))):
            r = (r - 1) * s + k
        return r

    def train(self, mode: bool = True):  # stays in eval mode (no dropout) whatever the trainer does
        super().train(mode)
        self.model.eval()
        return self

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, T) 16 kHz audio -> (B, dim, teacher_frames(T, frame_rate)) features of ``self.layer``."""
        x = _check_audio(x, "HubTeacher")
        if x.shape[1] != 1:
            raise ValueError(f"HubTeacher takes mono audio (batch, 1, samples), got {x.shape[1]} channels: "
                             "mix down first, e.g. x.mean(dim=1, keepdim=True)")
        if x.shape[-1] < self.min_samples():
            raise ValueError(f"HubTeacher: {x.shape[-1]} samples is shorter than the model's receptive field "
                             f"({self.min_samples()} samples)")
        wav = x[:, 0].float()
        if self.normalize:  # what Wav2Vec2FeatureExtractor(do_normalize=True) does, per clip
            wav = (wav - wav.mean(dim=-1, keepdim=True)) / torch.sqrt(wav.var(dim=-1, unbiased=False, keepdim=True)
                                                                      + 1e-7)
        h = self.model(wav, output_hidden_states=True).hidden_states[self.layer].transpose(1, 2)
        n = teacher_frames(x.shape[-1], self.frame_rate, self.sample_rate)
        return nn.functional.interpolate(h, size=n, mode="linear", align_corners=False)

    def extra_repr(self) -> str:
        return (f"model={type(self.model).__name__}, layer={self.layer}/{self.n_layers}, dim={self.dim}, "
                f"frame_rate={self.frame_rate}, normalize={self.normalize}")

