"""Device handling on the paths notebooks 03-08 take under the ``gpu`` preset, checked on a CPU.

No GPU here: the ``meta`` device stands in for CUDA where a function must put its result on the device of
its inputs (an elementwise op that mixes a CPU tensor with a meta one raises, as CPU + CUDA does), and the
rest checks what the CUDA paths rely on: where ``train_or_load`` leaves a model and its ``aux``, that a
GPU-trained checkpoint loads on the CPU, and which device ``python -m course_lib.train`` picks.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from course_lib import dashboard, decode_paths, presets, staging, training, widgets
from course_lib import train as cli
from course_lib.models import Autoencoder, ModelConfig
from course_lib.predictors import ARPredictor, FlowHead, PredictorConfig

TINY = ModelConfig(dim=16, enc_blocks=(1, 1), dec_blocks=(1, 1), width=8)


def tiny_preset(steps=2):
    p = presets.get("smoke")
    return replace(p, model=ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1)),
                   train=replace(p.train, steps=steps, batch_size=2, checkpoint_every=steps, warmup=1))


# --- noise drawn on the CPU, landing on the latent's device ----------------------------------------


def test_calibrated_noise_draws_on_the_cpu_generator_and_lands_on_the_requested_device():
    std, corr = torch.rand(4) + 0.1, torch.full((4,), 0.5)
    cpu = decode_paths.calibrated_noise((4, 9), std, corr, torch.Generator().manual_seed(3))
    meta = decode_paths.calibrated_noise((4, 9), std, corr, torch.Generator().manual_seed(3), device="meta")
    assert cpu.device.type == "cpu" and meta.device.type == "meta" and meta.shape == cpu.shape
    mixed = decode_paths.calibrated_noise((4, 9), torch.ones(4), None, torch.Generator().manual_seed(3),
                                          device="meta", mix=torch.eye(4))
    assert mixed.device.type == "meta"
    # the CPU draw is the generator's own: std * randn, nothing reordered
    white = decode_paths.calibrated_noise((4, 9), std, None, torch.Generator().manual_seed(3))
    assert torch.equal(white, torch.randn((4, 9), generator=torch.Generator().manual_seed(3)) * std[:, None])


def test_widget_noise_and_channel_swaps_follow_the_latent_device():
    z = torch.zeros(4, 6, device="meta")
    assert widgets.add_latent_noise(z, 1.0, std=torch.ones(4), seed=0).device.type == "meta"
    assert widgets.add_latent_noise(z, 1.0, channel=2, std=torch.ones(4), seed=0).device.type == "meta"
    assert dashboard.replace_channels(z, [1], torch.ones(4)).device.type == "meta"


def test_predictor_sampling_uses_a_cpu_generator_for_a_model_on_another_device():
    head = FlowHead(width=3, cond_dim=5).to("meta")
    out = head.sample(torch.zeros(2, 5, 7, device="meta"), steps=2, generator=torch.Generator().manual_seed(0))
    assert out.device.type == "meta" and out.shape == (2, 3, 7)
    ar = ARPredictor(3, PredictorConfig(size=8, layers=1)).to("meta")
    z = ar.rollout(torch.zeros(1, 3, 4, device="meta"), 3, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert z.device.type == "meta" and z.shape == (1, 3, 3)


# --- train_or_load hands back CPU models, and puts the caller's modules back on the CPU -------------


class _Aux(torch.nn.Module):
    """A stand-in for a teacher coupling: remembers being sent back to the CPU."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Conv1d(1, 1, 1)
        self.sent_to_cpu = 0

    def key(self) -> str:
        return "aux"

    def cpu(self):
        self.sent_to_cpu += 1
        return super().cpu()


def test_train_or_load_puts_aux_back_on_the_cpu_even_when_training_fails(fake_corpus, tmp_path, monkeypatch):
    def fails(model, bank, cfg, ckpt_dir=None, device="cpu", aux=None, **kw):
        raise KeyboardInterrupt  # Jupyter's stop button, halfway through a GPU run

    monkeypatch.setattr(training, "train", fails)
    aux = _Aux()
    with pytest.raises(KeyboardInterrupt):
        training.train_or_load(tiny_preset(), corpus=fake_corpus, root=tmp_path, progress=False, aux=aux)
    assert aux.sent_to_cpu == 1


