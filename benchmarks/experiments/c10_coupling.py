"""C10 (notebook 05): where does the coupled latent's phone knowledge go?

Trains (or loads) 05's acoustic-only and coupled narrow encoders and probes each for content on
unseen voices (``content``), content on new sentences of the training voices (``content_known``),
the speaker, and content again with each clip's latent mean removed (is a new voice's phone code
the known one shifted?).  Options: other KL coupling weights (``--weights 3 10 30``), and both
encoders trained on their clips plus copies played 0.9x / 1.1x (``--speed-perturb-encoders``: the
teacher's own augmentation given to the encoders).

Since 2026-11-30 05's cpu encoders train 1000 steps of 4 half-second crops (``presets.TEACHER_STEPS``).
Every measurement below but the last was made with 01-04's budget, 250 steps of 8 one-second crops:
add ``--steps 250 --segment 1 --batch 8`` to repeat one.

Measured 2026-11-30, cpu, 250 steps of 8 one-second crops:
coupling's content gain is +0.055..+0.086 on the training voices and -0.006..+0.033 on unseen
voices (seeds 0-4); weights 10 and 30 do not raise the latter (seed 0); speed-perturbed encoders
gain +0.004 / +0.002 there (seeds 0 / 4); clip-mean removal -0.002 / +0.006 (seeds 0 / 4).
On the gpu corpus (``--corpus gpu``: 8 variants of each voice, 3x the speech; cpu models and
steps): unseen +0.014 / +0.007, training voices +0.063 / +0.059, speaker 0.737 -> 0.629 and
0.673 -> 0.729 (seeds 0 / 4).
At gpu scale (``--preset gpu``: 05's gpu teacher and encoders on the gpu corpus, 3000 steps each,
seed 0, about 40 min on 2 CPU cores): acoustic only content / content_known / speaker 0.318 /
0.275 / 0.714, coupled 0.447 / 0.610 / 0.423: both halves of C10, by far.
It is the encoders' steps: cpu encoders, 3000 steps (``--steps 3000 --corpus gpu``, 1 s crops,
batch 8): 0.312 / 0.275 / 0.742 -> 0.437 / 0.489 / 0.498; the gpu teacher with 250-step cpu
encoders (``--teacher-preset gpu --corpus gpu``): 0.278 / 0.230 / 0.737 -> 0.290 / 0.289 / 0.610.
On the cpu corpus (seeds 0 / 4; content on unseen voices / speaker, acoustic -> coupled):
  1000 steps, 8 x 1 s crops:    0.304 / 0.770 -> 0.332 / 0.424;  0.292 / 0.763 -> 0.331 / 0.479
  500 steps, 8 x 1 s crops:     0.279 / 0.745 -> 0.296 / 0.461;  0.291 / 0.793 -> 0.291 / 0.497 (fails)
  1000 steps, 8 x 0.5 s crops:  0.300 / 0.764 -> 0.317 / 0.497;  0.293 / 0.775 -> 0.312 / 0.538
  1000 steps, 4 x 0.5 s crops:  0.267 / 0.770 -> 0.290 / 0.485;  0.273 / 0.751 -> 0.299 / 0.533
The last is the budget 05 now trains (2000 s of audio, like 250 steps of 8 x 1 s): C10 holds in
both seeds, and an encoder trains in 40-55 s (62-67 s with 8 crops, about 80 s with 8 x 1 s).

    OLD="--steps 250 --segment 1 --batch 8"   # 01-04's budget, which 05 trained before
    python benchmarks/experiments/c10_coupling.py --seeds 0 4 $OLD --weights 3 10 30
    python benchmarks/experiments/c10_coupling.py --seeds 0 4 $OLD --speed-perturb-encoders
    python benchmarks/experiments/c10_coupling.py --seeds 0 4 $OLD --corpus gpu
    python benchmarks/experiments/c10_coupling.py --seeds 0 --preset gpu
    python benchmarks/experiments/c10_coupling.py --seeds 0 --corpus gpu --steps 3000 --segment 1 --batch 8
    python benchmarks/experiments/c10_coupling.py --seeds 0 --corpus gpu --teacher-preset gpu $OLD
    python benchmarks/experiments/c10_coupling.py --seeds 0 4 --steps 1000 --segment 1 --batch 8
    python benchmarks/experiments/c10_coupling.py --seeds 0 4   # 05's budget: 1000 steps, 4 x 0.5 s
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, use_checkpoints  # noqa: E402


def main(argv=None) -> dict:
    p = parser(__doc__)
    p.add_argument("--weights", type=float, nargs="+", default=[3.0], help="KL coupling weights to train")
    p.add_argument("--speed-perturb-encoders", action="store_true")
    p.add_argument("--teacher-preset", default=None,
                   help="use the content teacher of another preset (e.g. gpu: 256 x 4 layers, 3000 steps)")
    p.add_argument("--steps", type=int, default=None, help="train the encoders this many steps instead")
    p.add_argument("--segment", type=float, default=None,
                   help="train the encoders on crops of this many seconds instead (0.5 halves a step's cost)")
    p.add_argument("--batch", type=int, default=None, help="train the encoders on batches of this many crops")
    p.add_argument("--corpus", default=None,
                   help="train and probe on another corpus build (e.g. gpu: 8 variants of each voice, not 5)")
    args = p.parse_args(argv)
    use_checkpoints(args, "c10_coupling")
    import torchaudio

    from course_lib import data, presets, probes, teachers, training

    out = {}
    for seed in args.seeds:
        lesson = presets.teacher_lesson(args.preset, seed)
        p_acoustic, _ = lesson.encoders["acoustic only"]
        p_coupled, kl = lesson.encoders["coupled to the teacher"]
        if args.corpus:
            p_acoustic, p_coupled = (replace(q, corpus=args.corpus) for q in (p_acoustic, p_coupled))
        budget = {k: v for k, v in (("steps", args.steps), ("checkpoint_every", args.steps),
                                    ("segment_s", args.segment), ("batch_size", args.batch)) if v}
        p_acoustic, p_coupled = (replace(q, train=replace(q.train, **budget)) for q in (p_acoustic, p_coupled))
        corpus = data.ensure_corpus(args.corpus or args.preset)
        tcfg = presets.teacher_lesson(args.teacher_preset, seed).teacher if args.teacher_preset else lesson.teacher
        teacher, tinfo = teachers.content_teacher_or_load(corpus, tcfg, progress=False)
        n_train, n_degraded = {"smoke": (12, 6)}.get(args.preset, (250, 100))
        pset = probes.probe_set(corpus, n_train=n_train, n_degraded=n_degraded, seed=seed)
        bank = None
        if args.speed_perturb_encoders:
            base = training.preset_bank(p_acoustic, corpus)
            clips, names = list(base.clips), list(base.names)
            for f in lesson.teacher.speed_perturb:
                clips += [torchaudio.functional.resample(c, round(16000 * f), 16000) for c in base.clips]
                names += [f"{n}@{f}" for n in base.names]
            bank = data.ClipBank(clips, names)
        models = {"acoustic only": (p_acoustic, None)}
        models.update({f"coupled, KL weight {w:g}": (p_coupled, replace(kl, weight=w)) for w in args.weights})
        for label, (preset, coupling) in models.items():
            aux = None if coupling is None else teachers.TeacherAlignment(
                teacher, coupling, preset.model.width, preset.model.down, tinfo["key"], seed=seed)
            run = training.train_or_load(preset, progress=False, aux=aux, bank=bank)
            z = pset.latents(run.model)
            res = pset.probe(z, 50.0, factors=("content", "content_known", "speaker"), seed=seed)
            centred = pset.probe([c - c.mean(axis=1, keepdims=True) for c in z], 50.0, factors=("content",),
                                 seed=seed)["content"]
            row = {k: round(v.score, 3) for k, v in res.items()}
            row["content, clip mean removed"] = round(centred.score, 3)
            out[(seed, label)] = row
            print(f"seed {seed} · {label}{' · speed-perturbed encoders' if bank else ''}: {row}", flush=True)
    return out


if __name__ == "__main__":
    main()
