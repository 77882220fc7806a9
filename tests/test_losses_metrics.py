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
    if kind in losses.ReconstructionLoss.STEREO_KINDS:
        x = torch.cat([x, 0.5 * speechlike(8000, seed=1)[None]], dim=1)
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


# --- stereo, pitch and the notebook 02 loss kinds ------------------------------------------------

SR = 16000


def tone(f, n=SR, amp=0.3):
    return amp * torch.sin(2 * math.pi * f * torch.arange(n) / SR)


def two_source_stereo(n=SR, seed=0):
    """Source a panned left, source b panned right: each channel has its own content."""
    g = torch.Generator().manual_seed(seed)
    a = tone(220, n) + 0.5 * tone(330, n)
    b = tone(523.25, n) + 0.02 * torch.randn(n, generator=g)
    return torch.stack([a + 0.3 * b, 0.3 * a + b])


def test_ablation_rows_are_expressible_and_alias_matches():
    assert {"l1", "mrstft", "mel+mrstft", "mrstft+mel", "mel+ms", "mel+cqt"} <= set(losses.ReconstructionLoss.KINDS)
    x = speechlike(8000)[None]
    y = x + 0.05 * torch.randn_like(x)
    a, ta = losses.ReconstructionLoss("mel+mrstft")(y, x)
    b, tb = losses.ReconstructionLoss("mrstft+mel")(y, x)
    assert torch.allclose(a, b) and set(ta) == set(tb) == {"mel", "l1", "mrstft"}


@pytest.mark.parametrize("kind,channels", [("mrstft+mel", 1), ("mel+lin", 1), ("mel+lin", 2), ("mel+ms", 2),
                                           ("mel+cqt", 1), ("mel+cqt", 2)])
def test_new_kinds_finite_differentiable_and_lower_when_closer(kind, channels):
    g = torch.Generator().manual_seed(0)
    x = two_source_stereo(8000)[None] if channels == 2 else speechlike(8000)[None]
    fn = losses.ReconstructionLoss(kind)
    noise = torch.randn(x.shape, generator=g)
    near = (x + 0.005 * noise).requires_grad_(True)
    far = x + 0.05 * noise
    loss_near, terms = fn(near, x)
    loss_far, _ = fn(far, x)
    assert torch.isfinite(loss_near) and float(loss_near.detach()) < float(loss_far)
    loss_near.backward()
    assert torch.isfinite(near.grad).all() and near.grad.abs().sum() > 0
    new_term = {"mrstft+mel": "mrstft", "mel+lin": "lin", "mel+ms": "ms", "mel+cqt": "cqt"}[kind]
    assert terms[new_term] > 0


def test_mel_kind_compares_left_with_left_on_stereo():
    """auraloss folds channels into the batch: swapping L and R (each with its own content) is a big
    error for "mel".  A loss that downmixed or pooled the channels would score the swap as 0."""
    x = two_source_stereo()[None]
    fn = losses.ReconstructionLoss("mel")
    _, same = fn(x, x)
    _, swapped = fn(x.flip(1), x)
    assert same["mel"] < 1e-6 and swapped["mel"] > 0.3


def test_lr_mel_is_blind_to_interchannel_phase_mid_side_is_not():
    """Flipping R's polarity keeps every per-channel magnitude, so the L/R mel term stays ~0, but
    it swaps mid and side, which the mid/side term must see."""
    x = two_source_stereo()[None]
    flipped = x * torch.tensor([1.0, -1.0])[None, :, None]
    _, lr = losses.ReconstructionLoss("mel")(flipped, x)
    _, ms = losses.ReconstructionLoss("mel+ms")(flipped, x)
    assert lr["mel"] < 1e-4
    assert ms["ms"] > 0.3


def test_mid_side_penalises_mono_collapse_more_than_an_equal_lr_error():
    """Two estimates that the L/R mel scores alike: the mix collapsed to mono, and a plain gain
    change (which keeps the image).  The mid/side term must charge the collapse several times more."""
    x = two_source_stereo()[None]
    mono = x.mean(dim=1, keepdim=True).expand(-1, 2, -1).contiguous()
    fn = losses.ReconstructionLoss("mel+ms")
    _, t_mono = fn(mono, x)
    gained = math.exp(-t_mono["mel"]) * x  # log-mel L1 of a gain g is |log g| in every bin
    _, t_gain = fn(gained, x)
    assert t_gain["mel"] == pytest.approx(t_mono["mel"], rel=0.1)
    assert t_mono["ms"] > 3 * t_gain["ms"]


