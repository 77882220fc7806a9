"""The prepared GPU check: notebook 00's `gpu` oracle, and the stereo music model against mel +
Griffin-Lim, trained and scored in one command sized for a short GPU lease.

Where it runs: on a machine with a CUDA GPU, from the repository root, over a corpus packed by
``scripts/gpu_kit.py`` (a lent device machine cannot render the corpus: no festival, no index to
install from). ``bash scripts/gpu_check.sh`` installs the kit's wheels there and runs this script.

What it measures, the `gpu` half of issue 4:

1. **oracle**: the preset's autoencoder, trained with ``training.train_or_load``; its training
   steps/s; PESQ-wb / STOI / mel distance on notebook 00's three sets
   (``training.score_speech_sets``) against ``presets.ORACLE_BAR``.
2. **music**: the same network in stereo, trained on clean music; its mel distance against
   ``bench_train.MelGriffinLim`` with as many numbers per second as the latent.

A lease is short, so each model first times 25 training steps and then trains the preset's steps
or as many as fit its budget (``--oracle-budget-s`` 300, ``--music-budget-s`` 120), whichever is
fewer; the report says when it cut them. ``--oracle-steps`` / ``--music-steps`` fix the count.

Each phase rewrites ``gpu_check.json`` and ``gpu_check.md`` in ``--out`` the moment it ends, so a
run cut short by its lease keeps what finished. A phase that would start after ``--deadline-s`` is
skipped and says so. ``--quick``: the smoke preset, a few steps, on whatever device there is (the
test runs it on a CPU).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_train  # noqa: E402  (MelGriffinLim: the hand-made "codec" the music model must beat)

from course_lib import data, metrics, presets, training  # noqa: E402

METRICS = ("pesq_wb", "stoi", "mel_dist")


def device_info() -> dict:
    """What ran the check: the GPU by name (or "cpu"), torch and CUDA versions, CPU cores."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"gpu": gpu, "torch": torch.__version__, "cuda": torch.version.cuda, "cores": os.cpu_count(),
            "python": platform.python_version()}


def _mean(rows, key: str) -> float:
    vals = [r[key] for r in rows if r.get(key) is not None and not math.isnan(r[key])]
    return float(sum(vals) / len(vals)) if vals else float("nan")


def measure_steps_per_s(preset: presets.Preset, corpus: Path, steps: int = 25, warmup: int = 5) -> float:
    """Training steps per second of ``preset`` here, over ``steps`` steps after ``warmup`` (a fresh
    model, nothing saved): what sizes the runs to the lease."""
    bank = training.preset_bank(preset, corpus)
    device = preset.device if (preset.device != "cuda" or torch.cuda.is_available()) else "cpu"
    model = training.new_model(preset.model, preset.train.seed)
    hist = training.train(model, bank, replace(preset.train, steps=warmup + steps), device=device, progress=False)
    return steps / max(hist[-1]["time_s"] - hist[warmup - 1]["time_s"], 1e-9)


def fit_steps(preset: presets.Preset, corpus: Path, budget_s: float | None, fixed: int | None) -> tuple:
    """The preset with as many steps as fit ``budget_s`` (never more than it has), unless ``fixed``."""
    if fixed or not budget_s:
        return replace(preset, train=replace(preset.train, steps=fixed or preset.train.steps)), None
    rate = measure_steps_per_s(preset, corpus)
    steps = max(1, min(preset.train.steps, int(rate * budget_s)))
    print(f"{rate:.1f} steps/s: {steps} of the preset's {preset.train.steps} steps fit {budget_s:.0f} s", flush=True)
    return replace(preset, train=replace(preset.train, steps=steps)), {
        "measured_steps_per_s": rate, "budget_s": budget_s, "preset_steps": preset.train.steps}


def oracle_phase(preset: presets.Preset, corpus: Path, root: Path, n_eval: int) -> dict:
    """Train (or load) the oracle and score it on notebook 00's three sets of clean speech."""
    run = training.train_or_load(preset, corpus=corpus, root=root, progress=True)
    per_clip, _ = training.score_speech_sets(run.model, corpus, n_eval)
    sets = {}
    for label, rows in per_clip.groupby("set", sort=False):
        recs = rows.to_dict("records")
        sets[label] = {"clips": len(recs), **{m: _mean(recs, m) for m in METRICS},
                       "per_voice_pesq_wb": rows.groupby("voice")["pesq_wb"].mean().round(3).to_dict()}
    held = sets.get(training.SPEECH_SETS["test"], {})
    bar_pesq, bar_stoi = presets.ORACLE_BAR.get(preset.name, (math.nan, math.nan))
    return {
        "steps": preset.train.steps, "train_seconds": run.info["train_seconds"],
        "steps_per_s": run.info["steps_per_s"], "device": run.info.get("device"),
        "precision": run.info.get("precision"), "loaded": run.info["loaded"],
        "params": sum(p.numel() for p in run.model.parameters()),
        "final_loss": run.history[-1]["loss"] if run.history else None,
        "sets": sets, "bar": {"pesq_wb": bar_pesq, "stoi": bar_stoi},
        "bar_met": bool(held and held["pesq_wb"] >= bar_pesq and held["stoi"] >= bar_stoi),
    }


