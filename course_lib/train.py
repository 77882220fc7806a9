"""Train a notebook's autoencoder from the command line, in one process or data-parallel under torchrun.

    python -m course_lib.train --preset cpu --max-steps 200
    torchrun --nproc_per_node=8 -m course_lib.train --preset gpu --no-critic   # 8 GPUs, NCCL
    torchrun --nproc_per_node=2 -m course_lib.train --preset smoke        # 2 CPU processes, gloo

``--batch-size`` (default: the preset's) is the *global* batch: with N processes each trains on
batch / N examples, and the run matches one process on the whole batch (see ``training.train``).
``--precision bf16`` runs the network in bfloat16 autocast where the hardware has it (``cpu``'s
default; ``gpu`` trains in float32 with TF32 matmuls until someone measures bfloat16 there).
Rank 0 writes ``model.pt`` ({"model", "history"}) and ``info.json`` to ``--out`` (default
``build/train/<cache key>``); an interrupted run resumes from the ``last.pt`` left there.
Usage errors (a batch that does not divide, an unknown preset, a missing corpus) print one line
and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from course_lib import data, presets, training

OUT_ROOT = data.REPO_ROOT / "build" / "train"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m course_lib.train", description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="auto", help="smoke | cpu | gpu | auto (gpu when CUDA is there)")
    ap.add_argument("--notebook", default="00", help="whose model to train (presets.for_notebook); default 00")
    ap.add_argument("--max-steps", type=int, default=None, help="train this many steps instead of the preset's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=None, help="the global batch (default: the preset's)")
    ap.add_argument("--no-critic", action="store_true",
                    help="train without the preset's discriminator (gpu has one; torchrun does not run it yet)")
    ap.add_argument("--precision", default=None, choices=training.PRECISIONS,
                    help="bf16: the network in bfloat16 autocast where the hardware has it (default: the preset's)")
    ap.add_argument("--corpus", default=None, help="corpus directory (default: the preset's, built if needed)")
    ap.add_argument("--out", default=None, help="output directory (default: build/train/<cache key>)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="auto: the preset's device, as the notebooks train it (gpu: cuda:LOCAL_RANK when CUDA "
                         "is there; smoke and cpu: the CPU, gloo under torchrun)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def configure(args: argparse.Namespace, world: int) -> presets.Preset:
    """The preset with the command line's budget; raises ValueError for what cannot run."""
    preset = presets.for_notebook(args.notebook, args.preset, args.seed)
    cfg = preset.train
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise ValueError(f"--max-steps must be >= 1, got {args.max_steps}")
        steps = args.max_steps
        # a shortened run keeps the schedule's shape: warm-up scaled with the budget (never longer)
        warmup = max(1, min(cfg.warmup, round(cfg.warmup * steps / cfg.steps)))
        cfg = replace(cfg, steps=steps, warmup=warmup, checkpoint_every=max(1, min(cfg.checkpoint_every, steps)),
                      probe_every=min(cfg.probe_every, steps))
    if args.no_critic:
        cfg = replace(cfg, adv_weight=0.0)
    if args.precision is not None:
        cfg = replace(cfg, precision=args.precision)
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
        cfg = replace(cfg, batch_size=args.batch_size)
    if cfg.batch_size % world:
        raise ValueError(f"the global batch {cfg.batch_size} is not divisible by the {world} processes: "
                         f"pass --batch-size a multiple of {world}")
    if world > 1:
        training.check_data_parallel(cfg, world)
    return replace(preset, train=cfg)


def find_corpus(args: argparse.Namespace, preset: presets.Preset, rank: int, world: int) -> Path:
    """``--corpus``, or the preset's corpus, built (or found up to date) by rank 0 while the others wait."""
    if args.corpus is not None:
        corpus = Path(args.corpus)
    else:
        error = None
        if rank == 0:
            try:
                data.ensure_corpus(preset.corpus)
            except Exception as e:  # noqa: BLE001 -- reported after the barrier, so no rank is left waiting
                error = e
        if world > 1:
            torch.distributed.barrier()
        if error is not None:
            raise data.CorpusError(f"could not build the {preset.corpus!r} corpus: {error}") from error
        corpus = data.corpus_dir(preset.corpus)
    data.read_manifest(corpus)  # a missing corpus raises CorpusError with how to build it
    return corpus


