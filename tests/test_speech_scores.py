"""PESQ / STOI in worker processes: the same numbers as scoring here, in order, with clear errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import metrics, speech_scores


def _pairs(n: int = 6, seconds: float = 1.5):
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    out = []
    for i in range(n):
        ref = 0.3 * np.sin(2 * np.pi * (110 + 20 * i) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
        ref += 0.01 * rng.standard_normal(t.size)
        out.append((ref, ref + (0.02 + 0.02 * i) * rng.standard_normal(t.size)))
    return out


def test_workers_give_the_numbers_scoring_here_gives_in_order():
    pairs = _pairs()
    here = speech_scores.speech_scores(pairs, n_workers=1)
    there = speech_scores.speech_scores(pairs, n_workers=2)
    assert there == here  # bit for bit, and in the pairs' order
    assert here[0] == (speech_scores.pesq_wb_np(*pairs[0]), speech_scores.stoi_np(*pairs[0]))
    assert len(set(here)) == len(here)  # distinct pairs, distinct scores: a shuffle would show
    stoi = [s for _, s in here]
    skipped = speech_scores.speech_scores(pairs, pesq=False, n_workers=2)
    assert all(math.isnan(p) for p, _ in skipped) and [s for _, s in skipped] == stoi


def test_score_clips_is_unchanged_by_the_workers(monkeypatch):
    pairs = _pairs(5)
    refs = [torch.from_numpy(r).float()[None] for r, _ in pairs]
    ests = [torch.from_numpy(e).float()[None] for _, e in pairs]
    monkeypatch.setenv("COURSE_METRIC_WORKERS", "1")
    here = metrics.score_clips(refs, ests)
    monkeypatch.setenv("COURSE_METRIC_WORKERS", "2")
    assert metrics.score_clips(refs, ests) == here
    assert here[1]["pesq_wb"] == metrics.pesq_wb(ests[1], refs[1]) and here[1]["stoi"] == metrics.stoi(ests[1], refs[1])


def test_worker_count_and_its_errors(monkeypatch):
    monkeypatch.setenv("COURSE_METRIC_WORKERS", "3")
    assert speech_scores.workers() == 3
    monkeypatch.setenv("COURSE_METRIC_WORKERS", "two")
    with pytest.raises(ValueError, match="COURSE_METRIC_WORKERS"):
        speech_scores.workers()
    monkeypatch.delenv("COURSE_METRIC_WORKERS")
    assert 1 <= speech_scores.workers() <= 8
    with pytest.raises(ValueError, match="16 kHz"):
        speech_scores.speech_scores(_pairs(4), sample_rate=22050)


def test_a_script_without_a_main_guard_is_not_run_again_by_the_workers(tmp_path):
    # a learner's quick script: no `if __name__ == "__main__"`; the workers must not re-run it
    script = tmp_path / "quick.py"
    marker = tmp_path / "runs.txt"
    script.write_text(textwrap.dedent(f"""
        import numpy as np
        from course_lib import speech_scores
        with open({str(marker)!r}, "a") as f:
            f.write("run\\n")
        t = np.arange(16000) / 16000
        x = 0.3 * np.sin(2 * np.pi * 150 * t)
        pairs = [(x, x + 0.01 * np.random.default_rng(i).standard_normal(t.size)) for i in range(4)]
        print(len(speech_scores.speech_scores(pairs, n_workers=2)))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4" and "RuntimeWarning" not in out.stderr
    assert marker.read_text() == "run\n"