def test_mel_ms_rejects_mono():
    with pytest.raises(ValueError, match="stereo"):
        losses.ReconstructionLoss("mel+ms")(speechlike(8000)[None], speechlike(8000)[None])


def test_cqt_tells_a_bass_semitone_from_a_level_change_better_than_mel():
    """E2 -> F2 (82.4 -> 87.3 Hz) against a -3 dB gain: the CQT term rates the wrong note about twice
    the level change; the mel term (2048-point FFT at most, 7.8 Hz bins) clearly less so."""
    cqt, mel = losses.CQTLoss(), losses.multires_mel()
    ref = tone(87.31)[None, None]
    wrong_note, quieter = tone(82.41)[None, None], 0.7 * ref
    cqt_ratio = float(cqt(wrong_note, ref)) / float(cqt(quieter, ref))
    mel_ratio = float(mel(wrong_note, ref)) / float(mel(quieter, ref))
    assert cqt_ratio > 1.6 and cqt_ratio > 1.2 * mel_ratio


def test_cqt_gradient_finite_on_digital_silence():
    x_hat = torch.zeros(2, 1, 8000, requires_grad=True)
    loss = losses.CQTLoss()(x_hat, torch.zeros(2, 1, 8000))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.isfinite(x_hat.grad).all()


def test_ild_error_zero_for_identical_and_6db_for_double_gain():
    x = two_source_stereo()
    assert metrics.ild_error_db(x, x) == pytest.approx(0.0, abs=1e-6)
    double = metrics.ild_error_db(x * torch.tensor([[2.0], [1.0]]), x)
    quadruple = metrics.ild_error_db(x * torch.tensor([[4.0], [1.0]]), x)
    assert double == pytest.approx(20 * math.log10(2), abs=0.2)
    assert quadruple == pytest.approx(2 * double, rel=0.05)


def test_ild_error_sees_swap_and_mono_collapse_but_not_a_common_gain():
    x = two_source_stereo()
    assert metrics.ild_error_db(0.5 * x, x) < 0.01
    mono = x.mean(dim=0, keepdim=True).expand(2, -1)
    swapped = metrics.ild_error_db(x.flip(0), x)
    assert swapped > 3.0 and metrics.ild_error_db(mono, x) > 3.0
    assert swapped > metrics.ild_error_db(mono, x)  # a swap mirrors every ILD, a collapse zeroes it


def test_ild_correlation_tells_no_image_from_a_wrong_one():
    x = two_source_stereo()
    assert metrics.ild_correlation(x, x) == pytest.approx(1.0, abs=1e-9)
    # a level offset between the channels moves every ILD by the same dB: the error sees it, this does not
    offset = x * torch.tensor([[2.0], [1.0]])
    assert metrics.ild_correlation(offset, x) > 0.99 and metrics.ild_error_db(offset, x) > 5.0
    assert metrics.ild_correlation(x.flip(0), x) == pytest.approx(-1.0, abs=1e-9)
    mono = x.mean(dim=0, keepdim=True).expand(2, -1)
    assert metrics.ild_correlation(mono, x) == 0.0
    g = torch.Generator().manual_seed(0)
    ref, other = (0.1 * torch.randn(x.shape, generator=g) for _ in range(2))  # every bin its own ILD
    assert abs(metrics.ild_correlation(other, ref)) < 0.05 and metrics.ild_error_db(other, ref) > 3.0
    assert metrics.ild_correlation(ref + 0.3 * other, ref) > 0.5  # a partly right image scores between
    assert math.isnan(metrics.ild_correlation(torch.zeros_like(x), torch.zeros_like(x)))
    with pytest.raises(ValueError, match="ild_correlation needs stereo"):
        metrics.ild_correlation(x[:1], x[:1])


@pytest.mark.parametrize("shape", [(1, 8000), (8000,), (3, 8000), (1, 2, 8000)])
def test_ild_error_rejects_non_stereo(shape):
    with pytest.raises(ValueError, match="stereo"):
        metrics.ild_error_db(torch.randn(shape), torch.randn(shape))


