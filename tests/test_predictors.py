"""Predictors (the fixed-budget stand-in generators) and the decode-path table."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from course_lib import data, decode_paths, metrics
from course_lib import predictors as P
from course_lib.models import Autoencoder, ModelConfig

SMALL = dict(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1))
TINY = P.PredictorConfig(size=16, layers=1, steps=60, batch_size=4, lr=5e-3)


def synthetic_utterances(n=24, width=4, seed=0):
    """Latents that are an exact function of the phone ids: a predictor must learn them."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(6, width, generator=g)
    out = []
    for i in range(n):
        frames = 40 + 4 * (i % 5)
        spans = torch.arange(frames) // 8
        phones = (torch.randint(1, 6, (int(spans.max()) + 1,), generator=g))[spans]
        slots = spans.clone()
        z = torch.stack([table[phones[spans == k][0]] for k in range(int(spans.max()) + 1)], dim=1)
        out.append(P.Utterance(str(i), z, phones, spans, slots, i % 3, frames * 160))
    return out


@pytest.mark.parametrize("head", ["regression", "flow"])
def test_conditional_predictor_learns_a_learnable_mapping(head):
    utts = synthetic_utterances()
    stats = P.LatentStats.of(utts)
    torch.manual_seed(0)
    # a flow learns a whole distribution: it needs more steps than a regression to the mean
    cfg = TINY if head == "regression" else P.PredictorConfig(size=16, layers=1, steps=300, batch_size=4, lr=1e-2)
    pred = P.ConditionalPredictor(6, 3, 4, cfg=cfg, head=head)
    hist = P.train_predictor(pred, utts, stats, progress=False)
    assert len(hist) == cfg.steps and all(math.isfinite(h) for h in hist)
    z_hat = P.predict(pred, utts[:6], stats)
    assert [z.shape for z in z_hat] == [u.z.shape for u in utts[:6]]
    nmse = P.normalised_mse(z_hat, utts[:6], stats)
    assert nmse < 0.6  # far better than predicting the mean (1.0)


def test_normalised_mse_is_one_for_the_mean():
    utts = synthetic_utterances()
    stats = P.LatentStats.of(utts)
    mean_pred = [stats.mean.expand_as(u.z) for u in utts]
    assert P.normalised_mse(mean_pred, utts, stats) == pytest.approx(1.0, abs=0.1)
    assert P.normalised_mse([u.z for u in utts], utts, stats) == 0.0


