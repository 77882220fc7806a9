#!/usr/bin/env python
"""Is a recipe change real?  Train notebook 00's oracle over several seeds, with and without it, and
compare them seed by seed on the same clips.

    python benchmarks/bench_seeds.py --seeds 0 1 2 3 4 --against steps=750 precision=fp32
    python benchmarks/bench_seeds.py --set loss=mel --against loss=mel+lin     # any two recipes

``--set`` changes the preset's recipe (default: the preset as it is), ``--against`` gives the
recipe to compare with; each is a list of ``field=value`` over ``TrainConfig`` and ``ModelConfig``
(``steps=900``, ``l1_weight=0.1``, ``dim=256``, ``enc_blocks=(3,3)``).  Why seeds, and why paired:
on 16 held-out clips one seed's PESQ-wb moves by a few hundredths from float rounding alone
(benchmarks/NOTES.md, "single runs are noisy"), which is the size of most recipe changes.  Pairing by seed compares two
runs that saw the same initial weights and the same batches, so the count of seeds that improved
means more than a difference of two means.

Every model goes through ``training.train_or_load``: checkpoints already in the cache (notebook 00
wrote them, or an earlier run of this script) are loaded, not retrained.  Scoring follows 00:
``cfg.eval_clips`` whole clips spread over each split (held-out speakers = ``test``, new sentences
of training speakers = ``valid``, training clips = ``train``), and an *all voices* score that
averages the per-voice means over the three sets, so every voice counts once.

Writes ``benchmarks/seeds.md`` and ``seeds.json`` (``--out``).  ``--quick`` runs the smoke preset
for a few steps: a pipeline test, the numbers mean nothing.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import sys
from dataclasses import asdict, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_lib import data, presets, training  # noqa: E402
from course_lib.models import ModelConfig  # noqa: E402

HERE = ROOT / "benchmarks"


def parse_overrides(items: list[str] | None) -> dict:
    """``["steps=750", "precision=fp32"]`` -> {"steps": 750, "precision": "fp32"}, typed like the field."""
    defaults = {**asdict(ModelConfig()), **asdict(presets.TrainConfig())}  # the field's type types the value
    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or key not in defaults:
            raise ValueError(f"{item!r}: expected field=value with a field of TrainConfig or ModelConfig "
                             f"(e.g. steps=750)")
        default = defaults[key]
        if isinstance(default, bool):
            value = raw.lower() in ("1", "true", "yes")
        elif isinstance(default, (int, float)):
            value = type(default)(raw)
        elif isinstance(default, tuple):
            value = tuple(ast.literal_eval(raw))
        else:
            value = raw
        out[key] = value
    return out


def recipe(preset: presets.Preset, overrides: dict) -> presets.Preset:
    train_keys = {f.name for f in fields(presets.TrainConfig)}
    t = {k: v for k, v in overrides.items() if k in train_keys}
    m = {k: v for k, v in overrides.items() if k not in train_keys}
    return replace(preset, train=replace(preset.train, **t), model=replace(preset.model, **m))


def label(overrides: dict, preset: presets.Preset) -> str:
    """The overrides, or (for none) the preset's own recipe in the same words."""
    if overrides:
        return ", ".join(f"{k}={v}" for k, v in overrides.items())
    t = preset.train
    return (f"the {preset.name} preset (steps={t.steps}, loss={t.loss}, l1_weight={t.l1_weight:g}, "
            f"precision={t.precision})")


def score(model, corpus: Path, n: int) -> dict:
    """Mean PESQ-wb / STOI per set, per voice over all sets, and the all-voices mean (00's scoring)."""
    df, _ = training.score_speech_sets(model, corpus, n)
    per_set = df.groupby("split")[["pesq_wb", "stoi"]].mean()
    per_voice = df.groupby("voice")[["pesq_wb", "stoi"]].mean()
    return {"sets": {s: per_set.loc[s].round(4).to_dict() for s in per_set.index},
            "voices": {v: per_voice.loc[v].round(4).to_dict() for v in per_voice.index},
            "all_voices": per_voice.mean().round(4).to_dict()}


