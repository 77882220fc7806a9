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

# Notebook 00's quality bar for the oracle on held-out speakers, (PESQ-wb, STOI), from issue 4;
# smoke trains a few steps only and has none.
ORACLE_BAR = {"cpu": (1.4, 0.87), "gpu": (3.0, 0.90)}


@dataclass(frozen=True)
class TrainConfig:
    """How to train one autoencoder: fixed step count (reproducible), batch and schedule."""

    steps: int = 450
    batch_size: int = 16
    segment_s: float = 1.0
    lr: float = 2e-3
    warmup: int = 100
    min_lr_frac: float = 0.05  # cosine decay floor, as a fraction of lr
    loss: str = "mel"  # see losses.ReconstructionLoss
    l1_weight: float = 1.0
    adv_weight: float = 0.0  # > 0 adds a multi-resolution STFT discriminator (discriminators.Adversarial)
    fm_weight: float = 2.0  # feature matching, used only with the discriminator
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 200
    domain: str = "speech"  # which clips of the corpus's train split to train on
    condition: str = "clean"
    freeze_encoder: bool = False  # train the decoder only (fine-tuning a trained codec's decoder)
    latent_noise_std: tuple[float, ...] = ()  # per-channel std of noise added to z before decoding
    latent_noise_corr: tuple[float, ...] = ()  # per-channel lag-1 correlation of that noise along time
    # Row-major (width x width) factor L of the noise's covariance *across* channels: the noise is L @ (unit
    # AR(1) noise), so its channels move together as a predictor's errors do.  Replaces latent_noise_std.
    latent_noise_mix: tuple[float, ...] = ()
    probe_every: int = 0  # > 0: score a probe predictor every N steps and keep the best checkpoints
    # "bf16": the network's convolutions and matmuls run in bfloat16 (torch.autocast) where the hardware
    # has it; the weights, the optimiser, the bottleneck, the STFTs and the losses stay float32.
    precision: str = "fp32"
    # True: the spectral losses' gradients through ``losses.stft_magnitude``, a hand-written backward
    # (the same gradient up to float rounding, a step about a tenth faster on 2 CPU cores)
    fast_stft_grad: bool = False


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
        # 750 steps and a 0.1 x waveform L1 (issue 4's prototype used 0.1): on 16 held-out clips spread
        # over both held-out voices, seed 0, PESQ-wb / STOI went 1.34 / 0.862 (450 steps, L1 1.0) ->
        # 1.35 / 0.881 (800 steps) -> 1.39 / 0.880 (800, L1 0.1) and 1.39 / 0.877 (750, L1 0.1).  800
        # steps took 226-250 s of training on 2 cores, over the 4-minute bar once; 750 took 208 s.
        # Per voice, old recipe -> this one is mixed: ked up, rms down (00 shows both).
        # "mel+lin" adds a linear-frequency STFT loss at FFT 256/512/1024 (their STFTs shared with the mel
        # term): over all seven voices (48 spread clips, seeds 0-4) PESQ-wb 1.34 -> 1.39 (up in 4 seeds of 5),
        # STOI 0.864 -> 0.872 (up in 5 of 5), held-out speakers level (1.365 -> 1.358); high voices gain most.
        # auraloss' default FFTs (512/1024/2048) lifted PESQ-wb as much but cost STOI (0.858).
        # bfloat16 autocast (where the CPU has it) makes a step ~20 % faster.  Paired over seeds 0-4
        # (benchmarks/bench_seeds.py), held-out PESQ-wb / STOI: float32 750 steps 1.358 / 0.878 (bar met in
        # 1 seed of 5) -> bfloat16 900 steps 1.400 / 0.884 (2 of 5; 175-227 s) -> 1100 steps 1.453 / 0.891
        # (5 of 5; 210-229 s of training on 2 cores, every seed better than at 900).  This machine's speed
        # wanders by ~15 %: at the slowest rate seen (4.0 steps/s) 1100 steps would take 275 s.
        # fast_stft_grad (2026-12-07): the losses' STFT backward by hand, a step ~13 % faster, spent on
        # 1250 steps in the time 1100 took.  Paired over seeds 0-4 on an Intel Xeon: held-out 1.428 /
        # 0.889 (bar met in 4 of 5) -> 1.450 / 0.893 (5 of 5), new sentences 1.534 -> 1.578, all voices up
        # in every seed; 213-279 s of training against 233-253 s.
        p = Preset(name="cpu", corpus="cpu",
                   train=TrainConfig(steps=1250, l1_weight=0.1, loss="mel+lin", precision="bf16",
                                     fast_stft_grad=True))
    else:
        p = Preset(
            name="gpu", corpus="gpu", device="cuda",
            # ~16 M parameters: the same interface (50 Hz x 64), a deeper and wider network, 12x the steps,
            # and a critic: in cpu the invented phase is the larger half of what holds PESQ-wb down
            # (notebook 00, section 8, held-out speakers: the true phase under the decoder's magnitude lifts
            # it 1.46 -> 2.43, the true magnitude under its phase to 2.06), and neither phase nor complex-STFT
            # losses moved it; a critic is what teaches a Vocos-style decoder its phase (in cpu, 700 steps with it took
            # SI-SDR -36 -> -9 dB, too few for PESQ).
            model=ModelConfig(dim=384, enc_blocks=(3, 3), dec_blocks=(3, 6)),
            train=TrainConfig(steps=9000, batch_size=32, lr=1e-3, warmup=500, checkpoint_every=1500,
                              adv_weight=1.0),
            eval_clips=32,
        )
    return replace(p, train=replace(p.train, seed=seed))


