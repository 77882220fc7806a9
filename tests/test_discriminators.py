import math

import pytest
import torch

from course_lib import discriminators as D


def audio(batch=2, channels=1, n=8000, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 16000
    x = 0.3 * torch.sin(2 * math.pi * 220 * t) + 0.02 * torch.randn(batch, channels, n, generator=g)
    return x


@pytest.mark.parametrize("channels", [1, 2])
def test_shapes_one_output_per_sub_discriminator(channels):
    torch.manual_seed(0)
    disc = D.MultiResolutionDiscriminator(channels, fft_sizes=(256, 512, 1024), periods=(2, 3))
    outs = disc(audio(3, channels, 8001))  # 8001: not a multiple of any period
    assert len(outs) == 5
    for logits, feats in outs:
        assert logits.shape[0] == 3  # channels are input channels, not folded into the batch
        assert torch.isfinite(logits).all() and len(feats) == 3


def test_wrong_channel_count_rejected():
    with pytest.raises(ValueError, match=r"\(B, 2, T\)"):
        D.MultiResolutionDiscriminator(channels=2)(audio(2, 1))


def test_stereo_critic_sees_the_image():
    """Swapping L and R keeps each channel's content: a critic that judged channels one by one
    (folded into the batch) and averaged could not tell; this one must."""
    torch.manual_seed(0)
    disc = D.MultiResolutionDiscriminator(channels=2)
    x = torch.cat([audio(1, 1, seed=0), 0.2 * audio(1, 1, seed=1)], dim=1)
    a, b = disc(x), disc(x.flip(1))
    assert not torch.allclose(a[0][0].mean(), b[0][0].mean())


def _out(*logits):
    return [(torch.tensor(v, dtype=torch.float32), []) for v in logits]


def test_hinge_signs_and_values():
    confident = D.discriminator_loss(_out([2.0]), _out([-2.0]))
    fooled = D.discriminator_loss(_out([-2.0]), _out([2.0]))
    assert float(confident) == 0.0 and float(fooled) == pytest.approx(6.0)  # relu(1+2) + relu(1+2)
    assert float(D.discriminator_loss(_out([0.5]), _out([-0.5]))) == pytest.approx(1.0)  # hinge, not LS (0.5)
    assert float(D.generator_adversarial_loss(_out([2.0]))) < float(D.generator_adversarial_loss(_out([-1.0])))
    assert float(D.generator_adversarial_loss(_out([-1.0]))) == pytest.approx(2.0)


def test_feature_matching_zero_for_identical_and_differentiable():
    torch.manual_seed(0)
    disc = D.MultiResolutionDiscriminator(1, periods=(2,))
    x = audio()
    x_hat = (x + 0.05 * torch.randn_like(x)).requires_grad_(True)
    real = [f for _, f in disc(x)]
    assert float(D.feature_matching_loss(real, [f for _, f in disc(x)]).detach()) == pytest.approx(0.0, abs=1e-7)
    fm = D.feature_matching_loss(real, [f for _, f in disc(x_hat)])
    fm.backward()
    assert float(fm.detach()) > 0.01 and torch.isfinite(x_hat.grad).all() and x_hat.grad.abs().sum() > 0


@pytest.mark.parametrize("channels", [1, 2])
def test_adversarial_generator_terms_reach_x_hat_not_the_critic(channels):
    torch.manual_seed(0)
    adv = D.Adversarial(channels=channels, adv_weight=1.0, fm_weight=2.0)
    x = audio(2, channels)
    x_hat = (x + 0.05 * torch.randn_like(x)).requires_grad_(True)
    terms = adv.generator_terms(x, x_hat)
    assert set(terms) == {"adv", "fm"} and all(torch.isfinite(v) for v in terms.values())
    sum(terms.values()).backward()
    assert x_hat.grad.abs().sum() > 0
    assert all(p.grad is None for p in adv.parameters())
    assert all(p.requires_grad for p in adv.parameters())  # switched back on afterwards


def test_adversarial_weights_scale_the_terms():
    x = audio()
    x_hat = x + 0.05 * torch.randn_like(x)
    torch.manual_seed(0)
    one = D.Adversarial(adv_weight=1.0, fm_weight=1.0).generator_terms(x, x_hat)
    torch.manual_seed(0)
    scaled = D.Adversarial(adv_weight=0.0, fm_weight=3.0).generator_terms(x, x_hat)
    assert float(scaled["adv"]) == 0.0 and float(one["adv"]) > 0
    assert float(scaled["fm"]) == pytest.approx(3 * float(one["fm"]), rel=1e-5)


def test_discriminator_step_updates_only_the_critic_and_learns():
    """Real = a tone, fake = noise: a few critic steps must lower the hinge loss, and x_hat must
    get no gradient from them (it is detached)."""
    torch.manual_seed(0)
    adv = D.Adversarial(lr=2e-3)
    opt = adv.optimizer()
    x = audio(2, n=4000)
    x_hat = (0.3 * torch.randn_like(x)).requires_grad_(True)
    before = [p.detach().clone() for p in adv.parameters()]
    losses = [adv.discriminator_step(x, x_hat, opt) for _ in range(15)]
    assert isinstance(losses[0], float)
    assert x_hat.grad is None
    assert any(not torch.equal(a, p) for a, p in zip(before, adv.parameters()))
    assert sum(losses[-3:]) / 3 < 0.7 * losses[0]