def run(args: argparse.Namespace, log=print) -> dict:
    name = "smoke" if args.quick else args.preset
    corpus = Path(args.corpus) if args.corpus else data.ensure_corpus(presets.get(name).corpus)
    recipes = {"new": parse_overrides(args.set)}
    if args.against is not None:
        recipes["old"] = parse_overrides(args.against)
    base = presets.get(name, 0)
    n_clips = 2 if args.quick else base.eval_clips
    results = {}
    for seed in args.seeds:
        for which, over in recipes.items():
            p = recipe(presets.get(name, seed), over)
            if args.quick:
                p = replace(p, train=replace(p.train, steps=min(p.train.steps, 3), checkpoint_every=3, warmup=1))
            log(f"seed {seed} · {which} ({label(over, base)})")
            run_ = training.train_or_load(p, corpus=corpus, root=args.root, progress=not args.no_progress)
            r = score(run_.model, corpus, n_clips)
            r.update(train_seconds=round(run_.info["train_seconds"], 1), loaded=run_.info["loaded"],
                     precision=run_.info.get("precision", "fp32"), steps=p.train.steps)
            results.setdefault(str(seed), {})[which] = r
            held = r["sets"].get("test", {})
            how = "loaded" if r["loaded"] else f"trained in {r['train_seconds']:.0f} s"
            log(f"   held-out PESQ-wb {_f(held.get('pesq_wb'))} STOI {_f(held.get('stoi'))} · all voices "
                f"{r['all_voices']['pesq_wb']:.3f} / {r['all_voices']['stoi']:.3f} · {how}")
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": "python benchmarks/bench_seeds.py " + " ".join(args.argv),
            "preset": name, "corpus": str(corpus), "bar": presets.ORACLE_BAR.get(name),
            "recipes": {k: label(v, base) for k, v in recipes.items()}, "overrides": recipes, "seeds": results}


def summary(res: dict) -> dict:
    """Means, and how many seeds the new recipe beat the old one on (paired), per measure."""
    seeds = res["seeds"]
    rows = {}
    for which in res["recipes"]:
        vals = [seeds[s][which] for s in seeds]
        row = {}
        for key, get in (("held_pesq", lambda r: r["sets"].get("test", {}).get("pesq_wb")),
                         ("held_stoi", lambda r: r["sets"].get("test", {}).get("stoi")),
                         ("new_sentences_pesq", lambda r: r["sets"].get("valid", {}).get("pesq_wb")),
                         ("all_pesq", lambda r: r["all_voices"]["pesq_wb"]),
                         ("all_stoi", lambda r: r["all_voices"]["stoi"])):
            xs = [get(r) for r in vals if get(r) is not None]
            row[key] = sum(xs) / len(xs) if xs else None
        bar = res.get("bar")
        row["bar_met"] = None if bar is None else sum(
            r["sets"].get("test", {}).get("pesq_wb", 0) >= bar[0] and r["sets"].get("test", {}).get("stoi", 0) >= bar[1]
            for r in vals)
        row["train_seconds"] = [r["train_seconds"] for r in vals]
        rows[which] = row
    if "old" in res["recipes"]:
        for key, path in (("held_pesq", ("test", "pesq_wb")), ("held_stoi", ("test", "stoi"))):
            rows.setdefault("paired_wins", {})[key] = sum(
                seeds[s]["new"]["sets"][path[0]][path[1]] > seeds[s]["old"]["sets"][path[0]][path[1]] for s in seeds)
        for key in ("pesq_wb", "stoi"):
            rows["paired_wins"][f"all_{key}"] = sum(
                seeds[s]["new"]["all_voices"][key] > seeds[s]["old"]["all_voices"][key] for s in seeds)
    return rows


def _f(x, fmt=".3f"):
    return "—" if x is None else format(x, fmt)