def sweep_base(name: str = "auto", seed: int = 0) -> Preset:
    """A smaller, faster autoencoder for lessons that train many of them (01 and 02).

    On 2 CPU cores one trains in about 30 s: enough to rank settings, not to sound good.
    """
    name = resolve(name)
    p = get(name, seed)
    if name == "smoke":
        return replace(p, train=replace(p.train, steps=8, checkpoint_every=8), eval_clips=2)
    if name == "cpu":
        # l1_weight 1.0, the mel loss alone, float32 and autograd's STFT backward: the sweeps' numbers
        # (and cached checkpoints) predate the oracle's 0.1, its linear-STFT term, its bfloat16 steps and
        # its faster backward (which changes float rounding, so every recorded claim would move)
        return replace(p, model=ModelConfig(dim=96, enc_blocks=(1, 1), dec_blocks=(1, 1)),
                       train=replace(p.train, steps=250, batch_size=8, warmup=30, checkpoint_every=250,
                                     l1_weight=1.0, loss="mel", precision="fp32", fast_stft_grad=False))
    # no critic: the sweeps compare settings at equal cost (02 adds one as a row of its own)
    return replace(p, model=ModelConfig(dim=256, enc_blocks=(2, 2), dec_blocks=(2, 2)),
                   train=replace(p.train, steps=3000, batch_size=16, warmup=200, checkpoint_every=1000,
                                 adv_weight=0.0))


# Notebook 01's sweep: equal scalars per second (800/s) on a uniform grid, then the other topologies.
TOPOLOGY_SWEEP = {
    "grid 50 Hz x 16": dict(topology="grid", latent_rate=50.0, width=16),
    "grid 25 Hz x 32": dict(topology="grid", latent_rate=25.0, width=32),
    "grid 12.5 Hz x 64": dict(topology="grid", latent_rate=12.5, width=64),
    "grid 6.25 Hz x 128": dict(topology="grid", latent_rate=6.25, width=128),
    "phone x 64": dict(topology="phone", width=64),
    "chunk 0.32 s x 256": dict(topology="chunk", chunk_s=0.32, width=256),
    "global + 12.5 Hz x 64": dict(topology="global+frame", latent_rate=12.5, width=64),
}


