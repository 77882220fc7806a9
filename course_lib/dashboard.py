"""The latent dashboard: regularisation and prediction debt, split by *place*.

An average hides things.  A KL of 30 nats/s can be 28 nats/s in one channel and a trickle in the
rest; a predictor's error can look small on average while silence is predicted perfectly and every
onset is missed.  The dashboard therefore keeps one row per latent frame and splits every number by
where it was paid:

- by **channel** (``channel_table``): mean, std, KL per second, outlier rate, residual;
- by **place** (``place_table``): acoustic regime (silence / transient / steady, from
  ``data.regime_masks``), domain (speech / music / effects) and condition (clean / reverb / noisy);
- the **latent norm distribution** (``norm_distribution``): the tails a generator has to reach;
- **posterior sample vs mean** (``sample_vs_mean_delta``): how much the decoded audio moves when the
  decoder gets a sample of q(z|x) instead of its mean;
- **what the decoder does with each channel** (``channel_costs``, ``channel_curve``; for a
  ``predictors.study``, ``channel_costs_for`` and ``channel_curve_for``): the sound lost when a
  channel is muted, and the share of the predicted-latent gap its prediction errors cost;
- **who carries the debt** (``debt_report``): the channel and the place whose share of the KL (or of
  the predicted-latent residual) is largest relative to their share of the frames.

Typical use (notebook 04)::

    s = dashboard.collect(model, clips, meta=rows, z_hat=study.z_hat)
    dashboard.channel_table(s); dashboard.place_table(s, by="regime")
    debt = dashboard.debt_report(s)
    dashboard.figure(s)

Grid topologies only (``grid``, and the frame stream of ``global+frame``): a pooled slot (phone,
chunk) has no fixed duration, so "KL per second" and "the regime of a slot" need the spans too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from course_lib import decode_paths, metrics
from course_lib.data import regime_masks

REGIMES = ("silence", "transient", "steady")
PLACES = ("regime", "domain", "condition")
# A posterior-mean coordinate further than this many (per-channel) standard deviations from the
# channel mean counts as an outlier.  A Gaussian channel has 6e-5 of its frames out there, so any
# visible rate means heavy tails: values a generator must reach but will rarely see in training.
OUTLIER_STD = 4.0


@dataclass
class LatentSample:
    """Everything the dashboard needs, one row per latent frame (N frames over all clips).

    Arrays are float64 numpy, frame-major.  ``kl`` / ``logvar`` are None for a bottleneck
    without a posterior (plain, softnorm, tanh, dropout, noise) and ``residual`` is None when no predictions were given.
    """

    z: np.ndarray  # (N, width) posterior mean: the latent a downstream model predicts
    logvar: np.ndarray | None  # (N, width) posterior log-variance
    kl: np.ndarray | None  # (N, width) KL(q || N(0, I)) per frame and channel, nats
    residual: np.ndarray | None  # (N, width) z_hat - z
    clip: np.ndarray  # (N,) index of the clip the frame came from
    slot: np.ndarray  # (N,) latent slot inside the clip
    regime: np.ndarray  # (N,) "silence" / "transient" / "steady"
    domain: np.ndarray  # (N,) from meta, "unknown" when not given
    condition: np.ndarray  # (N,)
    clip_id: np.ndarray  # (N,) from meta["clip_id"], else the clip index as a string
    latent_rate: float  # latent frames per second

    @property
    def width(self) -> int:
        return self.z.shape[1]

    def __len__(self) -> int:
        return self.z.shape[0]

    @property
    def norm(self) -> np.ndarray:
        """(N,) L2 norm of every latent frame."""
        return np.linalg.norm(self.z, axis=1)

    @property
    def frames(self) -> pd.DataFrame:
        """The tidy view: one row per latent frame, with its place, norm, KL (nats per frame, summed
        over channels; NaN without a posterior) and residual energy (sum over channels of
        (z_hat - z)^2; NaN without predictions)."""
        n = len(self)
        return pd.DataFrame({
            "clip": self.clip, "clip_id": self.clip_id, "slot": self.slot,
            "time_s": self.slot / self.latent_rate,
            "regime": self.regime, "domain": self.domain, "condition": self.condition,
            "norm": self.norm,
            "kl": self.kl.sum(axis=1) if self.kl is not None else np.full(n, np.nan),
            "residual_energy": (self.residual ** 2).sum(axis=1) if self.residual is not None else np.full(n, np.nan),
        })


# --- collecting ---------------------------------------------------------------------------------

def _check_grid(model) -> None:
    if model.cfg.pooled:
        raise ValueError(
            f"the dashboard needs a grid topology (one latent slot per fixed stretch of time); "
            f"topology={model.cfg.topology!r} pools slots over spans of varying length"
        )


def _meta_rows(meta, n: int) -> list[dict]:
    if meta is None:
        return [{} for _ in range(n)]
    rows = meta.to_dict("records") if isinstance(meta, pd.DataFrame) else [dict(m) for m in meta]
    if len(rows) != n:
        raise ValueError(f"meta has {len(rows)} rows for {n} clips")
    return rows


def _posterior_logvar(model, out) -> torch.Tensor | None:
    """The posterior log-variance of an encode, or None for a bottleneck without a posterior.

    A fixed-variance (sigma-VAE) bottleneck returns no logvar but has one: log(sigma^2) everywhere,
    and its KL to N(0, I) is then the same formula as a learned-variance VAE's.
    """
    if out.logvar is not None:
        return out.logvar
    sigma = getattr(model.bottleneck, "sigma", None)
    if isinstance(sigma, (int, float)) and "kl_per_frame" in out.stats:
        return torch.full_like(out.mean, 2.0 * math.log(sigma))
    return None


def slot_regimes(x: torch.Tensor, n_slots: int, down: int, sample_rate: int = 16000, hop: int = 160,
                 onset_wins: bool = False) -> np.ndarray:
    """The regime of each latent slot of clip ``x`` (channels, samples): a vote over the ``down``
    STFT frames inside the slot (``data.regime_masks``).

    Majority vote; a tie goes to the rarer regime (transient, then steady, then silence), so a
    50 Hz slot holding one onset frame and one steady frame counts as transient.  ``onset_wins``
    makes any transient frame decide: use it at low latent rates (12.5 Hz = 8 frames per slot),
    where an onset -- one hop long by definition -- would otherwise never win a vote.
    Frames past the clip end (the encoder's zero padding) count as silence.
    """
    masks = regime_masks(x, sample_rate, hop)
    need = n_slots * down
    votes = np.zeros((need, len(REGIMES)))
    for j, name in enumerate(REGIMES):
        m = masks[name].numpy()[:need]
        votes[: len(m), j] = m
    votes[len(masks["silence"]):, 0] = 1.0  # padding is silent
    counts = votes.reshape(n_slots, down, len(REGIMES)).sum(axis=1)
    # argmax takes the first maximum: order the columns rarest first so ties go that way
    order = [1, 2, 0]  # transient, steady, silence
    pick = np.asarray(order)[counts[:, order].argmax(axis=1)]
    if onset_wins:
        pick = np.where(counts[:, 1] > 0, 1, pick)
    return np.asarray(REGIMES, dtype=object)[pick]


@torch.no_grad()
def collect(model, clips: list[torch.Tensor], meta=None, z_hat: list[torch.Tensor] | None = None,
            onset_wins: bool = False) -> LatentSample:
    """Encode every clip (channels, samples) with the posterior mean and gather per-frame statistics.

    ``meta``: one dict (or DataFrame row) per clip; ``domain``, ``condition`` and ``clip_id`` are
    read from it (default "unknown" / the index).  ``z_hat``: one predicted latent per clip, shaped
    like the means, (width, slots) or (1, width, slots); the residual z_hat - z is kept per frame.
    For ``global+frame`` models only the frame stream (slots 1..) is kept: the utterance vector has
    no place in time.  ``onset_wins``: see ``slot_regimes``.
    """
    _check_grid(model)
    cfg = model.cfg
    rows = _meta_rows(meta, len(clips))
    if z_hat is not None and len(z_hat) != len(clips):
        raise ValueError(f"z_hat has {len(z_hat)} latents for {len(clips)} clips")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    skip = 1 if cfg.has_global else 0
    parts = {k: [] for k in ("z", "logvar", "res", "clip", "slot", "regime", "domain", "condition", "clip_id")}
    try:
        for i, x in enumerate(clips):
            out = model.encode(x[None].to(device), sample=False)
            mean = out.mean[0, :, skip:].double().cpu()
            n_slots = mean.shape[1]
            parts["z"].append(mean.T.numpy())
            logvar = _posterior_logvar(model, out)
            if logvar is not None:
                parts["logvar"].append(logvar[0, :, skip:].double().cpu().T.numpy())
            if z_hat is not None:
                zh = z_hat[i].detach().double().cpu()
                zh = zh[0] if zh.dim() == 3 else zh
                zh = zh[:, skip:] if zh.shape[1] == n_slots + skip else zh
                if zh.shape != mean.shape:
                    raise ValueError(f"z_hat[{i}] is {tuple(zh.shape)}, the latent is {tuple(mean.shape)}")
                parts["res"].append((zh - mean).T.numpy())
            parts["clip"].append(np.full(n_slots, i))
            parts["slot"].append(np.arange(n_slots))
            parts["regime"].append(slot_regimes(x.cpu(), n_slots, cfg.down, cfg.sample_rate, cfg.hop, onset_wins))
            for key, default in (("domain", "unknown"), ("condition", "unknown"), ("clip_id", str(i))):
                parts[key].append(np.full(n_slots, str(rows[i].get(key, default) or default), dtype=object))
    finally:
        model.train(was_training)
    logvar = np.concatenate(parts["logvar"]) if parts["logvar"] else None
    z = np.concatenate(parts["z"])
    kl = 0.5 * (z ** 2 + np.exp(logvar) - 1.0 - logvar) if logvar is not None else None  # as KLBottleneck
    return LatentSample(
        z=z, logvar=logvar, kl=kl,
        residual=np.concatenate(parts["res"]) if parts["res"] else None,
        clip=np.concatenate(parts["clip"]), slot=np.concatenate(parts["slot"]),
        regime=np.concatenate(parts["regime"]), domain=np.concatenate(parts["domain"]),
        condition=np.concatenate(parts["condition"]), clip_id=np.concatenate(parts["clip_id"]),
        latent_rate=float(cfg.latent_rate),
    )


# --- tables -------------------------------------------------------------------------------------

def _spread(s: LatentSample) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over all frames; the std is floored so a dead channel divides safely."""
    return s.z.mean(axis=0), np.maximum(s.z.std(axis=0), 1e-8)


def _outliers(s: LatentSample, outlier_std: float) -> np.ndarray:
    mu, sd = _spread(s)
    return np.abs(s.z - mu) > outlier_std * sd  # (N, width) bool


def _scaled_residual(s: LatentSample) -> np.ndarray:
    """The residual in units of each channel's spread: what a predictor trained on standardised
    latents (``predictors.LatentStats``) pays, and comparable across channels of different scale."""
    return s.residual / _spread(s)[1]


def channel_table(s: LatentSample, outlier_std: float = OUTLIER_STD) -> pd.DataFrame:
    """One row per latent channel.  Columns:

    - ``mean``, ``std``: of the posterior mean over all frames (a channel with std near 0 is unused);
    - ``posterior_std``: mean sigma of q(z|x) (NaN without a posterior); sigma near 1
      with ``std`` near 0 is a channel the KL has collapsed onto the prior;
    - ``kl_per_s``: KL of this channel in nats per second of audio; ``kl_share``: its fraction of
      the total KL (1 / width if the KL were spread evenly);
    - ``outlier_rate``: fraction of frames with |z - mean| > ``outlier_std`` x std;
    - ``residual_rms``: RMS of z_hat - z in latent units; ``residual_rel``: that RMS / ``std``
      (1.0 = the predictor is no better than predicting the channel mean).  NaN without z_hat.
    """
    mu, sd = _spread(s)
    nan = np.full(s.width, np.nan)
    kl_c = s.kl.sum(axis=0) if s.kl is not None else None
    rms = np.sqrt((s.residual ** 2).mean(axis=0)) if s.residual is not None else nan
    return pd.DataFrame({
        "mean": mu, "std": s.z.std(axis=0),
        "posterior_std": np.exp(0.5 * s.logvar).mean(axis=0) if s.logvar is not None else nan,
        "kl_per_s": s.kl.mean(axis=0) * s.latent_rate if s.kl is not None else nan,
        "kl_share": kl_c / max(kl_c.sum(), 1e-12) if kl_c is not None else nan,
        "outlier_rate": _outliers(s, outlier_std).mean(axis=0),
        "residual_rms": rms, "residual_rel": rms / sd,
    }, index=pd.RangeIndex(s.width, name="channel"))


def place_table(s: LatentSample, by: str = "regime", outlier_std: float = OUTLIER_STD) -> pd.DataFrame:
    """One row per place (a regime, domain or condition, as ``by`` says).  Columns:

    - ``frames``, ``frame_share``: how many latent frames fall there, and their fraction;
    - ``norm_mean``, ``norm_p95``: mean and 95th percentile of the per-frame latent L2 norm;
    - ``kl_per_s``: KL (nats per second of audio, all channels) while in this place;
      ``kl_share``: the place's fraction of the total KL;
    - ``outlier_rate``: fraction of (frame, channel) values beyond ``outlier_std`` x the channel's
      global std from its global mean;
    - ``residual_rms``: RMS of z_hat - z in latent units; ``residual_rel``: RMS of the residual in
      units of each channel's global std (1.0 = no better than predicting the mean);
      ``residual_share``: the place's fraction of the total residual energy, in those units.
    KL and residual columns are NaN when the sample has no posterior / no predictions.
    """
    if by not in PLACES:
        raise ValueError(f"by={by!r}: choose one of {PLACES}")
    labels = getattr(s, by)
    out = _outliers(s, outlier_std)
    norm = s.norm
    kl = s.kl.sum(axis=1) if s.kl is not None else None
    res = _scaled_residual(s) ** 2 if s.residual is not None else None
    raw = s.residual ** 2 if s.residual is not None else None
    order = [r for r in REGIMES if r in set(labels)] if by == "regime" else sorted(set(labels))
    rows = {}
    for g in order:
        m = labels == g
        rows[g] = {
            "frames": int(m.sum()), "frame_share": float(m.mean()),
            "norm_mean": float(norm[m].mean()), "norm_p95": float(np.percentile(norm[m], 95)),
            "kl_per_s": float(kl[m].mean() * s.latent_rate) if kl is not None else np.nan,
            "kl_share": float(kl[m].sum() / max(kl.sum(), 1e-12)) if kl is not None else np.nan,
            "outlier_rate": float(out[m].mean()),
            "residual_rms": float(np.sqrt(raw[m].mean())) if raw is not None else np.nan,
            "residual_rel": float(np.sqrt(res[m].mean())) if res is not None else np.nan,
            "residual_share": float(res[m].sum() / max(res.sum(), 1e-300)) if res is not None else np.nan,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = by
    return table


def norm_distribution(s: LatentSample, quantiles=(0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99),
                      by: str | None = None) -> pd.DataFrame:
    """Quantiles of the per-frame latent L2 norm: index = quantile, column ``all`` (plus one column
    per place when ``by`` is given).  For reference, a N(0, I) latent has norm ~ sqrt(width)."""
    norm = s.norm
    cols = {"all": np.quantile(norm, quantiles)}
    if by is not None:
        labels = getattr(s, by)
        for g in sorted(set(labels)):
            cols[g] = np.quantile(norm[labels == g], quantiles)
    return pd.DataFrame(cols, index=pd.Index(list(quantiles), name="quantile"))


# --- decoding a posterior sample ----------------------------------------------------------------

@torch.no_grad()
def sample_vs_mean_delta(model, clips: list[torch.Tensor], n_samples: int = 4, seed: int = 0,
                         meta=None) -> pd.DataFrame:
    """Per clip: the mel distance (``metrics.mel_distance``) between D(z sampled by the bottleneck)
    and D(mean), averaged over ``n_samples`` draws (``mel_delta``, with its spread ``mel_delta_std``).

    The sample is the bottleneck's own ``encode(x, sample=True)``: a posterior sample for kl /
    sigma / varfloor / target_kl, and the training-time corruption for kinds that have one instead
    (channel dropout, latent noise).  It says how much the decoded audio moves under the encoder's
    own uncertainty: near 0 means the posterior is tight (or the decoder ignores it); large means the
    decoder would already hear the noise a sampler adds.  Exactly 0 when sampling changes nothing
    (plain, softnorm, tanh).  The draws use a forked RNG seeded with ``seed``: repeatable, and the
    caller's random stream is left as it was.
    """
    _check_grid(model)
    rows = _meta_rows(meta, len(clips))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out_rows = []
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            for i, x in enumerate(clips):
                n, x = x.shape[-1], x[None].to(device)
                mean = model.encode(x, sample=False).mean
                ref, deltas = None, []
                for _ in range(n_samples):
                    z = model.encode(x, sample=True).z
                    if torch.equal(z, mean):
                        deltas.append(0.0)  # nothing was sampled: skip the decode
                        continue
                    ref = model.decode(mean, n)[0].cpu() if ref is None else ref
                    deltas.append(metrics.mel_distance(model.decode(z, n)[0].cpu(), ref, model.cfg.sample_rate))
                out_rows.append({
                    "clip_id": str(rows[i].get("clip_id", i)),
                    "domain": rows[i].get("domain", "unknown"), "condition": rows[i].get("condition", "unknown"),
                    "mel_delta": float(np.mean(deltas)), "mel_delta_std": float(np.std(deltas)),
                })
    finally:
        model.train(was_training)
    return pd.DataFrame(out_rows)


# --- channel by channel: mute, repair ------------------------------------------------------------
# The channel table says how a channel is *distributed*; these say what the decoder *does* with it.
# Muting a channel (holding it at its training mean, the value that says nothing about this clip)
# measures what the sound loses without it; repairing a channel of a prediction (taking it from
# E(x)) measures how much of the predicted-latent gap that channel's errors cost.  Both decode and
# score with ``metrics.mel_distance``, so they add up against the decode-path table's numbers.

def replace_channels(z: torch.Tensor, channels, source: torch.Tensor) -> torch.Tensor:
    """A copy of ``z`` (width, slots) whose listed ``channels`` come from ``source``: a latent of the
    same shape (repair: a prediction's channel taken from the truth) or one value per channel,
    (width,) or (width, 1) (mute: a channel held at a constant, e.g. its training mean)."""
    width = z.shape[0]
    idx = [int(c) for c in channels]
    bad = [c for c in idx if not 0 <= c < width]
    if bad:
        raise ValueError(f"channels {bad} are outside 0..{width - 1} (the latent has {width} channels)")
    src = source.to(device=z.device, dtype=z.dtype)
    if src.shape == z.shape:
        pass
    elif src.numel() == width:
        src = src.reshape(width, 1).expand_as(z)
    else:
        raise ValueError(f"source has shape {tuple(source.shape)}: give a latent of shape {tuple(z.shape)} "
                         f"or one value per channel ({width},)")
    out = z.clone()
    if idx:
        out[idx] = src[idx]
    return out


@torch.no_grad()
def channel_swap_scores(model, base: list[torch.Tensor], source, channel_sets, refs: list[torch.Tensor],
                        lengths: list[int], spans: list[torch.Tensor] | None = None) -> np.ndarray:
    """For each set in ``channel_sets``: take those channels of every ``base`` latent from ``source``
    (one latent per clip, or one value per channel for all clips; see ``replace_channels``), decode,
    and return the mean mel distance to ``refs`` (lower is better).  An empty set scores ``base``."""
    if len(base) != len(refs) or len(lengths) != len(refs):
        raise ValueError(f"{len(base)} latents, {len(lengths)} lengths and {len(refs)} references: "
                         "one of each per clip")
    per_clip = isinstance(source, (list, tuple))
    if per_clip and len(source) != len(base):
        raise ValueError(f"source has {len(source)} latents for {len(base)} clips")
    sr = model.cfg.sample_rate
    scores = []
    for chans in channel_sets:
        zs = [replace_channels(z, chans, source[i] if per_clip else source) for i, z in enumerate(base)]
        out = decode_paths.decode_latents(model, zs, lengths, spans)
        # trimmed to the shorter of the two, as metrics.score_clips does for the decode-path table
        scores.append(float(np.mean([metrics.mel_distance(e.cpu()[..., : r.shape[-1]], r[..., : e.shape[-1]], sr)
                                     for e, r in zip(out, refs)])))
    return np.array(scores)


def channel_costs(model, z: list[torch.Tensor], z_hat: list[torch.Tensor], refs: list[torch.Tensor],
                  lengths: list[int], spans: list[torch.Tensor] | None = None,
                  fill: torch.Tensor | None = None) -> pd.DataFrame:
    """One row per channel: what the decoder loses without it, and what its prediction errors cost.

    - ``mute_cost``: mel distance of D(E(x) with this channel held at ``fill``) minus that of D(E(x))
      (``fill``: one value per channel, by default the mean of ``z`` over every clip and slot);
    - ``repair_gain``: mel distance of D(ẑ) minus that of D(ẑ with this channel taken from E(x)):
      the part of the predicted-latent gap this channel's errors cost, alone.
    Single-channel effects need not add up: channels that carry the same thing cover for each other
    when one is muted, so the sum of ``mute_cost`` can be far below muting them all at once.
    """
    width = z[0].shape[0]
    fill = torch.cat(z, dim=1).mean(dim=1) if fill is None else fill
    singles = [[c] for c in range(width)]
    oracle = channel_swap_scores(model, z, fill, [[]], refs, lengths, spans)[0]
    predicted = channel_swap_scores(model, z_hat, z, [[]], refs, lengths, spans)[0]
    mute = channel_swap_scores(model, z, fill, singles, refs, lengths, spans) - oracle
    repair = predicted - channel_swap_scores(model, z_hat, z, singles, refs, lengths, spans)
    return pd.DataFrame({"mute_cost": mute, "repair_gain": repair}, index=pd.RangeIndex(width, name="channel")
                        ).assign(oracle_mel=oracle, predicted_mel=predicted)


def channel_curve(model, z: list[torch.Tensor], z_hat: list[torch.Tensor], refs: list[torch.Tensor],
                  lengths: list[int], order, ks=(1, 2, 4, 8, 16, 32), spans: list[torch.Tensor] | None = None,
                  fill: torch.Tensor | None = None) -> pd.DataFrame:
    """Channels taken k at a time, in ``order`` (e.g. by decreasing training std, fixed before any
    decode is scored): for each k the mel cost of muting the first k (``mute_first``) and the last k
    (``mute_last``) of ``order``, and the gap repaired by taking the first k of ẑ from E(x)
    (``repair_first``), beside the whole gap (``gap``) and the cost of muting every channel."""
    order = [int(c) for c in order]
    width = z[0].shape[0]
    if sorted(order) != list(range(width)):
        raise ValueError(f"order must list every channel 0..{width - 1} once")
    fill = torch.cat(z, dim=1).mean(dim=1) if fill is None else fill
    ks = [k for k in ks if 0 < k <= width]
    oracle = channel_swap_scores(model, z, fill, [[]], refs, lengths, spans)[0]
    predicted = channel_swap_scores(model, z_hat, z, [[]], refs, lengths, spans)[0]
    first = channel_swap_scores(model, z, fill, [order[:k] for k in ks], refs, lengths, spans) - oracle
    last = channel_swap_scores(model, z, fill, [order[-k:] for k in ks], refs, lengths, spans) - oracle
    repaired = predicted - channel_swap_scores(model, z_hat, z, [order[:k] for k in ks], refs, lengths, spans)
    everything = channel_swap_scores(model, z, fill, [order], refs, lengths, spans)[0] - oracle
    return pd.DataFrame({"mute_first": first, "mute_last": last, "repair_first": repaired},
                        index=pd.Index(ks, name="k")).assign(gap=predicted - oracle, mute_all=everything)


def spread_order(study) -> list[int]:
    """A ``predictors.study``'s channels, widest spread over its training latents first: an order
    fixed before any decode is scored, for ``channel_curve``."""
    return torch.argsort(study.stats.std.flatten(), descending=True).tolist()


def _study_latents(study) -> tuple[list[torch.Tensor], list[int], list[torch.Tensor] | None]:
    """A study's evaluation latents, lengths and spans (None unless every utterance has spans)."""
    spans = [u.spans for u in study.eval]
    spans = None if any(sp is None for sp in spans) else spans
    return [u.z for u in study.eval], [u.length for u in study.eval], spans


def channel_costs_for(model, study, refs: list[torch.Tensor]) -> pd.DataFrame:
    """``channel_costs`` of a ``predictors.study`` (its evaluation latents and predictions, ``refs``
    their audio), muted channels held at the training latents' mean; adds ``training_std``."""
    z, lengths, spans = _study_latents(study)
    costs = channel_costs(model, z, study.z_hat, refs, lengths, spans, fill=study.stats.mean)
    return costs.assign(training_std=study.stats.std.flatten().numpy())


def channel_curve_for(model, study, refs: list[torch.Tensor], ks=(1, 2, 4, 8, 16, 32)) -> pd.DataFrame:
    """``channel_curve`` of a ``predictors.study``, channels in ``spread_order`` (widest first), muted
    ones held at the training latents' mean."""
    z, lengths, spans = _study_latents(study)
    return channel_curve(model, z, study.z_hat, refs, lengths, spread_order(study), ks, spans, fill=study.stats.mean)


# --- where is the debt? -------------------------------------------------------------------------

def _debt_energy(s: LatentSample, quantity: str) -> tuple[str, np.ndarray]:
    if quantity == "auto":
        quantity = "residual" if s.residual is not None else "kl" if s.kl is not None else "energy"
    if quantity == "residual":
        if s.residual is None:
            raise ValueError("quantity='residual' needs z_hat: collect(model, clips, z_hat=...)")
        return quantity, _scaled_residual(s) ** 2
    if quantity == "kl":
        if s.kl is None:
            raise ValueError("quantity='kl' needs a posterior (kl, sigma, varfloor, target_kl); "
                             "this bottleneck has none")
        return quantity, s.kl
    if quantity == "energy":
        return quantity, s.z ** 2
    raise ValueError(f"quantity={quantity!r}: choose 'auto', 'kl', 'residual' or 'energy'")


def debt_report(s: LatentSample, quantity: str = "auto", places=PLACES, min_frames: int = 8) -> dict:
    """Name the channel and the place that carry a disproportionate share of the debt.

    The debt is a non-negative energy per (frame, channel), chosen by ``quantity``:

    - ``"kl"``: KL(q || N(0, I)) in nats -- the prior difficulty the regulariser pays for;
    - ``"residual"``: (z_hat - z)^2 in units of each channel's std -- what the predictor gets wrong;
    - ``"energy"``: z^2 -- the size of the target, the only debt a plain codec without predictions has;
    - ``"auto"``: residual if predictions were collected, else KL, else energy.

    Channel: ``channel_share`` = the top channel's fraction of the total; an even split would be
    1 / width (``channel_fair_share``), and ``channel_excess`` = share x width says how many times
    its fair share it carries.  Place: over every grouping in ``places`` (regime, domain,
    condition) and every group with at least ``min_frames`` frames, ``place_share`` = the group's
    fraction of the total and ``place_frame_share`` = its fraction of the frames; the place with the
    largest ``place_excess`` = place_share / place_frame_share is reported (1.0 = it pays exactly
    its way).  An average hides debt when ``channel_excess`` or ``place_excess`` is well above 1.
    """
    quantity, e = _debt_energy(s, quantity)
    total = max(float(e.sum()), 1e-300)
    per_channel = e.sum(axis=0) / total
    ch = int(per_channel.argmax())
    per_frame = e.sum(axis=1)
    best = None
    for by in places:
        labels = getattr(s, by)
        for g in sorted(set(labels)):
            m = labels == g
            if m.sum() < min_frames:
                continue  # a handful of frames gives a noisy ratio, not a finding
            share, frame_share = float(per_frame[m].sum() / total), float(m.mean())
            excess = share / frame_share
            if best is None or excess > best["place_excess"]:
                best = {"place": g, "place_by": by, "place_share": share,
                        "place_frame_share": frame_share, "place_excess": excess}
    if best is None:
        best = {"place": None, "place_by": None, "place_share": np.nan,
                "place_frame_share": np.nan, "place_excess": np.nan}
    report = {
        "quantity": quantity,
        "per_second": float(per_frame.mean() * s.latent_rate),  # the average that hides it
        "channel": ch, "channel_share": float(per_channel[ch]),
        "channel_fair_share": 1.0 / s.width, "channel_excess": float(per_channel[ch] * s.width),
        **best,
    }
    place = f"{best['place_by']}={best['place']}" if best["place"] is not None else "no place"
    report["summary"] = (
        # one decimal: a 64-channel latent's fair share is 1.6%, and "2%, 2.5x" would not add up
        f"{quantity}: channel {ch} carries {report['channel_share']:.1%} (fair share {1 / s.width:.1%}, "
        f"{report['channel_excess']:.1f}x); {place} carries {best['place_share']:.1%} on "
        f"{best['place_frame_share']:.1%} of the frames ({best['place_excess']:.1f}x)"
    )
    return report


# --- the figure ---------------------------------------------------------------------------------

def figure(s: LatentSample, places=("regime", "domain"), title: str = "latent dashboard"):
    """One figure, four panels: per-channel std; per-channel KL/s (or residual RMS / std, or the outlier
    rate, when the bottleneck has no posterior); the latent-norm histogram; and per-place bars (residual RMS / std
    when predictions were collected, else KL/s, else mean norm) for each grouping in ``places``.
    The channel and place named by ``debt_report`` are drawn in orange."""
    ch = channel_table(s)
    debt = debt_report(s)
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    (a_std, a_kl), (a_norm, a_place) = axes
    colors = ["tab:orange" if i == debt["channel"] else "tab:blue" for i in ch.index]

    a_std.bar(ch.index, ch["std"], color=colors)
    a_std.set(xlabel="latent channel", ylabel="std of posterior mean", title="per-channel spread")

    if s.kl is not None:
        a_kl.bar(ch.index, ch["kl_per_s"], color=colors)
        a_kl.set(xlabel="latent channel", ylabel="KL (nats / s)", title="per-channel KL per second")
    elif s.residual is not None:
        a_kl.bar(ch.index, ch["residual_rel"], color=colors)
        a_kl.set(xlabel="latent channel", ylabel="residual RMS / std", title="per-channel residual (no KL)")
    else:
        a_kl.bar(ch.index, ch["outlier_rate"], color=colors)
        a_kl.set(xlabel="latent channel", ylabel=f"outlier rate (> {OUTLIER_STD:g} std)",
                 title="per-channel outliers (no posterior: no KL)")

    a_norm.hist(s.norm, bins=40, color="tab:blue", alpha=0.8)
    a_norm.axvline(np.sqrt(s.width), color="k", ls="--", lw=1, label="sqrt(width): N(0, I)")
    a_norm.set(xlabel="latent frame L2 norm", ylabel="frames", title="latent norm distribution")
    a_norm.legend(fontsize=8)

    col, label = (("residual_rel", "residual RMS / std") if s.residual is not None
                  else ("kl_per_s", "KL (nats / s)") if s.kl is not None else ("norm_mean", "mean latent norm"))
    names, vals, cols = [], [], []
    palette = ("tab:blue", "tab:green", "tab:purple", "tab:gray")  # orange is kept for the debt
    for i, by in enumerate(places):
        t = place_table(s, by=by)
        for g, v in t[col].items():
            names.append(f"{by}: {g}")
            vals.append(v)
            hit = debt["place_by"] == by and debt["place"] == g
            cols.append("tab:orange" if hit else palette[i % len(palette)])
    a_place.barh(names[::-1], vals[::-1], color=cols[::-1])
    a_place.set(xlabel=label, ylabel="place", title=f"split by place ({debt['quantity']} debt in orange)")

    fig.suptitle(title)
    fig.tight_layout()
    return fig