def render_markdown(res: dict) -> str:
    s = summary(res)
    n = len(res["seeds"])
    lines = ["# Paired seeds: is a recipe change real?", "",
             f"- date: {res['date']}", f"- command: `{res['command']}`",
             f"- preset: {res['preset']}; new: {res['recipes']['new']}"
             + (f"; old: {res['recipes']['old']}" if "old" in res["recipes"] else ""),
             "- scored like notebook 00: clips spread over each split; *all voices* = the mean of the "
             "per-voice means over the three sets (each voice counts once)", "",
             "## Per seed (PESQ-wb / STOI)", "",
             "| seed | recipe | held-out speakers | new sentences | all voices | training time |",
             "|---|---|---:|---:|---:|---:|"]
    for seed, byr in res["seeds"].items():
        for which, r in byr.items():
            held, new = r["sets"].get("test", {}), r["sets"].get("valid", {})
            lines.append(f"| {seed} | {which} | {_f(held.get('pesq_wb'))} / {_f(held.get('stoi'))} | "
                         f"{_f(new.get('pesq_wb'))} / {_f(new.get('stoi'))} | {_f(r['all_voices']['pesq_wb'])} / "
                         f"{_f(r['all_voices']['stoi'])} | {r['train_seconds']:.0f} s ({r['steps']} steps, "
                         f"{r['precision']}) |")
    lines += ["", "## Summary", "", "| recipe | held-out PESQ-wb / STOI | bar met | new sentences | all voices |",
              "|---|---:|---:|---:|---:|"]
    for which in res["recipes"]:
        r = s[which]
        bar = "—" if r["bar_met"] is None else f"{r['bar_met']} of {n}"
        lines.append(f"| {which}: {res['recipes'][which]} | {_f(r['held_pesq'])} / {_f(r['held_stoi'])} | {bar} | "
                     f"{_f(r['new_sentences_pesq'])} | {_f(r['all_pesq'])} / {_f(r['all_stoi'])} |")
    if "paired_wins" in s:
        w = s["paired_wins"]
        lines += ["", f"Seeds where new beat old, of {n}: held-out PESQ-wb {w['held_pesq']}, STOI {w['held_stoi']}; "
                      f"all voices PESQ-wb {w['all_pesq_wb']}, STOI {w['all_stoi']}."]
    voices = sorted({v for byr in res["seeds"].values() for r in byr.values() for v in r["voices"]})
    lines += ["", "## Per voice, mean over seeds (PESQ-wb)", "",
              "| voice | " + " | ".join(res["recipes"]) + " |", "|---|" + "---:|" * len(res["recipes"])]
    for v in voices:
        cells = []
        for which in res["recipes"]:
            xs = [byr[which]["voices"][v]["pesq_wb"] for byr in res["seeds"].values() if v in byr[which]["voices"]]
            cells.append(_f(sum(xs) / len(xs) if xs else None))
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="the recipe under test")
    ap.add_argument("--against", nargs="*", default=None, metavar="FIELD=VALUE", help="the recipe to compare with")
    ap.add_argument("--corpus", default=None, help="corpus dir (default: the preset's, built if missing)")
    ap.add_argument("--root", default=None, help="checkpoint cache (default: build/checkpoints, shared with 00)")
    ap.add_argument("--out", type=Path, default=HERE / "seeds.md", help="markdown report (seeds.json beside it)")
    ap.add_argument("--quick", action="store_true", help="smoke preset, 3 steps: a pipeline test")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        parse_overrides(args.set), parse_overrides(args.against)
    except ValueError as e:
        raise SystemExit(f"bench_seeds: {e}") from None
    res = run(args)
    md = render_markdown(res)
    training.atomic_write_text(md, args.out)
    training.atomic_write_text(json.dumps(res, indent=1, default=str), args.out.with_suffix(".json"))
    print(md)
    return res


if __name__ == "__main__":
    main()
