"""Shared figures.  Every function draws on a matplotlib Axes (created if not given) and returns it,
so notebooks compose them into grids and tests can render them without a display."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib.audio import SAMPLE_RATE


def _ax(ax, figsize=(8, 3)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def log_spectrogram(x: torch.Tensor, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """dB magnitude of the (channel-averaged) STFT, shape (bins, frames)."""
    mono = x.float().reshape(-1, x.shape[-1]).mean(dim=0)
    spec = torch.stft(mono, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True).abs()
    return (20 * torch.log10(spec + 1e-5)).numpy()


def spectrogram(x: torch.Tensor, sample_rate: int = SAMPLE_RATE, ax=None, title: str = "",
                n_fft: int = 512, hop: int = 128, vmin: float = -80.0):
    """Linear-frequency spectrogram in dB with labelled axes (seconds, kHz)."""
    ax = _ax(ax)
    db = log_spectrogram(x, n_fft, hop)
    db = np.maximum(db, db.max() + vmin)
    extent = [0, x.shape[-1] / sample_rate, 0, sample_rate / 2000]
    ax.imshow(db, origin="lower", aspect="auto", extent=extent, cmap="magma")
    ax.set(xlabel="time (s)", ylabel="frequency (kHz)", title=title)
    return ax


def spectrogram_row(clips: dict[str, torch.Tensor], sample_rate: int = SAMPLE_RATE, height: float = 2.6,
                    ncols: int | None = None):
    """One spectrogram per named clip, side by side, sharing the colour scale; ``ncols`` wraps them
    into rows of that many (default: one row)."""
    ncols = min(ncols or len(clips), len(clips))
    nrows = -(-len(clips) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, height * nrows), squeeze=False)
    for ax, (name, x) in zip(axes.flat, clips.items()):
        spectrogram(x, sample_rate, ax=ax, title=name)
    for ax in list(axes.flat)[len(clips):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def phones_over_spectrogram(x: torch.Tensor, phones: list[dict], sample_rate: int = SAMPLE_RATE, ax=None,
                            title: str = "phone timings over the spectrogram"):
    """Spectrogram with each labelled phone's span marked and named."""
    ax = spectrogram(x, sample_rate, ax=_ax(ax, (10, 3.2)), title=title)
    top = sample_rate / 2000
    for p in phones:
        ax.axvline(p["start"], color="white", lw=0.6, alpha=0.7)
        ax.text((p["start"] + p["end"]) / 2, top * 0.92, p["phone"], color="white", ha="center", fontsize=7)
    return ax


def f0_tracks(hop_s: float, tracks: dict[str, np.ndarray], ax=None, title: str = "F0 contour"):
    """Overlay F0 tracks (Hz, 0 = unvoiced, drawn as gaps)."""
    ax = _ax(ax)
    for name, f0 in tracks.items():
        f0 = np.asarray(f0, dtype=float)
        t = np.arange(len(f0)) * hop_s
        ax.plot(t, np.where(f0 > 0, f0, np.nan), label=name, lw=1.5)
    ax.set(xlabel="time (s)", ylabel="F0 (Hz)", title=title)
    ax.legend()
    return ax


def scatter_truth(truth, measured, ax=None, xlabel="label", ylabel="measured", title=""):
    """Label vs measurement scatter with the identity trend visible at a glance."""
    ax = _ax(ax, (4, 4))
    ax.scatter(truth, measured, s=18, alpha=0.8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    return ax


def training_curve(history: list[dict], keys=("loss",), ax=None, title: str = "training loss"):
    ax = _ax(ax)
    steps = [h["step"] for h in history]
    for k in keys:
        vals = [h.get(k, np.nan) for h in history]
        # a running mean: single-batch losses are noisy
        w = max(1, len(vals) // 50)
        smooth = np.convolve(vals, np.ones(w) / w, mode="valid")
        ax.plot(steps[w - 1:], smooth, label=k)
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.legend()
    return ax


def ranking(values: dict[str, float], ax=None, title: str = "", xlabel: str = "",
            lower_is_better: bool = True, highlight: str | None = None):
    """Horizontal bars sorted best-first (best at the top); ``highlight`` one bar in another colour."""
    ax = _ax(ax, figsize=(5, 3))
    items = sorted(values.items(), key=lambda kv: kv[1], reverse=not lower_is_better)
    names = [k for k, _ in items][::-1]
    vals = [v for _, v in items][::-1]
    colors = ["tab:orange" if n == highlight else "tab:blue" for n in names]
    ax.barh(names, vals, color=colors)
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.3 + 1e-9
    ax.set_xlim(lo - pad, hi + pad * 0.5)
    ax.set(title=title, xlabel=xlabel + (" (lower is better)" if lower_is_better else " (higher is better)"))
    return ax


def slot_boundaries(x: torch.Tensor, boundaries: dict[str, np.ndarray], sample_rate: int = SAMPLE_RATE,
                    hop_s: float = 0.01, ax=None, title: str = "what one latent position covers"):
    """A spectrogram with, per topology, a row of tick marks where one latent slot ends and the next
    begins (``boundaries``: name -> frame indices of slot starts, at ``hop_s`` per frame)."""
    ax = spectrogram(x, sample_rate, ax=ax, title=title)
    top = sample_rate / 2000
    for i, (name, starts) in enumerate(boundaries.items()):
        y0 = top * (1 - 0.12 * (i + 1))
        ax.vlines(np.asarray(starts) * hop_s, y0, y0 + top * 0.09, color=f"C{i + 1}", lw=1.2)
        ax.text(0.01, y0 + top * 0.02, name, color="white", fontsize=8,
                bbox=dict(facecolor=f"C{i + 1}", alpha=0.8, lw=0))
    return ax