def topology_sweep(name: str = "auto", seed: int = 0) -> dict[str, Preset]:
    """Notebook 01's settings: the sweep base with each interface (rate, width, topology).

    ``cpu`` fits its 6-minute budget two ways: it drops 6.25 Hz x 128, which ranked last on every
    measure in our cpu runs (oracle mel distance 0.84, predicted 1.01, vs 0.65 / 0.80 at 50 Hz x
    16), and it trains each autoencoder 200 steps instead of 250, like notebook 02's rows (the
    notebook took 6.4 min at 250 steps, seed 4, 2 cores).
    """
    name = resolve(name)
    base = sweep_base(name, seed)
    if name == "cpu":
        base = replace(base, train=replace(base.train, steps=200, checkpoint_every=200))
    return {label: replace(base, model=replace(base.model, **kw)) for label, kw in TOPOLOGY_SWEEP.items()
            if not (name == "cpu" and label == "grid 6.25 Hz x 128")}


# Notebook 02's equal-steps loss ablation: (domain, channels, TrainConfig overrides) per row.
LOSS_ABLATION = {
    "speech · waveform L1": ("speech", 1, dict(loss="l1")),
    "speech · MR-STFT": ("speech", 1, dict(loss="mrstft")),
    "speech · MR-STFT + mel": ("speech", 1, dict(loss="mrstft+mel")),
    "speech · MR-STFT + mel + adv/FM": ("speech", 1, dict(loss="mrstft+mel", adv_weight=1.0)),
    "speech · mel + complex STFT": ("speech", 1, dict(loss="mel+complex")),
    "speech · mel + phase": ("speech", 1, dict(loss="mel+phase")),
    "music · waveform L1": ("music", 2, dict(loss="l1")),
    "music · L/R mel": ("music", 2, dict(loss="mel")),
    "music · L/R mel + mid/side": ("music", 2, dict(loss="mel+ms")),
    "music · L/R mel + CQT": ("music", 2, dict(loss="mel+cqt")),
}


def loss_ablation(name: str = "auto", seed: int = 0) -> dict[str, Preset]:
    """Notebook 02's rows: the sweep base, same steps for every row, one loss (or domain) changed.

    Steps are equal within a domain.  ``cpu`` trains each speech row for 200 steps instead of 250,
    and each stereo music row for 600 steps on 0.5 s crops: ten rows (one with a discriminator, four
    in stereo) must fit in 6 minutes on 2 cores.  Why 600 for music: the claim that mid/side keeps the
    stereo image needs an image to keep, and none is learned in 200 steps (ILD correlation 0.02-0.16,
    ILD error within a dB of a mono copy's, seeds 0-4).  Measured with these rows (seeds 0-4), the
    mid/side row's ILD error against the L/R row's: 200 steps 0 of 5 seeds at least 10% lower, 400
    steps 1 of 4 (seeds 1-4), 600 steps 4 of 5 (not seed 1: -0.8%), 800 steps seed 1 too (11%); a
    600-step music row takes 30-60 s here.
    """
    name = resolve(name)
    base = sweep_base(name, seed)
    if name == "cpu":
        base = replace(base, train=replace(base.train, steps=200))
    out = {}
    for label, (domain, channels, kw) in LOSS_ABLATION.items():
        train = replace(base.train, domain=domain, **kw)
        if name == "cpu" and domain == "music":
            train = replace(train, segment_s=0.5, steps=600, checkpoint_every=600)
        out[label] = replace(base, model=replace(base.model, channels=channels), train=train)
    return out


def predictor_budget(name: str = "auto", seed: int = 0):
    """The fixed budget of the downstream predictors (``predictors.PredictorConfig``) per preset."""
    from course_lib.predictors import PredictorConfig

    name = resolve(name)
    if name == "smoke":
        return PredictorConfig(size=16, layers=1, steps=10, batch_size=4, seed=seed)
    if name == "cpu":
        return PredictorConfig(seed=seed)
    return PredictorConfig(size=128, layers=3, steps=2000, batch_size=16, seed=seed)


