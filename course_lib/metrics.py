"""Objective scores for decoded audio.  Higher is better except for distances and errors.

- ``si_sdr``: scale-invariant SDR in dB (torchmetrics).  Waveform-exact: punishes phase changes.
- ``mel_distance``: mean absolute log-mel difference (natural-log units) at one resolution.
- ``mrstft_distance``: auraloss multi-resolution STFT loss used as a distance.
- ``pesq_wb``: wide-band PESQ (ITU-T P.862.2, 1.0-4.6), speech at 16 kHz only (``pesq`` package).
- ``stoi``: short-time objective intelligibility (0-1), ``pystoi``.

``score`` runs them over lists of clips and returns the means, the table every notebook prints.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

from course_lib.losses import multires_stft

_MEL = {}


def _mel(sample_rate: int) -> torchaudio.transforms.MelSpectrogram:
    if sample_rate not in _MEL:
        _MEL[sample_rate] = torchaudio.transforms.MelSpectrogram(
            sample_rate, n_fft=1024, hop_length=256, n_mels=80, power=1.0
        )
    return _MEL[sample_rate]


def si_sdr(est: torch.Tensor, ref: torch.Tensor) -> float:
    return float(scale_invariant_signal_distortion_ratio(est, ref).mean())


def mel_distance(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000) -> float:
    m = _mel(sample_rate)
    return float((torch.log(m(est) + 1e-5) - torch.log(m(ref) + 1e-5)).abs().mean())


def mrstft_distance(est: torch.Tensor, ref: torch.Tensor) -> float:
    return float(multires_stft()(est.reshape(1, -1, est.shape[-1]), ref.reshape(1, -1, ref.shape[-1])))


def pesq_wb(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000) -> float:
    """Wide-band PESQ of mono speech; returns NaN when PESQ finds no utterance."""
    from pesq import PesqError, pesq

    if sample_rate != 16000:
        raise ValueError("PESQ-wb is defined at 16 kHz")
    try:
        return float(pesq(16000, _mono_np(ref), _mono_np(est), "wb", on_error=PesqError.RAISE_EXCEPTION))
    except PesqError:
        return float("nan")


def stoi(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000) -> float:
    from pystoi import stoi as _stoi

    return float(_stoi(_mono_np(ref), _mono_np(est), sample_rate, extended=False))


def _mono_np(x: torch.Tensor) -> np.ndarray:
    x = x.detach().cpu().float()
    if x.dim() == 2:
        x = x.mean(dim=0)
    return x.numpy().astype(np.float64)


def score(refs: list[torch.Tensor], ests: list[torch.Tensor], sample_rate: int = 16000,
          speech: bool = True) -> dict[str, float]:
    """Mean of each metric over paired clips (each (channels, samples)).

    PESQ and STOI are speech metrics: pass ``speech=False`` for music and effects.
    """
    rows = []
    for ref, est in zip(refs, ests):
        n = min(ref.shape[-1], est.shape[-1])
        ref, est = ref[..., :n], est[..., :n]
        row = {"si_sdr": si_sdr(est, ref), "mel_dist": mel_distance(est, ref, sample_rate)}
        if speech:
            row["pesq_wb"] = pesq_wb(est, ref, sample_rate)
            row["stoi"] = stoi(est, ref, sample_rate)
        rows.append(row)
    return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