def test_chroma_error_zero_for_identical_and_level_large_for_a_semitone():
    x = tone(440)[None]
    assert metrics.chroma_error(x, x) == pytest.approx(0.0, abs=1e-9)
    assert metrics.chroma_error(0.5 * x, x) < 0.01  # frames are normalised: level does not count
    assert metrics.chroma_error(tone(880)[None], x) < 0.1  # an octave is the same pitch class
    semitone = metrics.chroma_error(tone(440 * 2 ** (1 / 12))[None], x)
    quarter = metrics.chroma_error(tone(440 * 2 ** (1 / 24))[None], x)
    assert semitone > 1.0 and 0.3 < quarter < semitone


def test_chroma_error_skips_silent_reference_frames():
    """A wrong note where the reference is silent barely counts (only the frames that straddle the
    edge); counted, each silent frame would add 1 and the error would pass 0.45."""
    ref = torch.cat([tone(440), torch.zeros(SR)])[None]
    wrong_in_silence = torch.cat([tone(440), tone(523.25)])[None]
    wrong_in_tone = torch.cat([tone(523.25), torch.zeros(SR)])[None]
    assert metrics.chroma_error(wrong_in_silence, ref) < 0.3
    assert metrics.chroma_error(wrong_in_tone, ref) > 1.5


def test_stereo_width():
    a = tone(220)
    g = torch.Generator().manual_seed(0)
    assert metrics.stereo_width(torch.stack([a, a])) < -100
    assert metrics.stereo_width(torch.randn(2, SR, generator=g)) == pytest.approx(0.0, abs=0.5)
    assert metrics.stereo_width(torch.stack([a, -a])) > 100
    assert metrics.stereo_width(two_source_stereo()) < metrics.stereo_width(torch.randn(2, SR, generator=g))
    with pytest.raises(ValueError, match="stereo"):
        metrics.stereo_width(a[None])


@pytest.mark.parametrize("make", [losses.multires_mel, losses.multires_stft, losses.mid_side_mel])
def test_phase_skipping_stft_losses_match_auraloss_bit_for_bit(make):
    """The phase auraloss computes and ignores is skipped; loss and gradients do not move."""
    import auraloss

    ours = make()
    inner = [m for m in ours.modules() if isinstance(m, auraloss.freq.STFTLoss)]
    assert inner and all(type(m) is not auraloss.freq.STFTLoss for m in inner)
    stock = make()
    for m in stock.modules():  # undo the swap: the stock auraloss module, phase and all
        if isinstance(m, auraloss.freq.STFTLoss):
            m.__class__ = auraloss.freq.STFTLoss
    ref = torch.cat([speechlike(8000), 0.5 * speechlike(8000, seed=1)])[None]
    grads = []
    for fn in (ours, stock):
        x = (ref + 0.05 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(3))).requires_grad_()
        loss = fn(x, ref)
        loss.backward()
        grads.append((loss.detach(), x.grad))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])


def test_mel_lin_shares_stfts_and_equals_the_two_auraloss_terms():
    """"mel+lin" = mel + 0.1 L1 + the linear STFT loss at 256/512/1024, computed apart; shared STFTs
    change the gradient by float rounding only, and a second batch never reads the first's magnitudes."""
    fn = losses.ReconstructionLoss("mel+lin", l1_weight=0.1)
    assert fn._memo is not None and [m.fft_size for m in fn.lin.stft_losses] == list(losses.SHORT_LINEAR_FFTS)
    mel, lin = losses.multires_mel(), losses.multires_stft(losses.SHORT_LINEAR_FFTS)  # no memo: computed apart
    ref = torch.cat([speechlike(8000), 0.5 * speechlike(8000, seed=1)])[:, None]  # (2, 1, T)
    g = torch.Generator().manual_seed(3)
    for noise in (0.05, 0.2):  # two batches in a row through the same module
        start = ref + noise * torch.randn(ref.shape, generator=g)
        a, b = start.clone().requires_grad_(), start.clone().requires_grad_()
        shared, terms = fn(a, ref)
        shared.backward()
        apart = mel(b, ref) + 0.1 * (b - ref).abs().mean() + lin(b, ref)
        apart.backward()
        assert not fn._memo  # cleared after every forward pass
        assert torch.allclose(shared, apart, rtol=1e-6, atol=0) and terms["lin"] > 0
        assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-8) and a.grad.abs().sum() > 0