def breaking_base(name: str = "auto", seed: int = 0) -> Preset:
    """Notebook 03's plain codec (50 Hz x 64, the sweep-sized network), trained with a probe
    predictor scored every ``probe_every`` steps.  Twice the sweep's steps: long enough for the
    oracle to keep improving after generation has stopped (measured in cpu, seed 0: the oracle's best
    step 450 of 500, generation's best step 250)."""
    name = resolve(name)
    base = sweep_base(name, seed)
    model = replace(base.model, latent_rate=50.0, width=64)
    if name == "smoke":
        return replace(base, model=model, train=replace(base.train, steps=8, probe_every=4, checkpoint_every=8))
    steps = 500 if name == "cpu" else 6000
    return replace(base, model=model, train=replace(base.train, steps=steps, probe_every=steps // 10,
                                                     checkpoint_every=steps))


def probe_budget(name: str = "auto", seed: int = 0):
    """The probe predictor that scores an encoder during training (``predictors.ProbeGate``)."""
    from course_lib.predictors import PredictorConfig

    name = resolve(name)
    if name == "smoke":
        return PredictorConfig(size=16, layers=1, steps=5, batch_size=4, seed=seed)
    if name == "cpu":
        return PredictorConfig(steps=150, seed=seed)
    return PredictorConfig(size=128, layers=3, steps=600, batch_size=16, seed=seed)


def decoder_finetune(base: Preset, noise_std: tuple[float, ...] = (), noise_corr: tuple[float, ...] = (),
                     noise_mix: tuple[float, ...] = ()) -> Preset:
    """Fine-tune only the decoder of ``base``'s codec, optionally on E(x) + calibrated noise
    (``noise_std`` per channel, or ``noise_mix``: the factor of its covariance across channels).

    The control (no noise) gets the same steps, so any difference is the noise, not extra training."""
    steps = {"smoke": 4, "cpu": 150}.get(base.name, 1500)
    return replace(base, train=replace(base.train, steps=steps, warmup=min(10, steps), lr=base.train.lr / 2,
                                       freeze_encoder=True, probe_every=0, checkpoint_every=steps,
                                       latent_noise_std=tuple(noise_std), latent_noise_corr=tuple(noise_corr),
                                       latent_noise_mix=tuple(noise_mix)))


# Notebook 04: the rate sweep (target KL, nats per second) and the bottleneck zoo.
# cpu: 150 nats/s (3 nats a frame) is far enough down for the oracle to pay clearly (mel 0.63-0.67
# against 0.51-0.53 unlimited, after 200 + 200 steps, seeds 0-4).  It has no point above 1500: a
# 6000 nats/s codec scored as the plain one (oracle within 0.002 mel, D(ẑ) within 0.004, seeds 0-4;
# the plain codec uses a little more), and 04 is faster without it.
TARGET_KL = {"smoke": (3000.0, 12000.0), "cpu": (150.0, 1500.0),
             "gpu": (150.0, 750.0, 1500.0, 3000.0, 6000.0, 12000.0, 24000.0)}
ZOO = ("sigma", "softnorm", "tanh", "dropout", "noise", "varfloor")
# Left to gpu to keep 04 within 6 cpu minutes (measured 6.7-7.2 min with them).  softnorm and tanh
# were within 0.01 mel of the plain codec on both paths in cpu seed 0: at 200 steps there are no
# outliers for them to remove (outlier rate ~0).  Latent noise too (2026-12-07, when 04 gained its
# text-reading AR generator and ran 6.7 min on a slow hour): within 0.01 of the plain codec in seed
# 0 (oracle -0.004, D(ẑ) +0.003 mel); over seeds 0-4 a gap 0.002-0.016 smaller for 0.005-0.052 of oracle.
CPU_SKIPS = ("varfloor", "softnorm", "tanh", "noise")


