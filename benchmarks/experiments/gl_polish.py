"""Issue 4 (notebook 00): can Griffin-Lim iterations, started from the decoder's own phase, polish it?

Notebook 00 finds the oracle's invented phase to be the larger half of what holds PESQ-wb down.
A cheap decode-time fix looks tempting: keep the decoder's predicted magnitude, start from its
predicted phase, and run a few fast Griffin-Lim iterations (Perraudin et al. 2013: momentum 0.99)
to make the pair a consistent STFT.  This script trains (or loads) 00's oracle and scores
D(E(x)) against that polish on 00's three speech sets.

Measured 2026-11-30, cpu, seed 0 (00's cached oracle of that day: 1100 steps, autograd's STFT
backward; 00 trains 1250 since 2026-12-07; 16 spread clips a set), PESQ-wb / STOI / mel distance:

    set                                D(E(x))               8 iterations          100 iterations
    training speakers, new sentences   1.569 / 0.890 / 0.406  1.417 / 0.865 / 0.644  1.451 / 0.871 / 0.646
    held-out speakers                  1.459 / 0.891 / 0.492  1.460 / 0.878 / 0.669  1.470 / 0.883 / 0.671

It does not help: PESQ-wb falls on the training speakers and stays level on the held-out ones
(1.46 -> 1.46-1.47), and STOI and mel distance get worse on both.  The decoder's magnitude is
not a spectrogram on its own.  It was trained
only through the inverse STFT, where overlapping frames add up, so its per-frame magnitudes lean
on its phases to cancel and reinforce.  Forcing that magnitude onto a consistent STFT moves the
sound away from what the loss shaped (mel distance 0.41 -> 0.64).

    python benchmarks/experiments/gl_polish.py --checkpoints build/checkpoints   # reuse 00's cache
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, use_checkpoints  # noqa: E402


def polish(spec, n_fft: int, hop: int, length: int, iters: int, momentum: float = 0.99):
    """Fast Griffin-Lim from a complex spectrogram: keep |spec|, start from its phase.  By hand:
    torchaudio's griffinlim starts from a random or zero phase, not from a given one."""
    import torch

    window = torch.hann_window(n_fft)
    mag = spec.abs()
    y = torch.istft(spec, n_fft, hop, window=window, length=length)
    prev = None
    for _ in range(iters):
        c = torch.stft(y, n_fft, hop, window=window, return_complex=True)
        a = c if prev is None else c + momentum * (c - prev)
        prev = c
        y = torch.istft(torch.polar(mag, a.angle()), n_fft, hop, window=window, length=length)
    return y


def main(argv=None) -> dict:
    p = parser(__doc__)
    p.add_argument("--iterations", type=int, nargs="+", default=[8, 100])
    args = p.parse_args(argv)
    use_checkpoints(args, "gl_polish")
    import pandas as pd
    import torch

    from course_lib import data, metrics, presets, training

    out = {}
    for seed in args.seeds:
        cfg = presets.for_notebook("00", args.preset, seed)
        corpus = data.ensure_corpus(cfg.corpus)
        model = training.train_or_load(cfg, progress=False).model.eval()
        mc = cfg.model
        df = data.read_manifest(corpus)
        for split, label in training.SPEECH_SETS.items():
            if split == "train":
                continue
            rows = data.select(df, domain="speech", condition="clean", split=split)
            clips, _ = data.eval_clips(corpus, rows, n=cfg.eval_clips, spread=True)
            variants = {"D(E(x))": [], **{f"{n} iterations": [] for n in args.iterations}}
            for x in clips:
                with torch.no_grad():
                    y = training.reconstruct(model, [x])[0]
                    spec = model.decoder.spectrogram(model.encode(x[None], sample=False).mean)  # its own STFT
                length = (spec.shape[-1] - 1) * mc.hop
                variants["D(E(x))"].append(y)
                for n in args.iterations:
                    polished = polish(spec, mc.n_fft, mc.hop, length, n)
                    variants[f"{n} iterations"].append(polished.reshape(y.shape[0], -1)[..., : y.shape[-1]])
            for name, ys in variants.items():
                mean = pd.DataFrame(metrics.score_clips(clips, ys)).mean()
                out[(seed, label, name)] = {k: round(float(mean[k]), 3) for k in ("pesq_wb", "stoi", "mel_dist")}
                print(f"seed {seed} · {label} · {name}: {out[(seed, label, name)]}", flush=True)
    return out


if __name__ == "__main__":
    main()
