"""Bad input gets one clear line naming the file and the fix, and nothing is written."""

import numpy as np
import pytest
import soundfile as sf
import torch

from course_lib import audio
from course_lib.audio import AudioError


def write(path, data, sr=16000, **kw):
    sf.write(path, data, sr, **kw)
    return path


def tone(n=16000, ch=1):
    t = np.arange(n) / 16000
    x = 0.5 * np.sin(2 * np.pi * 220 * t)
    return np.stack([x] * ch, axis=1) if ch > 1 else x


def test_load_roundtrip_and_resample(tmp_path):
    p = write(tmp_path / "a.wav", tone(22050), sr=22050)
    x = audio.load(p)
    assert x.shape == (1, 16000) and x.dtype == torch.float32
    raw = audio.load(p, sample_rate=None)
    assert raw.shape == (1, 22050)


def test_stereo_kept_and_channel_mismatch(tmp_path):
    p = write(tmp_path / "s.wav", tone(ch=2))
    assert audio.load(p).shape[0] == 2
    with pytest.raises(AudioError, match="s.wav.*2 channel.*expects 1.*to_channels"):
        audio.load(p, channels=1)


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda p: write(p, np.zeros(16000)), "silent"),
        (lambda p: write(p, np.zeros((0,))), "empty|cannot be decoded"),
        (lambda p: write(p, np.tile(tone()[:, None], (1, 3))), "3 channels"),
        (lambda p: write(p, np.where(np.arange(16000) == 5, np.nan, tone()), subtype="FLOAT"), "NaN"),
        (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk"), "cannot be decoded"),
    ],
    ids=["silent", "zero-length", "three-channels", "nan", "corrupt"],
)
def test_bad_files_raise_one_clear_line(tmp_path, make, pattern):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(AudioError, match=pattern) as err:
        audio.load(p)
    msg = str(err.value)
    assert "bad.wav" in msg and "\n" not in msg


def test_truncated_file(tmp_path):
    p = write(tmp_path / "t.wav", tone(48000))
    data = p.read_bytes()
    p.write_bytes(data[:40])  # header cut short
    with pytest.raises(AudioError, match="t.wav"):
        audio.load(p)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        audio.load(tmp_path / "nope.wav")


def test_validate_wrong_rate_and_inf():
    x = torch.zeros(1, 100)
    x[0, 3] = 1.0
    with pytest.raises(AudioError, match="44100 Hz but 16000 Hz"):
        audio.validate(x, 44100, name="clip")
    x[0, 4] = float("inf")
    with pytest.raises(AudioError, match="NaN/Inf"):
        audio.validate(x, 16000, name="clip")


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    x = torch.from_numpy(tone()).float()[None]
    out = audio.save(tmp_path / "sub" / "o.wav", x)
    assert out.exists() and not list((tmp_path / "sub").glob("*.tmp*"))
    back = audio.load(out)
    assert torch.allclose(back, x, atol=1e-3)


def test_to_channels():
    m = torch.randn(1, 10)
    s = audio.to_channels(m, 2)
    assert s.shape == (2, 10) and torch.equal(s[0], s[1])
    assert torch.allclose(audio.to_channels(s, 1), m)