def music_phase(preset: presets.Preset, corpus: Path, root: Path, n_eval: int, gl_iter: int) -> dict:
    """A stereo model (``preset``: the oracle's network with 2 channels, trained on clean music); its
    mel distance against mel + Griffin-Lim."""
    df = data.read_manifest(corpus)
    evals = data.select(df, split=["test", "valid"], domain="music", condition="clean")
    train_rows = data.select(df, split="train", domain="music", condition="clean")
    if evals.empty or train_rows.empty:
        return {"skipped": f"{corpus} has no clean music in train and test/valid"}
    mp = preset
    run = training.train_or_load(mp, corpus=corpus, root=root, progress=True)
    clips, ids = data.eval_clips(corpus, evals, n_eval, channels=2)
    course = metrics.score(clips, training.reconstruct(run.model, clips), mp.model.sample_rate, speech=False)
    # the same score on pieces it trained on: far better there than on new pieces means too little
    # music (the cpu corpus has 44 training pieces, the kit adds 86; benchmarks/experiments/music_data.py),
    # not too few steps
    seen, _ = data.eval_clips(corpus, train_rows, n_eval, channels=2)
    course_seen = metrics.score(seen, training.reconstruct(run.model, seen), mp.model.sample_rate, speech=False)
    gl = bench_train.MelGriffinLim(mp.model, n_iter=gl_iter, seed=preset.train.seed)
    griffin = metrics.score(clips, [gl(x) for x in clips], mp.model.sample_rate, speech=False)
    return {"steps": mp.train.steps, "train_seconds": run.info["train_seconds"],
            "steps_per_s": run.info["steps_per_s"], "clips": len(clips), "clip_ids": ids,
            "course": course, "course_training_pieces": {**course_seen, "clips": len(seen)},
            "griffin_lim": {**griffin, "n_mels": gl.n_mels},
            "numbers_per_s": {"course": mp.model.latent_rate * mp.model.width,
                              "griffin_lim": gl.numbers_per_second(2)},
            "course_beats_griffin_lim": course["mel_dist"] < griffin["mel_dist"]}


def to_markdown(res: dict) -> str:
    d, c = res["device"], res["config"]
    out = ["# GPU check", "",
           f"- date: {res['date']}; device: {d['gpu'] or 'cpu'} ({d['cores']} CPU cores), torch {d['torch']}, "
           f"CUDA {d['cuda']}", f"- command: `{res['command']}`",
           f"- preset `{c['preset']}`, seed {c['seed']}, corpus `{c['corpus']}` (hash {c['corpus_hash']})", ""]
    for name, how in res.get("sized", {}).items():
        out.append(f"- {name}: measured {how['measured_steps_per_s']:.1f} steps/s; trained the steps that fit "
                   f"{how['budget_s']:.0f} s (the preset has {how['preset_steps']})")
    if res.get("sized"):
        out.append("")
    o = res.get("oracle")
    if o:
        out += [f"## Oracle ({o['steps']} steps, {o['params'] / 1e6:.1f} M parameters, {o['precision']})", "",
                f"{'Loaded from the cache' if o['loaded'] else 'Trained'}: {o['steps_per_s']:.1f} steps/s, "
                f"{o['train_seconds']:.0f} s on {o['device']}.", "",
                "| set | clips | PESQ-wb | STOI | mel dist |", "|---|---:|---:|---:|---:|"]
        for label, s in o["sets"].items():
            num = bench_train._f  # "n/a" for a missing number (PESQ finds no utterance)
            out.append(f"| {label} | {s['clips']} | {num(s['pesq_wb'], '.2f')} | {num(s['stoi'])} | "
                       f"{num(s['mel_dist'])} |")
        if math.isnan(o["bar"]["pesq_wb"]):
            out += ["", f"No quality bar is set for preset `{c['preset']}` (presets.ORACLE_BAR).", ""]
        else:
            out += ["", f"Bar (held-out speakers): PESQ-wb ≥ {o['bar']['pesq_wb']}, STOI ≥ {o['bar']['stoi']}: "
                        f"**{'met' if o['bar_met'] else 'not met'}**.", ""]
    m = res.get("music")
    if m and "skipped" not in m:
        out += [f"## Music, stereo ({m['steps']} steps, {m['steps_per_s']:.1f} steps/s)", "",
                "| model | numbers / s | mel dist |", "|---|---:|---:|",
                f"| course model latent | {m['numbers_per_s']['course']:,.0f} | {m['course']['mel_dist']:.3f} |",
                f"| course model, on {m['course_training_pieces']['clips']} pieces it trained on | "
                f"{m['numbers_per_s']['course']:,.0f} | {m['course_training_pieces']['mel_dist']:.3f} |",
                f"| mel + Griffin-Lim, {m['griffin_lim']['n_mels']} mels/channel | "
                f"{m['numbers_per_s']['griffin_lim']:,.0f} | {m['griffin_lim']['mel_dist']:.3f} |", "",
                f"The course model {'beats' if m['course_beats_griffin_lim'] else 'does not beat'} mel + "
                "Griffin-Lim at the same numbers per second on new pieces (the first and last rows).", ""]
    elif m:
        out += ["## Music", "", f"Skipped: {m['skipped']}.", ""]
    for phase, why in res.get("skipped", {}).items():
        out.append(f"- {phase}: skipped, {why}")
    return "\n".join(out).rstrip() + "\n"


