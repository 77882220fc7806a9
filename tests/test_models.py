import math

import pytest
import torch

from course_lib.bottlenecks import KLBottleneck, PlainBottleneck, make_bottleneck
from course_lib.models import Autoencoder, ModelConfig, count_parameters

SMALL = dict(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1))


@pytest.mark.parametrize("rate,width", [(50.0, 64), (25.0, 32), (12.5, 16)])
def test_latent_rate_and_width(rate, width):
    m = Autoencoder(ModelConfig(latent_rate=rate, width=width, **SMALL))
    x = torch.randn(2, 1, 16000) * 0.1
    y, out = m(x)
    assert out.z.shape == (2, width, math.ceil(rate))  # 1 s of audio -> `rate` frames (padded up)
    assert y.shape == x.shape


def test_stereo_and_odd_length():
    m = Autoencoder(ModelConfig(channels=2, **SMALL))
    x = torch.randn(1, 2, 12345) * 0.1
    y, out = m(x)
    assert y.shape == x.shape  # padded internally, cropped back
    assert out.z.shape[-1] == -(-12345 // m.cfg.samples_per_latent)


def test_channel_mismatch_is_clear():
    m = Autoencoder(ModelConfig(channels=2, **SMALL))
    with pytest.raises(ValueError, match=r"\(batch, 2, samples\)"):
        m.encode(torch.randn(1, 1, 16000))


def test_bad_latent_rate():
    with pytest.raises(ValueError, match="must divide"):
        _ = ModelConfig(latent_rate=30.0).down


def test_gradients_reach_encoder():
    m = Autoencoder(ModelConfig(**SMALL))
    y, out = m(torch.randn(2, 1, 3200) * 0.1)
    y.pow(2).mean().backward()
    assert m.encoder.inp.weight.grad.abs().sum() > 0


def test_cpu_model_is_small():
    assert count_parameters(Autoencoder(ModelConfig())) < 5_000_000


def test_kl_bottleneck_samples_only_in_training():
    b = KLBottleneck(4, weight=1.0)
    h = torch.randn(3, 8, 10)
    b.train()
    o1, o2 = b(h), b(h)
    assert not torch.equal(o1.z, o2.z) and torch.equal(o1.mean, o2.mean)
    b.eval()
    assert torch.equal(b(h).z, b(h).mean)
    assert o1.reg > 0 and "kl_per_frame" in o1.stats


def test_kl_is_zero_at_prior():
    b = KLBottleneck(4, weight=1.0)
    h = torch.cat([torch.zeros(1, 4, 5), torch.zeros(1, 4, 5)], dim=1)  # mean 0, logvar 0
    assert float(b(h).reg) == pytest.approx(0.0, abs=1e-7)


def test_plain_and_factory():
    assert isinstance(make_bottleneck("plain", 8), PlainBottleneck)
    with pytest.raises(ValueError, match="unknown bottleneck"):
        make_bottleneck("vq", 8)


@pytest.mark.parametrize("phase", ["atan2", "angle"])
def test_phase_heads(phase):
    m = Autoencoder(ModelConfig(phase=phase, **SMALL))
    y, _ = m(torch.randn(1, 1, 3200) * 0.1)
    assert y.shape == (1, 1, 3200) and torch.isfinite(y).all()


def test_decoder_spectrogram_is_what_its_inverse_stft_plays():
    torch.manual_seed(0)
    cfg = ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1), channels=2)
    dec = Autoencoder(cfg).decoder.eval()
    z = torch.randn(3, cfg.width, 10)
    with torch.no_grad():
        spec, y = dec.spectrogram(z), dec(z)
    assert spec.is_complex() and spec.shape == (3 * 2, cfg.n_fft // 2 + 1, 10 * cfg.down + 1)
    n = y.shape[-1]
    again = torch.istft(spec, cfg.n_fft, cfg.hop, window=torch.hann_window(cfg.n_fft), length=n).reshape(3, 2, n)
    assert torch.allclose(again, y, atol=1e-6)


def test_load_from_starts_a_kl_codec_at_the_plain_codec():
    torch.manual_seed(0)
    plain = Autoencoder(ModelConfig(**SMALL)).eval()
    kl = Autoencoder(ModelConfig(bottleneck="target_kl", target_kl=500.0, **SMALL)).eval()
    kl.load_from(plain.state_dict(), logvar0=-6.0)
    x = torch.randn(2, 1, 8000) * 0.1
    with torch.no_grad():
        p, q = plain.encode(x, sample=False), kl.encode(x, sample=False)
        assert torch.allclose(q.mean, p.mean)  # the mean half is the plain codec's
        assert torch.allclose(q.logvar, torch.full_like(q.logvar, -6.0))  # a narrow posterior everywhere
        assert torch.allclose(kl.decode(q.mean, x.shape[-1]), plain.decode(p.mean, x.shape[-1]))
    assert float(kl.bottleneck.log_weight) == pytest.approx(math.log(1e-4))  # the controller starts fresh
    same = Autoencoder(ModelConfig(**SMALL))
    same.load_from(plain.state_dict())  # same architecture: a plain load
    assert all(torch.equal(a, b) for a, b in zip(same.state_dict().values(), plain.state_dict().values()))


def test_load_from_refuses_what_does_not_fit():
    plain = Autoencoder(ModelConfig(**SMALL))
    with pytest.raises(ValueError, match="only a Gaussian bottleneck"):
        Autoencoder(ModelConfig(width=32, **SMALL)).load_from(plain.state_dict())
    with pytest.raises(ValueError, match="does not fit"):
        Autoencoder(ModelConfig(bottleneck="kl", width=32, **SMALL)).load_from(plain.state_dict())
