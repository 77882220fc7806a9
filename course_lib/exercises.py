"""One exercise per notebook: the task, the stub a learner fills, and the check that grades it.

Each notebook ends with three cells built from ``EXERCISES[nn]``: the task (markdown), a stub that
raises ``NotImplementedError``, and ``exercises.check("nn", fn)``.  The check

- says "not done yet" (and does not raise) while the stub is untouched, so the notebook still runs
  top to bottom in CI and in a workshop;
- raises ``ExerciseError`` with a specific message when an attempt is wrong;
- prints what passed when it is right.

The reference answers live in ``solutions/exNN.py`` at the repository root; ``solution(nn)`` loads
one (a notebook's ``solutions = True`` parameter uses it), and ``tests/test_exercises.py`` checks
that every solution passes and that a wrong answer fails.  The checks compare against course_lib's
own implementation where one exists, or against an independent reference (``torch.distributions``,
a property that any right answer has).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import torch

from course_lib.data import REPO_ROOT

SOLUTIONS = REPO_ROOT / "solutions"


class ExerciseError(AssertionError):
    """An attempt ran but gave a wrong answer; the message says what was expected."""


@dataclass(frozen=True)
class Exercise:
    name: str  # the function the learner writes
    task: str  # markdown
    stub: str  # the code cell the learner edits


def _close(got, want, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    got = torch.as_tensor(got, dtype=torch.float64)
    want = torch.as_tensor(want, dtype=torch.float64)
    if got.shape != want.shape:
        raise ExerciseError(f"{what}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
    if not torch.allclose(got, want, atol=atol, rtol=rtol):
        err = (got - want).abs().max().item()
        raise ExerciseError(f"{what}: off by up to {err:.3g} (expected e.g. {want.flatten()[:3].tolist()}, "
                            f"got {got.flatten()[:3].tolist()})")


# --- the checks ---------------------------------------------------------------------------------


def _check_00(add_noise: Callable) -> str:
    g = torch.Generator().manual_seed(0)
    clean = torch.randn(1, 16000, generator=g) * 0.1
    noise = torch.randn(1, 16000, generator=g) * 0.7
    for snr in (0.0, 10.0, 25.0):
        mix = add_noise(clean, noise, snr)
        if tuple(mix.shape) != tuple(clean.shape):
            raise ExerciseError(f"add_noise must keep the shape {tuple(clean.shape)}, got {tuple(mix.shape)}")
        added = mix - clean
        measured = 10 * torch.log10(clean.pow(2).mean() / added.pow(2).mean())
        _close(measured, snr, f"SNR of the mix at snr_db={snr}", atol=1e-3)
        corr = torch.corrcoef(torch.stack([added.flatten(), noise.flatten()]))[0, 1]
        if corr < 0.999:
            raise ExerciseError("what is added must be the given noise, scaled (not new noise)")
    return "the mix has exactly the SNR asked for, at 0, 10 and 25 dB"


def _check_01(pool_spans: Callable) -> str:
    from course_lib.models import span_mean

    g = torch.Generator().manual_seed(1)
    h = torch.randn(2, 5, 12, generator=g)
    spans = torch.tensor([[0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3], [0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3]])
    _close(pool_spans(h, spans, 4), span_mean(h, spans, 4), "pooled phone vectors")
    return "one mean vector per phone span, as models.span_mean computes it"


def _check_02(mid_side: Callable) -> str:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 2, 100, generator=g)
    mid, side = mid_side(x)
    left, right = x[:, 0], x[:, 1]
    _close(mid, (left + right) / 2, "mid")
    _close(side, (left - right) / 2, "side")
    mono = torch.randn(1, 1, 50, generator=g).expand(1, 2, 50)
    if mid_side(mono)[1].abs().max() > 1e-7:
        raise ExerciseError("a mono signal (L == R) must have a silent side channel")
    return "mid = (L+R)/2, side = (L-R)/2, and a mono clip has no side"


def _check_03(calibrated: Callable) -> str:
    g = torch.Generator().manual_seed(3)
    width, frames = 6, 20000
    z = torch.randn(width, frames, generator=g)
    std = torch.linspace(0.05, 1.0, width)
    z_hat = z + torch.randn(width, frames, generator=g) * std[:, None] + 0.3  # errors with a bias, too
    torch.manual_seed(0)
    noisy = calibrated(z, z_hat)
    if tuple(noisy.shape) != (width, frames):
        raise ExerciseError(f"expected shape {(width, frames)}, got {tuple(noisy.shape)}")
    eps = noisy - z
    resid = z_hat - z
    if torch.corrcoef(torch.stack([eps.flatten(), resid.flatten()]))[0, 1].abs() > 0.05:
        raise ExerciseError("the noise copies the predictor's errors: draw fresh noise, only its size is calibrated")
    _close(eps.std(dim=1), resid.std(dim=1), "per-channel std of the added noise", atol=0.02, rtol=0.03)
    if eps.mean(dim=1).abs().max() > 0.03:
        raise ExerciseError("the added noise should have zero mean: the size of the errors, not their bias")
    return "fresh zero-mean noise whose per-channel size matches the predictor's errors"


def _check_04(kl_nats_per_second: Callable) -> str:
    g = torch.Generator().manual_seed(4)
    mean = torch.randn(2, 8, 30, generator=g)
    logvar = torch.randn(2, 8, 30, generator=g) - 1
    q = torch.distributions.Normal(mean, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    for rate in (50.0, 12.5):
        want = torch.distributions.kl_divergence(q, p).sum(dim=1).mean() * rate
        _close(kl_nats_per_second(mean, logvar, rate), want, f"KL at {rate} Hz", rtol=1e-4)
    return "KL(q || N(0, I)) summed over channels, averaged over frames, times the frame rate"


def _check_05(probe_accuracy: Callable) -> str:
    g = torch.Generator().manual_seed(5)
    centres = torch.randn(4, 10, generator=g) * 3
    y_tr, y_te = torch.arange(200) % 4, torch.arange(80) % 4
    x_tr = (centres[y_tr] + torch.randn(200, 10, generator=g)).numpy()
    x_te = (centres[y_te] + torch.randn(80, 10, generator=g)).numpy()
    acc = float(probe_accuracy(x_tr, y_tr.numpy(), x_te, y_te.numpy()))
    if not 0.9 <= acc <= 1.0:
        raise ExerciseError(f"separable classes: a linear probe should score ≥ 0.9, got {acc:.3f}")
    shuffled = y_tr[torch.randperm(200, generator=g)].numpy()
    chance_acc = float(probe_accuracy(x_tr, shuffled, x_te, y_te.numpy()))
    if chance_acc > 0.25 + 0.2:
        raise ExerciseError(f"trained on shuffled labels the probe still scores {chance_acc:.2f} (chance 0.25): "
                            "is it looking at the test labels?")
    return f"separable classes {acc:.2f}; shuffled training labels {chance_acc:.2f} (chance 0.25)"


def _check_06(freeze_encoder: Callable) -> str:
    from course_lib.models import Autoencoder, ModelConfig

    torch.manual_seed(6)
    model = Autoencoder(ModelConfig(dim=16, enc_blocks=(1, 1), dec_blocks=(1, 1), width=8))
    x = torch.randn(2, 1, 4000) * 0.1
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        z0 = model.encode(x).z
    opt = freeze_encoder(model)
    if not isinstance(opt, torch.optim.Optimizer):
        raise ExerciseError(f"return a torch optimizer over the decoder, got {type(opt).__name__}")
    for _ in range(2):
        opt.zero_grad()
        loss = (model(x)[0] - x).abs().mean()
        loss.backward()
        opt.step()
    moved = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    enc_moved = [k for k in moved if k.startswith(("encoder.", "bottleneck."))]
    if enc_moved:
        raise ExerciseError(f"the encoder moved: {enc_moved[:3]}")
    if not any(k.startswith("decoder.") for k in moved):
        raise ExerciseError("the decoder did not learn: the optimizer must update its parameters")
    with torch.no_grad():
        drift = (model.encode(x).z - z0).abs().max().item()
    if drift != 0.0:
        raise ExerciseError(f"the latents drifted by {drift:.3g}")
    return "two steps moved the decoder; the encoder and the latents did not change at all"


def _check_07(two_oracles: Callable) -> str:
    from course_lib.metrics import mel_distance

    g = torch.Generator().manual_seed(7)
    t = torch.linspace(0, 1, 16000)
    clean = [torch.sin(2 * torch.pi * f * t)[None] * 0.3 for f in (220.0, 330.0)]
    degraded = [c + torch.randn(c.shape, generator=g) * 0.1 for c in clean]
    lookup = {id(d): c for d, c in zip(degraded, clean)}

    def identity(x):
        return x

    def perfect_restorer(x):  # returns the clean clip for a degraded one, else its input
        return lookup.get(id(x), x)

    got = two_oracles(identity, clean, degraded)
    want_task = sum(mel_distance(d, c) for d, c in zip(degraded, clean)) / 2
    _close(got["neutral"], 0.0, "neutral oracle of an identity codec", atol=1e-4)
    _close(got["task"], want_task, "task oracle of an identity codec (it keeps the noise)", rtol=1e-3)
    got = two_oracles(perfect_restorer, clean, degraded)
    _close(got["task"], 0.0, "task oracle of a perfect restorer", atol=1e-4)
    return "neutral oracle: clean in, clean out; task oracle: degraded in, scored against clean"


def _check_08(gap: Callable) -> str:
    import pandas as pd

    from course_lib.decode_paths import ORACLE, PREDICTED, predicted_latent_gap

    table = pd.DataFrame({"mel_dist": [0.55, 0.78], "stoi": [0.85, 0.74], "pesq_wb": [1.3, 1.1]},
                         index=[ORACLE, PREDICTED])
    for metric in table.columns:
        _close(gap(table, metric), predicted_latent_gap(table, metric), f"the gap in {metric}")
    return "positive = the predicted path is worse, whichever way the metric points"


CHECKS: dict[str, Callable[[Callable], str]] = {
    "00": _check_00, "01": _check_01, "02": _check_02, "03": _check_03, "04": _check_04,
    "05": _check_05, "06": _check_06, "07": _check_07, "08": _check_08,
}

EXERCISES: dict[str, Exercise] = {
    "00": Exercise("add_noise", """
