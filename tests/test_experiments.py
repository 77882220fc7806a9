"""The experiment scripts behind the "a script" numbers of the notebooks and README run (smoke preset)."""

import importlib.util
import json
import os
from pathlib import Path

import pytest

from course_lib import data

EXPERIMENTS = Path(__file__).resolve().parents[1] / "benchmarks" / "experiments"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def smoke_corpus(monkeypatch):
    """Build the smoke corpus if needed (as test_labels does; offline, seconds); undo the scripts'
    checkpoint root (they set it for their run)."""
    from course_lib import training

    data.ensure_corpus("smoke")
    monkeypatch.setattr(training, "CHECKPOINT_ROOT", training.CHECKPOINT_ROOT)
    if "COURSE_CHECKPOINTS" in os.environ:
        monkeypatch.setenv("COURSE_CHECKPOINTS", os.environ["COURSE_CHECKPOINTS"])
    else:
        monkeypatch.delenv("COURSE_CHECKPOINTS", raising=False)
    yield


def test_the_scripts_train_where_they_are_told(tmp_path):
    from course_lib import training

    load("c10_coupling").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--weights", "3"])
    assert training.CHECKPOINT_ROOT == tmp_path and any(tmp_path.iterdir())


def test_teacher_front_end_trains_the_three_teachers():
    out = load("teacher_front_end").main(["--preset", "smoke"])
    assert len(out) == 3 and all(0 <= v <= 1 for v in out.values())


def test_c10_coupling_probes_each_encoder(tmp_path):
    out = load("c10_coupling").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--weights", "3"])
    assert set(out) == {(0, "acoustic only"), (0, "coupled, KL weight 3")}
    for row in out.values():
        assert set(row) == {"content", "content_known", "speaker", "content, clip mean removed"}
    # --corpus names the build the encoders train and are probed on: the same build -> the same models, loaded
    again = load("c10_coupling").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--weights", "3",
                                       "--corpus", "smoke"])
    assert again == out


def test_c10_coupling_steps_and_teacher_preset_change_what_is_trained(tmp_path, monkeypatch):
    from course_lib import presets, teachers

    base = ["--preset", "smoke", "--checkpoints", str(tmp_path), "--weights", "3"]
    load("c10_coupling").main(base)
    before = {p.name for p in tmp_path.iterdir()}
    load("c10_coupling").main(base + ["--steps", "3"])  # a new step count: new encoders, the same teacher
    new = {p.name for p in tmp_path.iterdir()} - before
    assert len(new) == 2 and not any(n.startswith("teacher-") for n in new)
    seen = before | new  # shorter crops and a smaller batch are another budget: two more encoders
    load("c10_coupling").main(base + ["--steps", "3", "--segment", "0.5", "--batch", "2"])
    assert len({p.name for p in tmp_path.iterdir()} - seen) == 2
    # --teacher-preset asks for that preset's teacher config (recorded here; a smoke one is trained instead)
    asked, real = [], teachers.content_teacher_or_load
    smoke_teacher = presets.teacher_lesson("smoke", 0).teacher

    def record(corpus, cfg, **kw):
        asked.append(cfg)
        return real(corpus, smoke_teacher, **kw)

    monkeypatch.setattr(teachers, "content_teacher_or_load", record)
    load("c10_coupling").main(base + ["--teacher-preset", "cpu"])
    assert asked == [presets.teacher_lesson("cpu", 0).teacher] != [smoke_teacher]


def test_c8_low_rate_scores_mean_and_sampled_targets(tmp_path):
    out = load("c8_low_rate").main(["--preset", "smoke", "--checkpoints", str(tmp_path)])
    for row in out.values():
        assert row["D(E(x))"] > 0 and "flow, sample targets: D(ẑ) mel" in row
        assert row["flow, sample targets: D(ẑ) fréchet"] >= 0 and row["flow, mean targets: D(ẑ) fréchet"] >= 0


def test_c1_predictor_steps_gives_a_margin_per_budget(tmp_path):
    out = load("c1_predictor_steps").main(["--preset", "smoke", "--checkpoints", str(tmp_path),
                                           "--predictor-steps", "5", "10"])
    assert set(out) == {(0, 5), (0, 10)} and all(m >= 0 for m in out.values())


def test_music_data_trains_on_the_corpus_and_on_more_music_and_holds_the_test_pieces_out(tmp_path):
    out = load("music_data").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--jobs", "1"])
    assert set(out) == {(0, "corpus", 1.0), (0, "more music", 1.0)}
    corpus_row, more_row = out[0, "corpus", 1.0], out[0, "more music", 1.0]
    df = data.read_manifest(data.ensure_corpus("smoke"))
    n_train = len(data.select(df, split="train", domain="music", condition="clean"))
    n_held = len(data.select(df, split=["test", "valid"], domain="music", condition="clean"))
    assert corpus_row["pieces"] == n_train and more_row["pieces"] == 8 - n_held
    for row in out.values():
        assert row["steps"] >= 1 and row["griffin-lim"] > 0
        assert all(row[k] > 0 for k in ("held-out pieces", "training pieces", "true magnitude, its phase"))


