"""The retain/collapse ledger: an encoder's invariance contract, written down before training.

A semantic teacher is an invariance contract (essay: "Semantic Teachers Are Invariance Contracts"):
it declares which differences the latent may *collapse* (two clips that differ only there may map
to the same z) and which must remain *measurable* in z.  Writing the contract before training turns
"the latent looks good" into checks that can fail: every factor is probed (``course_lib.probes``)
and judged against what the contract wanted.

Some factors have no universal answer.  Room tone is signal for podcast voice cloning (the clone
should sound like it was recorded in the same room) and noise for restoration (the room is what
should go).  Those are declared ``"product"``: the ledger reports whether they are present and
leaves the verdict to the product.

Example (no preset needed)::

    ledger = Ledger({"content": "retain", "speaker": "retain", "prosody": "retain",
                     "room": "product", "degradation": "collapse"},
                    notes={"speaker": "voice cloning needs it"})
    results = ledger.run(latents, rows, labels, frame_rate=50)
    ledger.judge(results)            # one row per factor, with a verdict
    ledger.table({"plain": r1, "teacher": r2})   # encoders side by side

A factor counts as *present* when its normalised above-chance score (``ProbeResult.above_chance``:
0 = chance, 1 = perfect; R² as is) reaches ``threshold``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from course_lib import probes
from course_lib.probes import ProbeResult

VERDICT_WANTS = ("retain", "collapse", "product")


@dataclass
class Ledger:
    """factor -> "retain" | "collapse" | "product", the presence threshold, the probe kind, and why."""

    contract: dict[str, str]
    threshold: float = 0.2
    kind: str = "linear"
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not self.contract:
            raise ValueError("an empty contract checks nothing: name at least one factor")
        for factor, want in self.contract.items():
            if factor not in probes.FACTORS:
                raise ValueError(f"unknown factor {factor!r} in the contract: use one of {probes.FACTORS}")
            if want not in VERDICT_WANTS:
                raise ValueError(f"factor {factor!r}: want {want!r} is not one of {VERDICT_WANTS}")
        if self.kind not in probes.KINDS:
            raise ValueError(f"unknown probe kind {self.kind!r}: use one of {probes.KINDS}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold {self.threshold} must be in (0, 1]: it is a normalised above-chance score")
        stray = sorted(set(self.notes) - set(self.contract))
        if stray:
            raise ValueError(f"notes for factors not in the contract: {stray}")

    def probes(self) -> list[str]:
        """The factors this ledger will probe, in contract order."""
        return list(self.contract)

    def run(self, latents, rows, labels, frame_rate: float, audio=None, seed: int = 0) -> list[ProbeResult]:
        """Probe every factor of the contract; a factor whose data is missing is kept as "not probed".

        A missing factor must not hide the others (a smoke corpus may have one room), but it must not
        vanish either: the reason stays in the result and shows in the verdict.
        """
        results = []
        for factor in self.contract:
            try:
                results.append(probes.probe_factor(factor, latents, rows, labels, frame_rate, audio=audio,
                                                   kind=self.kind, seed=seed))
            except ValueError as e:
                results.append(probes.not_probed(factor, str(e), kind=self.kind))
        return results

    def verdict(self, want: str, result: ProbeResult | None) -> tuple[bool, str]:
        """(present, verdict text) for one factor."""
        if result is None:
            return False, "not probed: no result"
        if not result.probed:
            return False, f"not probed: {result.reason}"
        above = result.above_chance
        present = not math.isnan(above) and above >= self.threshold
        if want == "retain":
            return present, "kept ✓" if present else "LOST ✗"
        if want == "collapse":
            return present, "LEAKS ✗" if present else "collapsed ✓"
        return present, "present (product decides)" if present else "absent (product decides)"

    def judge(self, results: list[ProbeResult]) -> pd.DataFrame:
        """One row per contract factor: what was wanted, the score beside chance, and the verdict."""
        by_factor = {r.factor: r for r in results}
        out = []
        for factor, want in self.contract.items():
            r = by_factor.get(factor)
            present, verdict = self.verdict(want, r)
            out.append({"factor": factor, "wants": want, "metric": r.metric if r else probes.FACTOR_METRIC[factor],
                        "score": r.score if r else float("nan"), "chance": r.chance if r else float("nan"),
                        "above_chance": r.above_chance if r else float("nan"), "present": present,
                        "verdict": verdict, "split": r.split if r else "", "note": self.notes.get(factor, "")})
        return pd.DataFrame(out)

    def table(self, results_by_encoder: dict[str, list[ProbeResult]]) -> pd.DataFrame:
        """Encoders side by side: rows are factors, each cell "score (chance) verdict"."""
        cols = {"wants": pd.Series(self.contract)}
        for name, results in results_by_encoder.items():
            j = self.judge(results).set_index("factor")
            cols[name] = pd.Series({f: _cell(row) for f, row in j.iterrows()})
        table = pd.DataFrame(cols)
        table.index.name = "factor"
        return table

    def describe(self) -> str:
        """The contract in words, one factor a line."""
        lines = [f"Ledger: {self.kind} probes; a factor is present when its above-chance score ≥ {self.threshold:g}"]
        for factor, want in self.contract.items():
            note = self.notes.get(factor)
            lines.append(f"  {factor:<12} {want:<9} [{probes.FACTOR_METRIC[factor]}]" + (f"  — {note}" if note else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def _cell(row) -> str:
    if row["verdict"].startswith("not probed"):
        return row["verdict"]
    return f"{row['score']:.2f} ({row['chance']:.2f}) {row['verdict']}"
