"""Shared setup of the experiment scripts: arguments, the checkpoint folder, quiet warnings."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def parser(doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("--preset", default="cpu", help="smoke (seconds, a check that the script runs) or cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--checkpoints", default=None,
                   help="checkpoint folder (default: build/experiments/<script>-<preset>; a re-run loads from it)")
    return p


def use_checkpoints(args, name: str) -> Path:
    """Point ``training.CHECKPOINT_ROOT`` at the experiment's own folder (set before course_lib loads)."""
    folder = Path(args.checkpoints or REPO / "build" / "experiments" / f"{name}-{args.preset}").resolve()
    os.environ["COURSE_CHECKPOINTS"] = str(folder)
    training = sys.modules.get("course_lib.training")
    if training is not None:  # already imported (a test, a notebook): its root was read at import
        training.CHECKPOINT_ROOT = folder
    warnings.filterwarnings("ignore")
    return folder


def crop_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--segment``, ``--batch``: train on other crops (for scripts whose budget is wall clock)."""
    p.add_argument("--segment", type=float, default=None, help="crop length in seconds (default: the preset's)")
    p.add_argument("--batch", type=int, default=None, help="crops per step (default: the preset's)")
    return p


def budget_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--steps``, ``--segment``, ``--batch``: train the script's autoencoders with another budget."""
    p.add_argument("--steps", type=int, default=None, help="autoencoder steps (default: the preset's)")
    return crop_args(p)


def with_budget(preset, args, **train):
    """``preset`` with the command line's budget: its steps (warm-up scaled alike; one checkpoint at
    the end), crop length and batch; ``train`` sets further ``TrainConfig`` fields."""
    from dataclasses import replace

    t = preset.train
    steps = args.steps or t.steps
    return replace(preset, train=replace(
        t, steps=steps, checkpoint_every=steps, warmup=max(1, round(t.warmup * steps / t.steps)),
        segment_s=args.segment or t.segment_s, batch_size=args.batch or t.batch_size, **train))


def target_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--targets``: 04's rate points in nats per second (default: the preset's ``TARGET_KL``)."""
    p.add_argument("--targets", type=float, nargs="+", default=None,
                   help="the rate points in nats/s (default: 04's); the plain codec ends the sweep")
    return p


def with_targets(rate_sweep: dict, targets) -> dict:
    """04's rate sweep with other target-KL points (``None``: as it is); the plain codec stays last."""
    from dataclasses import replace

    if not targets:
        return rate_sweep
    tk = next(c for c in rate_sweep.values() if c.model.bottleneck == "target_kl")
    plain = "plain (no limit)"
    return {**{f"target {t:g} nats/s": replace(tk, model=replace(tk.model, target_kl=t)) for t in targets},
            plain: rate_sweep[plain]}


def codec_03(preset: str, seed: int):
    """Notebook 03's plain codec, from 03's checkpoint cache when the scripts point at it: returns
    (cfg, corpus, task, run).  03 trains it with its probe alive; the probe changes nothing in the
    weights but is part of the checkpoint key, so it is built here exactly as 03 builds it."""
    from course_lib import data, predictors, presets, training

    cfg = presets.for_notebook("03", preset, seed)
    corpus = data.ensure_corpus(cfg.corpus)
    task = predictors.speech_task(corpus, preset, cfg.eval_clips)
    probe = predictors.ProbeGate(corpus, task.train_rows.iloc[::2], task.eval_rows.head(8), task.vocab,
                                 task.speakers, presets.probe_budget(preset, seed))
    return cfg, corpus, task, training.train_or_load(cfg, probe=probe, progress=False)


def c7_verdict(seed: int, rows: dict) -> bool:
    """04's C7 by ranking alone (no margin): the best D(ẑ) mel sits inside the rate sweep (``rows``,
    low rate first, the plain codec last) and is not the best oracle.  Prints the verdict."""
    order = list(rows)
    best_oracle = min(order, key=lambda k: rows[k]["oracle mel"])
    best_pred = min(order, key=lambda k: rows[k]["D(ẑ) mel"])
    holds = order.index(best_pred) not in (0, len(order) - 1) and best_oracle != best_pred
    print(f"seed {seed}: oracle best {best_oracle}, D(ẑ) best {best_pred} → C7 {'holds' if holds else 'absent'}",
          flush=True)
    return holds


def ar_text_studies(model, corpus, task, budget, seed: int, temperatures=(1.0,), horizon_s: float = 1.0) -> dict:
    """04's "AR + text" generator on ``model``'s latents (``budget.targets``), writing each held-out
    sentence ``horizon_s`` at a time from the true past (0: the whole sentence from its first slot),
    once per temperature from one trained predictor: temperature -> ``PredictionStudy`` for decode_paths."""
    from course_lib import predictors

    train_u = predictors.encode_utterances(model, corpus, task.train_rows, task.vocab, task.speakers, False)
    eval_u = predictors.encode_utterances(model, corpus, task.eval_rows, task.vocab, task.speakers, False)
    stats = predictors.LatentStats.of(train_u)
    horizon = (max(u.z.shape[1] for u in eval_u) if horizon_s <= 0
               else max(1, round(horizon_s * model.cfg.latent_rate)))
    gens = predictors.ar_generations(train_u, eval_u, stats, budget, horizon, tuple(temperatures), seed, device="cpu",
                                     n_phones=len(task.vocab), n_speakers=len(task.speakers))
    return {t: predictors.PredictionStudy(train_u, eval_u, stats, None, [], z_hat,
                                          predictors.normalised_mse(z_hat, eval_u, stats))
            for t, z_hat in gens.items()}


def gap_closed(t: dict, metric: str, ctl: str, cal: str, oracle: str, predicted: str) -> float:
    """Share of the control decoder's D(ẑ) − D(E(x)) gap that the calibrated decoder removes (03's C5),
    from a table keyed by (decoder, row); the same formula serves mel (lower is better) and STOI."""
    return (t[(ctl, predicted)][metric] - t[(cal, predicted)][metric]) / (t[(ctl, predicted)][metric]
                                                                         - t[(ctl, oracle)][metric])
