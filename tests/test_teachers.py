"""DSP teachers (F0, chroma, ILD) and the hub-model adapter, on synthetic audio and tiny random models.

No weights are downloaded: the hub tests build WavLM / HuBERT from small configs, save them to a temp
dir or a fake hub cache, and load them back with sockets disabled.
"""

from __future__ import annotations

import math
import time

import pytest
import torch

from course_lib.teachers import (
    HubTeacher,
    TeacherUnavailable,
    chroma_teacher,
    f0_teacher,
    hub_cache_dir,
    ild_teacher,
    samples_per_frame,
    teacher_frames,
)

SR = 16000


def harmonic(f0: float, seconds: float = 1.0, n_harmonics: int = 5) -> torch.Tensor:
    t = torch.arange(int(seconds * SR), dtype=torch.float64) / SR
    return sum(0.3 / k * torch.sin(2 * math.pi * f0 * k * t) for k in range(1, n_harmonics + 1)).float()


def white(seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(int(seconds * SR), generator=torch.Generator().manual_seed(seed))


# --- frames ---------------------------------------------------------------------------------------


def test_frame_convention_is_ceil_of_samples_per_frame():
    assert samples_per_frame(50) == 320 and samples_per_frame(12.5) == 1280 and samples_per_frame(100) == 160
    assert [teacher_frames(n, 50) for n in (1, 319, 320, 321, 16000, 16001)] == [1, 1, 1, 2, 50, 51]
    with pytest.raises(ValueError, match="whole number"):
        samples_per_frame(21.5)
    with pytest.raises(ValueError, match="positive"):
        samples_per_frame(0)


@pytest.mark.parametrize("n", [16000, 16001, 15999, 4807])
@pytest.mark.parametrize("frame_rate", [50, 12.5])
def test_every_dsp_teacher_returns_the_convention_frame_count(n, frame_rate):
    x = harmonic(220, seconds=n / SR).view(1, 1, -1)
    x2 = torch.cat([x, 0.5 * x], dim=1)
    want = math.ceil(n / samples_per_frame(frame_rate))
    assert f0_teacher(x, frame_rate).shape == (1, 2, want)
    assert chroma_teacher(x, frame_rate).shape == (1, 12, want)
    assert ild_teacher(x2, frame_rate, n_bands=6).shape == (1, 6, want)


def melody(seconds: float = 2.0, seed: int = 0) -> torch.Tensor:
    """A random note every 100 ms plus a little noise: structure that moves faster than a frame."""
    g = torch.Generator().manual_seed(seed)
    notes = [220 * 2 ** (k / 12) for k in torch.randint(0, 12, (int(seconds * 10),), generator=g).tolist()]
    return torch.cat([harmonic(f, 0.1) for f in notes]) + 0.01 * white(seconds, seed)


@pytest.mark.parametrize("frame_rate", [50, 12.5])
def test_frames_are_centred_on_latent_frames(frame_rate):
    """Time reversal maps frame k's centre (k + 1/2) spf onto frame N-1-k's when T is whole frames.

    So teacher(reversed) reversed == teacher -- which fails if windows sit on frame boundaries or
    drop the clip's first half frame.
    """
    x = melody().view(1, 1, -1)
    x2 = torch.cat([x, 0.3 * x.roll(4000, dims=-1)], dim=1)
    rev = x.flip(-1)
    assert torch.allclose(chroma_teacher(rev, frame_rate).flip(-1), chroma_teacher(x, frame_rate), atol=5e-3)
    assert torch.allclose(ild_teacher(x2.flip(-1), frame_rate).flip(-1), ild_teacher(x2, frame_rate), atol=0.5)
    assert torch.equal(f0_teacher(rev, frame_rate).flip(-1), f0_teacher(x, frame_rate))


# --- F0 -------------------------------------------------------------------------------------------


def test_f0_of_a_200_hz_harmonic_tone():
    y = f0_teacher(harmonic(200, seconds=1.5).view(1, 1, -1), frame_rate=50)
    log_f0, voiced = y[0, 0], y[0, 1]
    assert set(voiced.unique().tolist()) <= {0.0, 1.0}
    assert voiced.mean() > 0.9  # only the first/last half analysis window (30 ms) is unvoiced
    assert (2 ** log_f0[voiced == 1] / 200 - 1).abs().max() < 0.03
    assert (log_f0[voiced == 0] == 0).all()


def test_f0_is_read_at_the_right_frames():
    """A pitch step at 1.0 s must show up at frame 50 of 50 Hz frames, in both directions.

    Praat itself smears a step over its 60 ms window (150 -> 300 Hz switches ~20 ms late, 300 -> 150
    ~10 ms early: a 300 Hz tone also correlates at 150 Hz's lag), so one frame either side is free.
    """
    for lo_first in (True, False):
        a, b = (150, 300) if lo_first else (300, 150)
        log_f0, voiced = f0_teacher(torch.cat([harmonic(a), harmonic(b)]).view(1, 1, -1), frame_rate=50)[0]
        assert voiced[2:-2].all()
        assert (log_f0[2:49] - math.log2(a)).abs().max() < 0.05
        assert (log_f0[52:-2] - math.log2(b)).abs().max() < 0.05


def test_f0_of_silence_and_noise_is_unvoiced_and_channels_are_mixed():
    silence = torch.zeros(1, 2, SR)
    noise = torch.stack([white(1.0, 1), white(1.0, 2)]).unsqueeze(0)
    assert (f0_teacher(silence, 50) == 0).all()
    assert f0_teacher(noise, 50)[0, 1].mean() < 0.2
    tone = harmonic(200).view(1, 1, -1)
    assert torch.equal(f0_teacher(tone.expand(1, 2, -1), 50), f0_teacher(tone, 50))  # stereo = its mono mix


def test_f0_rejects_bad_arguments():
    x = harmonic(200).view(1, 1, -1)
    with pytest.raises(ValueError, match="too short"):
        f0_teacher(x[..., :600], 50)  # padded to 2 frames, 40 ms < 3 periods of 50 Hz
    with pytest.raises(ValueError, match="fmax"):
        f0_teacher(x, 50, fmax=9000)
    with pytest.raises(ValueError, match="whole number"):
        f0_teacher(x, 100, sample_rate=22050)  # 220.5 samples per frame


# --- chroma ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("freq, pitch_class", [(440.0, 9), (261.63, 0), (196.0, 7)])  # A4, C4, G3
def test_chroma_peaks_at_the_pitch_class(freq, pitch_class):
    t = torch.arange(SR) / SR
    c = chroma_teacher(torch.sin(2 * math.pi * freq * t).view(1, 1, -1), frame_rate=25)
    assert (c[0].argmax(dim=0) == pitch_class).all()
    assert torch.allclose(c[0].sum(dim=0), torch.ones(c.shape[-1]), atol=1e-4)  # a distribution per frame
    assert (chroma_teacher(torch.zeros(1, 1, SR), 25) == 0).all()


# --- ILD ------------------------------------------------------------------------------------------


def test_ild_of_a_half_level_right_channel_is_6_db_in_every_band():
    left = white(1.0)
    y = ild_teacher(torch.stack([left, 0.5 * left]).unsqueeze(0), frame_rate=50, n_bands=8)
    assert y.shape == (1, 8, 50)
    assert (y - 20 * math.log10(2)).abs().max() < 0.01
    swapped = ild_teacher(torch.stack([0.5 * left, left]).unsqueeze(0), frame_rate=50)
    assert (swapped + 20 * math.log10(2)).abs().max() < 0.01  # positive = left louder
    assert (ild_teacher(torch.zeros(1, 2, SR), 50) == 0).all()  # silence: no image, 0 dB


def test_ild_is_gain_invariant_and_zero_where_there_is_no_sound():
    x = torch.stack([harmonic(200), 0.5 * harmonic(200)]).unsqueeze(0)
    y = ild_teacher(x, 50, n_bands=8)
    assert torch.allclose(ild_teacher(0.01 * x, 50, n_bands=8), y, atol=1e-3)
    assert (y[0, 0] - 6.02).abs().max() < 0.05  # the tone's band
    assert y[0, -1, 2:-2].abs().max() < 0.5  # 6-8 kHz: nothing there but the floor (edges: onset clicks)


def test_ild_frames_line_up_with_latent_frames():
    """A click at the centre of frame 10 (left only) lands in frame 10 and no other."""
    x = torch.zeros(1, 2, SR)
    x[0, 0, 10 * 320 + 160] = 1.0
    y = ild_teacher(x, frame_rate=50)[0]
    assert (y[:, 10] > 40).all()
    assert (y[:, :10] == 0).all() and (y[:, 11:] == 0).all()


def test_ild_needs_stereo():
    with pytest.raises(ValueError, match="ILD needs stereo.*mono"):
        ild_teacher(torch.zeros(1, 1, SR), 50)
    with pytest.raises(ValueError, match="ILD needs stereo"):
        ild_teacher(torch.zeros(1, 3, SR), 50)


# --- input contract -------------------------------------------------------------------------------


@pytest.mark.parametrize("teacher", [f0_teacher, chroma_teacher, ild_teacher])
def test_dsp_teachers_reject_bad_audio(teacher):
    x = torch.stack([white(0.5), white(0.5, 1)]).unsqueeze(0)
    with pytest.raises(ValueError, match=r"\(batch, channels, samples\), got shape \(2, 8000\)"):
        teacher(x[0], 50)
    bad = x.clone()
    bad[0, 0, 100] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        teacher(bad, 50)
    bad[0, 0, 100] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        teacher(bad, 50)
    with pytest.raises(ValueError, match="floating-point"):
        teacher((x * 1000).long(), 50)


# --- HubTeacher -----------------------------------------------------------------------------------


def tiny_config(kind: str):
    """A valid, tiny wav2vec2-family config: 3 conv layers with total stride 320 (50 frames/s, like the real ones)."""
    from transformers import HubertConfig, WavLMConfig

    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  conv_dim=(16, 16, 16), conv_kernel=(10, 8, 4), conv_stride=(5, 8, 8), num_conv_pos_embeddings=16,
                  num_conv_pos_embedding_groups=2)
    if kind == "wavlm":
        return WavLMConfig(**common, num_buckets=16, max_bucket_distance=64)
    return HubertConfig(**common)


