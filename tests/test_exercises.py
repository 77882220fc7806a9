"""Every notebook's exercise: the solution passes its check, the untouched stub is reported (not
raised), and a plausible wrong answer fails with ExerciseError -- so each check can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from course_lib import exercises
from course_lib.exercises import EXERCISES, ExerciseError, check, solution

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _wrong_00(clean, noise, snr_db):
    return clean + noise  # forgot to scale


def _wrong_01(h, spans, n_slots):
    b, d, f = h.shape
    return h.new_zeros(b, d, n_slots).scatter_add_(2, spans[:, None, :].expand(b, d, f), h)  # a sum, not a mean


def _wrong_02(x):
    return x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]  # sum and difference without the halves


def _wrong_03(z, z_hat):
    return z_hat  # the predictor's own errors, not fresh noise of their size


def _wrong_04(mean, logvar, frame_rate):
    return (0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)).sum(dim=1).mean()  # per frame, not per second


def _wrong_05(x_train, y_train, x_test, y_test):
    from sklearn.linear_model import LogisticRegression

    return float(LogisticRegression(max_iter=1000).fit(x_test, y_test).score(x_test, y_test))  # fit on test


def _wrong_06(model):
    return torch.optim.AdamW(model.parameters(), lr=1e-3)  # nothing frozen


def _wrong_07(codec, clean, degraded):
    from course_lib import metrics

    task = [metrics.mel_distance(codec(d), d) for d in degraded]  # scored against the degraded input
    neutral = [metrics.mel_distance(codec(c), c) for c in clean]
    return {"neutral": sum(neutral) / len(neutral), "task": sum(task) / len(task)}


def _wrong_08(table, metric):
    from course_lib import decode_paths

    return float(table.loc[decode_paths.PREDICTED, metric] - table.loc[decode_paths.ORACLE, metric])  # no sign


WRONG = {"00": _wrong_00, "01": _wrong_01, "02": _wrong_02, "03": _wrong_03, "04": _wrong_04,
         "05": _wrong_05, "06": _wrong_06, "07": _wrong_07, "08": _wrong_08}


def test_every_notebook_has_an_exercise():
    numbers = sorted(p.name[:2] for p in NOTEBOOKS.glob("[0-9]*.ipynb"))
    assert numbers and numbers == sorted(EXERCISES) == sorted(exercises.CHECKS) == sorted(WRONG)


@pytest.mark.parametrize("nn", sorted(EXERCISES))
def test_solution_passes(nn, capsys):
    assert check(nn, solution(nn)) is True
    assert f"Exercise {nn} passed" in capsys.readouterr().out


@pytest.mark.parametrize("nn", sorted(EXERCISES))
def test_stub_is_reported_not_raised(nn, capsys):
    scope: dict = {}
    exec(EXERCISES[nn].stub, scope)  # the very cell the notebook shows
    assert check(nn, scope[EXERCISES[nn].name]) is False
    assert "not done yet" in capsys.readouterr().out


@pytest.mark.parametrize("nn", sorted(EXERCISES))
def test_wrong_answer_fails(nn):
    with pytest.raises(ExerciseError):
        check(nn, WRONG[nn], quiet=True)


def test_solution_of_unknown_notebook_is_a_clear_error():
    with pytest.raises(KeyError, match="no exercise for notebook '42'"):
        solution("42")


@pytest.mark.parametrize("nn", sorted(EXERCISES))
def test_notebook_carries_its_exercise_cells(nn):
    nb = json.loads(next(NOTEBOOKS.glob(f"{nn}_*.ipynb")).read_text())
    sources = ["".join(c["source"]) for c in nb["cells"]]
    stub = EXERCISES[nn].stub.strip()
    assert any(s.strip() == stub for s in sources), f"{nn}: the stub cell differs from EXERCISES[{nn!r}]"
    assert any(f'exercises.check("{nn}", {EXERCISES[nn].name})' in s for s in sources)
    params = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    assert "solutions = False" in "".join(params["source"])
