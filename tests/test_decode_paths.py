"""Notebook 03's machinery: the five decode paths, calibrated noise, the projector, decoder
fine-tuning with latent noise, and the probe predictor that gates checkpoints."""

from dataclasses import replace

import pytest
import torch

from course_lib import data, presets, training
from course_lib import decode_paths as DP
from course_lib import predictors as P
from course_lib.models import Autoencoder, ModelConfig

SMALL = dict(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1))
TINY = P.PredictorConfig(size=16, layers=1, steps=20, batch_size=4, lr=5e-3)


def tiny_preset(steps=6, **model):
    p = presets.get("smoke")
    return replace(p, model=ModelConfig(**{**SMALL, "latent_rate": 25.0, "width": 8, **model}),
                   train=replace(p.train, steps=steps, batch_size=2, checkpoint_every=3, warmup=2))


def test_calibrated_noise_has_the_asked_std_and_correlation():
    std = torch.tensor([0.5, 2.0])
    g = torch.Generator().manual_seed(0)
    white = DP.calibrated_noise((2, 20000), std, None, g)
    assert torch.allclose(white.std(dim=1), std, rtol=0.05)
    corr = torch.tensor([0.0, 0.8])
    ar = DP.calibrated_noise((2, 20000), std, corr, g)
    assert torch.allclose(ar.std(dim=1), std, rtol=0.08)
    r = [float(torch.corrcoef(torch.stack([ar[c, 1:], ar[c, :-1]]))[0, 1]) for c in range(2)]
    assert abs(r[0]) < 0.05 and abs(r[1] - 0.8) < 0.05


def test_calibrated_noise_mixed_across_channels_has_the_asked_covariance():
    cov = torch.tensor([[1.0, 0.8, 0.0], [0.8, 1.0, -0.3], [0.0, -0.3, 0.5]])
    mix = torch.linalg.cholesky(cov)
    g = torch.Generator().manual_seed(0)
    e = DP.calibrated_noise((2, 3, 20000), torch.ones(3), torch.full((3,), 0.6), g, mix=mix)
    assert e.shape == (2, 3, 20000)
    assert torch.allclose(torch.cov(e[0]), cov, atol=0.06)  # AR(1) samples: a wider spread than white
    r = float(torch.corrcoef(torch.stack([e[0, 1, 1:], e[0, 1, :-1]]))[0, 1])
    assert abs(r - 0.6) < 0.05  # one lag-1 correlation for every channel survives the mixing
    # without a mix the channels are independent
    ind = DP.calibrated_noise((3, 20000), torch.ones(3), None, g)
    assert abs(float(torch.corrcoef(ind)[0, 1])) < 0.05


def test_residual_mix_factors_the_errors_covariance():
    g = torch.Generator().manual_seed(1)
    cov = torch.tensor([[0.25, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 0.3]])
    mix = torch.linalg.cholesky(cov)
    zs = [torch.randn(3, 3000, generator=g) for _ in range(3)]
    st = _Study([P.Utterance("a", z, None, None, None, 0, 0) for z in zs],
                [z + mix @ torch.randn(3, 3000, generator=g) for z in zs])
    got = DP.residual_mix(st)
    assert torch.equal(got, torch.tril(got))  # lower triangular: a Cholesky factor
    assert torch.allclose(got @ got.T, cov, atol=0.03)
    assert torch.allclose(torch.diagonal(got @ got.T).sqrt(), DP.residual_std(st), rtol=0.01)


