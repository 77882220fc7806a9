"""The decode-path table: every way a latent can reach the decoder, scored with the same metrics.

    D(E(x))            the oracle: the latent came from the encoder    (how good the codec is)
    D(sample q(z|x))   a posterior sample instead of its mean          (does the decoder tolerate
                       the encoder's own uncertainty?  = D(E(x)) for a deterministic bottleneck)
    D(E(x)+ε)          the oracle latent plus noise the size of the predictor's measured errors,
                       per channel                                     (is the decoder robust to
                       errors of that size when they carry no structure?)
    D(ẑ)               the latent came from a downstream predictor     (how good generation can be)
    D(project(ẑ))      the prediction pulled back onto the encoder's manifold first

The difference between D(ẑ) and D(E(x)) is the *predicted-latent gap*: what the generator's errors
cost once decoded.  A codec is judged by the first row; an interface by the fourth.  The middle
rows say *why* the gap is what it is: if D(E(x)+ε) is nearly as bad as D(ẑ), the decoder is
simply fragile to errors of that size (train it with such noise); if it is fine but D(ẑ) is bad,
the predictor's errors are structured (off-manifold), which ``project`` can partly undo.

``project`` here is a small denoiser (``Projector``) trained on E(x) + noise -> E(x) over the
training latents.  We chose a learned denoiser over a nearest-neighbour step because a single
latent frame's nearest training frame ignores its neighbours (context), while a convolutional
denoiser sees a few frames either side -- and it is the same object a diffusion decoder learns.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from course_lib import metrics
from course_lib.models import Autoencoder

ORACLE = "D(E(x))"
SAMPLED = "D(sample q(z|x))"
NOISY = "D(E(x)+ε)"
PREDICTED = "D(ẑ)"
PROJECTED = "D(project(ẑ))"
ROWS = (ORACLE, SAMPLED, NOISY, PREDICTED, PROJECTED)
# For these columns lower is better; for the rest (SI-SDR, PESQ, STOI, probe accuracy) higher is.
LOWER_IS_BETTER = {"mel_dist", "mrstft", "f0_cents", "drift_ms"}


@torch.no_grad()
def decode_latents(model: Autoencoder, zs: list[torch.Tensor], lengths: list[int],
                   spans: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Decode each latent (width, slots) to audio (channels, length).  ``spans`` (phone index per
    STFT frame) are needed by the phone topology and ignored by the others."""
    model.eval()
    out = []
    for i, (z, n) in enumerate(zip(zs, lengths)):
        sp = spans[i][None] if spans is not None else None
        out.append(model.decode(z[None], n, spans=sp)[0])
    return out


def path_table(refs: list[torch.Tensor], paths: dict[str, list[torch.Tensor]], sample_rate: int = 16000,
               speech: bool = True, extra: dict[str, Callable] | None = None, pesq: bool = True) -> pd.DataFrame:
    """One row per decode path, one column per metric (mean over clips).

    ``extra`` adds columns: name -> f(est, ref) -> float per clip, averaged (NaNs skipped), e.g.
    ``{"drift_ms": metrics.alignment_drift_ms}``; or name -> f(ests, refs) -> float for the whole
    path when the metric needs per-clip context (wrap it with ``per_path``).
    """
    rows = {}
    for name, ests in paths.items():
        if len(ests) != len(refs):
            raise ValueError(f"path {name!r} has {len(ests)} clips for {len(refs)} references")
        row = metrics.score(refs, ests, sample_rate, speech=speech, pesq=pesq)
        for col, fn in (extra or {}).items():
            if getattr(fn, "per_path", False):
                row[col] = float(fn(ests, refs))
            else:
                vals = [fn(e[..., : r.shape[-1]], r[..., : e.shape[-1]]) for e, r in zip(ests, refs)]
                row[col] = float(np.nanmean(vals))
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def per_path(fn: Callable) -> Callable:
    """Mark ``fn(ests, refs) -> float`` as a whole-path metric for ``path_table(extra=...)``."""
    fn.per_path = True
    return fn


def predicted_latent_gap(table: pd.DataFrame, metric: str = "mel_dist", oracle: str = ORACLE,
                         predicted: str = PREDICTED) -> float:
    """How much worse the predicted path is than the oracle on ``metric`` (positive = worse)."""
    diff = table.loc[predicted, metric] - table.loc[oracle, metric]
    return float(diff if metric in LOWER_IS_BETTER else -diff)