def test_mel_lin_is_cheaper_than_two_separate_terms():
    """The point of sharing: fewer STFTs than mel (4 sizes) + linear (3 sizes) computed apart."""
    calls = []
    real_stft = torch.stft

    def counting_stft(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("n_fft"))
        return real_stft(*args, **kwargs)

    x = speechlike(4000)[None]
    torch.stft = counting_stft
    try:
        losses.ReconstructionLoss("mel+lin")(x + 0.01, x)
        shared = len(calls)
        calls.clear()
        losses.ReconstructionLoss("mel+mrstft")(x + 0.01, x)  # kept apart on purpose (02's measured rows)
        apart = len(calls)
    finally:
        torch.stft = real_stft
    assert shared == 2 * len(losses.MEL_FFTS)  # input and target, each size once
    assert apart == 2 * (len(losses.MEL_FFTS) + len(losses.LINEAR_FFTS))


@pytest.mark.parametrize("n_fft", [256, 512, 2048])
def test_stft_magnitude_equals_autograds_values_and_gradient(n_fft):
    """The hand-written backward is the adjoint of the same computation (float64: to rounding)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4000, generator=g, dtype=torch.float64)
    window = torch.hann_window(n_fft, dtype=torch.float64)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    spec = torch.stft(a, n_fft, n_fft // 4, n_fft, window, return_complex=True)
    ref = torch.sqrt(torch.clamp(spec.real**2 + spec.imag**2, min=1e-7))
    ours = losses.stft_magnitude(b, n_fft, n_fft // 4, window, 1e-7)
    assert torch.equal(ours, ref)  # the same forward, bit for bit
    weight = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    (ref * weight).sum().backward()
    (ours * weight).sum().backward()
    assert torch.allclose(b.grad, a.grad, rtol=0, atol=1e-12 * float(a.grad.abs().max()))
    silent = torch.zeros(1, 4000, dtype=torch.float64, requires_grad=True)  # every bin under eps: no gradient
    losses.stft_magnitude(silent, n_fft, n_fft // 4, window, 1e-7).sum().backward()
    assert torch.equal(silent.grad, torch.zeros_like(silent))
    with pytest.raises(ValueError, match="hop to divide"):
        losses.stft_magnitude(x, n_fft, n_fft // 4 + 1, window, 1e-7)


@pytest.mark.parametrize("kind, channels", [("mel+lin", 1), ("mel", 1), ("mrstft", 1), ("mel+ms", 2)])
def test_fast_grad_loss_equals_the_autograd_one(kind, channels, monkeypatch):
    """``fast_grad`` leaves the loss bit for bit and its gradient to float32 rounding, mono and stereo."""
    calls = []
    real = losses.stft_magnitude
    monkeypatch.setattr(losses, "stft_magnitude", lambda *a: calls.append(a[1]) or real(*a))
    ref = torch.cat([speechlike(8000, seed=c) for c in range(channels)])[None].repeat(2, 1, 1)
    start = ref + 0.05 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(3))
    out = []
    for fast in (False, True):
        x = start.clone().requires_grad_()
        loss, _ = losses.ReconstructionLoss(kind, l1_weight=0.1, fast_grad=fast)(x, ref)
        loss.backward()
        out.append((loss.detach(), x.grad))
        assert bool(calls) == fast  # the fast path runs only when asked
    assert set(calls) <= {256, 512, 1024, 2048}
    assert torch.equal(out[0][0], out[1][0])
    assert torch.allclose(out[1][1], out[0][1], rtol=0, atol=1e-5 * float(out[0][1].abs().max()))
    assert not torch.equal(out[1][1], torch.zeros_like(out[1][1]))


def test_phase_kept_when_weighted():
    import auraloss

    loss = losses.skip_unused_phase(auraloss.freq.STFTLoss(w_phs=1.0))
    assert type(loss) is auraloss.freq.STFTLoss
    x = speechlike(4000)[None]
    assert float(loss(x, torch.roll(x, 7, -1))) > 0


def _scramble_phase(x, seed=0):
    """x with its STFT magnitude kept and every bin's phase drawn at random."""
    win = torch.hann_window(512)
    spec = torch.stft(x, 512, 160, window=win, return_complex=True)
    g = torch.Generator().manual_seed(seed)
    phase = torch.rand(spec.shape, generator=g) * 2 * math.pi
    return torch.istft(torch.polar(spec.abs(), phase), 512, 160, window=win, length=x.shape[-1])