def test_ar_predictor_is_causal_and_learns():
    pred = P.ARPredictor(4, TINY)
    z = torch.randn(1, 4, 30)
    mean1, _ = pred(z)
    z2 = z.clone()
    z2[..., 20:] += 5.0
    mean2, _ = pred(z2)
    assert torch.allclose(mean1[..., :20], mean2[..., :20])  # the future never leaks back
    assert not torch.allclose(mean1[..., 20:], mean2[..., 20:])
    # a smooth, predictable sequence: the NLL must fall
    t = torch.arange(40.0)
    utts = [P.Utterance(str(i), torch.stack([torch.sin(0.3 * t + i + k) for k in range(4)]),
                        torch.ones(80, dtype=torch.long), torch.zeros(80, dtype=torch.long),
                        torch.arange(80) // 2, 0, 12800) for i in range(16)]
    hist = P.train_predictor(pred, utts, P.LatentStats.of(utts), progress=False)
    assert np.mean(hist[-10:]) < np.mean(hist[:10]) - 0.3
    assert pred.rollout(torch.zeros(2, 4, 5), 7).shape == (2, 4, 7)


def test_head_name_is_checked():
    with pytest.raises(ValueError, match="regression"):
        P.ConditionalPredictor(4, 2, 4, head="diffusion")


@pytest.mark.parametrize("topology", ["grid", "phone", "global+frame"])
def test_encode_utterances_on_a_corpus(fake_corpus, topology):
    df = data.read_manifest(fake_corpus)
    rows = data.select(df, domain="speech")
    vocab = P.phone_vocab(fake_corpus, rows)
    assert vocab == {"a": 1, "b": 2, "pau": 3}
    m = Autoencoder(ModelConfig(topology=topology, latent_rate=25.0, width=8, **SMALL))
    utts = P.encode_utterances(m, fake_corpus, rows, vocab, {"spk0": 0, "spk1": 1}, progress=False)
    u = utts[0]
    assert u.phones.shape == u.spans.shape == u.slots.shape
    assert int(u.slots.max()) == u.z.shape[1] - 1  # every latent slot has frames
    assert set(u.phones.tolist()) <= {1, 2, 3}
    stats = P.LatentStats.of(utts)
    pred = P.ConditionalPredictor(len(vocab), 2, 8, m.cfg.has_global, TINY)
    z_hat = P.predict(pred, utts, stats)
    audio = decode_paths.decode_latents(m, z_hat, [u.length for u in utts], [u.spans for u in utts])
    assert all(a.shape == (1, u.length) for a, u in zip(audio, utts))


def test_path_table_and_gap():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(16000) / 16000
    refs = [(0.3 * torch.sin(2 * math.pi * 200 * t) + 0.01 * torch.randn(16000, generator=g))[None]]
    close = [refs[0] + 0.01 * torch.randn(1, 16000, generator=g)]
    far = [refs[0] + 0.2 * torch.randn(1, 16000, generator=g)]
    table = decode_paths.path_table(refs, {decode_paths.ORACLE: close, decode_paths.PREDICTED: far},
                                    speech=False, extra={"timbre": metrics.timbre_distance,
                                                         "n": decode_paths.per_path(lambda e, r: len(e))})
    assert isinstance(table, pd.DataFrame) and table.loc[decode_paths.ORACLE, "n"] == 1
    assert decode_paths.predicted_latent_gap(table, "mel_dist") > 0
    assert decode_paths.predicted_latent_gap(table, "si_sdr") > 0  # higher-is-better flips sign
    with pytest.raises(ValueError, match="has 2 clips for 1"):
        decode_paths.path_table(refs, {"x": close * 2}, speech=False)


def harmonic(f0, seconds=1.0, sr=16000, phase_seed=None):
    t = torch.arange(int(seconds * sr)) / sr
    g = torch.Generator().manual_seed(phase_seed or 0)
    phases = torch.rand(8, generator=g) * 2 * math.pi if phase_seed else torch.zeros(8)
    return sum(0.3 / h * torch.sin(2 * math.pi * h * f0 * t + phases[h - 1]) for h in range(1, 9))[None]


def test_f0_tracker_is_right_and_phase_blind():
    track = metrics.f0_track(harmonic(150.0))
    assert np.median(np.abs(1200 * np.log2(track[5:-5] / 150.0))) < 30
    # same harmonics, scrambled phases: same pitch
    assert metrics.f0_error_cents(harmonic(150.0, phase_seed=3), harmonic(150.0)) < 30
    # a tone a fifth up (702 cents)
    assert metrics.f0_error_cents(harmonic(225.0), harmonic(150.0)) == pytest.approx(702, abs=60)
    assert math.isnan(metrics.f0_error_cents(harmonic(150.0), harmonic(150.0), voiced=np.zeros(200, bool)))


def test_timbre_and_alignment():
    x = harmonic(150.0)
    assert metrics.timbre_distance(x, x) == pytest.approx(0.0, abs=1e-4)
    brighter = x + 0.05 * torch.sin(2 * math.pi * 3000 * torch.arange(16000) / 16000)[None]
    assert metrics.timbre_distance(brighter, x) > 1.0
    # a signal whose second half is delayed by 100 ms drifts; the same signal does not
    g = torch.Generator().manual_seed(0)
    env = torch.repeat_interleave(torch.rand(20, generator=g), 800)
    y = env * torch.randn(16000, generator=g)
    shifted = torch.cat([y[:8000], torch.zeros(1600), y[8000:14400]])
    assert metrics.alignment_drift_ms(y[None], y[None]) == 0.0
    assert metrics.alignment_drift_ms(shifted[None], y[None]) > 20.0


def test_study_is_cached_next_to_the_encoder(fake_corpus, tmp_path):
    df = data.read_manifest(fake_corpus)
    rows = data.select(df, domain="speech")
    train_rows, eval_rows = rows.iloc[:4], rows.iloc[4:]
    vocab = P.phone_vocab(fake_corpus, rows)
    m = Autoencoder(ModelConfig(latent_rate=25.0, width=8, **SMALL))
    first = P.study(m, fake_corpus, train_rows, eval_rows, vocab, {"spk0": 0}, TINY, progress=False,
                    cache_dir=tmp_path)
    again = P.study(m, fake_corpus, train_rows, eval_rows, vocab, {"spk0": 0}, TINY, progress=False,
                    cache_dir=tmp_path)
    assert not first.loaded and again.loaded and again.predictor is None
    assert all(torch.equal(a, b) for a, b in zip(first.z_hat, again.z_hat)) and again.nmse == first.nmse
    other = P.study(m, fake_corpus, train_rows, eval_rows, vocab, {"spk0": 0}, replace(TINY, steps=5),
                    progress=False, cache_dir=tmp_path)
    assert not other.loaded  # a different budget is a different study


def test_sampled_targets_draw_from_the_posterior():
    utts = synthetic_utterances(n=8)
    stats = P.LatentStats.of(utts)
    with pytest.raises(ValueError, match="needs a posterior"):
        P.train_predictor(P.ConditionalPredictor(6, 3, 4, cfg=replace(TINY, targets="sample")), utts, stats,
                          progress=False)
    with pytest.raises(ValueError, match="targets must be"):
        P.train_predictor(P.ConditionalPredictor(6, 3, 4, cfg=replace(TINY, targets="median")), utts, stats,
                          progress=False)
    post = [replace(u, logvar=torch.full_like(u.z, math.log(0.25))) for u in utts]
    mean_batch = P._batch(post, stats)[4]
    g = torch.Generator().manual_seed(0)
    draw = P._batch(post, stats, g)[4]
    mask = P._batch(post, stats)[5].expand_as(draw) > 0
    diff = (draw - mean_batch)[mask] * stats.std.mean()  # back to latent units (roughly)
    assert 0.3 < float(diff.std()) < 0.8  # posterior std 0.5
    hist = P.train_predictor(P.ConditionalPredictor(6, 3, 4, cfg=replace(TINY, targets="sample")), post, stats,
                             progress=False)
    assert len(hist) == TINY.steps and all(math.isfinite(h) for h in hist)


def test_ar_generations_train_on_the_asked_targets_and_sample_reproducibly():
    utts = [replace(u, logvar=torch.full_like(u.z, math.log(0.25))) for u in synthetic_utterances(n=8)]
    stats = P.LatentStats.of(utts)
    rng = torch.get_rng_state()
    mean = P.ar_generations(utts[:6], utts[6:], stats, TINY, horizon=4, device="cpu")
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is left as it was
    assert set(mean) == {0.0, 1.0} and [z.shape for z in mean[0.0]] == [u.z.shape for u in utts[6:]]
    assert not torch.allclose(mean[0.0][0], mean[1.0][0])  # sampled, not greedy
    again = P.ar_generations(utts[:6], utts[6:], stats, TINY, horizon=4, device="cpu")
    assert all(torch.equal(a, b) for t in mean for a, b in zip(mean[t], again[t]))
    sampled = P.ar_generations(utts[:6], utts[6:], stats, replace(TINY, targets="sample"), horizon=4,
                               temperatures=(0.0,), device="cpu")
    assert set(sampled) == {0.0} and not torch.allclose(sampled[0.0][0], mean[0.0][0])  # other targets


def test_speech_task_is_the_shared_split(fake_corpus):
    full = P.speech_task(fake_corpus, "smoke", 2)
    half = P.speech_task(fake_corpus, "cpu", 2)
    assert len(half.train_rows) == (len(full.train_rows) + 1) // 2  # cpu: every other sentence
    assert set(full.train_rows["split"]) == {"train"} and set(full.eval_rows["split"]) == {"valid"}
    assert len(full.refs) == len(full.eval_rows) <= 2 and full.refs[0].shape[0] == 1
    assert set(full.speakers.values()) == set(range(len(full.speakers)))
    assert full.vocab == P.phone_vocab(fake_corpus, full.train_rows)


def test_predict_ahead_runs_free_within_each_horizon():
    torch.manual_seed(0)
    pred = P.ARPredictor(4, TINY)
    g = torch.Generator().manual_seed(1)
    utts = [P.Utterance(str(i), torch.randn(4, 23, generator=g), torch.zeros(46, dtype=torch.long),
                        torch.zeros(46, dtype=torch.long), torch.arange(46) // 2, 0, 7360) for i in range(3)]
    stats = P.LatentStats.of(utts)
    # horizon 1 is teacher forcing: the same as predict(), which reads the whole past, so the rollout's
    # window of `receptive_field` slots (1 + 2 * (2^1 - 1) = 3 for one layer of kernel 3) loses nothing
    assert pred.receptive_field == 3 and P.ARPredictor(4, replace(TINY, layers=2)).receptive_field == 7
    one = P.predict_ahead(pred, utts, stats, horizon=1)
    forced = P.predict(pred, utts, stats)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(one, forced))
    ahead = P.predict_ahead(pred, utts, stats, horizon=5)
    assert [z.shape for z in ahead] == [u.z.shape for u in utts]
    assert all(torch.equal(z[:, 0], u.z[:, 0]) for z, u in zip(ahead, utts))  # slot 0 is copied
    # inside a chunk (slots 1-5) the prediction ignores the true latents it is generating...
    changed = [P.Utterance(u.clip_id, u.z.clone(), u.phones, u.spans, u.slots, 0, u.length) for u in utts]
    changed[0].z[:, 2:6] += 3.0
    again = P.predict_ahead(pred, changed, stats, horizon=5)
    assert torch.allclose(again[0][:, :6], ahead[0][:, :6], atol=1e-5)
    # ...while the next chunk (slot 6 on) starts from the true past, so it sees the change
    assert not torch.allclose(again[0][:, 6:11], ahead[0][:, 6:11])
    with pytest.raises(ValueError, match="horizon"):
        P.predict_ahead(pred, utts, stats, horizon=0)
    # sampled: another latent than greedy, the same one again from the same generator seed
    hot = P.predict_ahead(pred, utts, stats, 5, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(hot[0], ahead[0])
    assert torch.equal(hot[0][:, 0], ahead[0][:, 0])  # slot 0 is still copied
    same = P.predict_ahead(pred, utts, stats, 5, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(hot, same))


def test_ar_study_on_unlabelled_audio():
    torch.manual_seed(0)
    model = Autoencoder(ModelConfig(**SMALL, width=8)).eval()
    t = torch.arange(16000) / 16000
    clips = [(0.3 * torch.sin(2 * math.pi * (150 + 40 * i) * t))[None] for i in range(4)]
    st = P.ar_study(model, clips[:3], clips[3:], replace(TINY, steps=5), horizon_s=0.1, progress=False)
    assert len(st.z_hat) == 1 and st.z_hat[0].shape == st.eval[0].z.shape
    assert st.eval[0].length == 16000 and math.isfinite(st.nmse)
    with pytest.raises(ValueError, match="phone spans"):
        P.audio_utterances(Autoencoder(ModelConfig(**SMALL, topology="phone")), clips)


def test_text_conditioned_ar_reads_the_phones():
    """Latents that are a function of the phones: reading the text must beat reading the past alone."""
    utts = synthetic_utterances(n=24)
    stats = P.LatentStats.of(utts)
    cfg = replace(TINY, steps=200)
    audio, _ = P.train_ar_predictor(utts[:18], stats, cfg, progress=False, device="cpu")
    text, _ = P.train_ar_predictor(utts[:18], stats, cfg, progress=False, device="cpu", n_phones=6, n_speakers=3)
    err = {name: P.normalised_mse(P.predict_ahead(pred, utts[18:], stats, horizon=4), utts[18:], stats)
           for name, pred in (("audio", audio), ("text", text))}
    assert err["text"] < 0.5 * err["audio"], err
    # the audio-only layers are created first, so both start from the same weights under one seed
    torch.manual_seed(0)
    a = P.ARPredictor(4, TINY)
    torch.manual_seed(0)
    t = P.ARPredictor(4, TINY, n_phones=6, n_speakers=3)
    assert a.text is None and all(torch.equal(v, t.state_dict()[k]) for k, v in a.state_dict().items())


def test_text_conditioned_ar_is_causal_in_the_latents_and_checks_its_inputs():
    torch.manual_seed(0)
    pred = P.ARPredictor(4, TINY, n_phones=6, n_speakers=3).eval()
    utts = synthetic_utterances(n=2)
    stats = P.LatentStats.of(utts)
    batch = P._batch(utts[:1], stats)
    forced = pred.predict(batch)
    later = list(batch)
    later[4] = batch[4].clone()
    later[4][..., 3:] += 2.0  # change the latents from slot 3 on
    again = pred.predict(tuple(later))
    assert torch.allclose(again[..., :4], forced[..., :4], atol=1e-6)  # slots up to 3 read only slots before
    assert not torch.allclose(again[..., 4:], forced[..., 4:])
    z = batch[4]
    with pytest.raises(ValueError, match="reads text"):
        pred(z)
    with pytest.raises(ValueError, match="audio-only"):
        P.ARPredictor(4, TINY)(z, torch.zeros(1, TINY.size, z.shape[-1]))
    with pytest.raises(ValueError, match="cond covers"):
        pred.rollout(z[..., :2], 5, cond=pred.conditioning(batch)[..., :4])


def test_ar_generations_are_cached_per_setting(tmp_path, monkeypatch):
    utts = synthetic_utterances(n=8)
    stats = P.LatentStats.of(utts)
    first = P.ar_generations(utts[:6], utts[6:], stats, TINY, horizon=4, device="cpu", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("ar-*.pt"))) == 1 and not list(tmp_path.glob("*.tmp*"))

    def no_training(*args, **kwargs):
        raise AssertionError("a cached generation was trained again")

    monkeypatch.setattr(P, "train_ar_predictor", no_training)
    again = P.ar_generations(utts[:6], utts[6:], stats, TINY, horizon=4, device="cpu", cache_dir=tmp_path)
    assert set(again) == set(first) and all(torch.equal(a, b) for t in first for a, b in zip(first[t], again[t]))
    with pytest.raises(AssertionError, match="trained again"):  # another horizon is another generation
        P.ar_generations(utts[:6], utts[6:], stats, TINY, horizon=2, device="cpu", cache_dir=tmp_path)
    with pytest.raises(AssertionError, match="trained again"):  # and so is reading the text
        P.ar_generations(utts[:6], utts[6:], stats, TINY, horizon=4, device="cpu", cache_dir=tmp_path,
                         n_phones=6, n_speakers=3)


def test_sweep_point_scores_both_paths_and_loads_on_a_rerun(fake_corpus, tmp_path):
    from course_lib import presets, training

    p = presets.get("smoke")
    p = replace(p, model=ModelConfig(latent_rate=25.0, width=8, **SMALL),
                train=replace(p.train, steps=4, batch_size=2, checkpoint_every=4, warmup=1))
    task = P.speech_task(fake_corpus, "smoke", 2)
    kl = replace(p, model=replace(p.model, bottleneck="target_kl", target_kl=500.0))
    start = training.train_or_load(p, corpus=fake_corpus, root=tmp_path, progress=False)
    point = P.sweep_point(kl, fake_corpus, task, TINY, head="flow", init=start, root=tmp_path)
    assert not point.run.info["loaded"] and not point.study.loaded
    assert set(point.paths) == {decode_paths.ORACLE, decode_paths.PREDICTED}
    assert all(len(clips) == len(task.refs) for clips in point.paths.values())
    row = point.row
    assert row["bottleneck"] == "target_kl" and 0 < row["KL nats/s"] < np.inf  # the KL it held, per second
    assert row["gap mel"] == pytest.approx(row["D(ẑ) mel"] - row["oracle mel"])
    assert row["predictor nMSE"] == point.study.nmse
    # one clip through both paths, and one metric per path: what the rate dial plays and draws
    last = len(task.refs) - 1
    assert all(torch.equal(a, point.paths[k][last]) for k, a in point.listen(last).items())
    assert point.score("mel") == {decode_paths.ORACLE: row["oracle mel"], decode_paths.PREDICTED: row["D(ẑ) mel"]}
    again = P.sweep_point(kl, fake_corpus, task, TINY, head="flow", init=start, root=tmp_path)
    assert again.run.info["loaded"] and again.study.loaded and again.row == row
    plain = P.sweep_point(p, fake_corpus, task, TINY, root=tmp_path)
    assert plain.run.info["loaded"] and plain.row["KL nats/s"] == np.inf  # the start itself: no rate limit


def test_rate_sweep_starts_every_point_from_the_plain_codec_and_feeds_the_dial(fake_corpus, tmp_path):
    from course_lib import presets, training

    p = presets.get("smoke")
    p = replace(p, model=ModelConfig(latent_rate=25.0, width=8, **SMALL),
                train=replace(p.train, steps=4, batch_size=2, checkpoint_every=4, warmup=1))
    sweep = {"target 500": replace(p, model=replace(p.model, bottleneck="target_kl", target_kl=500.0)),
             "plain": p}
    task = P.speech_task(fake_corpus, "smoke", 2)
    points = P.rate_sweep(sweep, fake_corpus, task, TINY, head="regression", root=tmp_path, progress=False)
    assert list(points) == ["target 500", "plain"]
    start = training.train_or_load(p, corpus=fake_corpus, root=tmp_path, progress=False)
    assert start.info["loaded"]  # the plain codec trained once, as the start
    alone = P.sweep_point(sweep["target 500"], fake_corpus, task, TINY, init=start, root=tmp_path)
    assert alone.run.info["loaded"] and alone.row == points["target 500"].row  # the same key: loaded
    clips, scores = P.dial_inputs(points, 0, "mel")
    assert list(clips) == list(points) == list(scores.index)
    assert torch.equal(clips["plain"][decode_paths.PREDICTED], points["plain"].paths[decode_paths.PREDICTED][0])
    assert scores.loc["plain", decode_paths.ORACLE] == points["plain"].row["oracle mel"]


def test_a_predictor_budget_too_short_for_its_schedule_is_refused_in_one_line():
    with pytest.raises(ValueError, match="steps must be at least 3, got 2"):
        P.PredictorConfig(steps=2)