def test_gl_polish_starts_from_the_decoders_own_output(tmp_path):
    # zero iterations must give back D(E(x)) itself: the spectrogram it polishes is the decoder's
    out = load("gl_polish").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--iterations", "0", "4"])
    for label in ("training speakers, new sentences", "held-out speakers"):
        assert out[0, label, "0 iterations"] == out[0, label, "D(E(x))"]
        assert out[0, label, "4 iterations"] != out[0, label, "D(E(x))"]


def test_c1_predictor_steps_trains_the_asked_interfaces_with_the_asked_budget(tmp_path):
    args = ["--preset", "smoke", "--checkpoints", str(tmp_path), "--predictor-steps", "5",
            "--only", "grid 50 Hz x 16", "phone x 64"]
    load("c1_predictor_steps").main(args)
    before = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    load("c1_predictor_steps").main(args + ["--steps", "3", "--segment", "0.5", "--batch", "2"])
    after = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    assert len(after - before) == 2  # another budget: two more autoencoders, one per asked interface


def test_c6_gating_steps_logs_a_probe_every_tenth_and_gives_a_verdict(tmp_path):
    out = load("c6_gating_steps").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--steps", "10",
                                        "--batch", "2", "--segment", "0.5"])
    row = out[0]
    assert 1 <= row["best_generation"] <= 10 and 1 <= row["best_oracle"] <= 10
    assert row["holds"] == (row["best_generation"] < row["best_oracle"] and row["oracle_gain_after"] >= 0.05)


def test_c6_flow_probe_judges_one_codec_by_both_probes(tmp_path):
    out = load("c6_flow_probe").main(["--preset", "smoke", "--checkpoints", str(tmp_path)])
    row = out[0]
    log = row["log"]
    assert set(log) >= {"oracle", "generation", "generation_flow", "nmse_flow"}
    assert log["generation"] != log["generation_flow"]  # two probes, two predictions of the same codec
    for name in ("regression", "flow"):
        v = row[name]
        assert v["holds"] == (v["best_generation"] < v["best_oracle"] and v["oracle_gain_after"] >= 0.05)


def test_c7_rate_steps_scores_every_rate_point(tmp_path):
    from course_lib import presets

    out = load("c7_rate_steps").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--steps", "3"])
    rate_sweep, _ = presets.ownership_sweep("smoke", 0)
    rows = out[0]["rows"]
    assert list(rows) == list(rate_sweep) and all(r["oracle mel"] > 0 and r["D(ẑ) mel"] > 0 for r in rows.values())
    assert rows["plain (no limit)"]["KL nats/s"] == float("inf")


def test_c7_warm_start_starts_every_rate_point_from_the_plain_codec(tmp_path):
    out = load("c7_warm_start").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--steps", "2",
                                      "--base-steps", "3", "--head", "flow", "--targets", "500", "4000"])
    rows = out[0]["rows"]
    assert list(rows) == ["target 500 nats/s", "target 4000 nats/s", "plain (no limit)"]
    infos = [json.loads(p.read_text()) for p in tmp_path.glob("*/info.json")]
    base = next(i for i in infos if i["init"] is None)
    assert base["preset"]["train"]["steps"] == 3
    assert sorted(i["preset"]["model"]["bottleneck"] for i in infos if i["init"] == base["key"]) == \
        ["plain", "target_kl", "target_kl"]


def test_c7_warm_start_scores_the_text_reading_ar_sampler(tmp_path):
    args = ["--preset", "smoke", "--checkpoints", str(tmp_path), "--steps", "2", "--base-steps", "3",
            "--targets", "500"]
    ar = load("c7_warm_start").main(args + ["--head", "ar-text", "--temperature", "0.5"])[0]["rows"]
    flow = load("c7_warm_start").main(args + ["--head", "flow"])[0]["rows"]
    assert list(ar) == list(flow) == ["target 500 nats/s", "plain (no limit)"]
    for label in ar:  # the same codecs (loaded the second time), another generator
        assert ar[label]["oracle mel"] == flow[label]["oracle mel"]
        assert ar[label]["nMSE"] != flow[label]["nMSE"] and ar[label]["nMSE"] > 0


def test_music_data_can_train_on_the_corpus_alone_with_another_batch(tmp_path):
    out = load("music_data").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--sources", "corpus",
                                   "--batch", "1", "--segment", "0.5"])
    assert set(out) == {(0, "corpus", 1.0)}
    assert not any(tmp_path.glob("corpus-music*"))  # no extra corpus rendered when it is not asked for