def ownership_sweep(name: str = "auto", seed: int = 0) -> tuple[dict[str, Preset], dict[str, Preset]]:
    """Notebook 04's models: (rate sweep, bottleneck zoo), each label -> Preset.

    The rate sweep holds the KL per second at each ``TARGET_KL`` value (bottleneck ``target_kl``)
    and ends with the plain codec (no rate limit); the zoo trains each other bottleneck with its
    default knob.  All share the sweep-sized network at 50 Hz x 64 and one step budget.  04 trains
    the plain codec first and starts every rate point from it (``train_or_load(init=...)``), so each
    point gets the same start and the same further steps and differs only in its rate limit.
    ``cpu`` leaves ``CPU_SKIPS`` to ``gpu`` to fit its 6 minutes.
    """
    name = resolve(name)
    base = sweep_base(name, seed)
    steps = {"smoke": base.train.steps, "cpu": 200}.get(name, 3000)
    base = replace(base, model=replace(base.model, latent_rate=50.0, width=64),
                   train=replace(base.train, steps=steps, checkpoint_every=steps))
    rate = {f"target {t:g} nats/s": replace(base, model=replace(base.model, bottleneck="target_kl", target_kl=t))
            for t in TARGET_KL[name]}
    rate["plain (no limit)"] = base
    zoo = {k: replace(base, model=replace(base.model, bottleneck=k)) for k in ZOO
           if not (name == "cpu" and k in CPU_SKIPS)}
    return rate, zoo


