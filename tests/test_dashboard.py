import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from course_lib import bottlenecks, dashboard
from course_lib.bottlenecks import BottleneckOutput
from course_lib.models import Autoencoder, ModelConfig

matplotlib.use("Agg")

SR = 16000


def _model(bottleneck="kl", **kw):
    torch.manual_seed(0)
    return Autoencoder(ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1), bottleneck=bottleneck, **kw))


def _clip(seed=0):
    """1 s: 0.3 s of silence with one click, then a tone with noise bursts: all three regimes."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(SR) / SR
    x = torch.zeros(SR)
    x[int(0.3 * SR):] = 0.3 * torch.sin(2 * math.pi * 440 * t[int(0.3 * SR):])
    for c in (0.1, 0.45, 0.6, 0.75, 0.9):
        i = int(c * SR)
        x[i:i + 160] += torch.randn(160, generator=g)
    return x[None]


def _mostly_silent():
    x = torch.zeros(1, SR)
    t = torch.arange(SR // 10) / SR
    x[0, -SR // 10:] = 0.3 * torch.sin(2 * math.pi * 300 * t)
    return x


def _patch_mean(monkeypatch, model, fn):
    """Make model.encode return a posterior mean edited by fn (logvar untouched)."""
    orig = model.encode

    def encode(x, sample=None, spans=None):
        out = orig(x, sample=sample, spans=spans)
        mean = fn(out.mean.clone())
        return BottleneckOutput(z=mean, mean=mean, reg=out.reg, stats=out.stats, logvar=out.logvar)

    monkeypatch.setattr(model, "encode", encode)


def test_collect_rows_places_and_meta():
    model = _model("kl")
    clips = [_clip(0), _mostly_silent()]
    meta = pd.DataFrame([{"clip_id": "a", "domain": "speech", "condition": "clean"},
                         {"clip_id": "b", "domain": "music", "condition": "reverb"}])
    s = dashboard.collect(model, clips, meta=meta)
    n = SR // model.cfg.samples_per_latent  # 50 latent frames per 1 s clip
    assert len(s) == 2 * n and s.z.shape == (2 * n, 64) and s.kl.shape == s.z.shape
    assert s.residual is None and model.training  # the caller's train mode is restored
    frames = s.frames
    assert len(frames) == 2 * n and list(frames.groupby("clip_id").size()) == [n, n]
    assert set(s.domain) == {"speech", "music"} and set(s.condition) == {"clean", "reverb"}
    assert set(s.regime[s.clip == 0]) == {"silence", "transient", "steady"}
    first = s.regime[s.clip == 0]
    assert (first[:10] != "steady").all() and (first[20:] != "silence").all()  # silence, then the tone
    assert np.mean(s.regime[s.clip == 1] == "silence") >= 0.85
    # defaults without meta; list-of-dict meta works too
    s2 = dashboard.collect(model, clips[:1])
    assert set(s2.domain) == {"unknown"} and set(s2.clip_id) == {"0"}
    s3 = dashboard.collect(model, clips[:1], meta=[{"domain": "effects"}])
    assert set(s3.domain) == {"effects"} and set(s3.condition) == {"unknown"}
    with pytest.raises(ValueError, match="meta"):
        dashboard.collect(model, clips, meta=[{}])


def test_slot_regime_vote_and_onset_rule():
    # 4 frames per slot: a lone onset frame loses the vote unless onset_wins
    x = torch.zeros(1, 4 * 160 * 3)
    x[0, 640:] = 0.3 * torch.sin(torch.arange(x.shape[-1] - 640) * 0.2)
    plain = dashboard.slot_regimes(x, 3, 4)
    assert list(plain) == ["silence", "steady", "steady"]
    assert list(dashboard.slot_regimes(x, 3, 4, onset_wins=True)) == ["silence", "transient", "steady"]
    # 2 frames per slot, ties go to the rarer regime; frames: steady, silence | silence x2 |
    # transient, silence | then a slot wholly in the encoder's zero padding: silence
    tone = 0.3 * torch.sin(torch.arange(160) * 0.2)
    y = torch.zeros(1, 6 * 160)
    y[0, :160], y[0, 640:800] = tone, tone
    assert list(dashboard.slot_regimes(y, 4, 2)) == ["steady", "silence", "transient", "silence"]
    quiet_then_loud = torch.cat([0.03 * tone, 0.3 * tone])[None]  # steady, then a +20 dB onset
    assert list(dashboard.slot_regimes(quiet_then_loud, 1, 2)) == ["transient"]


def test_kl_columns_present_for_kl_absent_for_plain():
    x = _clip(1)
    model = _model("kl")
    s = dashboard.collect(model, [x])
    ch, pl = dashboard.channel_table(s), dashboard.place_table(s)
    assert len(ch) == 64 and (ch["kl_per_s"] > 0).all() and ch["kl_share"].sum() == pytest.approx(1.0)
    assert pl["kl_share"].sum() == pytest.approx(1.0) and pl["frame_share"].sum() == pytest.approx(1.0)
    # the same KL the bottleneck reports, converted to nats per second
    with torch.no_grad():
        ref = float(model.encode(x[None], sample=False).stats["kl_per_frame"])
    assert ch["kl_per_s"].sum() == pytest.approx(ref * model.cfg.latent_rate, rel=1e-4)
    assert dashboard.debt_report(s)["per_second"] == pytest.approx(ref * model.cfg.latent_rate, rel=1e-4)

    sp = dashboard.collect(_model("plain"), [x])
    chp, plp = dashboard.channel_table(sp), dashboard.place_table(sp)
    assert sp.kl is None and sp.frames["kl"].isna().all()
    assert chp["kl_per_s"].isna().all() and chp["posterior_std"].isna().all() and plp["kl_per_s"].isna().all()
    assert chp["std"].notna().all() and (plp["norm_mean"] > 0).all()
    with pytest.raises(ValueError, match="posterior"):
        dashboard.debt_report(sp, quantity="kl")
    assert dashboard.debt_report(sp)["quantity"] == "energy"


def test_residual_zero_when_prediction_is_exact_and_shape_checked():
    model = _model("kl")
    clips = [_clip(0), _clip(1)]
    with torch.no_grad():
        means = [model.encode(x[None], sample=False).mean for x in clips]  # (1, width, slots)
    s = dashboard.collect(model, clips, z_hat=means)
    assert np.abs(s.residual).max() == 0.0
    assert (dashboard.channel_table(s)["residual_rms"] == 0).all()
    assert (dashboard.place_table(s, by="regime")["residual_rel"] == 0).all()
    s_off = dashboard.collect(model, clips, z_hat=[m[0] + 0.5 for m in means])  # (width, slots) accepted
    assert dashboard.channel_table(s_off)["residual_rms"].to_numpy() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="z_hat"):
        dashboard.collect(model, clips, z_hat=[m[0, :, :-1] for m in means])


def test_debt_report_finds_dominant_channel(monkeypatch):
    model = _model("kl")

    def boost(mean):
        mean[:, 5] = 30.0 * mean[:, 5] + 10.0
        return mean

    _patch_mean(monkeypatch, model, boost)
    s = dashboard.collect(model, [_clip(0), _clip(1)])
    debt = dashboard.debt_report(s)
    assert debt["quantity"] == "kl" and debt["channel"] == 5
    assert debt["channel_excess"] > 10 and debt["channel_share"] == pytest.approx(debt["channel_excess"] / 64)
    assert "channel 5" in debt["summary"]
    # shares to one decimal: 64 channels have a fair share of 1.6%, and the ratio beside it agrees
    share, excess = debt["channel_share"], debt["channel_excess"]
    assert f"channel 5 carries {share:.1%} (fair share 1.6%, {excess:.1f}x)" in debt["summary"]
    # a plain codec: the same channel dominates the latent energy
    plain = _model("plain")
    _patch_mean(monkeypatch, plain, boost)
    assert dashboard.debt_report(dashboard.collect(plain, [_clip(0)]))["channel"] == 5


def test_debt_report_finds_the_regime_with_the_residual():
    model = _model("kl")
    clips = [_clip(0), _clip(1)]
    s = dashboard.collect(model, clips)
    g = torch.Generator().manual_seed(0)
    z_hat = []
    for i in range(len(clips)):
        z = torch.from_numpy(s.z[s.clip == i].T.copy())
        silent = torch.from_numpy(s.regime[s.clip == i] == "silence")
        z_hat.append(z + silent * torch.randn(z.shape, generator=g, dtype=z.dtype))
    s = dashboard.collect(model, clips, z_hat=z_hat)
    debt = dashboard.debt_report(s)
    assert debt["quantity"] == "residual" and (debt["place_by"], debt["place"]) == ("regime", "silence")
    assert debt["place_share"] == pytest.approx(1.0) and debt["place_excess"] > 2
    table = dashboard.place_table(s, by="regime")
    assert table.loc["silence", "residual_share"] == pytest.approx(1.0)
    assert table.loc["steady", "residual_rms"] == 0.0


def test_outlier_rate_and_norm_distribution(monkeypatch):
    model = _model("plain")

    def spike(mean):
        mean[0, 2, 10] = 1e3
        return mean

    _patch_mean(monkeypatch, model, spike)
    s = dashboard.collect(model, [_clip(0), _clip(1)])
    ch = dashboard.channel_table(s)
    assert ch.loc[2, "outlier_rate"] == pytest.approx(2 / len(s))  # the spike, in both clips
    q = dashboard.norm_distribution(s, by="regime")
    assert list(q.columns[:1]) == ["all"] and set(q.columns[1:]) == {"silence", "transient", "steady"}
    assert (np.diff(q["all"].to_numpy()) >= 0).all()
    assert q.loc[0.5, "all"] == pytest.approx(np.median(s.norm))


def test_sample_vs_mean_delta():
    clips = [_clip(0), _mostly_silent()]
    plain = dashboard.sample_vs_mean_delta(_model("plain"), clips)
    assert len(plain) == 2 and (plain["mel_delta"] == 0).all()
    model = _model("kl")
    a = dashboard.sample_vs_mean_delta(model, clips, n_samples=2, seed=3, meta=[{"domain": "speech"}, {}])
    b = dashboard.sample_vs_mean_delta(model, clips, n_samples=2, seed=3)
    assert (a["mel_delta"] > 0).all() and np.allclose(a["mel_delta"], b["mel_delta"])
    assert list(a["domain"]) == ["speech", "unknown"]
    # the draws come from a forked, seeded RNG: the caller's random stream is untouched
    torch.manual_seed(7)
    before = torch.rand(3)
    torch.manual_seed(7)
    dashboard.sample_vs_mean_delta(model, clips[:1], n_samples=1)
    assert torch.equal(torch.rand(3), before)
    c = dashboard.sample_vs_mean_delta(model, clips, n_samples=2, seed=4)
    assert not np.allclose(a["mel_delta"], c["mel_delta"])


def test_figure_has_four_labelled_axes():
    for kind in ("kl", "plain"):
        s = dashboard.collect(_model(kind), [_clip(0)], meta=[{"domain": "speech"}])
        fig = dashboard.figure(s)
        assert len(fig.axes) == 4
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
        labels = [t.get_text() for t in fig.axes[3].get_yticklabels()]
        assert "regime: silence" in labels and "domain: speech" in labels
        matplotlib.pyplot.close(fig)


def test_global_frame_keeps_the_frame_stream_and_pooled_topologies_raise():
    s = dashboard.collect(_model("kl", topology="global+frame"), [_clip(0)])
    assert len(s) == 50
    model = _model("kl", topology="chunk")
    with pytest.raises(ValueError, match="grid"):
        dashboard.collect(model, [_clip(0)])
    with pytest.raises(ValueError, match="grid"):
        dashboard.sample_vs_mean_delta(model, [_clip(0)])


@pytest.mark.skipif("sigma" not in getattr(bottlenecks, "KINDS", ()), reason="no sigma / dropout bottlenecks")
def test_other_bottleneck_kinds():
    x = _clip(0)
    # a fixed-variance posterior has a KL too: 0.5 mean^2 + const per channel, as the bottleneck reports
    model = _model("sigma")
    s = dashboard.collect(model, [x])
    with torch.no_grad():
        ref = float(model.encode(x[None], sample=False).stats["kl_per_frame"])
    assert dashboard.channel_table(s)["kl_per_s"].sum() == pytest.approx(ref * model.cfg.latent_rate, rel=1e-4)
    assert dashboard.sample_vs_mean_delta(model, [x], n_samples=1)["mel_delta"].iloc[0] > 0
    # channel dropout has no posterior, but its training-time z still moves the decode
    drop = _model("dropout", latent_dropout=0.5)
    assert dashboard.collect(drop, [x]).kl is None
    assert dashboard.sample_vs_mean_delta(drop, [x], n_samples=2)["mel_delta"].iloc[0] > 0
    assert dashboard.sample_vs_mean_delta(_model("tanh"), [x])["mel_delta"].iloc[0] == 0


# --- channel by channel -----------------------------------------------------------------------------

def test_replace_channels_from_a_latent_or_per_channel_values():
    z = torch.arange(12.0).reshape(3, 4)
    other = -torch.ones(3, 4)
    out = dashboard.replace_channels(z, [1], other)
    assert torch.equal(out[1], other[1]) and torch.equal(out[[0, 2]], z[[0, 2]])
    assert torch.equal(z[1], torch.arange(4.0, 8.0))  # z itself is left alone
    held = dashboard.replace_channels(z, [0, 2], torch.tensor([7.0, 8.0, 9.0]))
    assert held[0].tolist() == [7.0] * 4 and held[2].tolist() == [9.0] * 4 and torch.equal(held[1], z[1])
    assert torch.equal(dashboard.replace_channels(z, [], other), z)
    with pytest.raises(ValueError, match="outside 0..2"):
        dashboard.replace_channels(z, [3], other)
    with pytest.raises(ValueError, match="one value per channel"):
        dashboard.replace_channels(z, [0], torch.zeros(5))


def _channel_setup():
    model = _model("plain")
    model.eval()
    clips = [_clip(0), _clip(1)]
    with torch.no_grad():
        z = [model.encode(x[None]).mean[0] for x in clips]
    return model, clips, z, [SR, SR]


def test_channel_costs_find_the_channel_a_prediction_got_wrong():
    model, clips, z, lengths = _channel_setup()
    g = torch.Generator().manual_seed(0)
    # a "prediction" that is exact but for channel 5, which is noise, and channel 9 of the truth is
    # constant at its fill value, so muting it changes nothing
    z[0][9], z[1][9] = 0.25, 0.25
    z_hat = [u.clone() for u in z]
    for u in z_hat:
        u[5] = torch.randn(u.shape[1], generator=g) * 3
    fill = torch.cat(z, dim=1).mean(dim=1)
    t = dashboard.channel_costs(model, z, z_hat, clips, lengths, fill=fill)
    assert list(t.index) == list(range(64)) and t["repair_gain"].idxmax() == 5
    assert t["repair_gain"].drop(5).abs().max() == 0  # those channels of ẑ already were the truth
    assert t.loc[5, "repair_gain"] == pytest.approx(t["predicted_mel"].iloc[0] - t["oracle_mel"].iloc[0])
    assert t.loc[9, "mute_cost"] == 0 and (t["mute_cost"].abs() > 0).sum() > 32
    oracle = dashboard.channel_swap_scores(model, z, fill, [[]], clips, lengths)[0]
    assert t["oracle_mel"].iloc[0] == oracle
    with pytest.raises(ValueError, match="one of each per clip"):
        dashboard.channel_swap_scores(model, z, fill, [[]], clips[:1], lengths)


def test_channel_curve_ends_at_the_whole_gap_and_checks_its_order():
    model, clips, z, lengths = _channel_setup()
    g = torch.Generator().manual_seed(1)
    z_hat = [u + 0.5 * torch.randn(u.shape, generator=g) for u in z]
    order = list(range(63, -1, -1))
    c = dashboard.channel_curve(model, z, z_hat, clips, lengths, order, ks=(1, 8, 64, 100))
    assert list(c.index) == [1, 8, 64]  # a k over the width is dropped
    assert c.loc[64, "repair_first"] == pytest.approx(c.loc[64, "gap"])  # every channel repaired: the oracle
    assert c.loc[64, "mute_first"] == c.loc[64, "mute_last"] == c.loc[64, "mute_all"]
    assert c["gap"].iloc[0] > 0
    with pytest.raises(ValueError, match="every channel"):
        dashboard.channel_curve(model, z, z_hat, clips, lengths, order[:-1])


def test_the_study_helpers_feed_the_study_into_the_channel_measures():
    from types import SimpleNamespace

    model, clips, z, lengths = _channel_setup()
    g = torch.Generator().manual_seed(2)
    z_hat = [u + 0.3 * torch.randn(u.shape, generator=g) for u in z]
    allz = torch.cat(z, dim=1)
    stats = SimpleNamespace(mean=allz.mean(dim=1, keepdim=True), std=allz.std(dim=1, keepdim=True))
    study = SimpleNamespace(eval=[SimpleNamespace(z=u, length=n, spans=None) for u, n in zip(z, lengths)],
                            z_hat=z_hat, stats=stats)
    order = dashboard.spread_order(study)
    spread = stats.std.flatten()
    assert sorted(order) == list(range(64)) and spread[order[0]] == spread.max() and spread[order[-1]] == spread.min()
    curve = dashboard.channel_curve_for(model, study, clips, ks=(1, 4))
    direct = dashboard.channel_curve(model, z, z_hat, clips, lengths, order, ks=(1, 4), fill=stats.mean)
    pd.testing.assert_frame_equal(curve, direct)
    costs = dashboard.channel_costs_for(model, study, clips)
    assert np.allclose(costs["training_std"], spread.numpy()) and len(costs) == 64
    gap = costs["predicted_mel"].iloc[0] - costs["oracle_mel"].iloc[0]
    assert gap == pytest.approx(curve["gap"].iloc[0]) and gap > 0