@pytest.fixture(scope="module")
def wavlm():
    torch.manual_seed(0)
    return HubTeacher.from_config(tiny_config("wavlm"), layer=1, frame_rate=100)


@pytest.mark.parametrize("kind", ["wavlm", "hubert"])
def test_hub_teacher_shapes_for_every_layer(kind):
    cfg = tiny_config(kind)
    x = white(1.003).view(1, 1, -1).repeat(2, 1, 1)
    torch.manual_seed(0)
    model = HubTeacher.from_config(cfg, layer=0, frame_rate=100).model
    outs = []
    for layer in range(cfg.num_hidden_layers + 1):
        t = HubTeacher(model, layer=layer, frame_rate=100)  # the same weights, read at every layer
        assert (t.n_layers, t.dim) == (2, 32)
        y = t(x)
        assert y.shape == (2, 32, teacher_frames(x.shape[-1], 100)) == (2, 32, 101)
        assert torch.isfinite(y).all()
        outs.append(y)
    for a in range(len(outs)):
        for b in range(a + 1, len(outs)):
            assert not torch.allclose(outs[a], outs[b], atol=1e-3), f"layers {a} and {b} gave the same features"


def test_hub_teacher_frame_rates(wavlm):
    x = white(0.75).view(1, 1, -1)
    for fr in (12.5, 25, 50, 100):
        wavlm.frame_rate = fr
        assert wavlm(x).shape[-1] == teacher_frames(x.shape[-1], fr)
    wavlm.frame_rate = 100


