"""make doctor: what a laptop lacks for the course, said with what to do, and how fast it trains."""

import pytest
from conftest import load_script, make_fake_corpus, mark_built

from course_lib import data

doctor = load_script(data.REPO_ROOT / "scripts" / "doctor.py", "doctor")


def verdicts(report):
    return {what: (found, verdict) for what, found, verdict in report.lines}


def test_a_machine_with_a_corpus_and_no_cache_is_ready_and_says_what_first_runs_will_do(tmp_path):
    corpus = mark_built(make_fake_corpus(tmp_path / "corpus" / "smoke"))
    report = doctor.check("smoke", corpus=corpus, checkpoints=tmp_path / "ck", steps=3)
    v = verdicts(report)
    assert v["corpus"][1] == "ok" and data.corpus_hash(corpus) in v["corpus"][0]
    assert v["checkpoint cache"][1] == "note" and v["checkpoint cache"][0].startswith("0 trained models")
    assert report.step_s > 0 and "ms a step" in v["training speed"][0]
    assert report.ready and report.text().endswith("ready for the course")


def test_a_missing_corpus_is_a_fix_and_the_speed_probe_still_runs(tmp_path):
    report = doctor.check("smoke", corpus=tmp_path / "nothing", checkpoints=tmp_path / "ck", steps=3)
    found, verdict = verdicts(report)["corpus"]
    assert verdict == "fix" and "make corpus PRESET=smoke" in found and "make unkit" in found
    assert report.step_s > 0  # on synthetic clips
    assert not report.ready and "FIX" in report.text()


def test_without_the_renderers_a_kit_is_the_way(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # neither flite nor festival can be found: the builder's own check says so
    without = doctor.check("smoke", corpus=tmp_path / "nothing", checkpoints=tmp_path / "ck", time_it=False)
    found, verdict = verdicts(without)["corpus renderers"]
    assert verdict == "fix" and found.startswith("flite not found, festival not found") and "make unkit KIT=" in found
    corpus = mark_built(make_fake_corpus(tmp_path / "corpus" / "smoke"))
    built = doctor.check("smoke", corpus=corpus, checkpoints=tmp_path / "ck", time_it=False)
    assert verdicts(built)["corpus renderers"][1] == "note" and built.ready  # the corpus is here already


@pytest.mark.parametrize("step_s, verdict", [(0.2, "ok"), (0.5, "note")])
def test_a_slow_machine_is_told_to_fill_the_cache_first(tmp_path, monkeypatch, step_s, verdict):
    corpus = mark_built(make_fake_corpus(tmp_path / "corpus" / "cpu"), "cpu")
    monkeypatch.setattr(doctor, "time_steps", lambda *a, **k: step_s)
    report = doctor.check("cpu", corpus=corpus, checkpoints=tmp_path / "ck")
    found, got = verdicts(report)["training speed"]
    assert got == verdict and report.factor == pytest.approx(step_s / doctor.REFERENCE_STEP_S["cpu"])
    assert ("fill the checkpoint cache" in found) == (verdict == "note")
    assert f"{report.factor * doctor.REFERENCE_COURSE_MIN['cpu']:.0f} min" in found
