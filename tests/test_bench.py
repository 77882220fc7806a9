"""The training benchmark: its baselines are what they claim to be, and a --quick run writes a report."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import load_script

from course_lib import metrics, presets
from course_lib.models import Autoencoder, ModelConfig

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train.py"
SMALL = ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1))


@pytest.fixture(scope="module")
def bench():
    mod = load_script(BENCH, "bench_train")
    # One thread: these models are tiny, and on a shared CPU extra threads only wait on each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield mod
    torch.set_num_threads(threads)


@pytest.mark.parametrize("channels,rate", [(1, 50.0), (2, 50.0), (1, 25.0)])
def test_baseline_shapes_and_latent_match_course_model(bench, channels, rate):
    cfg = replace(SMALL, channels=channels, latent_rate=rate)
    base = bench.WaveformAE(cfg, base=4)
    x = torch.randn(2, channels, 12345) * 0.1  # not a whole number of latent frames: padded, cropped back
    y, out = base(x)
    assert y.shape == x.shape
    with torch.no_grad():
        z_course = Autoencoder(cfg).encode(x).z
    assert out.z.shape == z_course.shape == (2, cfg.width, math.ceil(12345 / cfg.samples_per_latent))
    assert math.prod(base.strides) == cfg.samples_per_latent


def test_strides_multiply_to_the_hop(bench):
    for hop in (160, 320, 640, 1280):
        s = bench.factor_strides(hop)
        assert math.prod(s) == hop and len(s) <= 4 and list(s) == sorted(s)


def test_parameter_counts_match_cpu_preset(bench):
    cfg = presets.get("cpu").model
    course = bench.course_params(cfg)
    base = bench.baseline_params(cfg, bench.matched_base(cfg))
    assert abs(base / course - 1) <= bench.PARAM_TOLERANCE, (course, base)


def test_griffin_lim_baseline(bench):
    sr = 16000
    t = torch.arange(sr) / sr
    tone = 0.3 * torch.sin(2 * math.pi * 220 * t) * (1 + 0.5 * torch.sin(2 * math.pi * 3 * t))
    x = torch.stack([tone, 0.5 * tone])  # stereo (2, T)
    gl = bench.MelGriffinLim(replace(SMALL, channels=2), n_iter=16)
    assert gl.numbers_per_second(2) == SMALL.latent_rate * SMALL.width  # same numbers/s as the latent
    y = gl(x)
    assert y.shape == x.shape
    d = metrics.mel_distance(y, x)
    noise = torch.randn_like(x) * x.std()
    assert math.isfinite(d) and d < metrics.mel_distance(noise, x)
    assert gl(x[None]).shape == (1, *x.shape)  # batched input too


def test_notebook_timings_section_is_kept(bench):
    old = "# old\n\n## Throughput\nx\n\n## Notebook timings\n\n| nb | s |\n|---|---|\n| 00 | 3 |\n\n## Other\ny\n"
    kept = bench.keep_notebook_timings(old)
    assert kept.startswith("## Notebook timings") and "| 00 | 3 |" in kept and "Other" not in kept
    assert bench.keep_notebook_timings("# nothing here\n") == ""


def test_quick_run_writes_report(bench, fake_corpus, tmp_path):
    out = tmp_path / "results.md"
    out.write_text("# stale\n\n## Notebook timings\n\n| 00_welcome | 12 s |\n")
    # In-process (main takes the CLI's argv): a subprocess would spend most of its time importing torch.
    bench.main(["--preset", "smoke", "--quick", "--threads", "1", "--corpus", str(fake_corpus), "--out", str(out)])
    md = out.read_text()
    for section in ("## Throughput", "## Quality after", "## Music (stereo)", "## Reading", "## Notebook timings"):
        assert section in md, section
    assert "| 00_welcome | 12 s |" in md and "# stale" not in md
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["params"]["course"] > 0 and res["throughput"]["ratio"] > 0
    for model in ("course", "baseline"):
        for split in ("test", "valid"):
            assert set(res["quality"][model][split]) >= {"pesq_wb", "stoi", "mel_dist"}
    assert math.isfinite(res["music"]["griffin_lim"]["mel_dist"])
    assert not list(tmp_path.glob("*.tmp"))