def test_c5_distribution_scores_both_decoders_paired_and_as_sets(tmp_path):
    out = load("c5_distribution").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--bootstrap", "3",
                                        "--covariance"])
    res = out[0]
    assert len(res["table"]) == 15  # three decoders × (oracle, noisy, predicted, covariance noise, moved error)
    assert set(res["oracle_cost"]) == {"mel_dist", "frechet_mel", "covariance mel_dist"}
    assert all(v["mel_dist"] > 0 and v["frechet_mel"] >= 0 for v in res["table"].values())
    t = res["table"]
    by_hand = ((t["control · D(ẑ)"]["frechet_mel"] - t["calibrated · D(ẑ)"]["frechet_mel"])
               / (t["control · D(ẑ)"]["frechet_mel"] - t["control · D(E(x))"]["frechet_mel"]))
    assert res["closed"]["frechet_mel"] == pytest.approx(by_hand)
    assert set(res["bootstrap"]) == {"D(E(x)+ε)", "D(ẑ)"} and all(sd >= 0 for _, sd in res["bootstrap"].values())
    assert res["split_half"] >= 0


@pytest.mark.parametrize("head", ["flow", "regression"])
def test_c5_restoration_scores_a_restorer_gap_for_each_decoder(tmp_path, head):
    out = load("c5_restoration").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--head", head,
                                       "--covariance"])
    res = out[0]
    t = res["table"]
    # three decoders × (oracle, noisy, predicted, covariance noise, moved error, degraded)
    assert len(t) == 18 and set(res["closed"]) == {"calibrated", "covariance"}
    assert res["nmse"] > 0 and all(v["mel_dist"] > 0 for v in t.values())
    # the degraded clip's own latent is another latent than the clean one: another decode
    assert t["control · degraded"]["mel_dist"] != t["control · D(E(x))"]["mel_dist"]
    for name in ("calibrated", "covariance"):
        by_hand = ((t["control · D(ẑ)"]["mel_dist"] - t[f"{name} · D(ẑ)"]["mel_dist"])
                   / (t["control · D(ẑ)"]["mel_dist"] - t["control · D(E(x))"]["mel_dist"]))
        assert res["closed"][name]["mel_dist"] == pytest.approx(by_hand)
        assert res["oracle_cost"][name] == pytest.approx(t[f"{name} · D(E(x))"]["mel_dist"]
                                                         - t["control · D(E(x))"]["mel_dist"])


def test_c5_ar_text_calibrates_a_decoder_to_each_way_of_generating(tmp_path):
    out = load("c5_ar_text").main(["--preset", "smoke", "--checkpoints", str(tmp_path), "--temperature", "0.5"])
    res = out[0]
    assert set(res) == {"greedy", "T=0.5"}
    g, hot = res["greedy"], res["T=0.5"]
    assert g["nmse"] != hot["nmse"] and g["nmse"] > 0
    # both share the control decoder, each has its own calibrated one (its noise follows its errors)
    assert g["table"]["control · D(E(x))"] == hot["table"]["control · D(E(x))"]
    assert g["table"]["calibrated · D(E(x))"] != hot["table"]["calibrated · D(E(x))"]
    for r in (g, hot):
        t = r["table"]
        assert r["gap_mel"] == pytest.approx(t["control · D(ẑ)"]["mel_dist"] - t["control · D(E(x))"]["mel_dist"])
        assert r["closed_mel"] == pytest.approx((t["control · D(ẑ)"]["mel_dist"] - t["calibrated · D(ẑ)"]["mel_dist"])
                                                / r["gap_mel"])
        assert r["oracle_cost"] == pytest.approx(t["calibrated · D(E(x))"]["mel_dist"]
                                                 - t["control · D(E(x))"]["mel_dist"])


def test_c8_autoregressive_compares_mean_and_sampled_targets_on_the_same_draws(tmp_path):
    out = load("c8_autoregressive").main(["--preset", "smoke", "--checkpoints", str(tmp_path),
                                          "--horizons-s", "0.2", "--temperature", "0.5"])
    res = out[0]
    rows = res["rows"]
    assert set(rows) == {"oracle D(E(x))"} | {f"{t} targets · 0.2 s · T={T}" for t in ("mean", "sample")
                                             for T in ("0", "0.5")}
    assert set(res["gain_mel"]) == {"0.2 s · T=0", "0.2 s · T=0.5"}
    k = "0.2 s · T=0.5"
    assert res["gain_mel"][k] == pytest.approx(rows[f"mean targets · {k}"]["mel_dist"]
                                               - rows[f"sample targets · {k}"]["mel_dist"])
    assert all(r["nMSE"] > 0 for name, r in rows.items() if name != "oracle D(E(x))")


def test_c8_autoregressive_with_text_trains_another_predictor(tmp_path):
    args = ["--preset", "smoke", "--checkpoints", str(tmp_path), "--horizons-s", "0.2"]
    audio = load("c8_autoregressive").main(args)[0]
    text = load("c8_autoregressive").main(args + ["--text"])[0]
    assert (audio["text"], text["text"]) == (False, True) and set(text["rows"]) == set(audio["rows"])
    assert text["rows"]["oracle D(E(x))"] == audio["rows"]["oracle D(E(x))"]  # the same codec, loaded
    k = "mean targets · 0.2 s · T=0"
    assert text["rows"][k]["nMSE"] != audio["rows"][k]["nMSE"]
