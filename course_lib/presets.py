"""Named configurations: ``smoke`` (CI: proves every cell runs), ``cpu`` (a laptop: claims hold)
and ``gpu`` (one GPU: claims hold clearly, better sound).  ``auto`` picks gpu when CUDA is there.

A preset is plain data.  A notebook asks for ``for_notebook("00", preset)`` and gets the corpus to
use, the model shape and the training budget; the checkpoint cache keys on exactly these values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch

from course_lib.models import ModelConfig

PRESET_NAMES = ("smoke", "cpu", "gpu")


@dataclass(frozen=True)
class TrainConfig:
    """How to train one autoencoder: fixed step count (reproducible), batch and schedule."""

    steps: int = 450  # about 4 minutes on 2 CPU cores for the default model (measured: benchmarks/)
    batch_size: int = 16
    segment_s: float = 1.0
    lr: float = 2e-3
    warmup: int = 100
    min_lr_frac: float = 0.05  # cosine decay floor, as a fraction of lr
    loss: str = "mel"  # see losses.ReconstructionLoss
    l1_weight: float = 1.0
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 200
    domain: str = "speech"  # which clips of the corpus's train split to train on
    condition: str = "clean"


@dataclass(frozen=True)
class Preset:
    name: str
    corpus: str  # which corpus build (data/corpus/<corpus>)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval_clips: int = 16  # clips per evaluation split
    device: str = "cpu"

    def to_dict(self) -> dict:
        return asdict(self)


def resolve(name: str = "auto") -> str:
    """``auto`` -> ``gpu`` when CUDA is available, else ``cpu``."""
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PRESET_NAMES:
        raise ValueError(f"unknown preset {name!r}; choose one of {PRESET_NAMES} or 'auto'")
    return name


def get(name: str = "auto", seed: int = 0) -> Preset:
    """The base preset: the oracle speech autoencoder of notebook 00."""
    name = resolve(name)
    if name == "smoke":
        p = Preset(
            name="smoke", corpus="smoke",
            model=ModelConfig(dim=64, enc_blocks=(1, 1), dec_blocks=(1, 1)),
            train=TrainConfig(steps=30, batch_size=4, warmup=5, checkpoint_every=10),
            eval_clips=2,
        )
    elif name == "cpu":
        p = Preset(name="cpu", corpus="cpu")
    else:
        p = Preset(
            name="gpu", corpus="gpu", device="cuda",
            # ~16 M parameters: the same interface (50 Hz x 64), a deeper and wider network, 20x the steps
            model=ModelConfig(dim=384, enc_blocks=(3, 3), dec_blocks=(3, 6)),
            train=TrainConfig(steps=9000, batch_size=32, lr=1e-3, warmup=500, checkpoint_every=1500),
            eval_clips=32,
        )
    return replace(p, train=replace(p.train, seed=seed))


def for_notebook(notebook: str, name: str = "auto", seed: int = 0) -> Preset:
    """The configuration a given notebook uses (later notebooks override parts of the base)."""
    return get(name, seed)
