"""Music (issue 4): does more music, or more training, let the course model beat mel + Griffin-Lim?

`benchmarks/bench_train.py` trains the stereo course model on the corpus's clean music for 90 s
and finds its mel distance worse than a mel spectrogram of the same size inverted by Griffin-Lim.
This script asks why.  It trains the same model, the same way (`bench_train.Stepper`, the
preset's schedule stretched over a wall-clock budget), on

- ``corpus``: the corpus's own training pieces (44 in `cpu`, 3 min), and
- ``more music``: ``--pieces`` pieces rendered by the corpus builder into a corpus of their own
  (the builder renders piece *i* the same way in every build, so the pieces the corpus holds out
  are left out of this training set by clip id),

for each ``--budgets-s``, and scores each model on the corpus's held-out pieces (test + valid) and
on pieces it trained on, beside the magnitude / phase split of its error on the held-out pieces.
Budgets are wall clock, so the step counts (printed) depend on the machine.

Measured 2026-11-30, cpu, seed 0, 2 cores (mel distance, lower is better; Griffin-Lim 0.791):

    pieces           budget (steps)   held-out pieces   training pieces   true magnitude, its phase
    corpus (44)      240 s (733)      0.994             0.795             0.28
    corpus (44)      600 s (1913)     0.903             0.617             0.28
    more music (260) 240 s (749)      0.949             0.871             0.28
    more music (260) 600 s (1948)     0.836             0.759             0.28

    more music (260) 240 s of 4 × 0.5 s crops (3372)   0.929   0.854   0.28   (2026-12-06, Intel Xeon)
    more music (260) 1800 s (4926)   0.707   0.605   0.26   (2026-12-07, Intel Xeon: Griffin-Lim beaten)
    more music (130) 1800 s (5769)   0.709   0.523   0.27   (2026-12-07, Intel Xeon: the GPU kit's pieces)

(The table's runs came from this code as a prototype; the script itself, re-run at 240 s the same
day, gave 0.991 / 0.780 on the corpus's pieces (763 steps) and 0.943 / 0.866 on more music (767).)

    python benchmarks/experiments/music_data.py --budgets-s 240 600
    python benchmarks/experiments/music_data.py --sources "more music" --budgets-s 1800   # 30 min
    python benchmarks/experiments/music_data.py --sources "more music" --pieces 140 --budgets-s 1800
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, crop_args, parser, use_checkpoints  # noqa: E402


def main(argv=None) -> dict:
    p = parser(__doc__)
    p.add_argument("--pieces", type=int, default=None, help="music pieces to render (default: 270; smoke 8)")
    p.add_argument("--budgets-s", type=float, nargs="+", default=None,
                   help="training budgets, seconds of wall clock (default: 240; smoke 1)")
    p.add_argument("--jobs", type=int, default=None, help="corpus builder worker processes")
    p.add_argument("--sources", nargs="+", default=["corpus", "more music"], choices=["corpus", "more music"],
                   help="which training pieces (default: both)")
    crop_args(p)
    args = p.parse_args(argv)
    folder = use_checkpoints(args, "music_data")  # the extra corpus goes here; the models are not kept
    sys.path.insert(0, str(REPO / "benchmarks"))
    sys.path.insert(0, str(REPO / "data_scripts"))
    import bench_train as bt
    import build_corpus
    import torch

    from course_lib import data, metrics, presets, training

    smoke = args.preset == "smoke"
    n_pieces = args.pieces or (8 if smoke else 270)
    budgets = args.budgets_s or ([1.0] if smoke else [240.0])
    out = {}
    for seed in args.seeds:
        preset = presets.get(args.preset, seed)
        cfg = replace(preset.model, channels=2)
        tcfg = replace(preset.train, domain="music")
        if smoke:
            tcfg = replace(tcfg, batch_size=2)
        tcfg = replace(tcfg, batch_size=args.batch or tcfg.batch_size, segment_s=args.segment or tcfg.segment_s)
        corpus = data.ensure_corpus(preset.corpus)
        df = data.read_manifest(corpus)
        held = data.select(df, split=["test", "valid"], domain="music", condition="clean")
        held_clips, _ = data.eval_clips(corpus, held, preset.eval_clips, channels=2)
        gl = bt.MelGriffinLim(cfg, n_iter=8 if smoke else 64, seed=seed)
        gl_mel = metrics.score(held_clips, [gl(x) for x in held_clips], cfg.sample_rate, speech=False)["mel_dist"]
        sources = {"corpus": (corpus, data.select(df, split="train", domain="music", condition="clean"))}
        if "more music" in args.sources:
            extra = build_corpus.music_corpus(n_pieces, folder / f"corpus-music{n_pieces}", jobs=args.jobs)
            edf = data.read_manifest(extra)
            sources["more music"] = (extra, edf[(edf["domain"] == "music") & (edf["condition"] == "clean")
                                                & ~edf["clip_id"].isin(set(held["clip_id"]))])
        sources = {k: v for k, v in sources.items() if k in args.sources}
        for source, (root, rows) in sources.items():
            bank = data.ClipBank.from_manifest(root, rows, channels=2)
            train_clips, _ = data.eval_clips(root, rows, preset.eval_clips, channels=2)  # the first pieces
            for budget in budgets:
                model = training.new_model(cfg, seed)
                run = bt.train_for(bt.Stepper(model, bank, tcfg, seed), budget, f"{source}, {budget:g} s")
                with torch.no_grad():
                    recon = training.reconstruct(model, held_clips)
                    trained_on = bt.evaluate(model, train_clips, speech=False)["mel_dist"]
                hybrid = [metrics.swap_magnitude_phase(y, x, 1024, 256)["true magnitude, est phase"]
                          for x, y in zip(held_clips, recon)]
                row = {"pieces": len(rows), "steps": run["steps"], "seconds": round(run["seconds"], 1),
                       "held-out pieces": metrics.score(held_clips, recon, cfg.sample_rate, speech=False)["mel_dist"],
                       "training pieces": trained_on,
                       "true magnitude, its phase": metrics.score(held_clips, hybrid, cfg.sample_rate,
                                                                  speech=False)["mel_dist"],
                       "griffin-lim": gl_mel}
                out[(seed, source, budget)] = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
                crops = f"{tcfg.batch_size} × {tcfg.segment_s:g} s"
                print(f"seed {seed} · {source} · {budget:g} s of {crops}: {out[(seed, source, budget)]}", flush=True)
    return out


if __name__ == "__main__":
    main()
