"""The paired-seed benchmark: overrides parse and type like the config fields, a quick run writes a
report whose summary counts the paired wins it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_script

from course_lib import presets

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_seeds.py"


@pytest.fixture(scope="module")
def bench():
    return load_script(BENCH, "bench_seeds")


def test_overrides_are_typed_like_the_fields(bench):
    o = bench.parse_overrides(["steps=750", "precision=fp32", "l1_weight=1", "enc_blocks=(3,3)", "loss=mel"])
    assert o == {"steps": 750, "precision": "fp32", "l1_weight": 1.0, "enc_blocks": (3, 3), "loss": "mel"}
    assert isinstance(o["l1_weight"], float)
    p = bench.recipe(presets.get("cpu"), o)
    assert (p.train.steps, p.train.precision, p.model.enc_blocks) == (750, "fp32", (3, 3))
    for bad in (["steps"], ["stepz=3"]):
        with pytest.raises(ValueError, match="field=value"):
            bench.parse_overrides(bad)


def test_summary_counts_paired_wins_and_the_bar(bench):
    def r(held, allv):
        return {"sets": {"test": {"pesq_wb": held, "stoi": 0.88}, "valid": {"pesq_wb": 1.5, "stoi": 0.88}},
                "all_voices": {"pesq_wb": allv, "stoi": 0.87}, "voices": {"a": {"pesq_wb": allv, "stoi": 0.87}},
                "train_seconds": 1.0, "steps": 3, "precision": "fp32", "loaded": True}
    res = {"recipes": {"new": "x", "old": "y"}, "bar": (1.4, 0.87),
           "seeds": {"0": {"new": r(1.43, 1.45), "old": r(1.33, 1.40)},
                     "1": {"new": r(1.38, 1.39), "old": r(1.40, 1.38)}}}
    s = bench.summary(res)
    assert s["paired_wins"]["held_pesq"] == 1 and s["paired_wins"]["all_pesq_wb"] == 2
    assert s["new"]["bar_met"] == 1 and s["old"]["bar_met"] == 1
    assert abs(s["new"]["held_pesq"] - 1.405) < 1e-9
    md = bench.render_markdown({**res, "date": "d", "command": "c", "preset": "cpu"})
    assert "held-out PESQ-wb 1, STOI 0" in md and "| a | 1.420 | 1.390 |" in md


def test_quick_run_writes_report(bench, fake_corpus, tmp_path):
    out = tmp_path / "seeds.md"
    res = bench.main(["--quick", "--seeds", "0", "1", "--against", "l1_weight=0.5", "--corpus", str(fake_corpus),
                      "--root", str(tmp_path / "ck"), "--out", str(out), "--no-progress"])
    assert set(res["seeds"]) == {"0", "1"} and set(res["seeds"]["0"]) == {"new", "old"}
    md = out.read_text()
    for section in ("## Per seed", "## Summary", "## Per voice"):
        assert section in md
    assert json.loads(out.with_suffix(".json").read_text())["recipes"]["old"] == "l1_weight=0.5"
    again = bench.main(["--quick", "--seeds", "0", "--corpus", str(fake_corpus), "--root", str(tmp_path / "ck"),
                        "--out", str(out), "--no-progress"])
    assert again["seeds"]["0"]["new"]["loaded"]  # the cache is shared: nothing retrains
    with pytest.raises(SystemExit, match="field=value"):
        bench.main(["--quick", "--set", "nonsense", "--out", str(out)])