def test_moved_errors_add_another_clips_error():
    zs = [torch.zeros(2, 5), torch.ones(2, 3), torch.full((2, 4), 2.0)]
    z_hat = [z + torch.arange(z.shape[-1]).float() * (k + 1) for k, z in enumerate(zs)]  # error k+1 per slot
    st = _Study([P.Utterance(str(k), z, None, None, None, 0, 0) for k, z in enumerate(zs)], z_hat)
    moved = DP.moved_errors(st)
    assert [m.shape for m in moved] == [z.shape for z in zs]
    # clip 0 (5 slots) gets clip 1's error 0, 2, 4 tiled: 0, 2, 4, 0, 2
    assert torch.equal(moved[0][0], torch.tensor([0.0, 2.0, 4.0, 0.0, 2.0]))
    assert torch.equal(moved[1][1], 1 + torch.tensor([0.0, 3.0, 6.0]))  # clip 2's error, cut to 3 slots
    assert torch.equal(moved[2][0], 2 + torch.tensor([0.0, 1.0, 2.0, 3.0]))  # clip 0's error, cut to 4
    assert torch.equal(DP.moved_errors(st, shift=3)[0], z_hat[0])  # a full turn: its own error again


class _Study:
    """The parts of a predictors.PredictionStudy that decode_paths reads."""

    def __init__(self, eval_u, z_hat):
        self.eval, self.z_hat = eval_u, z_hat


def _utts(model, clips):
    out = []
    for i, x in enumerate(clips):
        z = model.encode(x[None], sample=False).mean[0].detach()
        frames = model.pad(x[None]).shape[-1] // model.cfg.hop
        out.append(P.Utterance(str(i), z, torch.ones(frames, dtype=torch.long), torch.zeros(frames, dtype=torch.long),
                               model.slot_index(frames)[0], 0, x.shape[-1]))
    return out


def test_residual_statistics_measure_the_predictor_errors():
    g = torch.Generator().manual_seed(0)
    zs = [torch.randn(3, 400, generator=g) for _ in range(3)]
    eval_u = [P.Utterance("a", z, None, None, None, 0, 0) for z in zs]
    err = [DP.calibrated_noise((3, 400), torch.tensor([0.1, 0.5, 1.0]), torch.tensor([0.0, 0.5, 0.9]), g) for _ in zs]
    st = _Study(eval_u, [z + e for z, e in zip(zs, err)])
    assert torch.allclose(DP.residual_std(st), torch.tensor([0.1, 0.5, 1.0]), rtol=0.15)
    assert torch.allclose(DP.residual_corr(st), torch.tensor([0.0, 0.5, 0.9]), atol=0.08)


def test_projector_pulls_noisy_latents_back():
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(0, 20, 200)
    clean = [torch.stack([torch.sin(t * (k + 1) / 3 + i) for k in range(4)]) for i in range(12)]  # smooth latents
    sigma = torch.full((4,), 0.4)
    proj = DP.train_projector(clean, sigma, steps=300, seed=0)
    noisy = [z + DP.calibrated_noise(tuple(z.shape), sigma, None, g) for z in clean[:4]]
    before = sum(float((n - c).pow(2).mean()) for n, c in zip(noisy, clean))
    after = sum(float((p - c).pow(2).mean()) for p, c in zip(DP.project(proj, noisy), clean))
    assert after < 0.5 * before
    still = DP.project(proj, clean[:2])  # a clean latent moves little
    assert sum(float((p - c).pow(2).mean()) for p, c in zip(still, clean)) < 0.5 * before


