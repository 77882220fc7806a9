"""The decode-path table: every way a latent can reach the decoder, scored with the same metrics.

    D(E(x))   the oracle: the latent came from the encoder          (how good the codec is)
    D(z_hat)  the latent came from a downstream predictor           (how good generation can be)

The difference between the two rows is the *predicted-latent gap*: what the generator's errors
cost once decoded.  A codec is judged by the first row; an interface by the second.  Notebook 03
adds the rows in between (posterior samples, calibrated noise, projection onto the manifold).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from course_lib import metrics
from course_lib.models import Autoencoder

ORACLE = "D(E(x))"
PREDICTED = "D(ẑ)"
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
               speech: bool = True, extra: dict[str, Callable] | None = None) -> pd.DataFrame:
    """One row per decode path, one column per metric (mean over clips).

    ``extra`` adds columns: name -> f(est, ref) -> float per clip, averaged (NaNs skipped), e.g.
    ``{"drift_ms": metrics.alignment_drift_ms}``; or name -> f(ests, refs) -> float for the whole
    path when the metric needs per-clip context (wrap it with ``per_path``).
    """
    rows = {}
    for name, ests in paths.items():
        if len(ests) != len(refs):
            raise ValueError(f"path {name!r} has {len(ests)} clips for {len(refs)} references")
        row = metrics.score(refs, ests, sample_rate, speech=speech)
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


def oracle_and_predicted(model: Autoencoder, study) -> dict[str, list[torch.Tensor]]:
    """The two rows notebook 01 needs, decoded: D(E(x)) and D(z_hat) of a ``predictors.study``."""
    lengths = [u.length for u in study.eval]
    spans = [u.spans for u in study.eval]
    return {ORACLE: decode_latents(model, [u.z for u in study.eval], lengths, spans),
            PREDICTED: decode_latents(model, study.z_hat, lengths, spans)}
