"""C7 (notebook 04): do oracle and predicted quality pull apart along the rate curve with more updates?

Trains (or loads) 04's rate sweep (the target-KL codecs and the plain codec) with ``--steps``
updates of ``--batch`` crops of ``--segment`` seconds instead of the preset's budget, trains 04's
fixed regression predictor on each, and prints the rate table (KL held, oracle mel, D(ẑ) mel) and
C7's verdict: the best D(ẑ) is an interior point and is not the best oracle.  05's C10 showed once
that more, smaller updates on the same audio let an effect show that 250 steps of 8 × 1 s did not.

Measured 2026-12-06, cpu, seed 0 (D(ẑ) mel at 1500 / 6000 nats/s / plain; the plain codec best on
both measures every time): 800 steps of 4 × 0.5 s 0.766 / 0.775 / 0.760 (oracle 0.582 / 0.584 /
0.528, about 45 s a codec); 1600 steps 0.735 / 0.724 / 0.716 (oracle 0.488 / 0.493 / 0.451, about
70 s a codec).  The 6000 nats/s codec's smaller gap (0.230 vs 0.265) does not yet pay for its oracle.

    python benchmarks/experiments/c7_rate_steps.py --seeds 0 1 --targets 1500 6000    # 04's budget until 2026-12-07
    python benchmarks/experiments/c7_rate_steps.py --seeds 0 1 --targets 1500 6000 --steps 800 --segment 0.5 --batch 4
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import budget_args, c7_verdict, parser, target_args, use_checkpoints, with_budget, with_targets  # noqa: E402


def main(argv=None) -> dict:
    args = target_args(budget_args(parser(__doc__))).parse_args(argv)
    use_checkpoints(args, "c7_rate_steps")
    import numpy as np

    from course_lib import data, decode_paths, predictors, presets, training

    out = {}
    for seed in args.seeds:
        rate_sweep = with_targets(presets.ownership_sweep(args.preset, seed)[0], args.targets)
        budget = presets.predictor_budget(args.preset, seed)
        base = next(iter(rate_sweep.values()))
        corpus = data.ensure_corpus(base.corpus)
        task = predictors.speech_task(corpus, args.preset, min(base.eval_clips, 12))
        rows = {}
        for label, cfg in rate_sweep.items():
            cfg = with_budget(cfg, args)
            t = cfg.train
            t0 = time.time()
            run = training.train_or_load(cfg, progress=False)
            st = predictors.study(run.model, corpus, task.train_rows, task.eval_rows, task.vocab, task.speakers,
                                  budget, head="regression", progress=False, cache_dir=run.info["dir"])
            paths = decode_paths.all_paths(run.model, st, seed=seed, rows=(decode_paths.ORACLE, decode_paths.PREDICTED))
            mel = decode_paths.decode_path_table(task.refs, paths, pesq=False)["mel_dist"]
            tail = run.history[-20:]
            kl = (np.mean([h["kl_per_frame"] for h in tail]) * cfg.model.latent_rate
                  if "kl_per_frame" in tail[-1] else float("inf"))
            rows[label] = {"KL nats/s": round(float(kl), 0), "oracle mel": round(float(mel[decode_paths.ORACLE]), 4),
                           "D(ẑ) mel": round(float(mel[decode_paths.PREDICTED]), 4), "nMSE": round(float(st.nmse), 3),
                           "s": round(time.time() - t0)}
            budget_text = f"{t.steps} steps × {t.batch_size} × {t.segment_s:g} s"
            print(f"seed {seed} · {label} · {budget_text}: {rows[label]}", flush=True)
        out[seed] = {"rows": rows, "holds": c7_verdict(seed, rows)}
    return out


if __name__ == "__main__":
    main()