def test_hub_teacher_is_frozen(wavlm):
    assert not any(p.requires_grad for p in wavlm.parameters())
    wavlm.train()
    assert not wavlm.model.training  # stays in eval mode: no dropout in the targets
    x = white(0.5).view(1, 1, -1).requires_grad_(True)
    y = wavlm(x)
    assert not y.requires_grad
    assert torch.equal(y, wavlm(x.detach()))  # deterministic


def test_hub_teacher_rejects_bad_input(wavlm):
    with pytest.raises(ValueError, match="mix down"):
        wavlm(torch.zeros(1, 2, SR))
    with pytest.raises(ValueError, match=r"\(batch, channels, samples\)"):
        wavlm(torch.zeros(1, SR))
    with pytest.raises(ValueError, match="NaN or inf"):
        wavlm(torch.full((1, 1, SR), float("nan")))
    with pytest.raises(ValueError, match="receptive field"):
        wavlm(torch.zeros(1, 1, 100))
    with pytest.raises(ValueError, match="layer must be 0..2"):
        HubTeacher(wavlm.model, layer=3, frame_rate=50)
    with pytest.raises(ValueError, match="whole number"):
        HubTeacher(wavlm.model, layer=1, frame_rate=21.5)
    with pytest.raises(ValueError, match="16 kHz"):
        HubTeacher(wavlm.model, layer=1, frame_rate=50, sample_rate=44100)