def test_a_trained_and_a_loaded_model_are_on_the_cpu_and_the_checkpoint_holds_cpu_tensors(fake_corpus, tmp_path):
    p = replace(tiny_preset(), device="cuda")  # the gpu preset's device: CPU here, as on a laptop
    first = training.train_or_load(p, corpus=fake_corpus, root=tmp_path, progress=False)
    again = training.train_or_load(p, corpus=fake_corpus, root=tmp_path, progress=False)
    for run in (first, again):
        assert {t.device.type for t in run.model.state_dict().values()} == {"cpu"}
    saved = torch.load(f"{first.info['dir']}/model.pt", weights_only=True, map_location="cpu")
    assert {t.device.type for t in saved["model"].values()} == {"cpu"}


def test_a_best_checkpoint_loads_on_the_cpu(tmp_path):
    model = Autoencoder(TINY)
    training.atomic_save({"model": {k: v.cpu() for k, v in model.state_dict().items()}, "step": 4,
                          "score": {"oracle": 1.0, "generation": 2.0}}, tmp_path / "best_generation.pt")
    run = training.TrainedModel(model, {"dir": str(tmp_path)}, [])
    best, score = training.load_best(run)
    assert {t.device.type for t in best.state_dict().values()} == {"cpu"} and score["generation"] == 2.0


# --- the ownership monitor compares encodes made on one device --------------------------------------


def test_the_monitor_encodes_its_reference_again_on_the_training_device(monkeypatch):
    reference = Autoencoder(TINY)
    clips = [torch.zeros(1, 3200)]
    monitor = staging.OwnershipMonitor(clips, reference, every=1)
    assert monitor.reference_for(Autoencoder(TINY)) is monitor.reference  # same device: the one from __init__

    seen = []

    def fake_frame_latents(model, clips):
        seen.append(next(model.parameters()).device.type)
        return np.zeros((4, TINY.width))

    monkeypatch.setattr(staging, "frame_latents", fake_frame_latents)
    on_meta = Autoencoder(TINY).to("meta")  # stands in for the model training on a GPU
    first, second = monitor.reference_for(on_meta), monitor.reference_for(on_meta)
    assert seen == ["meta"] and first is second  # encoded once, on the model's device
    assert next(reference.parameters()).device.type == "cpu"  # the caller's reference did not move


# --- python -m course_lib.train: which device each process takes ------------------------------------


@pytest.mark.parametrize("requested, preset, rank, gpus, expected", [
    ("auto", "smoke", 0, 0, "cpu"),
    ("auto", "smoke", 1, 1, "cpu"),  # notebook 08's two gloo processes, on a one-GPU machine too
    ("auto", "cpu", 0, 4, "cpu"),  # as train_or_load trains the cpu preset
    ("auto", "gpu", 0, 0, "cpu"),  # a laptop
    ("auto", "gpu", 0, 1, "cuda:0"),
    ("auto", "gpu", 3, 8, "cuda:3"),
    ("cuda", "smoke", 1, 2, "cuda:1"),
    ("cpu", "gpu", 0, 8, "cpu"),
])
def test_train_cli_picks_the_presets_device(requested, preset, rank, gpus, expected):
    assert cli.pick_device(requested, presets.get(preset).device, rank, gpus) == expected


@pytest.mark.parametrize("requested, rank, gpus, message", [
    ("cuda", 0, 0, "CUDA is not available"),
    ("auto", 1, 1, "no GPU of its own"),  # torchrun --nproc_per_node=2 --preset gpu on one GPU
    ("cuda", 2, 2, "no GPU of its own"),
])
def test_train_cli_refuses_a_cuda_process_without_a_gpu(requested, rank, gpus, message):
    with pytest.raises(ValueError, match=message):
        cli.pick_device(requested, presets.get("gpu").device, rank, gpus)