def rate_middle(rate: dict[str, Preset]) -> str:
    """The label of the rate curve's middle point (``ownership_sweep``'s first dict; the upper middle
    when the count is even): the rate 04 also trains from scratch, for its zoo and its target studies."""
    points = list(rate)[:-1]  # the target-KL codecs, low rate first; the plain codec is last
    return points[len(points) // 2]


# Notebook 05: the width of the "narrow" latent every encoder of the lesson starts from.  Four channels
# at 50 Hz cannot carry everything: coupling a teacher into them has to push something out.
NARROW_WIDTH = 4


@dataclass(frozen=True)
class TeacherLesson:
    """Notebook 05's models: the content teacher's budget, the three encoders and two studies.

    ``encoders``, ``layers`` and ``quick`` map a label to (autoencoder preset, ``teachers.Coupling``
    or None).  ``quick`` is the acoustic-only / coupled pair again at a quarter of the steps: the
    steps study, and the layer study's phone-end point (``layers`` share its budget).
    """

    teacher: object  # teachers.TeacherConfig (imported lazily: presets stays light)
    encoders: dict
    layers: dict
    quick: dict


# Notebook 05's encoder budget in cpu (steps, crop seconds, batch): C10's content half needs many
# updates, not more audio.  At 250 steps of 8 one-second crops (01-04's budget) coupling raised the
# content probe on unseen voices by 0.008 and -0.006 in seeds 0 and 4; at 1000 steps of 4 half-second
# crops, the same 2000 s of audio, by 0.023 and 0.026, and an encoder trains in 40-55 s instead of
# about 20 (benchmarks/experiments/c10_coupling.py).  gpu keeps its sweep budget (3000 steps).
TEACHER_STEPS = {"smoke": (8, 1.0, 4), "cpu": (1000, 0.5, 4)}


def teacher_lesson(name: str = "auto", seed: int = 0) -> TeacherLesson:
    """The acoustic-only narrow latent, the same latent coupled to the content teacher's phone
    posteriors (KL distillation) and the two-path latent (the narrow acoustic stream plus a semantic
    stream of the same width that alone carries the coupling), at the lesson's full budget; the
    acoustic-only / coupled pair again at a quarter of the steps (``quick``); and, at that quick
    budget, one narrow latent aligned by cosine (Semantic-VAE's loss) to each end of the teacher: its
    first layer and its phone logits (the quick coupled encoder is the third point of that study:
    phone posteriors, KL).  All share the sweep-sized network at 50 Hz.
    """
    from course_lib.teachers import Coupling, TeacherConfig

    name = resolve(name)
    base = sweep_base(name, seed)
    w = NARROW_WIDTH
    if name == "smoke":
        teacher = TeacherConfig(dim=32, layers=2, n_mels=32, steps=10, batch_size=4, seed=seed)
    elif name == "cpu":
        teacher = TeacherConfig(seed=seed)
    else:
        teacher = TeacherConfig(dim=256, layers=4, steps=3000, batch_size=32, lr=2e-3, seed=seed)
    steps, segment_s, batch = TEACHER_STEPS.get(name, (base.train.steps, base.train.segment_s, base.train.batch_size))
    quick_steps = max(1, steps // 4)

    def narrow(width, n=steps):
        return replace(base, model=replace(base.model, latent_rate=50.0, width=width),
                       train=replace(base.train, steps=n, segment_s=segment_s, batch_size=batch,
                                     checkpoint_every=min(n, base.train.checkpoint_every)))

    kl = Coupling("posteriors", 3.0, loss="kl")
    encoders = {
        "acoustic only": (narrow(w), None),
        "coupled to the teacher": (narrow(w), kl),
        "two-path (acoustic + semantic)": (narrow(2 * w), replace(kl, channels=(w, 2 * w))),
    }
    quick = {f"acoustic only · {quick_steps} steps": (narrow(w, quick_steps), None),
             f"coupled · {quick_steps} steps": (narrow(w, quick_steps), kl)}
    layers = {
        "layer 1 (acoustic end) · cosine": (narrow(w, quick_steps), Coupling("layer1", 5.0)),
        "logits (phone end) · cosine": (narrow(w, quick_steps), Coupling("logits", 5.0)),
    }
    return TeacherLesson(teacher, encoders, layers, quick)


@dataclass(frozen=True)
class StagingLesson:
    """Notebook 06's models: one autoencoder preset (a narrow KL latent), the blended single phase
    and the staged schedule (``staging.Phase`` lists with equal total steps), the teacher budget and
    its coupling, and the replay predictor's budget."""

    base: Preset
    blended: list
    staged: list
    control: object  # phase 4 without the replay: the same steps on E(x)
    teacher: object  # teachers.TeacherConfig
    coupling: object  # teachers.Coupling
    replay: object  # predictors.PredictorConfig
    replay_frac: float = 0.5


def staging_lesson(name: str = "auto", seed: int = 0) -> StagingLesson:
    """The staged schedule of notebook 06 against the blend at equal total steps.

    The latent is 50 Hz x 8 with a light KL prior: narrow enough that the teacher and the
    reconstruction compete for it.  The blend turns every pressure on from step 0; the schedule
    gives each its phase.  Total steps (cpu): 450 both ways.  The ``cpu`` polish (phase 3) gets 100
    steps: a fresh discriminator needs that many to help, and at 50 the polish lowered the oracle's mel
    distance but raised its MR-STFT distance in seed 0 (1.989 -> 2.002); at 100 both distances fell in
    seeds 0-4 (mel by 0.02-0.08, MR-STFT by 0.04-0.09).
    """
    from course_lib.staging import Phase
    from course_lib.teachers import Coupling

    name = resolve(name)
    base = sweep_base(name, seed)
    # 0.5 s crops in cpu: the discriminator of the polish phase and of the blend doubles a step's cost
    base = replace(base, model=replace(base.model, latent_rate=50.0, width=8, bottleneck="kl", kl_weight=1e-4),
                   train=replace(base.train, segment_s=0.5 if name == "cpu" else base.train.segment_s))
    steps = {"smoke": (4, 3, 2, 2, 1), "cpu": (160, 100, 100, 50, 40)}.get(name, (1200, 800, 400, 400, 200))
    p1, p2, p3, p4, p5 = steps
    staged = [
        Phase("1 · reconstruction + prior", p1, "the latent's geometry (what the audio needs) and its scale"),
        Phase("2 · + content teacher", p2, "content structure: phones linearly readable", teacher=True),
        Phase("3 · frozen-encoder polish", p3, "waveform texture, without moving the latent", encoder=False,
              adversarial=True, lr_scale=0.5),
        Phase("4 · predicted-latent replay", p4, "the decoder's tolerance to the generator's errors",
              encoder=False, replay=True, lr_scale=0.5),
        Phase("5 · short joint tune", p5, "small joint corrections, only if the latent stays put",
              teacher=True, lr_scale=0.25, max_drift=0.05),
    ]
    blended = [Phase("blend · everything at once", sum(steps), "everything, all at once", teacher=True,
                     adversarial=True)]
    # phase 4's control: the same decoder-only steps on E(x) alone, so replay is compared with more training
    control = replace(staged[3], name="4 · control: the same steps on E(x)", replay=False,
                      owns="nothing new: more decoder training on the encoder's own latents")
    if name == "smoke":
        from course_lib.teachers import TeacherConfig
        teacher = TeacherConfig(dim=32, layers=2, n_mels=32, steps=10, batch_size=4, seed=seed)
    else:
        teacher = teacher_lesson(name, seed).teacher
    return StagingLesson(base, blended, staged, control, teacher, Coupling("posteriors", 3.0, loss="kl"),
                         probe_budget(name, seed))


@dataclass(frozen=True)
class ReportBudget:
    """What the interface report card (``course_lib.report``, notebook 08) may spend on a folder.

    ``codec``: the encoder/decoder it trains when no checkpoint is given: notebook 03's interface
    (50 Hz x 64, the sweep-sized network) with a light KL so the posterior-sample row means something;
    ``predictor``: the probe predictor's fixed budget; ``max_clips``: clips read from the folder
    (a seeded, spread-out pick); ``eval_clips`` / ``eval_seconds``: the decode-path table's audio;
    ``probe_clips``: clips the ledger's probes see.
    """

    codec: Preset
    predictor: object  # predictors.PredictorConfig
    max_clips: int
    eval_clips: int
    eval_seconds: float
    probe_clips: int
    projector_steps: int
    polish_steps: int  # notebook 08's frozen-encoder decoder polish (step 8)


def report_budget(name: str = "auto", seed: int = 0) -> ReportBudget:
    """The report card's budget per preset: ``cpu`` fits notebook 08's 6 minutes with room to spare."""
    name = resolve(name)
    base = sweep_base(name, seed)
    model = replace(base.model, latent_rate=50.0, width=64, bottleneck="kl", kl_weight=1e-4)
    if name == "smoke":
        codec = replace(base, model=model, train=replace(base.train, steps=12, checkpoint_every=12))
        return ReportBudget(codec, predictor_budget(name, seed), max_clips=24, eval_clips=2, eval_seconds=2.0,
                            probe_clips=12, projector_steps=10, polish_steps=4)
    if name == "cpu":
        codec = replace(base, model=model, train=replace(base.train, steps=400, checkpoint_every=200))
        return ReportBudget(codec, predictor_budget(name, seed), max_clips=300, eval_clips=8, eval_seconds=4.0,
                            probe_clips=150, projector_steps=300, polish_steps=100)
    codec = replace(base, model=model)
    return ReportBudget(codec, predictor_budget(name, seed), max_clips=2000, eval_clips=16, eval_seconds=6.0,
                        probe_clips=400, projector_steps=1000, polish_steps=1000)


def for_notebook(notebook: str, name: str = "auto", seed: int = 0) -> Preset:
    """The configuration a given notebook uses (later notebooks override parts of the base)."""
    if notebook in ("01", "02"):
        return sweep_base(name, seed)
    if notebook == "03":
        return breaking_base(name, seed)
    return get(name, seed)