def test_from_pretrained_without_local_weights_raises_fast_and_offline(tmp_path, monkeypatch, socket_disabled):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    assert hub_cache_dir() == tmp_path / "hf" / "hub"
    t0 = time.perf_counter()
    with pytest.raises(TeacherUnavailable, match="microsoft/wavlm-base-plus") as err:
        HubTeacher.from_pretrained("microsoft/wavlm-base-plus", layer=6, frame_rate=50)
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert str(tmp_path / "hf" / "hub") in msg and "hf download microsoft/wavlm-base-plus" in msg and "HF_HOME" in msg
    assert isinstance(err.value, RuntimeError)
    assert not HubTeacher.available("microsoft/wavlm-base-plus")
    with pytest.raises(TeacherUnavailable, match="no local weights"):
        HubTeacher.from_pretrained(tmp_path / "no-such-dir", layer=0, frame_rate=50)
    (tmp_path / "config-only").mkdir()
    (tmp_path / "config-only" / "config.json").write_text("{}")
    with pytest.raises(TeacherUnavailable):  # a config without weights is not a model
        HubTeacher.from_pretrained(tmp_path / "config-only", layer=0, frame_rate=50)
    with pytest.raises(ValueError, match="never downloads"):
        HubTeacher.from_pretrained("microsoft/wavlm-base-plus", layer=6, frame_rate=50, local_files_only=False)


def test_save_and_load_a_local_model_offline(tmp_path, socket_disabled):
    from transformers import Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    original = HubTeacher.from_config(tiny_config("hubert"), layer=2, frame_rate=50, normalize=True)
    original.model.save_pretrained(tmp_path / "tiny")
    Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(tmp_path / "tiny")
    assert HubTeacher.available(tmp_path / "tiny")
    loaded = HubTeacher.from_pretrained(tmp_path / "tiny", layer=2, frame_rate=50)
    assert loaded.normalize and type(loaded.model) is type(original.model)
    x = white(1.0).view(1, 1, -1) * 3 + 0.1
    assert torch.allclose(loaded(x), original(x), atol=1e-5)
    assert torch.allclose(loaded(x), loaded(x / 3), atol=1e-3)  # normalised: loudness-free


