import math

import numpy as np
import pytest
import torch

from course_lib import losses, metrics


def speechlike(n=32000, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 16000
    env = (torch.sin(2 * math.pi * 3 * t) > 0).float()
    x = sum(torch.sin(2 * math.pi * f * t) / k for k, f in enumerate([150, 300, 450, 600], start=1))
    return (0.2 * env * x + 0.005 * torch.randn(n, generator=g))[None]


@pytest.mark.parametrize("kind", losses.ReconstructionLoss.KINDS)
def test_losses_zero_on_identity_and_grow_with_noise(kind):
    fn = losses.ReconstructionLoss(kind)
    x = speechlike(8000)[None]
    same, _ = fn(x, x)
    worse, terms = fn(x + 0.05 * torch.randn_like(x), x)
    assert float(worse) > float(same) + 1e-3 and terms


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss"):
        losses.ReconstructionLoss("vq")


def test_metrics_order_clean_vs_noisy():
    ref = speechlike()
    light = ref + 0.002 * torch.randn_like(ref)
    heavy = ref + 0.05 * torch.randn_like(ref)
    s_light = metrics.score([ref], [light])
    s_heavy = metrics.score([ref], [heavy])
    assert s_light["pesq_wb"] > s_heavy["pesq_wb"]
    assert s_light["stoi"] > s_heavy["stoi"]
    assert s_light["si_sdr"] > s_heavy["si_sdr"]
    assert s_light["mel_dist"] < s_heavy["mel_dist"]


def test_music_score_skips_speech_metrics():
    ref = torch.randn(2, 16000) * 0.1
    s = metrics.score([ref], [ref * 0.9], speech=False)
    assert set(s) == {"si_sdr", "mel_dist"} and s["si_sdr"] > 40


def test_pesq_rejects_wrong_rate():
    with pytest.raises(ValueError, match="16 kHz"):
        metrics.pesq_wb(torch.zeros(1, 100), torch.zeros(1, 100), sample_rate=8000)


def test_pesq_nan_on_no_utterance():
    assert np.isnan(metrics.pesq_wb(torch.zeros(1, 16000), torch.zeros(1, 16000)))
