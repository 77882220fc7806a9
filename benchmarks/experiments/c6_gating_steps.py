"""C6 (notebook 03): does the oracle keep improving after generation stops, with more, smaller updates?

Trains (or loads) 03's plain codec with its probe predictor alive, with ``--steps`` updates of
``--batch`` crops of ``--segment`` seconds instead of the preset's budget (the probe scores every
tenth of the run), and prints the probe log and C6's verdict: generation's best step comes before
the oracle's, and the oracle gains at least 0.05 mel after it.

Measured 2026-12-06, cpu, 2000 steps of 4 × 0.5 s (the same audio as 500 of 8 × 1 s, four times the
updates; about 2 min a seed on an Intel Xeon): seed 1, generation flat from step 800 (0.782; best 0.780
at 1800) while the oracle went 0.524 → 0.441, so its noisy best sits beside the oracle's (2000) and
the gain after it is 0.006; seed 4, both best at step 2000.  Absent in both: generation plateaus.

    python benchmarks/experiments/c6_gating_steps.py --seeds 1 4                      # 03's budget
    python benchmarks/experiments/c6_gating_steps.py --seeds 1 4 --steps 2000 --segment 0.5 --batch 4
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import budget_args, parser, use_checkpoints, with_budget  # noqa: E402


def main(argv=None) -> dict:
    args = budget_args(parser(__doc__)).parse_args(argv)
    use_checkpoints(args, "c6_gating_steps")
    import pandas as pd

    from course_lib import data, predictors, presets, training

    out = {}
    for seed in args.seeds:
        cfg = presets.for_notebook("03", args.preset, seed)
        steps = args.steps or cfg.train.steps
        cfg = with_budget(cfg, args, probe_every=max(1, steps // 10))
        corpus = data.ensure_corpus(cfg.corpus)
        task = predictors.speech_task(corpus, args.preset, cfg.eval_clips)
        probe = predictors.ProbeGate(corpus, task.train_rows.iloc[::2], task.eval_rows.head(8), task.vocab,
                                     task.speakers, presets.probe_budget(args.preset, seed))
        t0 = time.time()
        run = training.train_or_load(cfg, probe=probe, progress=False)
        log = pd.DataFrame(run.info["probe"]).set_index("step")
        g = training.gating_summary(log)
        best_oracle, best_gen, gain = g["best_oracle_step"], g["best_generation_step"], g["oracle_gain_after"]
        holds = best_gen < best_oracle and gain >= 0.05
        print(f"seed {seed} · {steps} steps × {cfg.train.batch_size} × {cfg.train.segment_s:g} s "
              f"({time.time() - t0:.0f} s)\n{log[['oracle', 'generation', 'gap']].round(4).T.to_string()}\n"
              f"oracle best at {best_oracle}, generation best at {best_gen}, oracle gain after {gain:.3f} "
              f"(claim ≥ 0.05) → C6 {'holds' if holds else 'absent'}", flush=True)
        out[seed] = {"best_oracle": best_oracle, "best_generation": best_gen, "oracle_gain_after": gain, "holds": holds}
    return out


if __name__ == "__main__":
    main()