def test_load_a_repo_id_from_a_local_hub_cache(tmp_path, monkeypatch, socket_disabled):
    """The layout `hf download` leaves (models--org--name/refs/main + snapshots/<hash>/), found via HF_HOME."""
    torch.manual_seed(0)
    original = HubTeacher.from_config(tiny_config("wavlm"), layer=1, frame_rate=50)
    repo = tmp_path / "hf" / "hub" / "models--course--tiny-wavlm"
    commit = "0" * 40
    original.model.save_pretrained(repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    assert HubTeacher.available("course/tiny-wavlm") and not HubTeacher.available("course/other")
    loaded = HubTeacher.from_pretrained("course/tiny-wavlm", layer=1, frame_rate=50)
    assert not loaded.normalize  # no preprocessor_config.json: raw waveform, as for wavlm-base-plus
    x = white(0.5).view(1, 1, -1)
    assert torch.allclose(loaded(x), original(x), atol=1e-5)


# --- the content teacher and the coupling loss ------------------------------------------------------

import json  # noqa: E402

from course_lib import presets, training  # noqa: E402
from course_lib.teachers import (  # noqa: E402
    IGNORE,
    PHONE_ID,
    PHONES,
    ContentTeacher,
    Coupling,
    TeacherAlignment,
    TeacherConfig,
    content_teacher_or_load,
    phone_targets,
    speed_perturb,
)

TINY = TeacherConfig(dim=16, layers=2, n_mels=16, steps=4, batch_size=2, segment_s=0.5)


def phone_corpus(corpus):
    """The shared fake corpus, its speech re-rendered so the phones are audible: pau = near silence,
    aa = a 300 Hz tone, b = a noise burst (quarters of each clip, in the labels' order)."""
    import numpy as np
    import pandas as pd
    import soundfile as sf

    rng = np.random.default_rng(1)
    df = pd.read_csv(corpus / "manifest.csv")
    for _, row in df[df.domain == "speech"].iterrows():
        path = corpus / row["labels"]
        lab = json.loads(path.read_text())
        n = int(row["num_frames"])
        t = np.arange(n) / 16000
        x = 0.001 * rng.standard_normal(n)
        for p, name in zip(lab["phones"], ("pau", "aa", "b", "pau") if row.name % 2 else ("pau", "b", "aa", "pau")):
            p["phone"] = name
            a, b = int(p["start"] * 16000), int(p["end"] * 16000)
            if name == "aa":
                x[a:b] = 0.3 * np.sin(2 * np.pi * 300 * t[a:b])
            elif name == "b":
                x[a:b] = 0.2 * rng.standard_normal(b - a)
        sf.write(corpus / row["path"], x[:, None], 16000, subtype="PCM_16")
        path.write_text(json.dumps(lab))
    return corpus


def test_phone_targets_by_frame_centre_and_unknown_phone():
    lab = {"phones": [{"phone": "pau", "start": 0.0, "end": 0.03}, {"phone": "aa", "start": 0.03, "end": 0.05}]}
    y = phone_targets(lab, 7)
    assert y.tolist() == [PHONE_ID["pau"]] * 3 + [PHONE_ID["aa"]] * 2 + [IGNORE] * 2
    with pytest.raises(ValueError, match="unknown phone 'q'"):
        phone_targets({"phones": [{"phone": "q", "start": 0, "end": 0.1}]}, 10)


def test_content_teacher_layers_shapes_and_posteriors():
    torch.manual_seed(0)
    t = ContentTeacher(TINY)
    x = torch.randn(2, 1, 8000)
    for layer in t.layer_names:
        h = t(x, layer)
        assert h.shape == (2, t.layer_dim(layer), 50), layer
    post = t(x, "posteriors")
    assert torch.allclose(post.sum(dim=1), torch.ones(2, 50), atol=1e-5) and post.shape[1] == len(PHONES)
    # loudness-free: the input is normalised per clip, so a gain changes nothing
    assert torch.allclose(t(0.1 * x, "layer1"), t(x, "layer1"), atol=1e-3)
    with pytest.raises(ValueError, match="unknown teacher layer"):
        t(x, "layer9")


def test_content_teacher_input_ignores_a_static_spectral_envelope():
    h = torch.randn(2, 16, 30)
    tilt = torch.linspace(-3, 3, 16)[None, :, None]  # a fixed EQ / vocal-tract average: constant per band
    a, b = ContentTeacher.normalise(h), ContentTeacher.normalise(h + tilt)
    assert torch.allclose(a.mean(dim=2), torch.zeros(2, 16), atol=1e-5)
    assert torch.allclose(a, b, atol=1e-4)
    # a change over time is kept
    assert not torch.allclose(a, ContentTeacher.normalise(h + torch.linspace(0, 3, 30)), atol=1e-2)


def test_speed_perturb_moves_pitch_and_retimes_the_phones():
    sr = 16000
    t = torch.arange(sr) / sr
    x = torch.sin(2 * torch.pi * 200 * t)[None]
    targets = torch.tensor([0] * 50 + [1] * 50)  # phone 0 for 0.5 s, then phone 1
    y, u = speed_perturb(x, targets, 1.25)
    assert abs(y.shape[-1] - sr / 1.25) <= 2 and len(u) == y.shape[-1] // 160
    spec = torch.fft.rfft(y[0]).abs()
    assert abs(int(spec.argmax()) * sr / y.shape[-1] - 250) < 3  # 200 Hz played 1.25x faster
    assert int((u == 0).sum()) == 40 and u[-1] == 1  # the 0.5 s phone now lasts 0.4 s
    with pytest.raises(ValueError, match="positive"):
        speed_perturb(x, targets, 0.0)


def test_content_teacher_trains_then_loads(fake_corpus, tmp_path):
    corpus = phone_corpus(fake_corpus)
    teacher, info = content_teacher_or_load(corpus, TINY, root=tmp_path / "ck", progress=False)
    assert not info["loaded"] and 0 <= info["test_accuracy"] <= 1 and 0 < info["chance"] <= 1
    again, info2 = content_teacher_or_load(corpus, TINY, root=tmp_path / "ck", progress=False)
    assert info2["loaded"] and info2["key"] == info["key"]
    for a, b in zip(teacher.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_content_teacher_learns_planted_phones(fake_corpus, tmp_path):
    """Two phones, two tones: a teacher trained long enough must beat the majority class."""
    corpus = phone_corpus(fake_corpus)
    cfg = TeacherConfig(dim=16, layers=1, n_mels=16, steps=60, batch_size=4, segment_s=0.5, lr=1e-2)
    _, info = content_teacher_or_load(corpus, cfg, root=tmp_path / "ck", progress=False)
    assert info["test_accuracy"] > info["chance"] + 0.1, info


def test_coupling_validation():
    with pytest.raises(ValueError, match="cosine"):
        Coupling(loss="mse")
    with pytest.raises(ValueError, match="posteriors"):
        Coupling(layer="layer1", loss="kl")
    with pytest.raises(ValueError, match="do not fit"):
        TeacherAlignment(ContentTeacher(TINY), Coupling(channels=(2, 9)), width=4, frames_per_latent=2)


@pytest.mark.parametrize("coupling", [Coupling("layer1", 2.0), Coupling("posteriors", 1.0, (2, 4), loss="kl")])
def test_alignment_loss_is_trainable_and_reaches_only_its_channels(coupling):
    torch.manual_seed(0)
    align = TeacherAlignment(ContentTeacher(TINY), coupling, width=4, frames_per_latent=2)
    x = torch.randn(2, 1, 8000)
    z = torch.randn(2, 4, 25, requires_grad=True)
    loss, terms = align(x, z)
    loss.backward()
    assert loss.item() > 0 and terms
    a, b = coupling.channels or (0, 4)
    assert z.grad[:, a:b].abs().sum() > 0
    assert z.grad[:, :a].abs().sum() == 0 and z.grad[:, b:].abs().sum() == 0
    assert all(p.grad is None for p in align.teacher.parameters())  # the teacher is frozen
    # a projection that fits the teacher lowers the loss: a few steps of Adam on (z, P)
    opt = torch.optim.Adam([z, *align.proj.parameters()], lr=0.05)
    first = loss.item()
    for _ in range(30):
        opt.zero_grad()
        loss, _ = align(x, z)
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_train_or_load_with_alignment_keys_saves_and_restores_the_head(fake_corpus, tmp_path):
    corpus = phone_corpus(fake_corpus)
    teacher, tinfo = content_teacher_or_load(corpus, TINY, root=tmp_path / "ck", progress=False)
    p = presets.get("smoke")
    p = presets.replace(p, train=presets.replace(p.train, steps=3, checkpoint_every=3))
    plain = training.train_or_load(p, corpus=corpus, root=tmp_path / "ck", progress=False)

    def align():
        return TeacherAlignment(teacher, Coupling("layer1", 1.0), p.model.width, p.model.down, tinfo["key"])

    a = align()
    coupled = training.train_or_load(p, corpus=corpus, root=tmp_path / "ck", progress=False, aux=a)
    assert coupled.info["key"] != plain.info["key"] and "teacher_cos" in coupled.history[-1]
    b = align()
    again = training.train_or_load(p, corpus=corpus, root=tmp_path / "ck", progress=False, aux=b)
    assert again.info["loaded"] and torch.equal(a.proj.weight, b.proj.weight)
    other = TeacherAlignment(teacher, Coupling("layer2", 1.0), p.model.width, p.model.down, tinfo["key"])
    assert other.key() != a.key()


def test_the_projection_head_starts_from_its_seed_not_from_what_ran_before(fake_corpus, tmp_path):
    """A re-run that loads the teacher (no random draws) must train the same encoder as a first run
    that trained it (many draws): the head's initial weights come from its seed alone."""
    teacher = ContentTeacher(TINY)
    coupling = Coupling("posteriors", 3.0, loss="kl")
    torch.manual_seed(0)
    a = TeacherAlignment(teacher, coupling, width=4, frames_per_latent=2, seed=3)
    after_a = torch.rand(1)
    torch.manual_seed(0)
    torch.randn(1000)  # e.g. a teacher trained in this session
    b = TeacherAlignment(teacher, coupling, width=4, frames_per_latent=2, seed=3)
    assert torch.equal(a.proj.weight, b.proj.weight) and torch.equal(a.proj.bias, b.proj.bias)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(1), after_a)  # building a head leaves the caller's RNG stream alone
    c = TeacherAlignment(teacher, coupling, width=4, frames_per_latent=2, seed=4)
    assert not torch.equal(a.proj.weight, c.proj.weight) and c.key() != a.key()  # the seed is in the key

    # end to end: the same coupled encoder whatever the global RNG did before it
    corpus = phone_corpus(fake_corpus)
    p = presets.get("smoke")
    p = presets.replace(p, train=presets.replace(p.train, steps=3, checkpoint_every=3))
    runs = []
    for i, draws in enumerate((0, 5000)):
        torch.randn(draws)
        align = TeacherAlignment(teacher, Coupling("layer1", 1.0), p.model.width, p.model.down, seed=1)
        runs.append(training.train_or_load(p, corpus=corpus, root=tmp_path / f"ck{i}", progress=False, aux=align))
    assert all(torch.equal(v, runs[1].model.state_dict()[k]) for k, v in runs[0].model.state_dict().items())


def test_teacher_features_are_the_layer_pooled_to_the_latent_rate():
    import numpy as np

    from course_lib.teachers import teacher_features

    t = ContentTeacher(TINY).eval()
    noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    audio = [noise, np.zeros(8000, np.float32) + 0.01]
    f50 = teacher_features(t, audio, "logits", 50.0)
    assert [f.shape for f in f50] == [(len(PHONES), 50), (len(PHONES), 25)]
    with torch.no_grad():
        full = t(torch.as_tensor(audio[0])[None, None], "logits")[0].numpy()
    np.testing.assert_allclose(f50[0], full.reshape(len(PHONES), 50, 2).mean(-1), rtol=1e-5, atol=1e-6)
    assert teacher_features(t, audio[:1], "layer1", 100.0)[0].shape == (TINY.dim, 100)
    with pytest.raises(ValueError, match="divide"):
        teacher_features(t, audio, "logits", 30.0)
