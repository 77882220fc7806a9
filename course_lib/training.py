"""One trainer for every lesson: seeded, with a progress bar, atomic checkpoints, resume, and
*train-or-load* so each notebook runs alone and a re-run is instant.

    preset = presets.for_notebook("00", "cpu")
    run = train_or_load(preset)          # trains the first time, loads afterwards
    run.model, run.info["train_seconds"]

Two lessons of notebook 03 live here too.  ``TrainConfig.latent_noise_std`` trains the decoder on
E(x) + noise of a given per-channel size (calibrated to a predictor's residuals, the decoder learns
to survive the generator's errors), usually with ``freeze_encoder`` and ``train_or_load(init=...)``
to fine-tune a trained codec.  A ``probe`` (``predictors.ProbeGate``) with ``probe_every`` scores
the encoder *as an interface* during training -- oracle, predicted and the gap -- and keeps the
best-oracle and the best-generation checkpoints side by side.

The checkpoint directory is keyed by a hash of the preset (model shape + training budget + seed)
and of the corpus manifest, so changing either retrains, and nothing stale is ever loaded.
Checkpoints are written to a temp file and renamed, so an interrupted run never leaves a corrupt
file; re-running an interrupted training resumes from its last checkpoint.

Scale-out: inside a ``torch.distributed`` process group (``torchrun ... -m course_lib.train``, see
``course_lib/train.py``) ``train`` runs data-parallel with DistributedDataParallel; ``batch_size``
stays the *global* batch, and the run matches one process trained on that same batch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from course_lib import data, metrics
from course_lib.decode_paths import calibrated_noise
from course_lib.discriminators import Adversarial
from course_lib.files import atomic_write
from course_lib.losses import ReconstructionLoss
from course_lib.models import Autoencoder, ModelConfig
from course_lib.presets import Preset, TrainConfig

PRECISIONS = ("fp32", "bf16")  # TrainConfig.precision


def checkpoint_root(env: str | None = None) -> Path:
    """Where checkpoints are cached: ``COURSE_CHECKPOINTS`` (``env``) or ``build/checkpoints``.

    The variable moves the cache: `make bench` times first runs against an empty one without
    touching the learner's checkpoints.  A relative path is taken from the repository root, not from
    the current folder: a notebook's kernel runs in ``notebooks/``, a script wherever it was started,
    and both must find the same cache."""
    path = Path(env) if env else data.REPO_ROOT / "build" / "checkpoints"
    return path if path.is_absolute() else data.REPO_ROOT / path


CHECKPOINT_ROOT = checkpoint_root(os.environ.get("COURSE_CHECKPOINTS"))


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_frac * lr``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac)))


def bf16_supported(device: str = "cpu") -> bool:
    """Whether bfloat16 autocast has kernels here: a CUDA GPU that supports it, or a CPU oneDNN takes
    bfloat16 on (AVX-512 on x86, fast with its BF16 or AMX extensions; BF16 on Arm).  Elsewhere it
    would be emulated, slower than float32, so ``precision_used`` falls back to float32."""
    if str(device).startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:  # a private oneDNN query (no public one exists): a torch without it counts as "no"
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def precision_used(precision: str, device: str = "cpu") -> str:
    """What ``TrainConfig.precision`` trains with on ``device``: ``"bf16"`` only where
    ``bf16_supported(device)``; elsewhere a bfloat16 run falls back to ``"fp32"`` rather than crawl."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    return "bf16" if precision == "bf16" and bf16_supported(device) else "fp32"


def mixed_precision(precision: str, device: str = "cpu"):
    """The autocast context a training step's forward pass runs in (one that does nothing for fp32).

    Why bfloat16 and no loss scaler: it has float32's exponent range, so gradients cannot underflow
    as float16's do.  What stays float32 inside it is decided in ``models`` (the bottleneck and the
    decoder head) and here (the losses run after the context closes).
    """
    on = precision_used(precision, device) == "bf16"
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=on)