def test_swap_magnitude_phase_finds_a_phase_error():
    ref = speechlike()
    est = _scramble_phase(ref)
    hybrids = metrics.swap_magnitude_phase(est, ref)
    fixed, kept = hybrids["est magnitude, true phase"], hybrids["true magnitude, est phase"]
    assert fixed.shape == ref.shape == kept.shape
    # the true phase under est's magnitude brings the waveform back (-26 -> +9 dB measured; not
    # further: overlap-add of random phases smeared est's magnitude too) ...
    assert metrics.si_sdr(fixed, ref) > metrics.si_sdr(est, ref) + 25
    # ... while the true magnitude cannot repair est's phase
    assert metrics.si_sdr(kept, ref) < 0


def test_swap_magnitude_phase_finds_a_magnitude_error():
    ref = speechlike()
    est = ref + 0.05 * torch.randn_like(ref)  # right phase where speech is loud, wrong magnitude in gaps
    hybrids = metrics.swap_magnitude_phase(est[..., :-100], ref)  # a short est is padded to ref's length
    assert metrics.mel_distance(hybrids["true magnitude, est phase"], ref) < 0.5 * metrics.mel_distance(est, ref)
    assert metrics.mel_distance(hybrids["est magnitude, true phase"], ref) > 0.5 * metrics.mel_distance(est, ref)


def test_swap_magnitude_phase_rejects_a_channel_mismatch():
    with pytest.raises(ValueError, match="same channels"):
        metrics.swap_magnitude_phase(torch.zeros(2, 1000), torch.zeros(1, 1000))


def test_score_clips_is_per_clip_and_score_is_its_mean():
    ref = speechlike()
    g = torch.Generator().manual_seed(1)
    light = ref + 0.01 * torch.randn(ref.shape, generator=g)
    heavy = ref + 0.2 * torch.randn(ref.shape, generator=g)
    rows = metrics.score_clips([ref, ref], [light, heavy], speech=False)
    assert len(rows) == 2 and rows[0]["mel_dist"] < rows[1]["mel_dist"] and rows[0]["si_sdr"] > rows[1]["si_sdr"]
    mean = metrics.score([ref, ref], [light, heavy], speech=False)
    assert mean["mel_dist"] == pytest.approx((rows[0]["mel_dist"] + rows[1]["mel_dist"]) / 2)


def harmonic_tone(f0, n=16000, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 16000
    x = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 6))
    return (0.2 * x + 0.005 * torch.randn(n, generator=g))[None]


def test_frechet_mel_ignores_which_estimate_goes_with_which_reference():
    refs = [harmonic_tone(f, seed=i) for i, f in enumerate([110, 140, 180, 230, 290, 370])]
    other_rendition = refs[1:] + refs[:1]  # every clip is real, but not its reference's
    noisy = [x + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(7)) for x in refs]
    assert metrics.frechet_mel_distance(refs, refs) == pytest.approx(0.0, abs=1e-6)
    assert metrics.frechet_mel_distance(refs, other_rendition) == pytest.approx(0.0, abs=1e-6)
    # paired, the other rendition looks far worse than light noise; as sets it is the better one
    paired = [metrics.mel_distance(e, r) for e, r in zip(other_rendition, refs)]
    assert np.mean(paired) > np.mean([metrics.mel_distance(e, r) for e, r in zip(noisy, refs)])
    assert metrics.frechet_mel_distance(refs, noisy) > 1.0


def test_frechet_mel_is_symmetric_and_grows_with_a_shift():
    refs = [harmonic_tone(f, seed=i) for i, f in enumerate([120, 160, 200, 250])]
    quiet = [0.5 * x for x in refs]
    quieter = [0.1 * x for x in refs]
    d1, d2 = metrics.frechet_mel_distance(refs, quiet), metrics.frechet_mel_distance(refs, quieter)
    assert 0 < d1 < d2
    assert metrics.frechet_mel_distance(quiet, refs) == pytest.approx(d1, rel=1e-6)


def test_frechet_mel_rejects_an_empty_set():
    with pytest.raises(ValueError, match="two sets of clips, got 0 and 1"):
        metrics.frechet_mel_distance([], [harmonic_tone(200)])
