import json

import matplotlib
import pytest
import torch

from course_lib import claims, plots, presets, widgets

matplotlib.use("Agg")


def test_check_claim_records_and_raises_only_in_real_presets(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "CLAIMS_DIR", tmp_path)
    claims.check_claim("00", "labels right", {"r": 0.1}, False, "weak", preset="smoke")
    with pytest.raises(claims.ClaimNotShown, match="labels right"):
        claims.check_claim("00", "labels right", {"r": 0.1}, False, "weak", preset="cpu")
    rec = claims.check_claim("00", "ok", {"r": 0.99}, True, "strong", preset="gpu")
    lines = (tmp_path / "00.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[-1])["holds"] is True and rec["measured"]["r"] == 0.99
    assert {json.loads(x)["kind"] for x in lines} == {"claim"}


def test_players_html_embeds_distinct_audio():
    a, b = torch.randn(1, 800) * 0.1, torch.randn(2, 800) * 0.1
    html = widgets.players_html({"x": a, "D(E(x))": b}, title="A/B")
    assert html.count("<audio") == 2 and "D(E(x))" in html
    assert widgets.wav_bytes(a)[:4] == b"RIFF"
    assert widgets.audio_html(a) != widgets.audio_html(b)


def test_plots_draw_labelled_axes():
    x = torch.randn(1, 16000) * 0.1
    ax = plots.spectrogram(x, title="s")
    assert ax.get_xlabel() == "time (s)" and "kHz" in ax.get_ylabel()
    fig = plots.spectrogram_row({"a": x, "b": x})
    assert len(fig.axes) == 2
    ax = plots.phones_over_spectrogram(x, [{"phone": "aa", "start": 0.1, "end": 0.3}])
    assert any(t.get_text() == "aa" for t in ax.texts)
    ax = plots.f0_tracks(0.01, {"label": [0, 100, 110], "measured": [0, 101, 0]})
    assert len(ax.lines) == 2
    plots.training_curve([{"step": i, "loss": 1 / (i + 1)} for i in range(100)])


def test_presets():
    assert presets.resolve("cpu") == "cpu"
    assert presets.resolve("auto") in ("cpu", "gpu")
    with pytest.raises(ValueError, match="unknown preset"):
        presets.resolve("tpu")
    assert presets.get("smoke", seed=3).train.seed == 3
    gpu = presets.get("gpu")
    assert gpu.model.latent_rate <= 50 and gpu.model.width <= 64  # same interface as cpu, bigger model
    assert presets.get("cpu").model.latent_rate <= 50 and presets.get("cpu").model.width <= 64


def test_report_target_records_without_raising(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "CLAIMS_DIR", tmp_path)
    rec = claims.report_target("00", "oracle bar", {"pesq_wb": 1.2}, False, "below", preset="cpu")
    assert rec["kind"] == "target" and rec["holds"] is False
    assert json.loads((tmp_path / "00.jsonl").read_text())["kind"] == "target"