def atomic_save(obj, path: str | os.PathLike) -> Path:
    """torch.save to a temp file in the same directory, then rename over ``path``."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


# The joint encoder + decoder step is what the scale-out recipe covers; these parts of the trainer are not
# (yet) wired for several processes, so they stop a torchrun run up front instead of training wrongly.
DDP_UNSUPPORTED = "is not supported with torchrun yet: run that phase in one process"


def data_parallel() -> tuple[int, int]:
    """(rank, world size) of the ``torch.distributed`` group this process trains in; (0, 1) outside one."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def check_data_parallel(cfg: TrainConfig, world: int, probe=None, aux=None, monitor=None) -> None:
    """Raise a clear ValueError for a configuration ``train`` cannot run data-parallel over ``world`` ranks."""
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} is the global batch and must be divisible by the world "
                         f"size {world} (each rank trains on batch_size / world_size examples)")
    unsupported = {
        "freeze_encoder": cfg.freeze_encoder,
        "latent_noise_std": bool(cfg.latent_noise_std),
        "latent_noise_mix": bool(cfg.latent_noise_mix),
        "adv_weight > 0 (a discriminator)": cfg.adv_weight > 0,
        "aux (a teacher loss)": aux is not None,
        "probe with probe_every": probe is not None and bool(cfg.probe_every),
        "monitor": monitor is not None,
    }
    for option, used in unsupported.items():
        if used:
            raise ValueError(f"{option} {DDP_UNSUPPORTED}")


def shard(batch: data.Batch, rank: int, world: int) -> data.Batch:
    """This rank's contiguous slice ``[rank * b, (rank + 1) * b)`` of every tensor of a global batch."""
    n = next(getattr(batch, f.name) for f in fields(batch) if getattr(batch, f.name) is not None).shape[0]
    b = n // world
    return replace(batch, **{f.name: getattr(batch, f.name)[rank * b:(rank + 1) * b]
                             for f in fields(batch) if getattr(batch, f.name) is not None})


def _mean_over_ranks(row: dict, world: int, device, skip=("step", "time_s")) -> None:
    """Replace every logged number of ``row`` by its mean over the ranks (one all_reduce): the
    global batch's loss.  Losses and terms are per-example means over equal shards, so this is
    exactly the one-process value; a nonlinear stat (an RMS) becomes the mean of the per-rank ones."""
    keys = [k for k in row if k not in skip]
    t = torch.tensor([row[k] for k in keys], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)  # SUM: gloo has no AVG
    row.update(zip(keys, (t / world).tolist()))


