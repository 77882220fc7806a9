import pytest
import torch

from course_lib import widgets
from course_lib.models import Autoencoder, ModelConfig

WIDTH, SLOTS = 8, 40


def _latent(seed=0):
    scales = torch.linspace(0.5, 3, WIDTH)[:, None]  # channels of different sizes, as real latents have
    return torch.randn(WIDTH, SLOTS, generator=torch.Generator().manual_seed(seed)) * scales


def _identity_decode(z):
    """Audio that *is* the latent (one channel, width*slots samples): latent-space checks by ear-free eye."""
    return z.reshape(1, -1).clone()


_MAP = torch.randn(WIDTH, 64, generator=torch.Generator().manual_seed(1)) * 0.1


def _linear_decode(z):
    """A fixed random linear map to (1, slots*64) samples: a deterministic stand-in decoder."""
    return torch.tanh(z.T @ _MAP).reshape(1, -1)


def test_scale_zero_is_the_clean_decode_and_deviation_grows_with_scale():
    z = _latent()
    clean = _linear_decode(z)
    assert torch.equal(widgets.render_latent_noise(_linear_decode, z, 0.0), clean)
    devs = [(widgets.render_latent_noise(_linear_decode, z, s) - clean).pow(2).mean().item() for s in (0.0, 0.5, 2.0)]
    assert devs[0] == 0 and 0 < devs[1] < devs[2]


def test_noise_is_in_per_channel_std_units_and_seeded():
    z = _latent()
    a = widgets.render_latent_noise(_identity_decode, z, 1.0, seed=3)
    assert torch.equal(a, widgets.render_latent_noise(_identity_decode, z, 1.0, seed=3))
    assert not torch.equal(a, widgets.render_latent_noise(_identity_decode, z, 1.0, seed=4))
    eps = (widgets.add_latent_noise(z, 1.0, seed=3) - z) / z.std(dim=-1, correction=0)[:, None]
    assert eps.std().item() == pytest.approx(1.0, abs=0.2)  # unit noise after dividing by each channel's std
    custom = torch.full((WIDTH,), 0.01)
    small = widgets.add_latent_noise(z, 1.0, std=custom) - z
    assert small.abs().max() < 0.1
    with pytest.raises(ValueError, match="channels"):
        widgets.add_latent_noise(z, 1.0, std=torch.ones(WIDTH + 1))


def test_channel_selection_touches_only_that_channel():
    z = _latent()
    out = widgets.render_latent_noise(_identity_decode, z, 1.5, channel=2).reshape(WIDTH, SLOTS)
    changed = (out != z).any(dim=1)
    assert changed.tolist() == [i == 2 for i in range(WIDTH)]
    # the soloed channel carries the same noise it gets inside "all"
    everywhere = widgets.render_latent_noise(_identity_decode, z, 1.5).reshape(WIDTH, SLOTS)
    assert torch.equal(out[2], everywhere[2])
    with pytest.raises(ValueError, match="channel"):
        widgets.add_latent_noise(z, 1.0, channel=WIDTH)


def test_slider_renders_audio_and_follows_its_controls():
    paths = {"D(E(x))": _latent(0), "D(ẑ)": _latent(1)}
    ui = widgets.latent_noise_slider(_identity_decode, paths, title="noise")
    assert len(ui.children) >= 3 and "<audio" in ui.html and "<img" in ui.html
    clean = ui.last_audio.clone()
    assert torch.equal(clean, _identity_decode(paths["D(E(x))"]))
    ui.scale.value = 1.0
    assert not torch.equal(ui.last_audio, clean) and "1.00σ" in ui.html
    ui.scale.value = 0.0  # back to the start: the same sound
    assert torch.equal(ui.last_audio, clean)
    ui.channel.value = 5
    ui.scale.value = 1.0
    assert ((ui.last_audio.reshape(WIDTH, SLOTS) != paths["D(E(x))"]).any(dim=1)).nonzero().flatten().tolist() == [5]
    ui.scale.value = 0.0
    ui.path.value = "D(ẑ)"
    assert torch.equal(ui.last_audio, _identity_decode(paths["D(ẑ)"])) and "D(ẑ)" in ui.html
    assert torch.equal(ui.render(), ui.last_audio)


def test_slider_on_a_tiny_autoencoder():
    torch.manual_seed(0)
    model = Autoencoder(ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1)))
    x = torch.randn(1, 1, 4000) * 0.1
    with torch.no_grad():
        z = model.encode(x).mean[0]
    decode = widgets.autoencoder_decoder(model, 4000)
    ui = widgets.latent_noise_slider(decode, {"D(E(x))": z})
    assert ui.last_audio.shape == (1, 4000)
    clean = ui.last_audio.clone()
    ui.scale.value = 2.0
    assert (ui.last_audio - clean).abs().max() > 0 and "<audio" in ui.html


def test_ab_player_switches_its_clip():
    a, b = torch.randn(1, 2000) * 0.1, torch.randn(1, 2000) * 0.3
    ab = widgets.ab_player({"D(E(x))": a, "D(ẑ)": b}, title="A/B", show_all=True)
    assert ab.current == "D(E(x))" and ab.audio_bytes == widgets.wav_bytes(a)
    first = ab.html
    assert first.count("<audio") == 1 and "<img" in first
    ab.choice.value = "D(ẑ)"
    assert ab.current == "D(ẑ)" and ab.audio_bytes == widgets.wav_bytes(b) and ab.html != first
    assert widgets.audio_html(b) in ab.html
    ab.choice.value = "D(E(x))"
    assert ab.html == first
    assert sum(c.value.count("<audio") for c in ab.children if hasattr(c, "value") and isinstance(c.value, str)) == 3