def test_all_five_paths_and_the_table():
    torch.manual_seed(0)
    m = Autoencoder(ModelConfig(**SMALL, latent_rate=25.0, width=8, bottleneck="kl")).eval()
    g = torch.Generator().manual_seed(1)
    clips = [0.1 * torch.randn(1, 8000, generator=g) for _ in range(3)]
    eval_u = _utts(m, clips)
    z_hat = [u.z + 0.5 * torch.randn(u.z.shape, generator=g) for u in eval_u]
    st = _Study(eval_u, z_hat)
    proj = DP.train_projector([u.z for u in eval_u], DP.residual_std(st), steps=20)
    paths = DP.all_paths(m, st, clips, proj)
    assert list(paths) == list(DP.ROWS)
    assert all(len(v) == 3 and v[0].shape == clips[0].shape for v in paths.values())
    assert not torch.equal(paths[DP.SAMPLED][0], paths[DP.ORACLE][0])  # a KL posterior sample differs
    tab = DP.decode_path_table(clips, paths, speech=False)
    assert list(tab.index) == list(DP.ROWS) and tab.loc[DP.ORACLE, "gap"] == 0.0
    # an untrained decoder: only the bookkeeping is testable -- gap = distance from the oracle row
    mel = tab["mel_dist"]
    assert tab.loc[DP.PREDICTED, "gap"] == pytest.approx(mel[DP.PREDICTED] - mel[DP.ORACLE])
    assert tab.loc[DP.PREDICTED, "mel_dist"] != tab.loc[DP.ORACLE, "mel_dist"]
    ax = DP.plot_paths(tab)
    assert len(ax.patches) == 5
    plain = Autoencoder(ModelConfig(**SMALL, latent_rate=25.0, width=8)).eval()
    pu = _utts(plain, clips)
    pp = DP.all_paths(plain, _Study(pu, [u.z for u in pu]), clips)
    assert torch.equal(pp[DP.SAMPLED][0], pp[DP.ORACLE][0])  # deterministic bottleneck: the same row
    assert DP.PROJECTED not in pp
    # a subset decodes only what it names, and the same audio as the full table (noise included)
    sub = DP.all_paths(m, st, clips, proj, rows=(DP.NOISY, DP.PREDICTED))
    assert list(sub) == [DP.NOISY, DP.PREDICTED]
    assert all(torch.equal(sub[k][0], paths[k][0]) for k in sub)
    with pytest.raises(ValueError, match="unknown rows"):
        DP.all_paths(m, st, rows=("D(z)",))


def test_decoder_finetune_with_latent_noise_freezes_the_encoder(fake_corpus, tmp_path):
    base = training.train_or_load(tiny_preset(), corpus=fake_corpus, root=tmp_path, progress=False)
    ft = tiny_preset(4)
    ft = replace(ft, train=replace(ft.train, freeze_encoder=True, latent_noise_std=(0.3,) * 8,
                                   latent_noise_corr=(0.5,) * 8))
    tuned = training.train_or_load(ft, corpus=fake_corpus, root=tmp_path, progress=False, init=base)
    enc_a, enc_b = base.model.encoder.state_dict(), tuned.model.encoder.state_dict()
    assert all(torch.equal(enc_a[k], enc_b[k]) for k in enc_a)
    dec_a, dec_b = base.model.decoder.state_dict(), tuned.model.decoder.state_dict()
    assert any(not torch.equal(dec_a[k], dec_b[k]) for k in dec_a)
    assert tuned.info["key"] != training.train_or_load(ft, corpus=fake_corpus, root=tmp_path / "other",
                                                       progress=False).info["key"]  # init is part of the key
    bad = replace(ft, train=replace(ft.train, latent_noise_std=(0.3,) * 3))
    with pytest.raises(ValueError, match="3 values for 8 channels"):
        training.train_or_load(bad, corpus=fake_corpus, root=tmp_path, progress=False, init=base)


def test_decoder_finetune_with_mixed_noise_trains_and_rejects_bad_mixes(fake_corpus, tmp_path):
    base = training.train_or_load(tiny_preset(), corpus=fake_corpus, root=tmp_path, progress=False)
    mix = tuple(map(float, (0.3 * torch.eye(8) + 0.1 * torch.tril(torch.ones(8, 8), -1)).flatten()))
    ft = presets.decoder_finetune(tiny_preset(4), noise_corr=(0.5,) * 8, noise_mix=mix)
    assert ft.train.latent_noise_mix == mix and ft.train.latent_noise_std == ()
    tuned = training.train_or_load(ft, corpus=fake_corpus, root=tmp_path, progress=False, init=base)
    diag = presets.decoder_finetune(tiny_preset(4), (0.3,) * 8, (0.5,) * 8)
    other = training.train_or_load(diag, corpus=fake_corpus, root=tmp_path, progress=False, init=base)
    assert tuned.info["key"] != other.info["key"]  # the mix is part of the key
    dec_a, dec_b = tuned.model.decoder.state_dict(), other.model.decoder.state_dict()
    assert any(not torch.equal(dec_a[k], dec_b[k]) for k in dec_a)  # another noise, another decoder
    with pytest.raises(ValueError, match="needs 8 x 8 = 64"):
        training.train_or_load(replace(ft, train=replace(ft.train, latent_noise_mix=mix[:10])),
                               corpus=fake_corpus, root=tmp_path, progress=False, init=base)
    with pytest.raises(ValueError, match="not both"):
        training.train_or_load(replace(ft, train=replace(ft.train, latent_noise_std=(0.3,) * 8)),
                               corpus=fake_corpus, root=tmp_path, progress=False, init=base)


