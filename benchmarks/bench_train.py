#!/usr/bin/env python
"""Why the course trains a *frame-rate* autoencoder: one command that measures it.

    python benchmarks/bench_train.py --preset cpu [--budget-s 240] [--out benchmarks/results.md]

Three comparisons, each against a baseline chosen so that the course model gets no free lunch:

1. **Throughput.**  Training steps per second of the course model (STFT encoder + Vocos-style
   iSTFT decoder, every layer at 100 Hz or slower) against ``WaveformAE``: a DAC/Oobleck-like
   waveform autoencoder whose first and last layers run at the sample rate.  Both have (about) the
   same parameter count, the same latent rate and width, and train with the same batch, segment,
   loss (``ReconstructionLoss("mel")``), optimiser and data stream, so the only difference is
   *where* the computation happens.
2. **Quality after the same wall clock.**  Each model trains on clean speech for ``--budget-s``
   seconds, then is scored on held-out speakers (test split) and on new sentences of training
   speakers (valid split): PESQ-wb, STOI, mel distance.  This is the number a learner feels: what
   do I get for four minutes of my laptop?
3. **Music.**  A stereo course model trained on music for ``--music-budget-s`` against a mel
   spectrogram + Griffin-Lim "codec" that keeps exactly as many numbers per second as the latent.
   It has no training at all and is the classic answer to "why not just use a mel spectrogram?".

It writes ``results.md`` (atomically; a ``## Notebook timings`` section written by another tool is
kept) and the raw numbers to ``results.json`` next to it.  ``--quick`` runs the whole pipeline with
tiny budgets on the smoke corpus, for tests.

Wall-clock budgets make the *amount* of training depend on the machine, so two runs on a busy
machine need not match step for step; initial weights and the batch stream are seeded, and the
throughput is measured in alternating rounds so background load hits both models alike.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import os
import platform
import re
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import torchaudio
from torch import nn

from course_lib import data, metrics, presets, training
from course_lib.bottlenecks import make_bottleneck
from course_lib.losses import ReconstructionLoss
from course_lib.models import Autoencoder, ModelConfig, count_parameters

HERE = Path(__file__).resolve().parent
SCHEDULE_TICKS = 1000  # resolution of the time-based LR schedule (see lr_for_fraction)
LOG_EVERY_S = 15.0
PARAM_TOLERANCE = 0.15
# The waveform model's learning rate.  The course's 2e-3 is too hot for it: in a probe (cpu preset,
# batch 16, AdamW as in training.train) its mel loss went 1.44 -> 1.25 -> 5.7 and stayed there at 2e-3,
# spiked to 4.3 at 1e-3, and fell steadily (1.44 -> 1.07 in 5 steps) at 3e-4.  A deep conv stack with
# no normalisation takes Adam's first, sign-like updates badly; the course model's LayerNorm and
# layer scale absorb them.  Giving each model an LR it can train at keeps the comparison about
# speed, not about one shared hyper-parameter.  (DAC itself trains at 1e-4.)
BASELINE_LR = 3e-4


# ----------------------------------------------------------------------------------------------
# The waveform baseline
# ----------------------------------------------------------------------------------------------


class Snake(nn.Module):
    """Snake activation x + sin^2(a x) / a (Ziyin et al. 2020), per channel, as in DAC and BigVGAN.

    Periodic inductive bias for audio; DAC's ablations found it clearly better than ELU/LeakyReLU.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)