def train(
    model: Autoencoder,
    bank: data.ClipBank,
    cfg: TrainConfig,
    ckpt_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    progress: bool = True,
    probe=None,
    probe_log: list[dict] | None = None,
    aux: torch.nn.Module | None = None,
    monitor=None,
) -> list[dict]:
    """Train ``model`` on random crops from ``bank`` for ``cfg.steps`` steps; return the history.

    With ``ckpt_dir``, the full state (model, optimiser, sampler RNG, step, history) is saved
    atomically every ``cfg.checkpoint_every`` steps to ``last.pt``, and training resumes from it.
    With ``probe`` and ``cfg.probe_every``, every N steps ``probe.evaluate(model)`` is appended to
    ``probe_log`` (a list the caller passes in) and, with ``ckpt_dir``, the weights with the best
    oracle and the best generation score are saved to ``best_oracle.pt`` / ``best_generation.pt``.
    ``aux`` (e.g. ``teachers.TeacherAlignment``) is an extra loss on the latent: ``aux(x, z)``
    returns (loss, logged terms); its own parameters (a projection head) train alongside.
    ``bank`` is anything with ``batch(batch_size, segment, generator, spans=) -> data.Batch``: a
    ``data.ClipBank`` (restoration pairs and speaker ids included) or a latent replay
    (``staging.ReplayBank``: batches that carry z, for a frozen-encoder decoder phase).
    ``monitor`` (e.g. ``staging.OwnershipMonitor``): every ``monitor.every`` steps it is handed the
    model and each loss term *before* they are summed, and what it returns joins that step's history
    row (who owns the encoder: per-loss gradient norms, drift).

    Inside an initialised ``torch.distributed`` group of more than one process (``torchrun``), it
    trains data-parallel: ``cfg.batch_size`` is the global batch (it must divide by the world
    size), each rank trains its shard of it through DistributedDataParallel, the history logs the
    global batch's loss, and only rank 0 writes checkpoints and shows the bar (every rank resumes
    from ``last.pt``).  The joint encoder + decoder step only: see ``check_data_parallel``.
    """
    rank, world = data_parallel()
    if world > 1:
        check_data_parallel(cfg, world, probe=probe, aux=aux, monitor=monitor)
    if str(device).startswith("cuda"):  # TF32 matmuls/convs: ~free accuracy-wise, much faster on recent GPUs
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True  # crops have one fixed shape, so autotuning pays once
    model.to(device).train()
    autocast = mixed_precision(cfg.precision, device)
    loss_fn = ReconstructionLoss(cfg.loss, model.cfg.sample_rate, cfg.l1_weight,
                                 fast_grad=cfg.fast_stft_grad).to(device)
    if cfg.freeze_encoder:
        model.encoder.requires_grad_(False)
        model.bottleneck.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    if aux is not None:
        aux.to(device).train()
        params += [p for p in aux.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.8, 0.99), weight_decay=1e-2)
    noise_std = None
    if cfg.latent_noise_std:
        if len(cfg.latent_noise_std) != model.cfg.width:
            raise ValueError(f"latent_noise_std has {len(cfg.latent_noise_std)} values for {model.cfg.width} channels")
        noise_std = torch.tensor(cfg.latent_noise_std, dtype=torch.float32)
    noise_corr = torch.tensor(cfg.latent_noise_corr, dtype=torch.float32) if cfg.latent_noise_corr else None
    noise_mix = None
    if cfg.latent_noise_mix:
        w = model.cfg.width
        if noise_std is not None:
            raise ValueError("give latent_noise_std or latent_noise_mix, not both: the mix sets each channel's size")
        if len(cfg.latent_noise_mix) != w * w:
            raise ValueError(f"latent_noise_mix has {len(cfg.latent_noise_mix)} values; a {w}-channel latent needs "
                             f"{w} x {w} = {w * w} (row-major)")
        noise_mix = torch.tensor(cfg.latent_noise_mix, dtype=torch.float32).reshape(w, w)
        noise_std = torch.ones(w)  # unit AR(1) noise, then mixed across channels
    probe_log = probe_log if probe_log is not None else []
    best = {"oracle": math.inf, "generation": math.inf}
    adv = d_opt = None
    if cfg.adv_weight > 0:  # adversarial + feature matching: a critic learns what the losses miss
        adv = Adversarial(model.cfg.channels, adv_weight=cfg.adv_weight, fm_weight=cfg.fm_weight).to(device)
        d_opt = adv.optimizer()
    gen = torch.Generator().manual_seed(cfg.seed)
    segment = int(round(cfg.segment_s * model.cfg.sample_rate / model.cfg.samples_per_latent)) \
        * model.cfg.samples_per_latent
    start, history = 0, []
    last = Path(ckpt_dir) / "last.pt" if ckpt_dir else None
    if last is not None and last.exists():
        state = torch.load(last, weights_only=True, map_location="cpu")  # the RNG state must stay on the CPU
        model.load_state_dict(state["model"])
        if aux is not None:
            aux.load_state_dict(state["aux"])
        opt.load_state_dict(state["opt"])
        if adv is not None:
            adv.load_state_dict(state["adv"])
            d_opt.load_state_dict(state["d_opt"])
        gen.set_state(state["rng"])
        start, history = state["step"], state["history"]
        probe_log[:] = state.get("probe", [])
        for r in probe_log:
            best = {"oracle": min(best["oracle"], r["oracle"]), "generation": min(best["generation"], r["generation"])}
    net = model  # what the joint step calls: the model itself, or its DistributedDataParallel wrapper
    if world > 1:
        # DDP broadcasts rank 0's weights now (every rank also built and resumed them alike) and
        # averages the gradients across ranks in backward.
        dev = torch.device(device)
        ids = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        # every rank seeded the global RNG alike (new_model): give each its own stream for the model's
        # own noise (a KL posterior sample, latent dropout), or every shard would draw the same noise
        if rank:
            torch.manual_seed(cfg.seed + 7919 * rank)
    t0 = time.time() - (history[-1]["time_s"] if history else 0.0)
    bar = tqdm(range(start, cfg.steps), desc="training", disable=not progress or rank != 0, initial=start,
               total=cfg.steps)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        use_spans = getattr(bank, "spans", None) is not None and model.cfg.topology == "phone"
        batch = bank.batch(cfg.batch_size, segment, gen, spans=use_spans, hop=model.cfg.hop)
        if world > 1:
            if batch.z is not None:
                raise ValueError(f"a bank that replays latents {DDP_UNSUPPORTED}")
            # Every rank draws the same *global* batch from the same seeded generator and keeps its own
            # contiguous shard.  The bank is in memory, so drawing the whole batch costs a few copies,
            # and the run equals one process on the same global batch: the losses (mel log-magnitude
            # L1, waveform L1) are per-example means over equal shards, so the mean of the per-rank
            # losses is the global loss, and DDP averages the gradients.  A loader over real data
            # (files, streaming) would give each rank its own examples with a DistributedSampler.
            batch = shard(batch, rank, world)
        spans = batch.spans.to(device) if batch.spans is not None else None
        speaker = batch.speaker.to(device) if batch.speaker is not None else None
        y = batch.audio_target.to(device)  # what the decoder must produce
        parts = {}  # every loss term by name: what each one owns is what the monitor measures
        if batch.z is not None:  # a replayed latent: the encoder is not in this step at all
            if not cfg.freeze_encoder:
                raise ValueError("a bank that replays latents trains the decoder only: set freeze_encoder")
            out = None
            with autocast:
                x_hat = model.decode(batch.z.to(device), y.shape[-1], spans=spans, speaker=speaker)
        else:
            x = batch.x.to(device)
            with autocast:
                if cfg.freeze_encoder or noise_std is not None:
                    with torch.set_grad_enabled(not cfg.freeze_encoder):
                        out = model.encode(x, spans=spans)
                    z = out.z if noise_std is None else out.z + calibrated_noise(
                        tuple(out.z.shape), noise_std, noise_corr, device=out.z.device, mix=noise_mix)
                    x_hat = model.decode(z, x.shape[-1], spans=spans, speaker=speaker)
                else:
                    x_hat, out = net(x, spans=spans, speaker=speaker)
        rec, terms = loss_fn(x_hat, y)
        parts["reconstruction"] = rec
        if out is not None and out.reg.requires_grad:
            parts["prior"] = out.reg
        if aux is not None and out is not None:
            aux_loss, aux_terms = aux(batch.x.to(device), out.z)
            parts["teacher"] = aux_loss
            terms.update(aux_terms)
        if adv is not None:
            terms["disc"] = adv.discriminator_step(y, x_hat, d_opt)
            g_terms = adv.generator_terms(y, x_hat)
            parts["adversarial"] = sum(g_terms.values())
            terms.update({k: float(v.detach()) for k, v in g_terms.items()})
        loss = sum(parts.values())
        if monitor is not None and (step % monitor.every == 0 or step + 1 == cfg.steps):
            terms.update(monitor(model, step, parts))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {float(loss)} at step {step}; lower the learning rate")
        opt.zero_grad(set_to_none=True)
        loss.backward()  # under DDP this also averages the gradients over the ranks: the global batch's
        # gradient, so the clipping below sees the same norm as one process on the global batch would
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        rec_log = {"step": step + 1, "loss": float(loss.detach()), **terms, "time_s": time.time() - t0}
        if out is not None:
            rec_log.update({k: float(v) for k, v in out.stats.items()})
        if world > 1:  # log the global batch's loss, the same on every rank
            _mean_over_ranks(rec_log, world, y.device)
        history.append(rec_log)
        if (step + 1) % 10 == 0:
            bar.set_postfix(loss=f"{rec_log['loss']:.3f}")
        if probe is not None and cfg.probe_every and ((step + 1) % cfg.probe_every == 0 or step + 1 == cfg.steps):
            model.eval()
            r = {"step": step + 1, **probe.evaluate(model)}
            model.train()
            probe_log.append(r)
            for which in ("oracle", "generation"):  # keep the best checkpoint by each score
                if r[which] < best[which]:
                    best[which] = r[which]
                    if ckpt_dir:  # CPU tensors: a room kit carries them to machines without a GPU
                        atomic_save({"model": {k: v.cpu() for k, v in model.state_dict().items()},
                                     "step": step + 1, "score": r}, Path(ckpt_dir) / f"best_{which}.pt")
        if last is not None and rank == 0 and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "rng": gen.get_state(),
                     "step": step + 1, "history": history, "probe": probe_log}
            if adv is not None:
                state.update(adv=adv.state_dict(), d_opt=d_opt.state_dict())
            if aux is not None:
                state["aux"] = aux.state_dict()
            atomic_save(state, last)
    model.eval()
    if aux is not None:
        aux.eval()
    return history


