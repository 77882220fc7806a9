"""The bottleneck zoo (bottlenecks.py): one interface, each kind owning one kind of error."""

import math

import pytest
import torch

from course_lib.bottlenecks import KINDS, KLBottleneck, TargetKLBottleneck, make_bottleneck
from course_lib.models import Autoencoder, ModelConfig

SMALL = dict(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1))
STOCHASTIC = ("kl", "sigma", "target_kl", "dropout", "varfloor", "noise")
WITH_KL = ("kl", "sigma", "target_kl", "varfloor")


def features(b, kind, width=8, frames=10, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(3, width * b.in_factor, frames, generator=g)


def test_kinds_are_all_buildable_and_complete():
    assert len(set(KINDS)) == len(KINDS) == 9
    for kind in KINDS:
        assert make_bottleneck(kind, 8).width == 8


@pytest.mark.parametrize("kind", KINDS)
def test_interface_shapes_stats_and_reg(kind):
    b = make_bottleneck(kind, 8).train()
    h = features(b, kind).requires_grad_(True)
    out = b(h)
    assert out.z.shape == out.mean.shape == (3, 8, 10)
    assert out.reg.dim() == 0 and torch.isfinite(out.reg)
    assert "latent_rms" in out.stats
    if kind in WITH_KL:
        assert "kl_per_frame" in out.stats and float(out.stats["kl_per_frame"]) > 0
    for name, v in out.stats.items():
        assert isinstance(v, torch.Tensor) and v.dim() == 0 and v.is_floating_point(), name
        assert not v.requires_grad, name
        assert math.isfinite(float(v)), name
    (out.z.pow(2).mean() + out.reg).backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_eval_is_deterministic_and_z_is_the_mean(kind):
    b = make_bottleneck(kind, 8).eval()
    h = features(b, kind)
    o1, o2 = b(h), b(h)
    assert torch.equal(o1.z, o1.mean)
    assert torch.equal(o1.z, o2.z)
    # sample=False in train mode is deterministic too; sample=True at eval is not (stochastic kinds)
    assert torch.equal(b.train()(h, sample=False).z, o1.mean)


@pytest.mark.parametrize("kind", KINDS)
def test_training_samples_exactly_for_the_stochastic_kinds(kind):
    b = make_bottleneck(kind, 8, latent_dropout=0.3).train()
    h = features(b, kind, frames=50)
    torch.manual_seed(0)
    o1, o2 = b(h), b(h)
    assert torch.equal(o1.mean, o2.mean)
    if kind in STOCHASTIC:
        assert not torch.equal(o1.z, o1.mean) and not torch.equal(o1.z, o2.z)
    else:
        assert torch.equal(o1.z, o1.mean)


def test_tanh_is_bounded_and_near_identity_for_small_values():
    b = make_bottleneck("tanh", 8, tanh_bound=2.0)
    h = torch.randn(4, 8, 30) * 100.0
    z = b(h).z
    assert z.abs().max() <= 2.0 and z.abs().max() > 1.9
    small = torch.randn(4, 8, 30) * 0.01
    assert torch.allclose(b(small).z, small, atol=1e-5)
    assert float(b(h).stats["saturated"]) > 0.5 > float(b(small).stats["saturated"])


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_softnorm_puts_every_frame_on_the_unit_rms_shell(scale):
    b = make_bottleneck("softnorm", 16)
    h = torch.randn(2, 16, 20) * scale * torch.linspace(0.1, 10.0, 20)  # frames of very different size
    out = b(h)
    rms = out.z.pow(2).mean(dim=1).sqrt()
    assert torch.allclose(rms, torch.ones_like(rms), atol=2e-2)
    assert float(out.stats["pre_norm_rms"]) == pytest.approx(float(h.pow(2).mean().sqrt()), rel=1e-4)


def test_softnorm_is_soft_near_silence():
    b = make_bottleneck("softnorm", 16)
    h = torch.randn(1, 16, 3) * torch.tensor([0.0, 1e-4, 1.0])  # a zero frame, a near-zero one, a normal one
    rms = b(h).z.pow(2).mean(dim=1).sqrt()[0]
    assert torch.isfinite(rms).all() and float(rms[0]) == 0.0
    assert float(rms[1]) < 0.05 and float(rms[2]) == pytest.approx(1.0, abs=1e-3)  # eps: no blow-up of noise


def test_dropout_zeroes_whole_channels_and_rescales_the_rest():
    p = 0.5
    b = make_bottleneck("dropout", 32, latent_dropout=p).train()
    h = torch.randn(8, 32, 40) + 3.0  # no exact zeros in h
    torch.manual_seed(0)
    z = b(h).z
    dropped = (z == 0).all(dim=2)  # (B, C): a whole channel of one example
    kept = torch.isclose(z, h / (1 - p)).all(dim=2)
    assert torch.all(dropped ^ kept)  # every channel is either wholly dropped or wholly kept
    assert 0.35 < float(dropped.float().mean()) < 0.65
    assert not torch.equal(dropped[0], dropped[1])  # a fresh mask per example
    assert torch.equal(b.eval()(h).z, h)


def test_varfloor_keeps_the_posterior_std_above_the_floor():
    floor = 0.2
    b = make_bottleneck("varfloor", 4, var_floor=floor)
    mean = torch.randn(2, 4, 6)
    collapsed = torch.cat([mean, torch.full((2, 4, 6), -30.0)], dim=1)  # raw logvar far below the floor
    out = b(collapsed)
    assert out.logvar.min() >= 2 * math.log(floor) - 1e-5
    assert float(out.stats["posterior_std"]) == pytest.approx(floor, rel=1e-3)
    # a plain KL-VAE lets the same posterior collapse
    assert KLBottleneck(4)(collapsed).logvar.max() < 2 * math.log(floor) - 5
    # far above the floor the variance is the encoder's own
    wide = torch.cat([mean, torch.full((2, 4, 6), 1.0)], dim=1)
    assert torch.allclose(b(wide).logvar, torch.ones(2, 4, 6), atol=0.05)


def test_sigma_vae_has_fixed_noise_and_a_mean_only_penalty():
    b = make_bottleneck("sigma", 16, kl_weight=0.3, sigma=0.5).train()
    h = torch.randn(4, 16, 200) * 2.0
    torch.manual_seed(0)
    out = b(h)
    assert float((out.z - out.mean).std()) == pytest.approx(0.5, rel=0.05)
    assert float(out.reg) == pytest.approx(0.3 * 0.5 * float(h.pow(2).mean()), rel=1e-5)
    assert b.in_factor == 1 and out.logvar is None


def test_noise_is_relative_to_the_latent_rms_and_uniform_over_channels():
    b = make_bottleneck("noise", 16, latent_noise=0.2).train()
    torch.manual_seed(0)
    for scale in (0.01, 10.0):
        h = torch.randn(4, 16, 200) * scale
        noise = b(h).z - h
        assert float(noise.std()) == pytest.approx(0.2 * float(h.pow(2).mean().sqrt()), rel=0.05)
        per_channel = noise.std(dim=(0, 2))
        assert float(per_channel.max() / per_channel.min()) < 1.3


def toy_target_kl_run(target, steps=300, seed=0, width=8):
    """A linear VAE on white noise: it wants as many nats as it is allowed."""
    torch.manual_seed(seed)
    b = TargetKLBottleneck(width, target=target, frames_per_second=50.0, init_weight=1e-4).train()
    enc, dec = torch.nn.Conv1d(width, 2 * width, 1), torch.nn.Conv1d(width, width, 1)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-2)
    kls = []
    for _ in range(steps):
        x = torch.randn(16, width, 20)
        out = b(enc(x))
        loss = (dec(out.z) - x).pow(2).mean() + out.reg
        opt.zero_grad()
        loss.backward()
        opt.step()
        kls.append(float(out.stats["kl_per_s"]))
        assert float(out.stats["kl_per_s"]) == pytest.approx(50.0 * float(out.stats["kl_per_frame"]), rel=1e-5)
    return b, sum(kls[-50:]) / 50