class ResidualUnit(nn.Module):
    """DAC residual unit: Snake -> dilated conv (k=7) -> Snake -> 1x1 conv, plus the skip."""

    def __init__(self, dim: int, dilation: int, kernel: int = 7):
        super().__init__()
        self.block = nn.Sequential(
            Snake(dim),
            nn.Conv1d(dim, dim, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2),
            Snake(dim),
            nn.Conv1d(dim, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def _down(dim: int, stride: int) -> nn.Sequential:
    """Three residual units (dilations 1, 3, 9: a receptive field that grows fast), then a strided
    conv that halves the rate by ``stride`` and doubles the width (DAC's EncoderBlock)."""
    return nn.Sequential(
        ResidualUnit(dim, 1), ResidualUnit(dim, 3), ResidualUnit(dim, 9), Snake(dim),
        # kernel 2s, padding ceil(s/2): exactly T / s output frames for T divisible by s (odd s too)
        nn.Conv1d(dim, 2 * dim, 2 * stride, stride=stride, padding=math.ceil(stride / 2)),
    )


def _up(dim: int, stride: int) -> nn.Sequential:
    """The mirror of ``_down`` (DAC's DecoderBlock): transposed conv from 2*dim to dim, then units."""
    return nn.Sequential(
        Snake(2 * dim),
        nn.ConvTranspose1d(2 * dim, dim, 2 * stride, stride=stride, padding=math.ceil(stride / 2),
                           output_padding=stride % 2),
        ResidualUnit(dim, 1), ResidualUnit(dim, 3), ResidualUnit(dim, 9),
    )


def factor_strides(hop: int, max_blocks: int = 4) -> tuple[int, ...]:
    """Split the total downsampling factor into at most ``max_blocks`` balanced strides, smallest first.

    320 (16 kHz -> 50 Hz) gives (4, 4, 4, 5), 1280 (12.5 Hz) gives (4, 5, 8, 8); DAC uses (2, 4, 8, 8)
    for 512.  Balanced, so no single layer has to jump a huge rate ratio; smallest first, as in DAC,
    so the widest layers run at the lowest rate.
    """
    primes, n, p = [], hop, 2
    while n > 1:
        while n % p == 0:
            primes.append(p)
            n //= p
        p += 1
    blocks = [1] * min(max_blocks, max(len(primes), 1))
    for q in sorted(primes, reverse=True):  # largest prime first into the smallest block so far
        i = blocks.index(min(blocks))
        blocks[i] *= q
    return tuple(sorted(blocks))


class WaveformAE(Autoencoder):
    """A DAC/Oobleck-like waveform autoencoder: the baseline the course model is measured against.

    Encoder: Conv1d stem (k=7) at the sample rate with ``base`` channels, then one block per stride
    (3 Snake residual units with dilations 1/3/9 + a strided conv that doubles the width), then a
    k=3 conv to the latent.  Decoder: the mirror image with transposed convs, ending in a k=7 conv
    and tanh, like DAC.  Strides multiply to ``cfg.samples_per_latent``, so the latent has exactly
    the course model's rate and width, and it goes through the same bottleneck module.

    Why the comparison is fair: ``base`` is chosen (``matched_baseline``) so the parameter count
    matches the course model's within 15%; the interface (``encode``/``decode``/``forward``) is the
    course model's, so the same training step, loss, data stream and scoring code run on both.
    Weight norm (which DAC uses) is left out: it only adds compute, so leaving it out errs in the
    baseline's favour.  What differs is the design choice under test: DAC and Oobleck spend their
    first and last layers at 16 000 positions per second, the course model at 100.
    """

    def __init__(self, cfg: ModelConfig, base: int = 24):
        in_factor = make_bottleneck(cfg.bottleneck, cfg.width, cfg.kl_weight).in_factor
        strides = factor_strides(cfg.samples_per_latent)
        dims = [base * 2**i for i in range(len(strides) + 1)]  # width doubles at every block
        encoder = nn.Sequential(
            nn.Conv1d(cfg.channels, base, 7, padding=3),
            *[_down(d, s) for d, s in zip(dims, strides)],
            Snake(dims[-1]),
            nn.Conv1d(dims[-1], cfg.width * in_factor, 3, padding=1),
        )
        decoder = nn.Sequential(
            nn.Conv1d(cfg.width, dims[-1], 7, padding=3),
            *[_up(d, s) for d, s in reversed(list(zip(dims, strides)))],
            Snake(base),
            nn.Conv1d(base, cfg.channels, 7, padding=3),
            nn.Tanh(),
        )
        # pad / encode / decode / forward are the course model's own (same interface, same code path)
        super().__init__(cfg, encoder=encoder, decoder=decoder)
        self.base = base
        self.strides = strides



@functools.cache
def baseline_params(cfg: ModelConfig, base: int) -> int:
    """Parameter count of ``WaveformAE(cfg, base)`` (cached: the bisection asks for some twice).

    Built on the CPU, not the meta device: meta's one-time set-up costs more than these builds.
    """
    return count_parameters(WaveformAE(cfg, base))


@functools.cache
def course_params(cfg: ModelConfig) -> int:
    return count_parameters(Autoencoder(cfg))


def matched_base(cfg: ModelConfig, target: int | None = None) -> int:
    """The stem width ``base`` whose WaveformAE is closest in parameter count to the course model."""
    target = target or course_params(cfg)
    lo, hi = 1, 2
    while baseline_params(cfg, hi) < target:  # parameters grow ~ base^2: bracket, then bisect
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if baseline_params(cfg, mid) < target else (lo, mid)
    return min((lo, hi), key=lambda b: abs(baseline_params(cfg, b) - target))


def matched_baseline(cfg: ModelConfig, seed: int = 0) -> WaveformAE:
    """A seeded WaveformAE whose parameter count matches ``Autoencoder(cfg)``'s."""
    base = matched_base(cfg)
    torch.manual_seed(seed)
    return WaveformAE(cfg, base)


# ----------------------------------------------------------------------------------------------
# The mel + Griffin-Lim baseline
# ----------------------------------------------------------------------------------------------


class MelGriffinLim:
    """Mel spectrogram at the latent rate, inverted by least squares + Griffin-Lim: a "codec" that
    keeps as many numbers per second as the latent (50 Hz x 64 mels = 50 Hz x 64 latent channels).

    For stereo the mel bins are split between the channels (``width // channels`` mels each), so
    the count per second still equals the latent's.  The window is 4 hops long (75% overlap, what
    Griffin-Lim needs to converge).  Nothing is learned: it answers "is a trained latent worth it
    over a hand-made one of the same size?".
    """

    def __init__(self, cfg: ModelConfig, n_mels: int | None = None, n_iter: int = 64, seed: int = 0):
        self.sample_rate = cfg.sample_rate
        self.hop = cfg.samples_per_latent
        self.n_fft = 4 * self.hop
        self.n_mels = n_mels or max(1, cfg.width // cfg.channels)
        self.n_iter = n_iter
        self.seed = seed
        self.mel = torchaudio.transforms.MelSpectrogram(
            cfg.sample_rate, n_fft=self.n_fft, hop_length=self.hop, n_mels=self.n_mels, power=1.0
        )
        # gelsd (SVD-based) copes with a rank-deficient filterbank; the default gels does not.
        self.inverse_mel = torchaudio.transforms.InverseMelScale(
            self.n_fft // 2 + 1, self.n_mels, cfg.sample_rate, driver="gelsd"
        )
        self.window = torch.hann_window(self.n_fft)

    def numbers_per_second(self, channels: int) -> float:
        return self.sample_rate / self.hop * self.n_mels * channels

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.mel(x)  # (..., n_mels, frames): the "latent"

    def decode(self, mel: torch.Tensor, length: int) -> torch.Tensor:
        spec = self.inverse_mel(mel)  # every leading dim (batch, channel) is inverted independently
        torch.manual_seed(self.seed)  # Griffin-Lim's random initial phase: seeded, reproducible
        return torchaudio.functional.griffinlim(
            spec, self.window, self.n_fft, self.hop, self.n_fft, power=1.0, n_iter=self.n_iter,
            momentum=0.99, length=length, rand_init=True,
        )

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(..., channels, samples) -> audio of the same shape, each channel on its own."""
        return self.decode(self.encode(x), x.shape[-1])


# ----------------------------------------------------------------------------------------------
# Training and timing (shared by both models: the same step, loss, optimiser and data stream)
# ----------------------------------------------------------------------------------------------


def segment_samples(cfg: ModelConfig, tcfg: presets.TrainConfig) -> int:
    """The training segment, a whole number of latent frames (as training.train computes it)."""
    return int(round(tcfg.segment_s * cfg.sample_rate / cfg.samples_per_latent)) * cfg.samples_per_latent


class Stepper:
    """One optimiser step of training.train (AdamW, grad clip, seeded ClipBank crops), reusable
    by the throughput and the quality runs so both models run literally the same code."""

    def __init__(self, model: nn.Module, bank: data.ClipBank, tcfg: presets.TrainConfig, seed: int):
        self.model = model.train()
        self.bank = bank
        self.tcfg = tcfg
        self.loss_fn = ReconstructionLoss(tcfg.loss, model.cfg.sample_rate, tcfg.l1_weight,
                                          fast_grad=tcfg.fast_stft_grad)
        self.opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, betas=(0.8, 0.99), weight_decay=1e-2)
        self.gen = torch.Generator().manual_seed(seed)  # the same seed: both models see the same batches
        self.segment = segment_samples(model.cfg, tcfg)
        # the preset's precision for both models alike (training.train's autocast: bfloat16 convs and
        # matmuls where the CPU has them); the losses run in float32 after it closes
        self.autocast = training.mixed_precision(tcfg.precision, "cpu")
        self.steps = 0
        self.skipped = 0
        self.last_loss = float("nan")

    def step(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr
        x = self.bank.sample(self.tcfg.batch_size, self.segment, self.gen)
        with self.autocast:
            x_hat, out = self.model(x)
        rec, _ = self.loss_fn(x_hat.float(), x)
        loss = rec + out.reg
        self.opt.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tcfg.grad_clip)
            self.opt.step()
            self.last_loss = float(loss.detach())
        else:
            # A benchmark should report a divergence, not die ten minutes in: skip and count it.
            self.skipped += 1
        self.steps += 1


def lr_for_fraction(frac: float, tcfg: presets.TrainConfig) -> float:
    """The preset's schedule (training.lr_at) stretched over *time* instead of steps.

    Why time: both models must finish their cosine decay exactly when the budget ends.  Estimating
    a step count from a throughput measurement would cut the schedule short (or leave it unfinished)
    whenever the shared machine speeds up or slows down during the run.  The warm-up keeps the
    preset's share of the run (100 of 1200 steps for cpu), so the shape matches the notebooks'.
    """
    sched = replace(tcfg, steps=SCHEDULE_TICKS,
                    warmup=max(1, round(SCHEDULE_TICKS * tcfg.warmup / max(tcfg.steps, 1))))
    return training.lr_at(min(int(frac * SCHEDULE_TICKS), SCHEDULE_TICKS), sched)


def train_for(stepper: Stepper, budget_s: float, label: str, log_every: float = LOG_EVERY_S) -> dict:
    """Train until ``budget_s`` seconds of wall clock have passed (at least one step)."""
    t0 = last_log = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - t0
        if elapsed >= budget_s and stepper.steps > 0:
            break
        lr = lr_for_fraction(elapsed / budget_s, stepper.tcfg)
        stepper.step(lr)
        now = time.perf_counter()
        if now - last_log >= log_every:
            last_log = now
            print(f"  [{label}] {now - t0:6.0f}/{budget_s:.0f} s  step {stepper.steps:5d}  "
                  f"loss {stepper.last_loss:.3f}  lr {lr:.2e}", flush=True)
    seconds = time.perf_counter() - t0
    stepper.model.eval()
    return {"steps": stepper.steps, "seconds": seconds, "steps_per_s": stepper.steps / seconds,
            "final_loss": stepper.last_loss, "skipped_steps": stepper.skipped}


def measure_throughput(steppers: dict[str, Stepper], seconds: float, warmup_steps: int = 3, rounds: int = 3,
                       log_every: float = LOG_EVERY_S) -> dict[str, dict]:
    """Steps/s of each model over the same wall clock, after ``warmup_steps`` untimed steps.

    The time is split into ``rounds`` alternating windows (A, B, A, B, ...), so a background job
    on a shared machine slows both models instead of whichever happened to run during it.
    The LR is the schedule's first (smallest) value: the cost of a step does not depend on it, and a
    model that diverged would skip its backward pass and look faster than it is.
    """
    for st in steppers.values():
        for _ in range(warmup_steps):  # first steps pay for allocator growth and kernel selection
            st.step(lr_for_fraction(0.0, st.tcfg))
    timed = {k: {"steps": 0, "seconds": 0.0} for k in steppers}
    last_log = time.perf_counter()
    for r in range(rounds):
        for name, st in steppers.items():
            t0 = time.perf_counter()
            n = 0
            while n == 0 or time.perf_counter() - t0 < seconds / rounds:
                st.step(lr_for_fraction(0.0, st.tcfg))
                n += 1
                if time.perf_counter() - last_log >= log_every:
                    last_log = time.perf_counter()
                    print(f"  [throughput] round {r + 1}/{rounds} {name}: {n} steps so far", flush=True)
            timed[name]["steps"] += n
            timed[name]["seconds"] += time.perf_counter() - t0
    for name, t in timed.items():
        t["steps_per_s"] = t["steps"] / t["seconds"]
        t["skipped_steps"] = steppers[name].skipped
    return timed


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------


def evaluate(model: nn.Module, clips: list[torch.Tensor], speech: bool = True) -> dict:
    """metrics.score of D(E(x)) on whole clips (posterior mean, as the notebooks do)."""
    ests = training.reconstruct(model, clips)
    return metrics.score(clips, ests, model.cfg.sample_rate, speech=speech)


def _load_eval(corpus: Path, df, n: int, max_seconds: float | None, channels: int | None = None, **where):
    rows = data.select(df, **where)
    if rows.empty:
        raise data.CorpusError(f"{corpus}: no clips with {where}")
    # spread: n clips evenly over the split, so every held-out voice is scored (as notebook 00 does)
    clips, ids = data.eval_clips(corpus, rows, n, channels=channels, max_seconds=max_seconds, spread=True)
    return clips, ids


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # The load average tells a reader whether other jobs shared the CPU during the run.
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version(), "platform": platform.platform(), "load_avg_1m": load[0]}


def _f(x: float, fmt: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def reading(res: dict) -> str:
    """The plain-language paragraph: what the numbers say, worded from the numbers themselves."""
    tp, q = res["throughput"], res["quality"]
    ratio = tp["ratio"]
    out = [f"With the same number of weights ({res['params']['course'] / 1e6:.1f} M vs "
           f"{res['params']['baseline'] / 1e6:.1f} M), the course model takes {ratio:.1f}x as many training steps "
           f"per second as the waveform autoencoder on this machine"]
    out[-1] += (", meeting the 5x target" if ratio >= 5 else ", short of the 5x target") + \
        ": the waveform model pays for its sample-rate layers at 16 000 positions per second, the course " \
        "model never runs a layer faster than 100 frames per second."
    c, b = q["course"]["test"], q["baseline"]["test"]
    better = c["mel_dist"] < b["mel_dist"]
    out.append(
        f"Given the same {res['config']['budget_s']:.0f} s of training, the course model reaches "
        f"PESQ-wb {_f(c.get('pesq_wb'), '.2f')} / STOI {_f(c.get('stoi'), '.2f')} / mel distance "
        f"{_f(c['mel_dist'], '.2f')} on speakers it never heard, against {_f(b.get('pesq_wb'), '.2f')} / "
        f"{_f(b.get('stoi'), '.2f')} / {_f(b['mel_dist'], '.2f')} for the waveform model "
        + ("(lower mel distance is better: for the same wait, the course model's reconstructions are closer to "
           "the input)." if better else
           "(lower mel distance is better: here the extra steps did not buy a closer reconstruction).")
    )
    v = q["course"]["valid"]["mel_dist"]
    if abs(v - c["mel_dist"]) <= 0.1 * max(c["mel_dist"], 1e-9):
        out.append(f"On new sentences of training speakers its mel distance is {v:.2f}, close to the held-out "
                   f"{c['mel_dist']:.2f}: it has learned to code speech, not these particular speakers.")
    else:
        out.append(f"On new sentences of training speakers its mel distance is {v:.2f} against {c['mel_dist']:.2f} "
                   "on held-out speakers: the gap shows how much of what it learned is specific to the voices "
                   "it trained on.")
    m = res.get("music")
    if m:
        cm, gm = m["course"]["mel_dist"], m["griffin_lim"]["mel_dist"]
        out.append(
            f"On stereo music after {res['config']['music_budget_s']:.0f} s, its mel distance is {cm:.2f} against "
            f"{gm:.2f} for a mel spectrogram of the same size inverted with Griffin-Lim "
            + ("- a learned latent beats a hand-made one of the same size, even on the mel metric that favours "
               "the mel spectrogram." if cm < gm else
               "- after so short a run the learned latent does not yet beat a hand-made one of the same size on "
               "this metric, which favours the mel spectrogram; the gap to watch is how quickly training closes it.")
        )
    out.append(f"Timings come from one run on one machine (1-minute load average {res['machine']['load_avg_1m']:.1f} "
               f"on {res['machine']['cores']} cores at the start); on a shared CPU treat them as indicative.")
    if res["config"]["quick"]:
        out.insert(0, "(--quick: a pipeline test with budgets of a second; the numbers mean nothing.)")
    return " ".join(out)


PRECISION_WORDS = {"fp32": "float32", "bf16": "bfloat16 autocast (training.mixed_precision)"}


def render_markdown(res: dict) -> str:
    mi, cfg, tp, p = res["machine"], res["config"], res["throughput"], res["params"]
    lines = [
        "# Training benchmark: frame-rate vs waveform autoencoder",
        "",
        f"- date: {res['date']}",
        f"- machine: {mi['cpu']}, {mi['cores']} cores; torch {mi['torch']}, {mi['threads']} threads; "
        f"load average {mi['load_avg_1m']:.1f} at the start",
        f"- command: `{res['command']}`",
        f"- preset: {cfg['preset']} (corpus `{cfg['corpus']}`), batch {cfg['batch_size']} x "
        f"{cfg['segment_s']:g} s, loss `{cfg['loss']}` + {cfg.get('l1_weight', 1.0):g} x waveform L1, "
        f"seed {cfg['seed']}; both models in {PRECISION_WORDS[cfg.get('precision', 'fp32')]}",
        f"- latent: {cfg['latent_rate']:g} Hz x {cfg['width']} channels; baseline strides "
        f"{'x'.join(map(str, cfg['baseline_strides']))}, stem width {cfg['baseline_base']}",
        "",
        "## Throughput",
        "",
        f"Steps/s after {cfg['warmup_steps']} warm-up steps, over {cfg['throughput_s']:g} s per model "
        f"in {cfg['rounds']} alternating rounds.",
        "",
        "| model | params | steps/s | ratio |",
        "|---|---:|---:|---:|",
        f"| course (STFT encoder + iSTFT decoder, frame rate) | {p['course']:,} | "
        f"{tp['course']['steps_per_s']:.3f} | {tp['ratio']:.1f}x |",
        f"| baseline (DAC/Oobleck-like waveform conv AE) | {p['baseline']:,} | "
        f"{tp['baseline']['steps_per_s']:.3f} | 1.0x |",
        "",
        f"Parameter mismatch: {100 * (p['baseline'] / p['course'] - 1):+.1f}% (tolerance ±15%).",
        "",
        f"## Quality after {cfg['budget_s']:g} s of training",
        "",
        "Clean speech, train split; scored on whole clips, "
        f"{cfg['eval_clips']} spread evenly over each split by clip_id (every held-out voice). "
        f"LR: {cfg['schedule']}; peak {cfg['lr']:g} for the course model, "
        f"{cfg['baseline_lr']:g} for the baseline"
        + (" (the highest of 2e-3 / 1e-3 / 3e-4 at which it trained stably in a probe)."
           if cfg["baseline_lr"] == BASELINE_LR else "."),
        "",
        "| model | steps | eval set | PESQ-wb | STOI | mel dist |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name in ("course", "baseline"):
        q = res["quality"][name]
        for split, label in (("test", "held-out speakers"), ("valid", "training speakers")):
            s = q[split]
            lines.append(f"| {name} | {q['train']['steps']} | {label} | {_f(s.get('pesq_wb'), '.2f')} | "
                         f"{_f(s.get('stoi'), '.3f')} | {_f(s['mel_dist'], '.3f')} |")
    lines += ["", "Higher is better for PESQ-wb (1.0-4.6) and STOI (0-1), lower for mel distance.", ""]
    skipped = {k: v["train"]["skipped_steps"] for k, v in res["quality"].items() if v["train"]["skipped_steps"]}
    if skipped:
        lines += [f"Steps skipped for a non-finite loss (divergence): {skipped}.", ""]
    m = res.get("music")
    if m:
        lines += [
            "## Music (stereo)",
            "",
            f"Course model (channels=2) trained on clean music for {cfg['music_budget_s']:g} s "
            f"({m['course_train']['steps']} steps); scored on {m['n_clips']} clean test+valid clips. "
            "Mel distance uses metrics.mel_distance (n_fft 1024, 80 mels), not the baseline's own resolution.",
            "",
            "| model | numbers / s | mel dist |",
            "|---|---:|---:|",
            f"| course model latent | {m['course_numbers_per_s']:,.0f} | {m['course']['mel_dist']:.3f} |",
            f"| mel + Griffin-Lim, {m['griffin_lim']['n_mels']} mels/channel | "
            f"{m['griffin_lim']['numbers_per_s']:,.0f} | {m['griffin_lim']['mel_dist']:.3f} |",
            f"| mel + Griffin-Lim, {m['griffin_lim_wide']['n_mels']} mels/channel (2x the numbers) | "
            f"{m['griffin_lim_wide']['numbers_per_s']:,.0f} | {m['griffin_lim_wide']['mel_dist']:.3f} |",
            "",
        ]
    lines += ["## Reading", "", reading(res), ""]
    return "\n".join(lines)


def keep_notebook_timings(old: str) -> str:
    """The ``## Notebook timings`` section of an existing results.md (another tool owns it), or ''."""
    match = re.search(r"^## Notebook timings\b.*?(?=^## |\Z)", old, flags=re.M | re.S)
    return match.group(0).rstrip() + "\n" if match else ""


def write_results(res: dict, out: Path) -> tuple[Path, Path]:
    out = Path(out)
    text = render_markdown(res)
    if out.exists():
        kept = keep_notebook_timings(out.read_text())
        if kept:
            text = text.rstrip() + "\n\n" + kept
    training.atomic_write_text(text, out)
    js = out.with_suffix(".json")
    training.atomic_write_text(json.dumps(res, indent=1, default=str), js)
    return out, js


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="cpu", help="smoke | cpu | gpu | auto (default: cpu)")
    ap.add_argument("--budget-s", type=float, default=None, help="speech training budget per model (default 240)")
    ap.add_argument("--music-budget-s", type=float, default=None, help="music training budget (default 90)")
    ap.add_argument("--throughput-s", type=float, default=None, help="timed seconds per model (default 30)")
    ap.add_argument("--out", type=Path, default=HERE / "results.md", help="results.md path (results.json beside it)")
    ap.add_argument("--corpus", type=Path, default=None, help="corpus dir (default: the preset's, built if missing)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--baseline-lr", type=float, default=BASELINE_LR,
                    help=f"peak LR of the waveform model (default {BASELINE_LR:g}; see BASELINE_LR)")
    ap.add_argument("--no-music", action="store_true", help="skip the music section")
    ap.add_argument("--quick", action="store_true", help="tiny budgets, smoke corpus, batch 2: a pipeline test")
    return ap.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__), *(argv or sys.argv[1:])])
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = machine_info()  # now, so the load average describes the machine before we load it
    preset = presets.get(args.preset, seed=args.seed)
    tcfg, cfg = preset.train, preset.model
    eval_n, max_eval_s, warmup_steps, rounds, gl_iter = preset.eval_clips, None, 3, 3, 64
    budget, music_budget, tp_s = args.budget_s or 240.0, args.music_budget_s or 90.0, args.throughput_s or 30.0
    if args.quick:
        tcfg = replace(tcfg, batch_size=2)
        budget, music_budget, tp_s = args.budget_s or 1.0, args.music_budget_s or 1.0, args.throughput_s or 0.5
        eval_n, max_eval_s, warmup_steps, rounds, gl_iter = 2, 2.0, 1, 1, 8
    if args.corpus is not None:
        corpus = args.corpus
    else:
        corpus = data.ensure_corpus("smoke" if args.quick else preset.corpus)
    df = data.read_manifest(corpus)
    base_tcfg = replace(tcfg, lr=args.baseline_lr)

    # -- parameter matching
    course = training.new_model(cfg, args.seed)
    baseline = matched_baseline(cfg, args.seed)
    n_course, n_base = count_parameters(course), count_parameters(baseline)
    print(f"params: course {n_course:,}  baseline {n_base:,} (stem width {baseline.base}, strides "
          f"{baseline.strides}; {100 * (n_base / n_course - 1):+.1f}%)", flush=True)

    speech_rows = data.select(df, split="train", domain="speech", condition="clean")
    bank = data.ClipBank.from_manifest(corpus, speech_rows, channels=cfg.channels)
    print(f"corpus {corpus}: {len(speech_rows)} clean speech training clips ({bank.seconds:.0f} s)", flush=True)

    # -- 1. throughput (fresh copies: the quality runs below start from the untouched initial weights)
    print(f"throughput: {tp_s:g} s per model, batch {tcfg.batch_size} x {segment_samples(cfg, tcfg)} samples",
          flush=True)
    tp = measure_throughput(
        {"course": Stepper(training.new_model(cfg, args.seed), bank, tcfg, args.seed),
         "baseline": Stepper(matched_baseline(cfg, args.seed), bank, base_tcfg, args.seed)},
        tp_s, warmup_steps=warmup_steps, rounds=rounds)
    tp["ratio"] = tp["course"]["steps_per_s"] / tp["baseline"]["steps_per_s"]
    print(f"steps/s: course {tp['course']['steps_per_s']:.3f}  baseline {tp['baseline']['steps_per_s']:.3f}  "
          f"ratio {tp['ratio']:.1f}x", flush=True)

    # -- 2. quality after the same wall clock
    test_clips, test_ids = _load_eval(corpus, df, eval_n, max_eval_s, cfg.channels,
                                      split="test", domain="speech", condition="clean")
    valid_clips, valid_ids = _load_eval(corpus, df, eval_n, max_eval_s, cfg.channels,
                                        split="valid", domain="speech", condition="clean")
    quality = {}
    for name, model, t in (("course", course, tcfg), ("baseline", baseline, base_tcfg)):
        print(f"quality: training {name} for {budget:g} s", flush=True)
        run = train_for(Stepper(model, bank, t, args.seed), budget, name)
        print(f"  {name}: {run['steps']} steps in {run['seconds']:.0f} s, loss {run['final_loss']:.3f}; scoring",
              flush=True)
        quality[name] = {"train": run, "test": evaluate(model, test_clips), "valid": evaluate(model, valid_clips)}
        print(f"  {name}: held-out {quality[name]['test']}", flush=True)

    # -- 3. music
    music = None
    if not args.no_music:
        mcfg = replace(cfg, channels=2)
        mrows = data.select(df, split="train", domain="music", condition="clean")
        meval = data.select(df, split=["test", "valid"], domain="music", condition="clean")
        if mrows.empty or meval.empty:
            print("music: no clean music train/eval clips in this corpus; skipped", flush=True)
        else:
            mbank = data.ClipBank.from_manifest(corpus, mrows, channels=2)
            mclips, mids = data.eval_clips(corpus, meval, eval_n, channels=2, max_seconds=max_eval_s)
            print(f"music: training the stereo course model for {music_budget:g} s", flush=True)
            mmodel = training.new_model(mcfg, args.seed)
            mrun = train_for(Stepper(mmodel, mbank, replace(tcfg, domain="music"), args.seed), music_budget, "music")
            course_m = evaluate(mmodel, mclips, speech=False)
            gls = {}
            for key, n_mels in (("griffin_lim", None), ("griffin_lim_wide", mcfg.width)):
                gl = MelGriffinLim(mcfg, n_mels=n_mels, n_iter=gl_iter, seed=args.seed)
                gls[key] = {**metrics.score(mclips, [gl(x) for x in mclips], mcfg.sample_rate, speech=False),
                            "n_mels": gl.n_mels, "numbers_per_s": gl.numbers_per_second(2)}
            music = {"course": course_m, "course_train": mrun, "n_clips": len(mclips), "clip_ids": mids,
                     "course_numbers_per_s": mcfg.latent_rate * mcfg.width, **gls,
                     "course_params": count_parameters(mmodel)}
            print(f"music mel dist: course {course_m['mel_dist']:.3f}  griffin-lim "
                  f"{gls['griffin_lim']['mel_dist']:.3f}", flush=True)

    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        "machine": machine,
        "config": {
            "preset": preset.name, "corpus": str(corpus), "seed": args.seed, "quick": args.quick,
            "batch_size": tcfg.batch_size, "segment_s": tcfg.segment_s, "loss": tcfg.loss,
            "l1_weight": tcfg.l1_weight, "lr": tcfg.lr, "precision": training.precision_used(tcfg.precision, "cpu"),
            "baseline_lr": base_tcfg.lr, "latent_rate": cfg.latent_rate, "width": cfg.width,
            "baseline_base": baseline.base, "baseline_strides": list(baseline.strides),
            "budget_s": budget, "music_budget_s": music_budget, "throughput_s": tp_s, "warmup_steps": warmup_steps,
            "rounds": rounds, "eval_clips": eval_n, "eval_max_seconds": max_eval_s,
            "test_clip_ids": test_ids, "valid_clip_ids": valid_ids, "griffin_lim_iters": gl_iter,
            "schedule": "the preset's warm-up + cosine (training.lr_at) stretched over the wall-clock budget",
            "model": cfg.to_dict(),
        },
        "params": {"course": n_course, "baseline": n_base},
        "throughput": tp,
        "quality": quality,
        "music": music,
    }
    md, js = write_results(res, args.out)
    print(f"wrote {md} and {js}", flush=True)
    return res


if __name__ == "__main__":
    main()