The corpus's `noisy` condition mixes each clean clip with noise at a labelled SNR. Write
`add_noise(clean, noise, snr_db)`: scale `noise` so that the power of `clean` over the power of the
scaled noise is `snr_db` decibels, and return the mix. (Power: the mean of the squared samples.)
""", '''
def add_noise(clean, noise, snr_db):
    """clean, noise: tensors of the same shape; returns clean + g * noise at the given SNR (dB)."""
    raise NotImplementedError("your code here")
'''),
    "01": Exercise("pool_spans", """
The phone-aligned topology keeps **one vector per phone**: the mean of the encoder's frames inside
the phone's span. Write `pool_spans(h, spans, n_slots)`: `h` is (batch, dim, frames), `spans` is
(batch, frames) with the phone index of each frame; return (batch, dim, n_slots). (Hint:
`scatter_add_` sums per index; count the frames the same way.)
""", '''
def pool_spans(h, spans, n_slots):
    """Mean of h (B, D, F) over each span; spans (B, F) holds a slot index per frame -> (B, D, n_slots)."""
    raise NotImplementedError("your code here")
'''),
    "02": Exercise("mid_side", """
The mid/side loss compares the *sum* and the *difference* of the two channels instead of left and
right, so an error in the stereo image costs as much as an error in timbre. Write `mid_side(x)` for
`x` of shape (batch, 2, samples): return `(mid, side)` with mid = (L + R) / 2 and side = (L − R) / 2.
""", '''
def mid_side(x):
    """x: (B, 2, T) stereo -> (mid, side), each (B, T)."""
    raise NotImplementedError("your code here")
'''),
    "03": Exercise("calibrated", """
