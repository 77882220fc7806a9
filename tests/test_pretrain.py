"""data_scripts/pretrain.py: which checkpoints it trains, and in what order."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "pretrain", Path(__file__).resolve().parent.parent / "data_scripts" / "pretrain.py")
pretrain = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pretrain)


def test_jobs_cover_every_checkpoint_of_00_01_02():
    from course_lib import presets

    jobs = pretrain.jobs_for(["00", "01", "02"], "smoke", 0)
    assert len(jobs) == 1 + len(presets.topology_sweep("smoke")) + len(presets.loss_ablation("smoke"))
    assert jobs["00 · oracle"] == presets.get("smoke")
    assert all(p.train.seed == 0 for p in jobs.values())


def test_longest_jobs_start_first():
    jobs = pretrain.jobs_for(["00", "02"], "gpu", 0)
    from course_lib import training

    order = sorted(jobs, key=lambda k: -training.relative_cost(jobs[k]))
    assert order[0] == "00 · oracle"  # 9000 steps of the big model
    adv = "02 · speech · MR-STFT + mel + adv/FM"
    assert order.index(adv) < order.index("02 · speech · MR-STFT + mel")


def test_unknown_notebook_is_a_clear_error():
    with pytest.raises(ValueError, match="trains nothing"):
        pretrain.jobs_for(["03"], "smoke", 0)