def test_target_kl_controller_holds_the_chosen_rate():
    b_lo, kl_lo = toy_target_kl_run(100.0)
    b_hi, kl_hi = toy_target_kl_run(300.0)
    assert kl_lo == pytest.approx(100.0, rel=0.3)
    assert kl_hi == pytest.approx(300.0, rel=0.3)
    assert kl_lo < kl_hi
    assert b_lo.kl_weight > b_hi.kl_weight  # a lower rate needs a heavier KL weight
    assert b_lo.kl_weight > 1e-3  # the controller moved far from its starting weight of 1e-4


def test_target_kl_weight_is_saved_and_only_moves_while_training():
    b, _ = toy_target_kl_run(100.0, steps=20)
    w = b.kl_weight
    assert w != pytest.approx(1e-4)
    fresh = make_bottleneck("target_kl", 8, target_kl=100.0)
    assert fresh.kl_weight == pytest.approx(1e-4)
    fresh.load_state_dict(b.state_dict())
    assert fresh.kl_weight == pytest.approx(w, rel=1e-6)
    h = torch.randn(3, 16, 10) * 5.0
    fresh.eval()(h)
    with torch.no_grad():
        fresh.train()(h)  # e.g. a frozen encoder: no gradient, no control
    assert fresh.kl_weight == pytest.approx(w, rel=1e-6)
    fresh.train()(h)
    assert fresh.kl_weight != pytest.approx(w, rel=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_autoencoder_trains_with_every_kind(kind):
    m = Autoencoder(ModelConfig(bottleneck=kind, **SMALL)).train()
    x = torch.randn(2, 1, 3200) * 0.1
    y, out = m(x)
    assert y.shape == x.shape and out.z.shape == (2, 64, 10)
    (y.pow(2).mean() + out.reg).backward()
    assert m.encoder.inp.weight.grad.abs().sum() > 0
    assert all(math.isfinite(float(v)) for v in out.stats.values())


def test_autoencoder_passes_the_config_knobs():
    cfg = dict(tanh_bound=1.5, latent_dropout=0.25, latent_noise=0.3, sigma=0.7, var_floor=0.05, **SMALL)
    assert Autoencoder(ModelConfig(bottleneck="tanh", **cfg)).bottleneck.bound == 1.5
    assert Autoencoder(ModelConfig(bottleneck="dropout", **cfg)).bottleneck.p == 0.25
    assert Autoencoder(ModelConfig(bottleneck="noise", **cfg)).bottleneck.std == 0.3
    assert Autoencoder(ModelConfig(bottleneck="sigma", **cfg)).bottleneck.sigma == 0.7
    assert Autoencoder(ModelConfig(bottleneck="varfloor", **cfg)).bottleneck.floor == 0.05
    grid = Autoencoder(ModelConfig(bottleneck="target_kl", target_kl=400.0, latent_rate=25.0, **SMALL)).bottleneck
    assert grid.target == 400.0 and grid.frames_per_second == pytest.approx(25.0)
    chunk = Autoencoder(ModelConfig(bottleneck="target_kl", topology="chunk", chunk_s=0.32, **SMALL)).bottleneck
    assert chunk.frames_per_second == pytest.approx(1 / 0.32)


def test_unknown_kind_lists_the_choices():
    with pytest.raises(ValueError, match="unknown bottleneck 'vq'") as err:
        make_bottleneck("vq", 8)
    assert all(kind in str(err.value) for kind in KINDS)
    with pytest.raises(ValueError, match="unknown bottleneck"):
        Autoencoder(ModelConfig(bottleneck="VAE", **SMALL))