def test_mix_channels_mutes_or_solos_at_the_fill_value():
    z = _latent()
    fill = torch.arange(WIDTH, dtype=torch.float32)
    muted = widgets.mix_channels(z, [2, 5], "mute", fill)
    assert muted[2].tolist() == [2.0] * SLOTS and muted[5].tolist() == [5.0] * SLOTS
    assert torch.equal(muted[[0, 1, 3, 4, 6, 7]], z[[0, 1, 3, 4, 6, 7]])
    solo = widgets.mix_channels(z, [2], "solo", fill)
    assert torch.equal(solo[2], z[2]) and all(solo[c].tolist() == [float(c)] * SLOTS for c in range(WIDTH) if c != 2)
    assert torch.equal(widgets.mix_channels(z, [], "mute"), z)
    by_default = widgets.mix_channels(z, [0], "mute")  # the channel's own mean over the slots
    assert torch.allclose(by_default[0], z[0].mean().expand(SLOTS))
    with pytest.raises(ValueError, match="mode"):
        widgets.mix_channels(z, [0], "cut")
    assert torch.equal(widgets.render_channel_mix(_identity_decode, z, [], "mute"), _identity_decode(z))


def test_channel_mixer_follows_its_controls():
    paths = {"D(E(x))": _latent(0), "D(ẑ)": _latent(1)}
    fill = torch.zeros(WIDTH)
    ui = widgets.channel_mixer(_identity_decode, paths, fill=fill, channels=[3], title="mixer",
                               labels={3: "3 (the loudest)"}, order=[3] + [c for c in range(WIDTH) if c != 3])
    assert "<audio" in ui.html and "<img" in ui.html and "channels 3 muted" in ui.html
    out = ui.last_audio.reshape(WIDTH, SLOTS)
    assert out[3].abs().max() == 0 and torch.equal(out[4], paths["D(E(x))"][4])
    assert ui.channels.options[0] == ("3 (the loudest)", 3) and ui.channels.options[1] == ("0", 0)
    ui.mode.value = "solo"
    out = ui.last_audio.reshape(WIDTH, SLOTS)
    assert torch.equal(out[3], paths["D(E(x))"][3]) and out[[0, 1, 2, 4, 5, 6, 7]].abs().max() == 0
    assert "only channels 3" in ui.html
    ui.path.value = "D(ẑ)"
    assert torch.equal(ui.last_audio.reshape(WIDTH, SLOTS)[3], paths["D(ẑ)"][3])
    ui.mode.value, ui.channels.value = "mute", ()
    assert torch.equal(ui.last_audio, _identity_decode(paths["D(ẑ)"])) and "channels none muted" in ui.html
    assert torch.equal(ui.render(), ui.last_audio)
    with pytest.raises(ValueError, match="outside"):
        widgets.channel_mixer(_identity_decode, paths, channels=[WIDTH])
    with pytest.raises(ValueError, match="every channel"):
        widgets.channel_mixer(_identity_decode, paths, order=[0, 1])


def _sweep():
    points = ["low rate", "middle", "no limit"]
    clips = {pt: {"D(E(x))": _linear_decode(_latent(2 * i)), "D(ẑ)": _linear_decode(_latent(2 * i + 1))}
             for i, pt in enumerate(points)}
    import pandas as pd
    scores = pd.DataFrame({"D(ẑ)": [0.87, 0.88, 0.89], "D(E(x))": [0.64, 0.56, 0.53], "extra": [1, 2, 3]},
                          index=points)
    return clips, scores


def test_sweep_dial_plays_the_point_and_path_it_is_set_to():
    clips, scores = _sweep()
    ui = widgets.sweep_dial(clips, scores, title="the rate curve", ylabel="mel")
    assert ui.point.value == "low rate" and ui.path.value == "D(E(x))"  # the first point, the first path
    assert torch.equal(ui.last_audio, clips["low rate"]["D(E(x))"])
    assert "<audio" in ui.html and ui.html.count("<img") == 2 and "low rate · D(E(x))" in ui.html
    assert list(ui.scores.columns) == ["D(E(x))", "D(ẑ)"]  # the paths' columns, in the clips' order
    ui.point.value = "no limit"
    assert torch.equal(ui.last_audio, clips["no limit"]["D(E(x))"]) and "no limit · D(E(x))" in ui.html
    first_view = ui.html
    ui.path.value = "D(ẑ)"
    assert torch.equal(ui.last_audio, clips["no limit"]["D(ẑ)"]) and ui.html != first_view
    ui.path.value = "D(E(x))"
    assert ui.html == first_view  # drawn once, shown again from the cache
    snapshot = ui.snapshot_html()
    assert snapshot.count("<audio") == 6 and "middle · D(ẑ)" in snapshot and "the rate curve" in snapshot
    bare = widgets.sweep_dial(clips)  # no scores: player and spectrogram only
    assert bare.html.count("<img") == 1 and torch.equal(bare.render(), clips["low rate"]["D(E(x))"])


def test_sweep_dial_rejects_mismatched_points_and_paths():
    clips, scores = _sweep()
    with pytest.raises(ValueError, match="empty"):
        widgets.sweep_dial({})
    bad = dict(clips, middle={"D(E(x))": clips["middle"]["D(E(x))"]})
    with pytest.raises(ValueError, match="every point needs"):
        widgets.sweep_dial(bad)
    with pytest.raises(ValueError, match="indexed by"):
        widgets.sweep_dial(clips, scores.iloc[::-1])
    with pytest.raises(ValueError, match="lack a column"):
        widgets.sweep_dial(clips, scores.drop(columns="D(ẑ)"))