def pick_device(requested: str, preset_device: str, local_rank: int, gpus: int) -> str:
    """Where this process trains: ``cuda:<local_rank>`` or ``cpu``.

    ``auto`` follows the preset's own device, as ``training.train_or_load`` does: ``gpu`` trains on
    CUDA when there is a GPU, ``smoke`` and ``cpu`` on the CPU (``torchrun --nproc_per_node=2 ...
    --preset smoke`` is two gloo processes on any machine, GPU or not).  A CUDA process needs a GPU of its
    own: ``local_rank`` must be below ``gpus`` (the GPUs this process sees), or a one-line ValueError."""
    cuda = requested == "cuda" or (requested == "auto" and preset_device == "cuda" and gpus > 0)
    if not cuda:
        return "cpu"
    if gpus < 1:
        raise ValueError("--device cuda, but CUDA is not available")
    if local_rank >= gpus:
        raise ValueError(f"process {local_rank} on this machine has no GPU of its own ({gpus} visible): start at "
                         f"most {gpus} per machine (--nproc_per_node), or pass --device cpu")
    return f"cuda:{local_rank}"


def run(args: argparse.Namespace) -> dict:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    preset = configure(args, world)  # before the group exists: a bad batch fails fast on every rank
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    device = pick_device(args.device, preset.device, local_rank, gpus)
    cuda = device != "cpu"
    backend = None
    if cuda:
        torch.cuda.set_device(local_rank)
    if world > 1:
        backend = "nccl" if cuda else "gloo"
        torch.distributed.init_process_group(backend=backend)
        if not cuda:
            # N processes each defaulting to every core would oversubscribe the CPU; torchrun sets
            # OMP_NUM_THREADS=1, which leaves cores idle on a machine with more cores than processes
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    try:
        result = train_and_save(args, preset, rank, world, device, backend)
        if world > 1:
            # every rank leaves together: a rank that tears gloo down while another still has a
            # collective in flight makes that one abort (SIGABRT, seen once in CI's 08 run)
            torch.distributed.barrier()
        return result
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def train_and_save(args, preset: presets.Preset, rank: int, world: int, device: str, backend: str | None) -> dict:
    corpus = find_corpus(args, preset, rank, world)
    key = training.cache_key(preset, data.corpus_hash(corpus))
    out = Path(args.out) if args.out is not None else OUT_ROOT / key
    cfg = preset.train
    bank = training.preset_bank(preset, corpus)
    model = training.new_model(preset.model, cfg.seed)  # the same initial weights on every rank
    t0 = time.time()
    history = training.train(model, bank, cfg, ckpt_dir=out, device=device, progress=not args.no_progress)
    seconds = history[-1]["time_s"] if history else time.time() - t0
    info = {"key": key, "preset": preset.to_dict(), "corpus": str(corpus), "world_size": world,
            "global_batch": cfg.batch_size, "per_rank_batch": cfg.batch_size // world, "backend": backend,
            "device": device, "steps": cfg.steps, "train_seconds": seconds,
            "steps_per_s": cfg.steps / max(seconds, 1e-9), "final_loss": history[-1]["loss"] if history else None,
            "train_clip_seconds": bank.seconds}
    if rank == 0:
        model.cpu()
        training.atomic_save({"model": model.state_dict(), "history": history}, out / "model.pt")
        training.atomic_write_text(json.dumps(info, indent=1, default=str), out / "info.json")
        (out / "last.pt").unlink(missing_ok=True)
        print(f"trained {preset.name} (notebook {args.notebook}) on {world} process(es), "
              f"backend {backend or 'none'}, {device}: {cfg.steps} steps in {seconds:.1f} s, "
              f"global batch {cfg.batch_size}, final loss {info['final_loss']:.4f} -> {out}", flush=True)
    return info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (ValueError, data.CorpusError) as e:
        print(f"course_lib.train: error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
