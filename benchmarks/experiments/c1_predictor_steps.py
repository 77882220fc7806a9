"""C1 (notebook 01): do the rankings part with a stronger generator?

Trains (or loads) 01's interfaces at the preset's steps and the fixed predictor at each of
``--predictor-steps``; prints oracle and D(ẑ) STOI per interface and, per predictor budget, the
best-reconstructing interface, the best-predicted one and the claim's STOI margin (it asks 0.01).

Measured 2026-11-30, cpu, seeds 0-4: margins 0.009, 0.000, 0.005, 0.016, 0.002 at 300 steps (the
preset) and 0.012, 0.001, 0.000, 0.020, 0.004 at 900 -- 1 and 2 seeds of 5.  About 5 min a seed.
Measured 2026-12-06, seed 0, autoencoders trained 800 steps of 4 × 0.5 s (the same audio as 01's 200
of 8 × 1 s, four times the updates; 3.6 min on an Intel Xeon): margin 0.0066 (50 Hz x 16 oracle STOI
0.828, phone x 64 predicted best, 0.732 vs 0.725).

``--head flow`` scores the flow-matching head instead of the regression head (01's claim since
2026-12-07).  Measured 2026-12-07, seeds 0 and 1 (an Intel Xeon): margins 0.059 and 0.049, phone x 64
predicted best by the flow head although its draws from 50 Hz x 16 are the closest (nMSE 0.47 vs 1.04).

``--steps``, ``--segment`` and ``--batch`` train the autoencoders with another budget (05's C10 showed
once that more, smaller updates on the same audio let an effect show); ``--only`` trains a subset of
the interfaces (the ranking is then over that subset).

    python benchmarks/experiments/c1_predictor_steps.py --seeds 0 1 2 3 4 --predictor-steps 300 900
    python benchmarks/experiments/c1_predictor_steps.py --seeds 0 --predictor-steps 300 \
        --steps 800 --segment 0.5 --batch 4
    python benchmarks/experiments/c1_predictor_steps.py --seeds 0 1 --predictor-steps 300 --head flow
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import budget_args, parser, use_checkpoints, with_budget  # noqa: E402


def main(argv=None) -> dict:
    p = parser(__doc__)
    p.add_argument("--predictor-steps", type=int, nargs="+", default=[300, 900])
    budget_args(p)
    p.add_argument("--head", default="regression", choices=("regression", "flow"), help="the predictor's head")
    p.add_argument("--only", nargs="+", default=None, help="interfaces to train (labels of presets.TOPOLOGY_SWEEP)")
    args = p.parse_args(argv)
    use_checkpoints(args, "c1_predictor_steps")
    from course_lib import data, decode_paths, predictors, presets, training

    margins = {}
    for seed in args.seeds:
        settings = presets.topology_sweep(args.preset, seed)
        budget = presets.predictor_budget(args.preset, seed)
        base = presets.for_notebook("01", args.preset, seed)
        corpus = data.ensure_corpus(base.corpus)
        task = predictors.speech_task(corpus, args.preset, base.eval_clips)
        stoi = {n: {} for n in args.predictor_steps}
        for label, preset in settings.items():
            if args.only and label not in args.only:
                continue
            run = training.train_or_load(with_budget(preset, args), progress=False)
            for n in args.predictor_steps:
                st = predictors.study(run.model, corpus, task.train_rows, task.eval_rows, task.vocab, task.speakers,
                                      replace(budget, steps=n), head=args.head, progress=False,
                                      cache_dir=run.info["dir"])
                tab = decode_paths.decode_path_table(task.refs, decode_paths.oracle_and_predicted(run.model, st),
                                                     pesq=False)
                stoi[n][label] = (tab.loc[decode_paths.ORACLE, "stoi"], tab.loc[decode_paths.PREDICTED, "stoi"])
                print(f"seed {seed} · {label} · predictor {n} steps: oracle STOI {stoi[n][label][0]:.4f}, "
                      f"D(ẑ) STOI {stoi[n][label][1]:.4f}, nMSE {st.nmse:.3f}", flush=True)
        for n, rows in stoi.items():
            recon = max(rows, key=lambda k: rows[k][0])
            pred = max(rows, key=lambda k: rows[k][1])
            margins[(seed, n)] = rows[pred][1] - rows[recon][1]
            print(f"seed {seed} · predictor {n} steps: best reconstruction {recon}, best prediction {pred}, "
                  f"STOI margin {margins[(seed, n)]:.4f} (the claim asks 0.01)", flush=True)
    return margins


if __name__ == "__main__":
    main()