# TrainConfig fields left out of the cache key while they hold these values: fields added after
# checkpoints existed, whose default trains exactly what those checkpoints were trained with.
KEY_DEFAULTS = {"precision": "fp32", "fast_stft_grad": False, "latent_noise_mix": ()}


def cache_key(preset: Preset, corpus_hash: str) -> str:
    """Hash of everything that determines the trained weights."""
    d = preset.to_dict()
    for k, default in KEY_DEFAULTS.items():  # a field added later, at its default, keeps older keys valid
        if d["train"].get(k) == default:
            del d["train"][k]
    blob = json.dumps({"preset": {**d, "name": None, "device": None}, "corpus": corpus_hash},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class TrainedModel:
    model: Autoencoder
    info: dict  # key, preset, corpus_hash, train_seconds, steps_per_s, loaded (bool), dir (checkpoint dir)
    history: list[dict]


def preset_bank(preset: Preset, corpus: str | os.PathLike) -> data.ClipBank:
    """The clips ``preset`` trains on: the corpus's train split of its ``train.domain`` and
    ``train.condition``, with the model's channels (and phone spans for the phone topology)."""
    rows = data.select(data.read_manifest(corpus), split="train", domain=preset.train.domain,
                       condition=preset.train.condition)
    return data.ClipBank.from_manifest(corpus, rows, channels=preset.model.channels,
                                       phones=preset.model.topology == "phone", hop=preset.model.hop)


# Files written last in a checkpoint folder: ``train_or_load`` (and the content teacher) take a folder
# holding one of these as finished, so anything that copies folders moves them last.
FINAL_FILES = ("model.pt", "teacher.pt")


def finished_info(folder: str | os.PathLike) -> dict | None:
    """What a finished checkpoint folder says about its training (None: unfinished or unreadable).

    A codec's folder says it in ``info.json`` beside ``model.pt`` (its config under ``preset``); a
    content teacher's (``teacher-*``) inside ``teacher.pt`` (its config under ``config``)."""
    folder = Path(folder)
    info, model, teacher = folder / "info.json", folder / "model.pt", folder / "teacher.pt"
    try:
        if model.is_file() and info.is_file():
            return json.loads(info.read_text())
        if teacher.is_file():
            return torch.load(teacher, weights_only=True, map_location="cpu")["info"]
    except Exception:  # a damaged file counts as unfinished, not as a reason to stop
        return None
    return None


def trained_on(folder: str | os.PathLike) -> str | None:
    """The corpus hash a finished checkpoint folder was trained on (None: unfinished or unreadable)."""
    info = finished_info(folder)
    return info.get("corpus_hash") if isinstance(info, dict) else None


def trained_seed(folder: str | os.PathLike) -> int | None:
    """The seed a finished checkpoint folder was trained with (None: unfinished, unreadable or unsaid)."""
    info = finished_info(folder)
    if not isinstance(info, dict):
        return None
    config = info.get("preset", {}).get("train") if "preset" in info else info.get("config")
    return config.get("seed") if isinstance(config, dict) else None


def cached_folders(corpus_hash: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Every finished checkpoint folder in the cache (``root``, default ``CHECKPOINT_ROOT``) trained
    on the corpus with ``corpus_hash``: what a notebook on that corpus can load instead of training."""
    root = Path(root or CHECKPOINT_ROOT)
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                  and trained_on(d) == corpus_hash)


def train_or_load(preset: Preset, corpus: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
                  progress: bool = True, init: TrainedModel | None = None, probe=None,
                  aux: torch.nn.Module | None = None, bank=None, monitor=None) -> TrainedModel:
    """Load the checkpoint trained for this preset + corpus, or train it (and save it) first.

    ``init``: start from a trained model's weights (fine-tuning; ``Autoencoder.load_from``: a
    KL-type codec may start from a plain one); its key joins this one's.
    ``probe``: a ``predictors.ProbeGate`` scored every ``preset.train.probe_every`` steps; the
    scores land in ``info["probe"]`` and the best checkpoints in the run's directory
    (``load_best``).
    ``aux``: an extra latent loss with a ``key()`` (``teachers.TeacherAlignment``); its key joins
    this one's, and its trained state (the projection head) is saved in ``model.pt`` and restored into
    ``aux`` on load.
    ``bank``: train on this instead of the preset's clips (restoration pairs, speaker ids, a latent
    replay); ``monitor``: log encoder ownership into the history (see ``train``).  Both have a
    ``key()`` that joins this one's.
    """
    corpus = Path(corpus) if corpus is not None else data.corpus_dir(preset.corpus)
    chash = data.corpus_hash(corpus)
    key = cache_key(preset, chash)
    if (init is not None or (probe is not None and preset.train.probe_every) or aux is not None
            or bank is not None or monitor is not None):
        extra = [key, init.info["key"] if init is not None else "", probe.key() if probe is not None else "",
                 aux.key() if aux is not None else ""]
        extra += [f"bank:{bank.key()}"] if bank is not None else []
        extra += [f"monitor:{monitor.key()}"] if monitor is not None else []
        key = hashlib.sha256("/".join(extra).encode()).hexdigest()[:16]
    ckpt_dir = Path(root or CHECKPOINT_ROOT) / key
    final = ckpt_dir / "model.pt"
    model = new_model(preset.model, preset.train.seed)
    if init is not None:
        model.load_from(init.model.state_dict())  # a KL codec may start from a plain one (see load_from)
    device = preset.device if (preset.device != "cuda" or torch.cuda.is_available()) else "cpu"
    if final.exists():
        state = torch.load(final, weights_only=True, map_location="cpu")
        model.load_state_dict(state["model"])
        if aux is not None:
            aux.load_state_dict(state["aux"])
        info = json.loads((ckpt_dir / "info.json").read_text())
        return TrainedModel(model.eval(), {**info, "loaded": True, "dir": str(ckpt_dir)}, state["history"])
    if bank is None:
        bank = preset_bank(preset, corpus)
    t0 = time.time()
    probe_log: list[dict] = []
    try:
        history = train(model, bank, preset.train, ckpt_dir=ckpt_dir, device=device, progress=progress,
                        probe=probe, probe_log=probe_log, aux=aux, monitor=monitor)
    finally:  # back on the CPU even when training stops (an error, Jupyter's stop button): ``aux`` holds
        # the caller's own modules (a teacher, a reference codec), which the next cells use on the CPU
        model.cpu()
        if aux is not None:
            aux.cpu()
    seconds = history[-1]["time_s"] if history else time.time() - t0
    info = {"key": key, "preset": preset.to_dict(), "corpus_hash": chash, "train_seconds": seconds,
            "steps_per_s": preset.train.steps / max(seconds, 1e-9), "train_clip_seconds": bank.seconds,
            "device": device, "precision": precision_used(preset.train.precision, device),
            "init": init.info["key"] if init is not None else None, "probe": probe_log}
    atomic_save({"model": model.state_dict(), "history": history,
                 **({"aux": aux.state_dict()} if aux is not None else {})}, final)
    atomic_write_text(json.dumps(info, indent=1, default=str), ckpt_dir / "info.json")
    (ckpt_dir / "last.pt").unlink(missing_ok=True)
    return TrainedModel(model.eval(), {**info, "loaded": False, "dir": str(ckpt_dir)}, history)


def relative_cost(preset: Preset) -> float:
    """A rough relative training cost: steps x batch x crop x model width x channels, doubled for a
    critic.  Only for ordering: jobs that run side by side start longest first, so no long job is
    left to run alone at the end."""
    t = preset.train
    return t.steps * t.batch_size * t.segment_s * preset.model.dim * preset.model.channels \
        * (2.0 if t.adv_weight > 0 else 1.0)


def _train_in_worker(job: tuple) -> float:
    """One job of ``train_or_load_parallel`` (preset, corpus, root, threads), in its own process."""
    preset, corpus, root, threads = job
    torch.set_num_threads(threads)
    return train_or_load(preset, corpus, root, progress=False).info["train_seconds"]


def train_or_load_parallel(presets: list[Preset], corpus: str | os.PathLike | None = None,
                           root: str | os.PathLike | None = None, workers: int = 2,
                           progress: bool = True) -> list[TrainedModel]:
    """``train_or_load`` for several plain presets, the untrained ones trained side by side in
    ``workers`` processes that split this process's intra-op threads between them.

    Why: a small model's step does not keep two CPU threads busy (notebook 02's speech rows: 141 ms
    a step on two threads, 168 ms on one, 2 cores), so two rows on one thread each finish sooner
    than one after the other on two.  Stereo rows with their larger FFT work do use both (143 vs
    242 ms): train those with ``train_or_load``.  Float rounding depends on the thread count, so a
    row trained here differs in its last digits from the same row trained on two threads (the
    cache key does not say how it was trained: both are the same experiment).  Only presets without
    ``init`` / probe / aux / bank (``train_or_load``'s defaults); ``workers=1``, a single thread or a
    CUDA device trains in this process.  Jobs start longest first (``relative_cost``).  An error in
    one job, or an interrupt (Jupyter's stop button), stops every worker at once; what they had
    trained is in their ``last.pt`` and resumes on the next call.  Returns the runs in the order of
    ``presets``, all loaded from disk.  From a script, call it under ``if __name__ == "__main__":``
    (each spawned worker imports the script); a notebook needs nothing.
    """
    corpus = Path(corpus) if corpus is not None else data.corpus_dir(presets[0].corpus)
    chash = data.corpus_hash(corpus)
    root = Path(root or CHECKPOINT_ROOT)  # resolved here: a worker re-imports this module, and with it
    # only the CHECKPOINT_ROOT of the environment, not one changed in this process
    todo = [p for p in presets if not (root / cache_key(p, chash) / "model.pt").exists()]
    cuda = any(p.device == "cuda" and torch.cuda.is_available() for p in presets)
    workers = min(workers, torch.get_num_threads())  # one core: two processes would only take turns
    if workers > 1 and len(todo) > 1 and not cuda:
        import multiprocessing

        threads = max(1, torch.get_num_threads() // workers)
        jobs = [(p, str(corpus), str(root), threads)
                for p in sorted(todo, key=relative_cost, reverse=True)]  # longest first
        # spawn, not fork: a forked child inherits the parent's OpenMP pool in whatever state it is in.
        # A multiprocessing Pool, not a ProcessPoolExecutor: leaving its block terminates the workers,
        # where an executor would first wait for every queued job to finish.
        with multiprocessing.get_context("spawn").Pool(min(workers, len(todo))) as pool:
            for _ in tqdm(pool.imap_unordered(_train_in_worker, jobs), total=len(jobs),
                          desc=f"training ({workers} processes)", disable=not progress):
                pass  # a worker's exception is raised here
    return [train_or_load(p, corpus, root, progress=progress) for p in presets]


def load_best(run: TrainedModel, which: str = "generation") -> tuple[Autoencoder, dict]:
    """The checkpoint a probe-gated run kept as best by ``which`` ("oracle" or "generation"),
    and the probe's scores at that step."""
    if which not in ("oracle", "generation"):
        raise ValueError(f"which must be 'oracle' or 'generation', got {which!r}")
    path = Path(run.info["dir"]) / f"best_{which}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path}: this run kept no best checkpoints "
                                f"(train it with a probe and probe_every > 0)")
    state = torch.load(path, weights_only=True, map_location="cpu")
    model = Autoencoder(run.model.cfg)
    model.load_state_dict(state["model"])
    return model.eval(), state["score"]


def gating_summary(probe_log, generation: str = "generation") -> dict:
    """Where a probe-gated run peaked: the best step by the oracle and by ``generation`` (a column of
    the probe log, ``run.info["probe"]`` as a list of dicts or a DataFrame indexed by step; lower is
    better), how much the oracle still gained after generation's best step, and how much worse
    generation is at the oracle's best.  Gating on the oracle costs ``generation_loss_at_best_oracle``."""
    log = probe_log if isinstance(probe_log, pd.DataFrame) else pd.DataFrame(probe_log).set_index("step")
    best_oracle, best_gen = int(log["oracle"].idxmin()), int(log[generation].idxmin())
    return {"best_oracle_step": best_oracle, "best_generation_step": best_gen,
            "oracle_gain_after": float(log.loc[best_gen, "oracle"] - log.loc[best_oracle, "oracle"]),
            "generation_loss_at_best_oracle": float(log.loc[best_oracle, generation] - log.loc[best_gen, generation])}


def new_model(cfg: ModelConfig, seed: int) -> Autoencoder:
    """A freshly initialised autoencoder; the seed fixes the initial weights."""
    torch.manual_seed(seed)
    return Autoencoder(cfg)


@torch.no_grad()
def reconstruct(model: Autoencoder, clips: list[torch.Tensor]) -> list[torch.Tensor]:
    """D(E(x)) for each (channels, samples) clip, using the posterior mean."""
    model.eval()
    return [model.decode(model.encode(x[None], sample=False).mean, x.shape[-1])[0] for x in clips]


# Notebook 00's evaluation sets of clean speech, in the order it reads them: training clips ->
# new sentences of training speakers (overfitting) -> held-out speakers (speaker generalisation).
SPEECH_SETS = {"train": "training clips", "valid": "training speakers, new sentences", "test": "held-out speakers"}


def score_speech_sets(model: Autoencoder, corpus: str | os.PathLike, n: int, sets: dict | None = None):
    """D(E(x)) scored on notebook 00's sets: ``n`` whole clean speech clips spread over each split
    (``data.eval_clips(spread=True)``, so every voice is in every set).

    Returns ``(per_clip, decoded)``.  ``per_clip``: one row per clip with ``split``, ``set`` (its
    label in ``sets``), ``clip``, every column of ``metrics.score_clips``, ``speaker``, ``voice`` (the
    speaker without its pitch/rate variant suffix) and ``f0_hz`` (the median of the label's voiced
    F0 frames).  ``decoded[label]`` = (clips, reconstructions, clip ids, speakers), for players.
    """
    corpus = Path(corpus)
    df = data.read_manifest(corpus)
    frames, decoded = [], {}
    for split, label in (sets or SPEECH_SETS).items():
        rows = data.select(df, domain="speech", condition="clean", split=split)
        if rows.empty:
            continue
        clips, names = data.eval_clips(corpus, rows, n=n, spread=True)
        recon = reconstruct(model, clips)
        chosen = rows.set_index("clip_id").loc[names]
        speakers = chosen["speaker"].astype(str).tolist()
        f0 = []
        for _, r in chosen.reset_index().iterrows():
            voiced = [f for f in data.load_labels(corpus, r).get("f0", {}).get("hz", []) if f > 0]
            f0.append(float(np.median(voiced)) if voiced else float("nan"))
        table = pd.DataFrame(metrics.score_clips(clips, recon))
        table.insert(0, "clip", names)
        table.insert(0, "set", label)
        table.insert(0, "split", split)
        frames.append(table.assign(speaker=speakers, voice=[s.rsplit("-", 1)[0] for s in speakers], f0_hz=f0))
        decoded[label] = (clips, recon, names, speakers)
    return pd.concat(frames, ignore_index=True), decoded