`D(E(x)+ε)` asks whether the decoder survives errors **the size of the predictor's**. Write
`calibrated(z, z_hat)`: `z` is the encoder's latent and `z_hat` a prediction of it, both
(width, frames); return `z` plus fresh Gaussian noise whose per-channel standard deviation equals that
of the prediction errors `z_hat − z`. (Fresh noise: the size of the errors, not the errors themselves.)
""", '''
def calibrated(z, z_hat):
    """z, z_hat: (width, frames) -> z + noise with the per-channel std of (z_hat - z)."""
    raise NotImplementedError("your code here")
'''),
    "04": Exercise("kl_nats_per_second", """
A KL bottleneck's rate is the KL of the posterior N(μ, σ²) from N(0, 1), in **nats per second**.
Write `kl_nats_per_second(mean, logvar, frame_rate)` for (batch, channels, frames) tensors: per element
KL = ½(μ² + σ² − 1 − log σ²); sum over channels, average over batch and frames, multiply by the
frame rate.
""", '''
def kl_nats_per_second(mean, logvar, frame_rate):
    """mean, logvar: (B, C, F) -> KL(q || N(0, I)) in nats per second (a scalar tensor)."""
    raise NotImplementedError("your code here")
'''),
    "05": Exercise("probe_accuracy", """
