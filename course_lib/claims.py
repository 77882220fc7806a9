"""``check_claim``: every notebook ends by testing the effect it teaches.

A claim is recorded with its numbers (``build/claims/<notebook>.jsonl``, read by ``make claims``)
and, in the ``cpu`` and ``gpu`` presets, raises ``ClaimNotShown`` when the measured effect is
absent, so a notebook run that fails to show its lesson fails loudly.  In ``smoke`` (CI: tiny
models, a few steps) the claim is recorded but never raises: smoke proves the cells run.

``make claims`` wants every verdict, including those of claims that come after a failed one in the
same notebook: with ``COURSE_CLAIMS_RECORD_ONLY=1`` in the environment (``run_notebooks
--keep-going`` sets it for the kernel) a failed claim is recorded and printed but does not raise.
"""

from __future__ import annotations

import json
import os
import time

from course_lib.data import REPO_ROOT

CLAIMS_DIR = REPO_ROOT / "build" / "claims"
RECORD_ONLY_ENV = "COURSE_CLAIMS_RECORD_ONLY"


class ClaimNotShown(AssertionError):
    """The measured effect a notebook claims is absent in a preset meant to show it."""


def _record(kind: str, notebook: str, name: str, measured: dict, holds: bool, detail: str, preset: str,
            seed: int) -> dict:
    """Append one verdict to ``build/claims/<notebook>.jsonl`` (the ledger ``make claims`` reads)."""
    record = {"notebook": notebook, "claim": name, "kind": kind, "holds": bool(holds), "measured": measured,
              "detail": detail, "preset": preset, "seed": seed, "time": time.time()}
    CLAIMS_DIR.mkdir(parents=True, exist_ok=True)
    with open(CLAIMS_DIR / f"{notebook}.jsonl", "a") as f:
        f.write(json.dumps(record, default=float) + "\n")
    return record


def check_claim(notebook: str, name: str, measured: dict, holds: bool, detail: str, preset: str,
                seed: int = 0, shown_in: tuple[str, ...] = ("cpu", "gpu")) -> dict:
    """Record a claim and raise ``ClaimNotShown`` when it fails in a preset meant to show it.

    ``measured`` holds the numbers behind the verdict; ``detail`` says in words what was compared.
    ``shown_in`` names the presets meant to show the effect.  Narrow it only when a measurement
    showed the effect is absent at a smaller scale -- and say so in the notebook, with the numbers:
    the verdict is still recorded (``holds: false``) and printed as NOT SHOWN AT THIS SCALE.
    """
    record = _record("claim", notebook, name, measured, holds, detail, preset, seed)
    verdict = "HOLDS" if holds else ("DOES NOT HOLD" if preset in shown_in or preset == "smoke"
                                     else "NOT SHOWN AT THIS SCALE")
    print(f"[{notebook}] {name}: {verdict} — {detail}")
    if not holds and preset in shown_in and preset != "smoke":
        if os.environ.get(RECORD_ONLY_ENV) == "1":
            print(f"[{notebook}] {name}: recorded, not raised ({RECORD_ONLY_ENV}=1: make claims goes on)")
            return record
        raise ClaimNotShown(f"{notebook}: claim '{name}' not shown in preset {preset!r}: {detail}")
    return record


def report_target(notebook: str, name: str, measured: dict, met: bool, detail: str, preset: str,
                  seed: int = 0) -> dict:
    """Record an engineering *target* (e.g. the oracle's PESQ bar) beside the claims, without raising.

    Targets are not lessons: a notebook still teaches when its model misses one, but it must say so.
    The record lands in the same ledger as the claims, marked ``kind: target``, so ``make claims``
    lists a missed target as plainly as a failed claim.
    """
    record = _record("target", notebook, name, measured, met, detail, preset, seed)
    print(f"[{notebook}] target '{name}': {'MET' if met else 'NOT MET'} — {detail}")
    return record