def ranking_split(results: pd.DataFrame, oracle: str, predicted: str, higher_is_better: bool = True) -> dict:
    """Do the oracle ranking and the predicted ranking of ``results`` (one row per codec) part?

    ``oracle`` and ``predicted`` name two columns scored on the same metric (e.g. "oracle STOI" and
    "D(ẑ) STOI").  Returns the best row by each and ``margin``: how much better the predicted
    winner's own ``predicted`` score is than the oracle winner's (0 when they are the same row;
    positive = better).  Notebooks 01 and 04 assert a claim on it.
    """
    pick = pd.Series.idxmax if higher_is_better else pd.Series.idxmin
    best_oracle, best_predicted = pick(results[oracle]), pick(results[predicted])
    diff = results.loc[best_predicted, predicted] - results.loc[best_oracle, predicted]
    return {"best_oracle": best_oracle, "best_predicted": best_predicted,
            "margin": float(diff if higher_is_better else -diff)}


def oracle_and_predicted(model: Autoencoder, study) -> dict[str, list[torch.Tensor]]:
    """The two rows notebook 01 needs, decoded: D(E(x)) and D(z_hat) of a ``predictors.study``."""
    lengths = [u.length for u in study.eval]
    spans = [u.spans for u in study.eval]
    return {ORACLE: decode_latents(model, [u.z for u in study.eval], lengths, spans),
            PREDICTED: decode_latents(model, study.z_hat, lengths, spans)}


def residual_corr(study) -> torch.Tensor:
    """Per-channel lag-1 autocorrelation of the predictor's errors along time, (width,).

    A predictor's errors are slow (a whole phone's worth of latent off in the same direction), not
    white: noise that matches only their size is easy for a convolutional decoder to average away.
    """
    num = den = 0.0
    for zh, u in zip(study.z_hat, study.eval):
        r = zh - u.z
        r = r - r.mean(dim=1, keepdim=True)
        num = num + (r[:, 1:] * r[:, :-1]).sum(dim=1)
        den = den + (r * r).sum(dim=1)
    return (num / den.clamp_min(1e-12)).clamp(0.0, 0.99)


def calibrated_noise(shape: tuple[int, ...], std: torch.Tensor, corr: torch.Tensor | None = None,
                     generator: torch.Generator | None = None, device=None,
                     mix: torch.Tensor | None = None) -> torch.Tensor:
    """Gaussian noise (..., width, slots) with per-channel ``std`` and, when given, per-channel lag-1
    correlation ``corr`` along the last axis (an AR(1) process with stationary variance std^2).

    ``mix`` (width, width), e.g. ``residual_mix(study)``, then mixes the channels: the result is
    ``mix @ noise``, whose covariance across channels is ``mix @ diag(std^2) @ mix.T`` (pass unit
    ``std``).  A predictor's errors move many channels together; noise that matches each channel
    alone misses the directions a decoder is most sensitive to."""
    if mix is not None:
        unit = calibrated_noise(shape, std, corr, generator, device)
        return torch.einsum("cd,...dt->...ct", mix.to(unit), unit)
    white = torch.randn(shape, generator=generator).to(device or std.device)
    std = std.to(white.device).reshape(-1, 1)
    if corr is None:
        return white * std
    rho = corr.to(white.device).reshape(-1, 1)
    out = torch.empty_like(white)
    out[..., 0] = white[..., 0]
    innov = torch.sqrt(1 - rho[:, 0] ** 2)
    for t in range(1, white.shape[-1]):  # a short loop over slots: tens to hundreds per clip
        out[..., t] = rho[:, 0] * out[..., t - 1] + innov * white[..., t]
    return out * std


def residual_std(study) -> torch.Tensor:
    """Per-channel std of the predictor's errors ẑ - E(x) on the evaluation utterances, (width,):
    the size of noise that D(E(x)+ε) adds, "calibrated" to what the generator actually gets wrong."""
    res = torch.cat([(zh - u.z) for zh, u in zip(study.z_hat, study.eval)], dim=1)
    return res.std(dim=1)