Every ledger entry is a **linear probe**: a classifier trained on latents of the training split and
scored on the test split, read beside chance. Write `probe_accuracy(x_train, y_train, x_test, y_test)`
with scikit-learn (standardise the features, then a logistic regression) and return the test
accuracy.
""", '''
def probe_accuracy(x_train, y_train, x_test, y_test):
    """numpy arrays (n, features) and labels (n,) -> accuracy on the test set (a float in [0, 1])."""
    raise NotImplementedError("your code here")
'''),
    "06": Exercise("freeze_encoder", """
The last phase of staged training polishes the decoder with the **encoder frozen**, so the latent a
generator learned to predict cannot move. Write `freeze_encoder(model)`: stop gradients to
`model.encoder` and `model.bottleneck`, and return an `AdamW` optimizer (lr 1e-3) over the parameters
that still train.
""", '''
def freeze_encoder(model):
    """Freeze model.encoder and model.bottleneck; return an optimizer over the rest."""
    raise NotImplementedError("your code here")
'''),
    "07": Exercise("two_oracles", """
A restoration encoder needs two oracles. The **neutral** oracle feeds the codec clean audio and scores
it against that clean audio; the **task** oracle feeds it the *degraded* audio and scores it against
the clean target. Write `two_oracles(codec, clean, degraded)`: `codec` maps a (channels, samples)
clip to its reconstruction, `clean` and `degraded` are lists of paired clips; return
`{"neutral": ..., "task": ...}`, each the mean `metrics.mel_distance(estimate, reference)`.
""", '''
from course_lib import metrics

def two_oracles(codec, clean, degraded):
    """-> {"neutral": mean mel distance of codec(clean) to clean, "task": of codec(degraded) to clean}"""
    raise NotImplementedError("your code here")
'''),
    "08": Exercise("gap", """
The report card's headline is the **predicted-latent gap**: how much worse `D(ẑ)` scores than
`D(E(x))`. Write `gap(table, metric)`: `table` is a decode-path table (rows `decode_paths.ORACLE` and
`decode_paths.PREDICTED`, one column per metric); return the gap so that **positive means the
predicted path is worse**, for metrics where lower is better (`mel_dist`) and where higher is better
(`stoi`, `pesq_wb`).
""", '''
from course_lib import decode_paths

def gap(table, metric):
    """Positive = D(z_hat) is worse than D(E(x)) on this metric."""
    raise NotImplementedError("your code here")
'''),
}


def solution(nn: str) -> Callable:
    """The reference answer to notebook ``nn``'s exercise, from ``solutions/ex<nn>.py``."""
    if nn not in EXERCISES:
        raise KeyError(f"no exercise for notebook {nn!r}; there are {sorted(EXERCISES)}")
    path = SOLUTIONS / f"ex{nn}.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the solutions ship with the repository")
    spec = importlib.util.spec_from_file_location(f"course_solution_{nn}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, EXERCISES[nn].name)


def check(nn: str, fn: Callable, quiet: bool = False) -> bool:
    """Grade ``fn`` as the answer to notebook ``nn``'s exercise.

    Returns True when it passes, False while it still raises ``NotImplementedError`` (the untouched
    stub: the notebook goes on); raises ``ExerciseError`` when it runs but is wrong."""
    try:
        what = CHECKS[nn](fn)
    except NotImplementedError:
        if not quiet:
            print(f"Exercise {nn}: not done yet. Fill in `{EXERCISES[nn].name}` above and run this cell "
                  f"again (the answer: solutions/ex{nn}.py, or run the notebook with solutions=True).")
        return False
    if not quiet:
        print(f"Exercise {nn} passed: {what}.")
    return True
