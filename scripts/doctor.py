"""Is this machine ready for the course?  One command a workshop teacher runs on each laptop the day before.

    python scripts/doctor.py --preset cpu        # or: make doctor PRESET=cpu

It checks what a lesson needs and says what to do where something is missing: the Python packages,
cores, memory and free disk; whether bfloat16 is fast here (notebook 00's oracle trains in it where
it is); whether the corpus can be rendered here (festival, flite, the soundfont) or has to come from
a room kit; whether the corpus is built and how many trained models the checkpoint cache holds for
it; and how fast this machine trains.  For that it times a few training steps of notebook 00's oracle
(on the corpus when it is built, else on synthetic clips: the speed is the same) and scales the
course's measured times by it, so "00 trains for about 7 min here" is known before the day, not in
the middle of it.  It trains nothing it keeps and writes nothing.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import math
import os
import platform
import shutil
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from course_lib import data, presets, training  # noqa: E402
from data_scripts.build_corpus import MissingToolError, require_tools, up_to_date_hash  # noqa: E402

# The reference: 2 cores of an Intel Xeon with AVX-512 BF16, 2026-12-07.  This script timed 231-243 ms
# a step of 00's `cpu` oracle there, and `make course PRESET=cpu` from an empty cache took 24.7 min for
# 01-08 plus about 5.5 min for 00 alone: 30 min for the nine first runs, none over the 6-minute budget
# but 00 (which trains 4.8-5.1 min there).  A machine's speed factor is its step time over this one.
REFERENCE_STEP_S = {"cpu": 0.235}
REFERENCE_COURSE_MIN = {"cpu": 30.0}
SLOW_FACTOR = 1.25  # slower than this, first runs go clearly over their budgets: fill the cache first
PACKAGES = ("torch", "torchaudio", "auraloss", "pesq", "pystoi", "librosa", "soundfile", "ipywidgets",
            "papermill", "voila")


@dataclass
class Report:
    preset: str
    lines: list[tuple[str, str, str]]  # (what, found, verdict: "ok" / "note" / "fix")
    step_s: float | None
    factor: float | None

    @property
    def ready(self) -> bool:
        return not any(v == "fix" for _, _, v in self.lines)

    def text(self) -> str:
        width = max(len(w) for w, _, _ in self.lines)
        mark = {"ok": "  ok ", "note": " note", "fix": "  FIX"}
        out = [f"{mark[v]}  {w:<{width}}  {f}" for w, f, v in self.lines]
        out.append("ready for the course" if self.ready else "not ready: do what the FIX lines say")
        return "\n".join(out)


def _packages() -> tuple[str, str]:
    missing = []
    for name in PACKAGES:
        try:
            md.version(name)
        except md.PackageNotFoundError:
            missing.append(name)
    if missing:
        return f"missing {', '.join(missing)}: run `make setup`", "fix"
    return f"torch {torch.__version__}, torchaudio {md.version('torchaudio')}, python {platform.python_version()}", "ok"


def _memory_gib() -> float | None:
    try:
        import psutil

        return psutil.virtual_memory().total / 2**30
    except ImportError:
        return None


def time_steps(preset: presets.Preset, corpus: Path | None, steps: int = 12) -> float:
    """Seconds per training step of ``preset``'s model here: the median step, the first (warm-up) left out.

    On ``corpus``'s training clips when given, else on synthetic clips of the same shape: a step
    costs the same whatever the audio is."""
    steps = max(int(steps), 3)
    if corpus is not None:
        bank = training.preset_bank(preset, corpus)
    else:  # harmonics and a little noise, never silent: only the shapes matter for timing
        g = torch.Generator().manual_seed(0)
        t = torch.arange(int(4 * data.SAMPLE_RATE)) / data.SAMPLE_RATE
        clips = [(0.2 * torch.sin(2 * math.pi * (110 + 30 * i) * t)
                  + 0.01 * torch.randn(t.shape, generator=g)).repeat(preset.model.channels, 1) for i in range(4)]
        bank = data.ClipBank(clips)
    cfg = replace(preset.train, steps=steps, probe_every=0, checkpoint_every=10**9, warmup=1)
    model = training.new_model(preset.model, cfg.seed)
    history = training.train(model, bank, cfg, ckpt_dir=None, progress=False)
    times = [h["time_s"] for h in history]
    # the median step: one step slowed by something else on the machine should not move the verdict
    return float(statistics.median(b - a for a, b in zip(times, times[1:])))


def check(preset: str = "cpu", corpus: Path | None = None, checkpoints: Path | None = None,
          steps: int = 12, time_it: bool = True) -> Report:
    """Every check, as a ``Report``; ``corpus`` / ``checkpoints`` default to the course's own places."""
    cfg = presets.for_notebook("00", preset)
    name = cfg.name
    corpus = Path(corpus) if corpus is not None else data.corpus_dir(cfg.corpus)
    checkpoints = Path(checkpoints) if checkpoints is not None else training.CHECKPOINT_ROOT
    lines: list[tuple[str, str, str]] = [("packages", *_packages())]

    cores = os.cpu_count() or 1
    mem = _memory_gib()
    lines.append(("cores", f"{cores} (torch uses {torch.get_num_threads()} threads)", "ok" if cores >= 2 else "note"))
    if mem is not None:  # 08's report card peaks at 5.3 GiB, the other notebooks at 1.9-3.4
        lines.append(("memory", f"{mem:.1f} GiB", "ok" if mem >= 6 else ("note" if mem >= 4 else "fix")))
    free = shutil.disk_usage(REPO).free / 2**30
    lines.append(("free disk", f"{free:.1f} GiB at {REPO}", "ok" if free >= 1.5 else "fix"))
    bf16 = training.bf16_supported()
    lines.append(("bfloat16", "fast here: 00's oracle trains in it" if bf16 else
                  "not fast here: 00's oracle trains in float32, about a fifth slower a step",
                  "ok" if bf16 else "note"))

    built = bool(up_to_date_hash(corpus, cfg.corpus, 0))
    try:
        require_tools()
        lines.append(("corpus renderers", "festival, flite, fluidsynth, the soundfont: all here", "ok"))
    except MissingToolError as e:  # its message: "<what> not found: <how to install>; …" (+ a kit hint)
        problems = str(e).split(" (or, where")[0].split(";")
        what = ", ".join(p.split(":")[0].strip() for p in problems)
        then = "; the one here is enough" if built else ": unpack a room kit (make unkit KIT=…)"
        lines.append(("corpus renderers", f"{what}: this machine cannot render a corpus" + then,
                      "note" if built else "fix"))
    if built:
        chash = data.corpus_hash(corpus)
        lines.append(("corpus", f"{cfg.corpus}, built ({chash}) at {corpus}", "ok"))
        mine = len(training.cached_folders(chash, checkpoints))
        lines.append(("checkpoint cache", f"{mine} trained models for this corpus in {checkpoints}"
                      + ("" if mine else ": every notebook trains on its first run (make course, or a room kit)"),
                      "ok" if mine else "note"))
    else:
        lines.append(("corpus", f"no {cfg.corpus} corpus at {corpus}: `make corpus PRESET={name}` "
                      "(about 45 s) or `make unkit KIT=…`", "fix"))

    step_s = factor = None
    if time_it:
        step_s = time_steps(cfg, corpus if built else None, steps)
        minutes = cfg.train.steps * step_s / 60
        ref = REFERENCE_STEP_S.get(name)
        if ref is not None:
            factor = step_s / ref
            course = factor * REFERENCE_COURSE_MIN[name]
            slow = factor > SLOW_FACTOR
            lines.append(("training speed",
                          f"{step_s * 1000:.0f} ms a step of 00's oracle, {factor:.1f}× the reference machine's "
                          f"time: 00 trains {minutes:.1f} min here, the nine first runs take about {course:.0f} min"
                          + ("; first runs will go over their 6-minute budgets: fill the checkpoint cache before "
                             "the day (make course, or a room kit)" if slow else ""), "note" if slow else "ok"))
        else:
            lines.append(("training speed", f"{step_s * 1000:.0f} ms a step of 00's oracle: "
                          f"{cfg.train.steps} steps take {minutes:.1f} min here", "ok"))
    return Report(name, lines, step_s, factor)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu", help="the preset the machine will run (default cpu)")
    ap.add_argument("--steps", type=int, default=12, help="training steps to time (the first is left out)")
    ap.add_argument("--no-timing", action="store_true", help="skip the training-speed probe (about 10 s)")
    args = ap.parse_args(argv)
    report = check(args.preset, steps=args.steps, time_it=not args.no_timing)
    print(report.text())
    return 0 if report.ready else 1


if __name__ == "__main__":
    sys.exit(main())
