"""Train, ahead of time, every autoencoder the notebooks load: ``python data_scripts/pretrain.py --preset gpu``.

Why: a workshop teacher wants every checkpoint ready before the room fills, and on one GPU the
course's small models leave the card mostly idle (each step is a few dozen tiny kernels), so
several training processes side by side finish the sweeps of 01 and 02 far sooner than one
after another.  Each job is ``training.train_or_load`` -- the same cache the notebooks use, so a
notebook run afterwards loads instead of training.  Jobs start longest first.

    python data_scripts/pretrain.py --preset gpu --notebooks 00 01 02 04 --jobs 6
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from course_lib import presets, training  # noqa: E402

NOTEBOOKS = ("00", "01", "02", "04")


def jobs_for(notebooks: list[str], preset: str, seed: int) -> dict[str, presets.Preset]:
    """Every (label -> Preset) the given notebooks train, without duplicates.  Jobs that start from
    another job's weights are in ``starts_for``; ``pretrain`` runs them once their start is trained."""
    jobs: dict[str, presets.Preset] = {}
    for nb in notebooks:
        if nb == "00":
            jobs["00 · oracle"] = presets.get(preset, seed)
        elif nb == "01":
            jobs.update({f"01 · {k}": p for k, p in presets.topology_sweep(preset, seed).items()})
        elif nb == "02":
            jobs.update({f"02 · {k}": p for k, p in presets.loss_ablation(preset, seed).items()})
        elif nb == "04":
            # the codecs only (04's predictors train in the notebook): the plain codec, every rate point
            # from it, the middle rate again from scratch, and the bottleneck zoo (from scratch)
            rate, zoo = presets.ownership_sweep(preset, seed)
            *points, plain = rate
            jobs[f"04 · {plain}"] = rate[plain]
            jobs.update({f"04 · {k} (from the plain codec)": rate[k] for k in points})
            jobs[f"04 · {presets.rate_middle(rate)} (from scratch)"] = rate[presets.rate_middle(rate)]
            jobs.update({f"04 · {k}": p for k, p in zoo.items()})
        else:
            raise ValueError(f"notebook {nb!r} trains nothing here; choose from {', '.join(NOTEBOOKS)}")
    return jobs


def starts_for(notebooks: list[str], preset: str, seed: int) -> dict[str, presets.Preset]:
    """label -> the preset whose trained weights that job starts from (``train_or_load(init=...)``),
    exactly as its notebook starts it, so the notebook finds the same checkpoint."""
    starts = {}
    if "04" in notebooks:
        rate, _ = presets.ownership_sweep(preset, seed)
        *points, plain = rate
        starts.update({f"04 · {k} (from the plain codec)": rate[plain] for k in points})
    return starts


def _train_one(label: str, preset: presets.Preset, threads: int, start: presets.Preset | None = None) -> dict:
    import torch

    from course_lib import training

    torch.set_num_threads(threads)
    t0 = time.time()
    try:
        init = training.train_or_load(start, progress=False) if start is not None else None  # trained: loads
        run = training.train_or_load(preset, progress=False, init=init)
    except Exception as err:  # one broken job must not take the others down; report it instead
        return {"label": label, "error": f"{type(err).__name__}: {err}", "seconds": round(time.time() - t0, 1)}
    return {"label": label, "loaded": run.info["loaded"], "seconds": round(time.time() - t0, 1),
            "steps_per_s": round(run.info["steps_per_s"], 2), "device": run.info.get("device", "?")}


def pretrain(preset: str, notebooks: list[str], seed: int = 0, jobs: int = 4, threads: int | None = None,
             only: str | None = None) -> list[dict]:
    """Train (or find cached) every checkpoint of ``notebooks`` in ``jobs`` processes; returns one row per job."""
    preset = presets.resolve(preset)
    todo = jobs_for(notebooks, preset, seed)
    starts = starts_for(notebooks, preset, seed)
    if only:
        todo = {k: p for k, p in todo.items() if only in k}
    for k in list(todo):  # a start left out by --only is trained once, in the first wave
        if k in starts and starts[k] not in todo.values():
            todo[f"start of {k}"] = starts[k]
    threads = threads or max(1, (os.cpu_count() or 2) // max(jobs, 1))
    print(f"pretrain: {len(todo)} checkpoints for notebooks {' '.join(notebooks)} in preset {preset}, "
          f"{jobs} processes x {threads} threads", flush=True)
    rows = []
    ctx = mp.get_context("spawn")  # CUDA cannot be used in forked children
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        # two waves: the jobs that start from scratch, then those that start from a trained codec
        # (a job whose start is not among this run's jobs trains that start itself, in its own process)
        for wave in ([k for k in todo if k not in starts], [k for k in todo if k in starts]):
            order = sorted(wave, key=lambda k: -training.relative_cost(todo[k]))  # longest first
            futures = {pool.submit(_train_one, k, todo[k], threads, starts.get(k)): k for k in order}
            for fut in as_completed(futures):
                row = fut.result()
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="auto")
    ap.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS), choices=NOTEBOOKS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="training processes side by side (one GPU: 4-8)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads per process")
    ap.add_argument("--only", default=None, help="train only the jobs whose label contains this text")
    args = ap.parse_args(argv)
    t0 = time.time()
    rows = pretrain(args.preset, args.notebooks, args.seed, args.jobs, args.threads, args.only)
    print(f"pretrain: done in {time.time() - t0:.0f} s")
    if any("error" in r for r in rows):
        raise SystemExit("pretrain: some jobs failed (see the rows above)")


if __name__ == "__main__":
    main()