def residual_mix(study) -> torch.Tensor:
    """Lower-triangular factor L (width, width) of the predictor's errors' covariance across channels
    (Cholesky, with a tiny ridge): ``calibrated_noise(..., std=ones, mix=L)`` draws noise with that
    covariance.  Its diagonal carries ``residual_std``'s sizes, its off-diagonal how channels err together."""
    res = torch.cat([(zh - u.z) for zh, u in zip(study.z_hat, study.eval)], dim=1)
    cov = torch.cov(res)
    return torch.linalg.cholesky(cov + 1e-6 * cov.diagonal().mean() * torch.eye(cov.shape[0]))


def moved_errors(study, shift: int = 1) -> list[torch.Tensor]:
    """Each evaluation latent plus the predictor's error on *another* clip (``shift`` clips on, the
    error tiled or cut to this clip's length): ``E(x_i) + (ẑ_j - E(x_j))``.

    A diagnostic for what kind of gap ``D(ẑ)`` has.  The moved error keeps every statistic of the
    real one (size, time and cross-channel structure, its non-Gaussian shape) and loses only its tie
    to this clip's signal.  If ``D`` of it scores like ``D(ẑ)``, the harm is in those statistics and
    a decoder can be trained to tolerate it; if a decoder trained on such noise repairs the moved
    error but not ``D(ẑ)``, the prediction is missing information about *this* clip, which no
    decoder can restore."""
    n = len(study.eval)
    out = []
    for i, u in enumerate(study.eval):
        j = (i + shift) % n
        err = study.z_hat[j] - study.eval[j].z
        reps = -(-u.z.shape[-1] // err.shape[-1])
        out.append(u.z + err.repeat(1, reps)[:, :u.z.shape[-1]])
    return out


class Projector(nn.Module):
    """A small latent denoiser: (noisy z, standardised) -> clean z.  Two residual conv layers see a
    few slots either side.  Trained by ``train_projector``; applied by ``project``."""

    def __init__(self, width: int, size: int = 128, kernel: int = 5):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(width, size, kernel, padding=kernel // 2), nn.GELU(),
            nn.Conv1d(size, size, kernel, padding=kernel // 2), nn.GELU(),
            nn.Conv1d(size, width, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.net(z)  # predict the correction, so an on-manifold latent passes unchanged


def train_projector(latents: list[torch.Tensor], noise_std: torch.Tensor, steps: int = 400, batch: int = 16,
                    crop: int = 48, lr: float = 2e-3, seed: int = 0, progress: bool = False) -> Projector:
    """Train a ``Projector`` on clean latents (each (width, slots)) corrupted by Gaussian noise of
    per-channel std ``noise_std`` times a random scale in [0, 1.5] (so it also learns to leave
    nearly clean latents alone).  Works in standardised units; returns the projector in eval mode
    with the standardisation stored on it."""
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cat = torch.cat(latents, dim=1)
    mean, std = cat.mean(dim=1, keepdim=True), cat.std(dim=1, keepdim=True).clamp_min(1e-5)
    width = cat.shape[0]
    proj = Projector(width)
    proj.register_buffer("mean", mean)
    proj.register_buffer("std", std)
    sigma = (noise_std.reshape(width, 1) / std)  # noise in standardised units
    long = [z for z in latents if z.shape[1] >= crop] or latents
    opt = torch.optim.AdamW(proj.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=max(0.1, 2.5 / steps))  # short runs need >= 2 warm-up steps
    for _ in tqdm(range(steps), desc="projector", disable=not progress, leave=False):
        zs = []
        for i in torch.randint(len(long), (batch,), generator=gen).tolist():
            z = long[i]
            n = min(crop, z.shape[1])
            s0 = int(torch.randint(z.shape[1] - n + 1, (1,), generator=gen))
            zs.append(torch.nn.functional.pad((z[:, s0:s0 + n] - mean) / std, (0, crop - n)))
        clean = torch.stack(zs)
        scale = 1.5 * torch.rand(batch, 1, 1, generator=gen)
        noisy = clean + scale * sigma * torch.randn(clean.shape, generator=gen)
        loss = (proj(noisy) - clean).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return proj.eval()


@torch.no_grad()
def project(projector: Projector, zs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each latent (width, slots) denoised back toward the encoder's manifold, in encoder units."""
    return [(projector(((z - projector.mean) / projector.std)[None])[0] * projector.std + projector.mean) for z in zs]


@torch.no_grad()
def all_paths(model: Autoencoder, study, clips: list[torch.Tensor] | None = None, projector: Projector | None = None,
              noise_std: torch.Tensor | None = None, seed: int = 0,
              noise_corr: torch.Tensor | None = None, rows: tuple[str, ...] = ROWS,
              noise_mix: torch.Tensor | None = None) -> dict[str, list[torch.Tensor]]:
    """Decode every row of the table for a ``predictors.study``: the five paths in ``ROWS``.

    ``clips`` (the evaluation audio) are needed for the posterior-sample row; ``noise_std``
    defaults to ``residual_std(study)`` and ``noise_corr`` (lag-1 correlation of the noise along
    time) to white noise; ``noise_mix`` (``residual_mix``) gives the noise the errors' covariance
    across channels instead of ``noise_std``; without a ``projector`` the projected row is left out.  ``rows`` picks a
    subset (a sweep that only compares the oracle with the prediction skips the other decodes);
    the noisy row draws the same noise whichever rows are asked for.
    """
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise ValueError(f"all_paths: unknown rows {unknown}; the rows are {list(ROWS)}")
    lengths = [u.length for u in study.eval]
    spans = [u.spans for u in study.eval]
    paths = {}
    if ORACLE in rows:
        paths[ORACLE] = decode_latents(model, [u.z for u in study.eval], lengths, spans)
    if clips is not None and SAMPLED in rows:
        model.eval()
        with torch.random.fork_rng(devices=range(torch.cuda.device_count())):  # leave every generator as it was
            torch.manual_seed(seed)  # the bottleneck samples with the global generator
            sampled = [model.encode(x[None], sample=True, spans=sp[None]).z[0] for x, sp in zip(clips, spans)]
        paths[SAMPLED] = decode_latents(model, sampled, lengths, spans)
    if NOISY in rows:
        noise_std = residual_std(study) if noise_std is None else noise_std
        gen = torch.Generator().manual_seed(seed)
        if noise_mix is not None:
            noise_std = torch.ones(noise_mix.shape[0])
        noisy = [u.z + calibrated_noise(tuple(u.z.shape), noise_std, noise_corr, gen, mix=noise_mix)
                 for u in study.eval]
        paths[NOISY] = decode_latents(model, noisy, lengths, spans)
    if PREDICTED in rows:
        paths[PREDICTED] = decode_latents(model, study.z_hat, lengths, spans)
    if projector is not None and PROJECTED in rows:
        paths[PROJECTED] = decode_latents(model, project(projector, study.z_hat), lengths, spans)
    return paths


def decode_path_table(refs: list[torch.Tensor], paths: dict[str, list[torch.Tensor]], speech: bool = True,
                      extra: dict[str, Callable] | None = None, gap_metric: str = "mel_dist",
                      pesq: bool = True) -> pd.DataFrame:
    """``path_table`` plus a ``gap`` column: each row's distance from the oracle on ``gap_metric``
    (positive = worse than D(E(x))).  Rows keep the order of ``ROWS``."""
    tab = path_table(refs, paths, speech=speech, extra=extra, pesq=pesq)
    tab = tab.loc[[r for r in ROWS if r in tab.index] + [r for r in tab.index if r not in ROWS]]
    sign = 1.0 if gap_metric in LOWER_IS_BETTER else -1.0
    tab["gap"] = sign * (tab[gap_metric] - tab.loc[ORACLE, gap_metric])
    return tab


def plot_paths(table: pd.DataFrame, metric: str = "mel_dist", ax=None, title: str = ""):
    """Horizontal bars, one per decode path, with the oracle as a dashed reference line."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1))
    colors = {ORACLE: "tab:green", SAMPLED: "tab:olive", NOISY: "tab:gray", PREDICTED: "tab:red",
              PROJECTED: "tab:purple"}
    names = list(table.index)[::-1]
    ax.barh(names, table[metric].loc[names], color=[colors.get(n, "tab:blue") for n in names])
    ax.axvline(table.loc[ORACLE, metric], color="tab:green", ls="--", lw=1)
    better = "lower" if metric in LOWER_IS_BETTER else "higher"
    ax.set(xlabel=f"{metric} ({better} is better)", title=title or f"decode paths · {metric}")
    for i, n in enumerate(names):
        ax.text(table.loc[n, metric], i, f" {table.loc[n, metric]:.3f}", va="center", fontsize=8)
    return ax