def save(res: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    training.atomic_write_text(json.dumps(res, indent=1, default=str), out / "gpu_check.json")
    training.atomic_write_text(to_markdown(res), out / "gpu_check.md")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="a corpus dir (scripts/gpu_kit.py packs one)")
    ap.add_argument("--out", type=Path, default=Path("build/gpu_check"), help="where gpu_check.json/.md go")
    ap.add_argument("--preset", default="gpu", help="gpu (default) | cpu | smoke")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--oracle-steps", type=int, default=None,
                    help="train exactly this many steps (default: the preset's, or as many as fit --oracle-budget-s)")
    ap.add_argument("--music-steps", type=int, default=None,
                    help="likewise for music (default: a third of the preset's, or as many as fit --music-budget-s)")
    ap.add_argument("--oracle-budget-s", type=float, default=300.0,
                    help="without --oracle-steps: time 25 steps, then train no more steps than fit (default 300)")
    ap.add_argument("--music-budget-s", type=float, default=120.0, help="likewise for music (default 120)")
    ap.add_argument("--precision", choices=training.PRECISIONS, default=None, help="default: the preset's")
    ap.add_argument("--eval-clips", type=int, default=None, help="clips per set (default: the preset's)")
    ap.add_argument("--deadline-s", type=float, default=420.0,
                    help="skip a phase that would start later than this (default 420: music, about 150 s, "
                         "then ends inside a 10-minute call)")
    ap.add_argument("--ckpt-root", type=Path, default=Path("build/checkpoints/gpu_check"))
    ap.add_argument("--quick", action="store_true", help="smoke preset, 4 steps, 2 clips: a pipeline test")
    return ap.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    t0 = time.time()
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__), *(argv or sys.argv[1:])])
    preset = presets.get("smoke" if args.quick else args.preset, seed=args.seed)
    train = preset.train
    if args.quick:
        train = replace(train, steps=4, batch_size=2, checkpoint_every=4)
    if args.precision:
        train = replace(train, precision=args.precision)
    oracle = replace(preset, train=train)
    music = replace(preset, model=replace(preset.model, channels=2),
                    train=replace(train, domain="music", steps=max(1, train.steps // 3)))
    if args.quick:
        music = replace(music, train=replace(music.train, steps=2))
    n_eval = args.eval_clips or (2 if args.quick else preset.eval_clips)
    corpus = args.corpus
    data.read_manifest(corpus)  # a missing or broken corpus fails here, before any training
    res = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "command": command,
           "device": device_info(),
           "config": {"preset": preset.name, "seed": args.seed, "corpus": str(corpus),
                      "corpus_hash": data.corpus_hash(corpus), "eval_clips": n_eval,
                      "oracle": oracle.to_dict(), "music_steps": music.train.steps},
           "skipped": {}, "sized": {}}
    save(res, args.out)
    quick = args.quick

    def sized(name, p, budget, fixed):
        p, how = fit_steps(p, corpus, None if quick else budget, fixed)
        if how:
            res["sized"][name] = how
        return p

    phases = (("oracle", lambda: oracle_phase(sized("oracle", oracle, args.oracle_budget_s, args.oracle_steps),
                                              corpus, args.ckpt_root, n_eval)),
              ("music", lambda: music_phase(sized("music", music, args.music_budget_s, args.music_steps),
                                            corpus, args.ckpt_root, n_eval, 8 if quick else 64)))
    for name, run in phases:
        elapsed = time.time() - t0
        if elapsed > args.deadline_s:
            res["skipped"][name] = f"{elapsed:.0f} s had passed (deadline {args.deadline_s:.0f} s)"
            print(f"{name}: skipped ({res['skipped'][name]})", flush=True)
            continue
        print(f"{name}: starting at {elapsed:.0f} s", flush=True)
        res[name] = run()
        res["elapsed_s"] = time.time() - t0
        save(res, args.out)
        print(f"{name}: done at {res['elapsed_s']:.0f} s", flush=True)
    save(res, args.out)
    print(to_markdown(res), flush=True)
    return res


if __name__ == "__main__":
    main()
