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


def test_04s_codecs_are_its_own_and_the_rate_points_start_from_the_plain_codec():
    from course_lib import presets

    for name in ("smoke", "gpu"):
        jobs, starts = pretrain.jobs_for(["04"], name, 3), pretrain.starts_for(["04"], name, 3)
        rate, zoo = presets.ownership_sweep(name, 3)
        plain = list(rate)[-1]
        assert len(jobs) == len(rate) + 1 + len(zoo)  # the middle rate twice: from the plain codec, from scratch
        assert set(starts) == {f"04 · {k} (from the plain codec)" for k in list(rate)[:-1]}
        assert all(p == rate[plain] for p in starts.values()) and jobs[f"04 · {plain}"] == rate[plain]
        assert jobs[f"04 · {presets.rate_middle(rate)} (from scratch)"] == rate[presets.rate_middle(rate)]


def test_pretrained_04_codecs_are_the_ones_notebook_04_loads(tmp_path, monkeypatch):
    """End to end in the smoke preset: two spawned processes train 04's codecs (the rate points in the
    second wave, from the plain codec); then the calls notebook 04 makes load every one of them."""
    from conftest import make_fake_corpus, mark_built

    from course_lib import presets, training

    mark_built(make_fake_corpus(tmp_path / "data" / "corpus" / "smoke"), "smoke")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))  # the spawned workers read these
    monkeypatch.setenv("COURSE_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setattr(training, "CHECKPOINT_ROOT", tmp_path / "ck")
    importable = importlib.import_module("data_scripts.pretrain")  # spawned workers import _train_one by name
    rows = importable.pretrain("smoke", ["04"], seed=0, jobs=2, threads=1, only="from the plain codec")
    assert not [r for r in rows if "error" in r] and [r["label"] for r in rows][0].startswith("start of")
    rate, zoo = presets.ownership_sweep("smoke", 0)
    corpus = tmp_path / "data" / "corpus" / "smoke"
    start = training.train_or_load(list(rate.values())[-1], corpus=corpus, progress=False)  # as predictors.rate_sweep
    assert start.info["loaded"]
    for p in list(rate.values())[:-1]:
        assert training.train_or_load(p, corpus=corpus, progress=False, init=start).info["loaded"]
    with pytest.raises(AssertionError):  # the zoo was left out by --only: not there yet
        assert training.train_or_load(next(iter(zoo.values())), corpus=corpus, progress=False).info["loaded"]
