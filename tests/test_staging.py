"""Staging: per-loss gradients add up, frozen modules do not move, drift and replay measure what they say."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from course_lib import data, presets, staging, training
from course_lib.models import Autoencoder, ModelConfig

TINY = ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1), width=4, bottleneck="kl")


def _model(seed=0, cfg=TINY):
    torch.manual_seed(seed)
    return Autoencoder(cfg)


def _parts(model, x):
    x_hat, out = model(x)
    rec = (x_hat - x).abs().mean()
    other = out.z.pow(2).mean()  # a second, different pressure on the latent
    return {"reconstruction": rec, "prior": out.reg, "size": other}


def test_per_loss_gradients_add_up_to_the_gradient_of_the_sum():
    model = _model()
    x = torch.randn(2, 1, 3200) * 0.1
    parts = _parts(model, x)
    params = staging.encoder_parameters(model)
    logged = staging.loss_gradients(params, parts)
    # the same vectors, by hand
    vecs = {k: torch.cat([g.reshape(-1) for g in torch.autograd.grad(v, params, retain_graph=True)]).double()
            for k, v in parts.items()}
    for k, v in vecs.items():
        assert logged[f"grad/{k}"] == pytest.approx(float(v.norm()), rel=1e-6)
    sum(parts.values()).backward()
    total = torch.cat([p.grad.reshape(-1) for p in params]).double()
    assert logged["grad/total"] == pytest.approx(float(total.norm()), rel=1e-5)
    assert torch.allclose(sum(vecs.values()), total, rtol=1e-4, atol=1e-5 * float(total.abs().max()))
    cos = logged["cos/reconstruction~size"]
    assert cos == pytest.approx(float(vecs["reconstruction"] @ vecs["size"]
                                      / (vecs["reconstruction"].norm() * vecs["size"].norm())), abs=1e-6)


def test_opposite_losses_have_cosine_minus_one_and_unused_losses_have_zero_gradient():
    model = _model()
    x = torch.randn(1, 1, 3200) * 0.1
    _, out = model(x)
    a = out.z.mean()
    dec_only = sum(p.sum() for p in model.decoder.parameters())  # never reaches the encoder
    logged = staging.loss_gradients(staging.encoder_parameters(model), {"a": a, "minus_a": -2 * a, "dec": dec_only})
    assert logged["cos/a~minus_a"] == pytest.approx(-1.0, abs=1e-6)
    assert logged["grad/minus_a"] == pytest.approx(2 * logged["grad/a"], rel=1e-6)
    assert logged["grad/dec"] == 0.0 and "cos/a~dec" not in logged


def test_linear_cka():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6))
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert staging.linear_cka(x, x) == pytest.approx(1.0)
    assert staging.linear_cka(x, 3.0 * x @ q + 5.0) == pytest.approx(1.0)  # rotation, scale, offset
    assert staging.linear_cka(x, rng.normal(size=(500, 6))) < 0.1
    assert 0.3 < staging.linear_cka(x, x[:, :3]) < 0.9  # half the dimensions kept: partly the same
    with pytest.raises(ValueError, match="same n"):
        staging.linear_cka(x, x[:10])
    with pytest.raises(ValueError, match="constant"):
        staging.linear_cka(np.ones((10, 2)), x[:10])


def _bank():
    corpus = data.corpus_dir("smoke")
    df = data.read_manifest(corpus)
    return data.ClipBank.from_manifest(corpus, data.select(df, split="train", domain="speech", condition="clean"))


def test_a_frozen_encoder_really_gets_no_update_and_its_latent_does_not_drift():
    model = _model(cfg=replace(TINY, bottleneck="kl"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    clips = [torch.randn(1, 3200) * 0.1 for _ in range(2)]
    monitor = staging.OwnershipMonitor(clips, model, every=1)
    cfg = presets.TrainConfig(steps=3, batch_size=2, warmup=1, segment_s=0.2, freeze_encoder=True)
    history = training.train(model, _bank(), cfg, progress=False, monitor=monitor)
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("decoder.") for k in moved)  # weight decay included: frozen is frozen
    table = staging.ownership_table(history)
    assert len(table) == 3
    assert (table["drift/max_abs_change"] == 0).all() and np.allclose(table["drift/cka"], 1.0)
    assert not any(c.startswith("grad/") for c in table.columns)  # a frozen encoder has no owners


def test_the_monitor_logs_every_loss_that_reaches_the_encoder():
    model = _model()
    clips = [torch.randn(1, 3200) * 0.1]
    monitor = staging.OwnershipMonitor(clips, model, every=2)
    cfg = presets.TrainConfig(steps=4, batch_size=2, warmup=1, segment_s=0.2, adv_weight=1.0)
    history = training.train(model, _bank(), cfg, progress=False, monitor=monitor)
    table = staging.ownership_table(history)
    assert list(table.index) == [1, 3, 4]  # steps 0 and 2 (1-based: 1, 3) and the last
    for k in ("grad/reconstruction", "grad/prior", "grad/adversarial", "cos/reconstruction~adversarial"):
        assert k in table.columns
    assert table["drift/cka"].iloc[0] == pytest.approx(1.0, abs=0.05)  # logged before the first update
    summary = staging.conflict(table)
    assert set(summary["share"]) == {"reconstruction", "prior", "adversarial"}
    assert sum(summary["share"].values()) == pytest.approx(1.0)
    assert summary["worst_cos"] == min(summary["mean_cos"].values())


def test_replay_bank_pairs_each_latent_crop_with_its_audio():
    spl, n = 320, 10
    # audio sample value == latent frame index, so a misaligned crop shows
    clips = [torch.arange(n).repeat_interleave(spl).float()[None] + 100 * c for c in range(2)]
    z_true = [torch.arange(n).float()[None].repeat(3, 1) + 100 * c for c in range(2)]
    z_hat = [z + 0.5 for z in z_true]
    gen = torch.Generator().manual_seed(0)
    for frac, offset in ((0.0, 0.0), (1.0, 0.5)):
        bank = staging.ReplayBank(clips, z_true, z_hat, spl, replay_frac=frac)
        b = bank.batch(4, 4 * spl, gen)
        assert b.x is None and b.z.shape == (4, 3, 4) and b.target.shape == (4, 1, 4 * spl)
        for i in range(4):
            assert torch.equal(b.z[i, 0] - offset, b.target[i, 0, ::spl])
    with pytest.raises(ValueError, match="differ"):
        staging.ReplayBank(clips, z_true, [z[:, :5] for z in z_hat], spl)
    with pytest.raises(ValueError, match="replay_frac"):
        staging.ReplayBank(clips, z_true, z_hat, spl, replay_frac=1.5)
    assert staging.ReplayBank(clips, z_true, z_hat, spl).key() != staging.ReplayBank(clips, z_true, z_true, spl).key()


def test_replayed_latents_train_only_the_decoder():
    model = _model(cfg=replace(TINY, bottleneck="plain"))
    spl = model.cfg.samples_per_latent
    clips = [torch.randn(1, 20 * spl) * 0.1 for _ in range(2)]
    with torch.no_grad():
        z = [model.encode(c[None]).mean[0] for c in clips]
    bank = staging.ReplayBank(clips, z, [zz + 0.1 for zz in z], spl, replay_frac=1.0)
    cfg = presets.TrainConfig(steps=2, batch_size=2, warmup=1, segment_s=0.2)
    with pytest.raises(ValueError, match="freeze_encoder"):
        training.train(model, bank, cfg, progress=False)
    enc = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    dec = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    training.train(model, bank, replace(cfg, freeze_encoder=True), progress=False)
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in enc.items())
    assert any(not torch.equal(v, model.decoder.state_dict()[k]) for k, v in dec.items())


def test_phase_rules():
    with pytest.raises(ValueError, match="decoder only"):
        staging.Phase("bad", 10, "x", encoder=True, replay=True)
    with pytest.raises(ValueError, match="steps"):
        staging.Phase("bad", 0, "x")
    base = presets.sweep_base("smoke")
    p = staging.phase_preset(base, staging.Phase("polish", 7, "texture", encoder=False, adversarial=True,
                                                 lr_scale=0.5))
    assert p.train.steps == 7 and p.train.freeze_encoder and p.train.adv_weight > 0
    assert p.train.lr == pytest.approx(base.train.lr / 2)


def test_run_schedule_chains_phases_and_rejects_a_phase_that_drifts(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "CHECKPOINT_ROOT", tmp_path)
    base = presets.sweep_base("smoke")
    base = replace(base, model=replace(base.model, width=4))
    corpus = data.corpus_dir("smoke")
    clips = [torch.randn(1, 3200) * 0.1 for _ in range(2)]
    phases = [staging.Phase("recon", 3, "geometry"),
              staging.Phase("polish", 2, "texture", encoder=False),
              staging.Phase("joint", 2, "tune", max_drift=0.0)]  # any movement at all is too much
    res = staging.run_schedule(base, phases, corpus, clips, progress=False, monitor_every=1)
    assert [r.kept for r in res] == [True, True, False]
    assert res[1].boundary["drift_max_abs_change"] == 0.0 and res[1].boundary["drift_cka"] == pytest.approx(1.0)
    assert res[2].model is res[1].model  # the rejected phase's weights are not carried on
    assert res[1].run.info["init"] == res[0].run.info["key"]
    again = staging.run_schedule(base, phases, corpus, clips, progress=False, monitor_every=1)
    assert all(r.run.info["loaded"] for r in again)  # a re-run loads every phase
    assert again[1].boundary["drift_max_abs_change"] == 0.0
    with pytest.raises(ValueError, match="alignment"):
        staging.run_schedule(base, [staging.Phase("t", 1, "x", teacher=True)], corpus, clips, progress=False)


def test_notebook_06_presets_have_equal_steps_and_the_gpu_phases_take_a_step_on_cpu(tmp_path, monkeypatch):
    from course_lib.teachers import ContentTeacher, TeacherAlignment

    for name in ("smoke", "cpu", "gpu"):
        lesson = presets.staging_lesson(name)
        assert sum(p.steps for p in lesson.staged) == sum(p.steps for p in lesson.blended)  # equal budgets
        assert [p.encoder for p in lesson.staged] == [True, True, False, False, True]
        assert lesson.staged[3].replay and not lesson.control.replay
        assert lesson.control.steps == lesson.staged[3].steps and not lesson.control.encoder
        assert lesson.staged[-1].max_drift is not None
    gpu = presets.staging_lesson("gpu")
    assert gpu.base.device == "cuda"
    monkeypatch.setattr(training, "CHECKPOINT_ROOT", tmp_path)
    teacher = ContentTeacher(gpu.teacher)
    # every phase of the gpu schedule, one step each on the CPU, through the real trainer
    phases = [replace(p, steps=1) for p in gpu.blended + gpu.staged[:3]]
    base = replace(gpu.base, device="cpu", train=replace(gpu.base.train, batch_size=2, segment_s=0.2))
    align = TeacherAlignment(teacher, gpu.coupling, base.model.width, base.model.down)
    clips = [torch.randn(1, 3200) * 0.1]
    res = staging.run_schedule(base, phases, data.corpus_dir("smoke"), clips, alignment=align, progress=False)
    assert all(np.isfinite(r.run.history[-1]["loss"]) for r in res)
    assert "grad/teacher" in res[0].run.history[-1] and "grad/adversarial" in res[0].run.history[-1]


def test_conflict_counts_only_pairs_of_losses_that_move_the_encoder():
    import pandas as pd

    table = pd.DataFrame({"grad/reconstruction": [1.0, 1.0], "grad/teacher": [3.0, 3.0], "grad/prior": [1e-4, 1e-4],
                          "cos/reconstruction~teacher": [0.2, 0.4], "cos/prior~teacher": [-0.5, -0.3]})
    every = staging.conflict(table)
    assert every["worst_pair"] == "prior~teacher" and every["worst_cos"] == pytest.approx(-0.4)
    counted = staging.conflict(table, min_share=0.05)  # the prior holds 0.0025% of the gradient
    assert counted["worst_pair"] == "reconstruction~teacher" and counted["worst_cos"] == pytest.approx(0.3)
    assert counted["dominant"] == "teacher" and counted["dominant_share"] == pytest.approx(3 / (4 + 1e-4))
    assert counted["mean_cos"] == every["mean_cos"]  # every pair is still reported
    assert counted["counted"] == ["reconstruction~teacher"] and len(every["counted"]) == 2
    nothing = staging.conflict(table, min_share=0.9)
    assert nothing["worst_pair"] is None and nothing["worst_cos"] != nothing["worst_cos"]  # nan
