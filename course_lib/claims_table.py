"""The claims table of ``make claims``: every claim's verdicts over seeds, from the claim records.

Each ``check_claim`` call appends a record (``build/claims/<notebook>.jsonl``: the verdict, the
numbers behind it, preset, seed, time).  This module reads them back and writes one row per claim:
the notebook, the claim, the paper it mirrors, its measured effect (mean ± sd over seeds) and how
many seeds it held in -- "holds" when at least 4 of 5 do.

    python -m course_lib.claims_table --preset cpu --out benchmarks/claims.md --readme README.md
    python -m course_lib.claims_table ... --only 05 06   # rebuild two notebooks' rows, keep the rest

A record's ``measured`` dict differs from claim to claim, so each claim names here the few numbers
that *are* its effect (``ClaimSpec.effect``), signed so that positive means "in the claimed
direction".  The latest record per seed counts: a re-run replaces an older verdict.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from course_lib import claims
from course_lib.files import atomic_write, replace_marked_block

SEEDS = (0, 1, 2, 3, 4)
HOLDS_AT = 4  # of 5 seeds


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    notebook: str
    starts: str  # how the claim's name in check_claim begins
    text: str
    anchor: str  # the published result it mirrors
    effect: Callable[[dict], dict[str, float]]  # measured -> named numbers, positive = the claimed direction


def _diff(d: dict, a: str, b: str) -> float:
    return float(d[a] - d[b])


def _speech_l1_minus_spectral(m: dict) -> dict[str, float]:
    spectral = min(m["speech · MR-STFT"]["mel_dist"], m["speech · MR-STFT + mel"]["mel_dist"])
    return {"mel: L1 − best spectral": m["speech · waveform L1"]["mel_dist"] - spectral}


SPECS = (
    ClaimSpec("C0", "00", "corpus labels are right", "the corpus labels are right (F0, pan → ILD)", "—",
              lambda m: {"pan→ILD r": m["pan_ild_correlation"], "F0 error (cents)": m["f0_median_abs_cents"]}),
    ClaimSpec("C1", "01", "best reconstruction is not best prediction",
              "the best-reconstructing setting is not the best-predicted one (by a sampling predictor)",
              "LongCat-AudioDiT, Target-KL", lambda m: {"STOI margin": m["stoi_margin"]}),
    ClaimSpec("C2", "02", "spectral losses beat waveform L1", "spectral losses beat waveform L1 at equal steps",
              "Yamamoto et al. (MR-STFT), Vocos", _speech_l1_minus_spectral),
    ClaimSpec("C3", "02", "mid/side keeps the stereo image", "mid/side keeps the stereo image",
              "Steinmetz et al. (auraloss sum/difference)", lambda m: {"ILD error L/R − M/S (dB)":
                                                                       _diff(m, "ild_lr_db", "ild_ms_db")}),
    ClaimSpec("C4", "03", "D(ẑ) is clearly worse", "D(ẑ) ≫ D(E(x)) for a plain codec", "the essay's gap",
              lambda m: {"gap (mel)": m["gap_mel"], "STOI drop": m["stoi_drop"]}),
    ClaimSpec("C5", "03", "a decoder trained with calibrated noise",
              "calibrated-noise decoder training closes much of the gap", "LatentFlowSR",
              lambda m: {"gap closed (mel)": m["gap_closed_mel"]}),
    ClaimSpec("C6", "03", "the best oracle checkpoint", "the best-oracle checkpoint is not the best-generation one",
              "the essay's checkpoint gating", lambda m: {"oracle gain after (mel)": m["oracle_gain_after"]}),
    ClaimSpec("C7", "04", "oracle and predicted quality pull apart",
              "along the rate curve the best downstream point is in the middle", "Target-KL",
              lambda m: {"interior margin (mel)": m["interior_margin"]}),
    ClaimSpec("C7a", "04", "the rate that reconstructs best",
              "a sampler predicts best at another rate than the one that reconstructs best", "Target-KL",
              lambda m: {"D(ẑ) STOI margin": m["stoi_margin"], "D(ẑ) mel margin": m["mel_margin"]}),
    ClaimSpec("C8", "04", "sampled posterior targets",
              "sampled posterior targets help the predictor (an autoregressive sampler, as SALAD's)", "SALAD",
              lambda m: {"gain (mel)": m["gain_mel"], "STOI gain": m["gain_stoi"]}),
    ClaimSpec("C9", "04", "an average hides", "an average hides a channel or regime carrying the debt",
              "the essay's dashboard", lambda m: {"residual excess (×)": m["residual"]["place_excess"]}),
    ClaimSpec("C10", "05", "C10", "a coupled content teacher raises content, drops speaker", "VibeVoice",
              lambda m: {"content gain": _diff(m["content"], "coupled to the teacher", "acoustic only"),
                         "speaker drop": _diff(m["speaker"], "acoustic only", "coupled to the teacher")}),
    ClaimSpec("C11", "05", "C11", "the two-path hybrid keeps both", "VibeVoice",
              lambda m: {f"{f} vs acoustic": _diff(m[f], "two-path (acoustic + semantic)", "acoustic only")
                         for f in ("content", "speaker")}),
    ClaimSpec("C12", "05", "C12", "the teacher layer matters", "Semantic-VAE",
              lambda m: {"speaker: layer 1 − posteriors": _diff(m["speaker"], "layer 1 (acoustic end) · cosine",
                                                                "posteriors (phone end) · KL")}),
    ClaimSpec("C13", "06", "C13", "per-loss encoder gradients conflict in the blend", "the essay's staging",
              lambda m: {"largest share": max(m["share"].values()),
                         # pairs whose losses each hold >= 5% of the gradient (older records: every pair)
                         "most opposed counted cosine": m.get("worst_cos", min(m["mean_cos"].values()))}),
    ClaimSpec("C14", "06", "C14", "frozen-encoder polish improves sound with zero latent drift", "RAVE",
              lambda m: {"mel gain": m["mel_gain"], "MR-STFT gain": m["mrstft_gain"],
                         "max |Δz|": m["max_abs_change"]}),
    ClaimSpec("C15", "06", "C15", "replay calibration improves D(ẑ)", "the essay's replay",
              lambda m: {"D(ẑ) margin over control": m["control: +steps on E(x)"]["generation D(ẑ)"]
                         - m["phase 4: + replay of ẑ"]["generation D(ẑ)"]}),
    ClaimSpec("C16r", "07", "C16 restoration", "restoration: loses the neutral oracle, wins the task oracle",
              "VoiceBridge",
              lambda m: {"neutral loss": _diff(m["neutral_oracle"], "restoration encoder", "neutral codec"),
                         "task win": _diff(m["task_oracle"], "neutral codec", "restoration encoder")}),
    ClaimSpec("C16c", "07", "C16 conversion", "conversion: loses the neutral oracle, wins the task oracle", "AUTOVC",
              lambda m: {"neutral loss": _diff(m["neutral_oracle"], "narrow bottleneck", "wide codec")}),
    ClaimSpec("C17r", "07", "C17 restoration", "restoration: leakage probes show what it removed", "VoiceBridge",
              lambda m: {"collapse drop": _diff(m["collapse_above_chance"], "neutral codec", "restoration encoder")}),
    ClaimSpec("C17c", "07", "C17 conversion", "conversion: leakage probes show what it removed", "AUTOVC",
              lambda m: {"speaker drop": _diff(m["speaker_above_chance"], "wide codec", "narrow bottleneck")}),
    ClaimSpec("C18", "08", "the report card reproduces", "the report card reproduces the gap and probes of 03–07",
              "the essay's checklist", lambda m: {"gap (mel)": m["gap_mel"],
                                                  "noise share": m["noise_share_of_gap"]}),
)


def read_records(claims_dir: Path | None = None) -> list[dict]:
    """Every record in ``build/claims/*.jsonl`` (a corrupt line is skipped, not fatal)."""
    out = []
    for path in sorted(Path(claims_dir or claims.CLAIMS_DIR).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def _fmt(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.3g} ± {sd:.2g}"


def summarise(records: list[dict], preset: str = "cpu", seeds=SEEDS) -> pd.DataFrame:
    """One row per claim of ``SPECS``: effect (mean ± sd over seeds), seeds holding, verdict."""
    rows = []
    for spec in SPECS:
        latest: dict[int, dict] = {}
        for r in records:
            if (r.get("kind") in (None, "claim") and r["notebook"] == spec.notebook and r["preset"] == preset
                    and r["claim"].startswith(spec.starts) and r["seed"] in seeds):
                if r["seed"] not in latest or r["time"] >= latest[r["seed"]]["time"]:
                    latest[r["seed"]] = r
        ran = sorted(latest)
        held = [s for s in ran if latest[s]["holds"]]
        effects: dict[str, list[float]] = {}
        for s in ran:
            try:
                for name, v in spec.effect(latest[s]["measured"]).items():
                    effects.setdefault(name, []).append(float(v))
            except (KeyError, TypeError, ValueError):  # a record from an older version of the notebook
                continue
        if not ran:
            verdict = "not run"
        elif len(ran) < len(seeds):
            verdict = f"{len(held)}/{len(ran)} (seeds {', '.join(map(str, ran))} only)"
        else:
            verdict = f"{len(held)}/{len(ran)}" + (" holds" if len(held) >= HOLDS_AT else "")
        last = max((latest[s]["time"] for s in ran), default=None)
        rows.append({"claim": spec.id, "notebook": spec.notebook, "what": spec.text, "anchor": spec.anchor,
                     "measured effect (mean ± sd over seeds)": "; ".join(f"{k} {_fmt(v)}" for k, v in effects.items())
                     or "—",
                     "seeds holding": verdict,
                     "last run": time.strftime("%Y-%m-%d", time.gmtime(last)) if last else ""})
    return pd.DataFrame(rows)


def keep_previous_rows(table: pd.DataFrame, previous: str,
                       only: set[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Claims with no records here ("not run") take their row from ``previous``, the table written
    before: a run over some notebooks' records must not erase the verdicts of the others.  With
    ``only`` (notebook numbers such as ``{"05", "06"}``), every claim of another notebook keeps its
    previous row too, even where records exist: a checkout that re-ran one seed of 00 has a record
    for it, and that one seed must not replace a five-seed verdict.

    Returns the table and the ids of the rows kept; each kept row still shows its own "last run".
    """
    cols, kept = list(table.columns), []
    old = {}
    for line in previous.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == len(cols) and cells[0] in set(table["claim"]):
            old[cells[0]] = cells
    table = table.copy()
    verdict = cols.index("seeds holding")
    for i, row in table.iterrows():
        prev = old.get(row["claim"])
        skipped = only is not None and row["notebook"] not in only
        if (row["seeds holding"] == "not run" or skipped) and prev is not None and prev[verdict] != "not run":
            table.loc[i, cols] = prev
            kept.append(row["claim"])
    return table, kept


def markdown(table: pd.DataFrame, preset: str, title: bool = True) -> str:
    """The table as markdown, after a heading and what it was made from (``title=False``: without
    the heading, for the README's ``claims`` block)."""
    head = (f"# Claims, `{preset}` preset, seeds {SEEDS[0]}–{SEEDS[-1]}\n\n" if title else "") + (
            f"Generated by `make claims` (`python -m course_lib.claims_table`) from the claim records in "
            f"`build/claims/`: the latest verdict per seed. \"holds\" = at least {HOLDS_AT} of {len(SEEDS)} seeds. "
            f"Effects are signed so that positive is the claimed direction.\n\n")
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return head + "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/claims.md"))
    ap.add_argument("--claims-dir", type=Path, default=None)
    ap.add_argument("--readme", type=Path, default=None,
                    help="also write the table into this file's <!-- claims:begin/end --> block")
    ap.add_argument("--only", nargs="+", metavar="NN", default=None,
                    help="rebuild only these notebooks' rows (e.g. --only 05 06); the others keep their rows "
                         "from --out, whatever records this checkout has for them")
    args = ap.parse_args(argv)
    only = None
    if args.only is not None:
        only = {n.zfill(2) for n in args.only}
        unknown = only - {spec.notebook for spec in SPECS}
        if unknown:
            ap.error(f"--only: no claims in notebook(s) {', '.join(sorted(unknown))}; "
                     f"claims live in {', '.join(sorted({spec.notebook for spec in SPECS}))}")
    table = summarise(read_records(args.claims_dir), args.preset)
    table, kept = keep_previous_rows(table, args.out.read_text(encoding="utf-8") if args.out.exists() else "", only)
    if kept:
        why = "outside --only or no records here" if only is not None else "no records here"
        print(f"kept the rows of {', '.join(kept)} from {args.out} ({why})")
    readme = None
    if args.readme is not None:  # fail before writing anything if the README has no block for it
        readme = replace_marked_block(args.readme.read_text(encoding="utf-8"), "claims",
                                      markdown(table, args.preset, title=False))
    atomic_write(args.out, lambda tmp: Path(tmp).write_text(markdown(table, args.preset), encoding="utf-8"))
    if readme is not None:
        atomic_write(args.readme, lambda tmp: Path(tmp).write_text(readme, encoding="utf-8"))
        print(f"wrote the claims block of {args.readme}")
    print(table[["claim", "seeds holding"]].to_string(index=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
