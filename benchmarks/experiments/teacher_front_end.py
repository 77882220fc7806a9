"""The content teacher's front end: unseen-voice phone accuracy with and without its two ASR tricks.

Trains notebook 05's content teacher three ways and prints its frame phone accuracy on the test
voices: one mean and std for all log-mel bands and no speed perturbation (the teacher until
2026-11-30), per-band means without speed perturbation, and the current teacher (per-band means +
clips also played 0.9x / 1.1x).  Measured 2026-11-30, cpu: 0.475 / 0.549 / 0.570 (seed 0), 0.495 /
- / 0.583 (seed 1).  About 10 s a teacher in cpu.

    python benchmarks/experiments/teacher_front_end.py --preset cpu --seeds 0 1
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser  # noqa: E402


def main(argv=None) -> dict:
    args = parser(__doc__).parse_args(argv)
    import torch

    from course_lib import data, presets, teachers

    def one_mean(h: torch.Tensor) -> torch.Tensor:  # the earlier front end: loudness only
        return (h - h.mean(dim=(1, 2), keepdim=True)) / (h.std(dim=(1, 2), keepdim=True) + 1e-5)

    current = teachers.ContentTeacher.normalise
    out = {}
    for seed in args.seeds:
        cfg = presets.teacher_lesson(args.preset, seed).teacher
        corpus = data.ensure_corpus(args.preset)
        for label, norm, speeds in (("one mean, no speed perturbation", one_mean, ()),
                                    ("per-band means, no speed perturbation", current, ()),
                                    ("per-band means + speed perturbation (now)", current, cfg.speed_perturb)):
            teachers.ContentTeacher.normalise = staticmethod(norm)
            try:
                _, info = teachers.train_content_teacher(corpus, replace(cfg, speed_perturb=speeds), progress=False)
            finally:
                teachers.ContentTeacher.normalise = staticmethod(current)
            out[(seed, label)] = info["test_accuracy"]
            print(f"seed {seed} · {label}: unseen-voice phone accuracy {info['test_accuracy']:.3f} "
                  f"({info['train_seconds']:.0f} s)", flush=True)
    return out


if __name__ == "__main__":
    main()
