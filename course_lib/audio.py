"""Audio I/O and input validation.

Reading uses soundfile (libsndfile: wav, flac, ogg); resampling uses torchaudio.  Every function
returns or accepts tensors shaped (channels, samples), float32 in [-1, 1].

Bad input is the first thing a learner meets when they bring their own audio, so every check
here raises ``AudioError`` with one line that names the file, says what is wrong and how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from course_lib.files import atomic_write

SAMPLE_RATE = 16000  # the course's one sample rate (PESQ-wb and STOI are defined at 16 kHz)
SILENCE_DBFS = -70.0  # a clip whose peak is below this is treated as silent


class AudioError(ValueError):
    """A clear, one-line complaint about an audio file or tensor."""


def validate(
    x: torch.Tensor,
    sample_rate: int,
    *,
    name: str = "audio",
    expected_rate: int | None = SAMPLE_RATE,
    channels: int | None = None,
    allow_silent: bool = False,
) -> torch.Tensor:
    """Check a (channels, samples) tensor and return it unchanged.

    Raises ``AudioError`` for: wrong sample rate, wrong shape, zero length, more than two channels,
    a channel count other than ``channels``, NaN/Inf samples, and (unless ``allow_silent``) silence.
    """
    if expected_rate is not None and sample_rate != expected_rate:
        raise AudioError(
            f"{name}: sample rate is {sample_rate} Hz but {expected_rate} Hz is expected; "
            f"resample it (course_lib.audio.load(..., sample_rate={expected_rate}) does this)"
        )
    if x.dim() != 2:
        raise AudioError(f"{name}: expected a (channels, samples) tensor, got shape {tuple(x.shape)}")
    n_ch, n = x.shape
    if n == 0:
        raise AudioError(f"{name}: the audio is empty (0 samples); remove the file or re-export it")
    if n_ch > 2:
        raise AudioError(
            f"{name}: has {n_ch} channels; the course handles mono or stereo: downmix it first "
            f"(e.g. `sox in.wav -c 2 out.wav`)"
        )
    if channels is not None and n_ch != channels:
        fix = "duplicate the channel" if channels == 2 else "average the channels"
        raise AudioError(
            f"{name}: has {n_ch} channel(s) but this model expects {channels}; "
            f"{fix} with course_lib.audio.to_channels(x, {channels})"
        )
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise AudioError(f"{name}: contains {bad} NaN/Inf samples; the file is corrupt or was written badly")
    if not allow_silent:
        peak = float(x.abs().max())
        if peak <= 10 ** (SILENCE_DBFS / 20):
            raise AudioError(
                f"{name}: is silent (peak {20 * np.log10(peak + 1e-12):.0f} dBFS); "
                f"check the recording or drop the file"
            )
    return x


def load(
    path: str | os.PathLike,
    sample_rate: int | None = SAMPLE_RATE,
    channels: int | None = None,
    allow_silent: bool = False,
) -> torch.Tensor:
    """Read an audio file into a float32 (channels, samples) tensor, resampled to ``sample_rate``.

    ``channels`` (1 or 2) is enforced, not silently converted: convert explicitly with
    ``to_channels`` if that is what you want.  ``sample_rate=None`` keeps the file's own rate.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile's messages are cryptic; keep its text but name the file
        raise AudioError(f"{path}: cannot be decoded ({str(err).strip()}); the file is corrupt, truncated "
                         f"or not an audio format soundfile reads (wav, flac, ogg)") from None
    x = torch.from_numpy(np.ascontiguousarray(data.T))
    validate(x, sr, name=str(path), expected_rate=None, channels=channels, allow_silent=allow_silent)
    if sample_rate is not None and sr != sample_rate:
        x = resample(x, sr, sample_rate)
    return x


def resample(x: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling (torchaudio's windowed-sinc)."""
    if orig_rate == new_rate:
        return x
    return torchaudio.functional.resample(x, orig_rate, new_rate)


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Explicit mono <-> stereo conversion: duplicate a mono channel, or average stereo to mono."""
    if x.shape[0] == channels:
        return x
    if channels == 2 and x.shape[0] == 1:
        return x.repeat(2, 1)
    if channels == 1 and x.shape[0] == 2:
        return x.mean(dim=0, keepdim=True)
    raise AudioError(f"cannot convert {x.shape[0]} channels to {channels}")


def save(path: str | os.PathLike, x: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a (channels, samples) tensor as 16-bit wav, atomically (temp file, then rename)."""
    data = x.detach().cpu().float().clamp(-1, 1).numpy().T
    return atomic_write(path, lambda tmp: sf.write(tmp, data, sample_rate, subtype="PCM_16", format="WAV"),
                        suffix=".tmp.wav")


def peak_normalize(x: torch.Tensor, peak: float = 0.9) -> torch.Tensor:
    """Scale so the largest absolute sample is ``peak`` (a silent tensor is returned unchanged)."""
    m = x.abs().max()
    return x if m == 0 else x * (peak / m)