def test_probe_gate_scores_and_keeps_best_checkpoints(fake_corpus, tmp_path):
    df = data.read_manifest(fake_corpus)
    rows = data.select(df, domain="speech")
    vocab = P.phone_vocab(fake_corpus, rows)
    gate = P.ProbeGate(fake_corpus, rows.iloc[:4], rows.iloc[4:6], vocab, {"spk0": 0}, TINY, device="cpu")
    p = tiny_preset(6)
    p = replace(p, train=replace(p.train, probe_every=2))
    run = training.train_or_load(p, corpus=fake_corpus, root=tmp_path, progress=False, probe=gate)
    log = run.info["probe"]
    assert [r["step"] for r in log] == [2, 4, 6]
    assert all(abs(r["gap"] - (r["generation"] - r["oracle"])) < 1e-9 for r in log)
    m, score = training.load_best(run, "generation")
    assert score["generation"] == min(r["generation"] for r in log)
    _, score_o = training.load_best(run, "oracle")
    assert score_o["oracle"] == min(r["oracle"] for r in log)
    again = training.train_or_load(p, corpus=fake_corpus, root=tmp_path, progress=False, probe=gate)
    assert again.info["loaded"] and again.info["probe"] == log
    assert gate.evaluate(run.model) == gate.evaluate(run.model)  # seeded: the same encoder, the same score
    with pytest.raises(FileNotFoundError, match="no best checkpoints"):
        training.load_best(training.train_or_load(tiny_preset(), corpus=fake_corpus, root=tmp_path / "x",
                                                  progress=False))


def test_a_flow_probe_samples_the_same_draws_every_time_and_keys_apart(fake_corpus, tmp_path):
    df = data.read_manifest(fake_corpus)
    rows = data.select(df, domain="speech")
    vocab = P.phone_vocab(fake_corpus, rows)
    args = (fake_corpus, rows.iloc[:4], rows.iloc[4:6], vocab, {"spk0": 0}, TINY)
    flow, regression = P.ProbeGate(*args, device="cpu", head="flow"), P.ProbeGate(*args, device="cpu")
    model = training.train_or_load(tiny_preset(2), corpus=fake_corpus, root=tmp_path, progress=False).model
    f, r = flow.evaluate(model), regression.evaluate(model)
    assert f["oracle"] == r["oracle"] and f["generation"] != r["generation"]  # same codec, another predictor
    flow._seen.clear()  # retrain the flow probe from scratch: the same seed, the same draws
    assert flow.evaluate(model) == f
    assert flow.key() != regression.key()  # a checkpoint gated by one probe is not loaded for the other
    with pytest.raises(ValueError, match="head must be"):
        P.ProbeGate(*args, head="diffusion")


def test_ranking_split_names_both_winners_and_the_predicted_winners_lead():
    import pandas as pd

    res = pd.DataFrame({"oracle STOI": [0.75, 0.72, 0.70], "D(ẑ) STOI": [0.57, 0.63, 0.55],
                        "oracle mel": [0.71, 0.80, 0.81], "D(ẑ) mel": [1.01, 1.04, 1.06]},
                       index=["grid", "phone", "chunk"])
    split = DP.ranking_split(res, "oracle STOI", "D(ẑ) STOI")
    assert split["best_oracle"] == "grid" and split["best_predicted"] == "phone"
    assert split["margin"] == pytest.approx(0.06)
    same = DP.ranking_split(res, "oracle mel", "D(ẑ) mel", higher_is_better=False)
    assert same == {"best_oracle": "grid", "best_predicted": "grid", "margin": 0.0}
