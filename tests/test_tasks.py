"""Task-shaped encoders (notebook 07): restoration pairs, voice ids, and the two oracles.

The data tests read the smoke corpus (built on first use, ~10 s; instant when it is there).  The
oracle tests use stand-in models whose right answer is known: an identity "codec" must score
perfectly on the neutral oracle and exactly the do-nothing floor on the restoration oracle; a fake
converter that obeys the speaker id must be heard as the target voice, one that ignores it as the
source.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from course_lib import data, metrics, tasks, training
from course_lib.models import Autoencoder, ModelConfig
from course_lib.teachers import PHONE_ID

SR = 16000


@pytest.fixture(scope="module")
def smoke():
    corpus = data.ensure_corpus("smoke")
    return corpus, data.read_manifest(corpus)


# --- restoration data -------------------------------------------------------------------------------


def test_restoration_bank_pairs_each_degraded_clip_with_its_clean_twin(smoke):
    corpus, df = smoke
    clean = data.select(df, split="train", domain="speech", condition="clean")
    bank = tasks.restoration_bank(corpus)
    assert len(bank.clips) == 3 * len(clean)  # one twin per condition
    by_id = df.set_index("clip_id")
    for name, x, y in zip(bank.names, bank.clips, bank.targets):
        row = by_id.loc[name]
        assert row["condition"] in tasks.DEGRADATIONS and row["split"] == "train"
        twin = data.select(df, source_id=row["source_id"], condition="clean").iloc[0]
        assert torch.equal(y, data.load_clip(corpus, twin, 1))  # the target is the clean twin itself
        assert x.shape == y.shape and not torch.equal(x, y)


def test_restoration_batches_crop_input_and_target_at_the_same_offset_and_gain(smoke):
    corpus, _ = smoke
    bank = tasks.restoration_bank(corpus)
    batch = bank.batch(6, 8000, torch.Generator().manual_seed(3))
    # the same draws replayed on the inputs alone and on the targets alone give the batch's two halves
    x = data.ClipBank(bank.clips).sample(6, 8000, torch.Generator().manual_seed(3))
    y = data.ClipBank(bank.targets).sample(6, 8000, torch.Generator().manual_seed(3))
    assert torch.equal(batch.x, x) and torch.equal(batch.target, y)
    assert bank.last is batch  # what the latent bridge reads in the same step


def test_a_missing_or_misaligned_twin_is_refused(smoke):
    _, df = smoke
    clean = data.select(df, split="train", domain="speech", condition="clean")
    victim = clean.iloc[0]["source_id"]
    no_noisy = df[~((df.source_id == victim) & (df.condition == "noisy"))]
    with pytest.raises(data.CorpusError, match="no 'noisy' twin"):
        tasks.restoration_rows(no_noisy, clean)
    assert len(tasks.restoration_rows(no_noisy, clean, conditions=("reverb",))) == len(clean)
    shorter = df.copy()
    shorter.loc[(shorter.source_id == victim) & (shorter.condition == "reverb"), "num_frames"] -= 1
    with pytest.raises(ValueError, match="differ in num_frames"):
        tasks.restoration_rows(shorter, clean)
    with pytest.raises(ValueError, match="must be clean"):
        tasks.restoration_rows(df, data.select(df, split="train", domain="speech", condition="noisy"))
    with pytest.raises(ValueError, match="subset"):
        tasks.restoration_rows(df, clean, conditions=("underwater",))


def test_speaker_bank_gives_every_clip_its_training_voice(smoke):
    corpus, df = smoke
    bank, voices = tasks.speaker_bank(corpus)
    rows = data.select(df, split="train", domain="speech", condition="clean")
    assert len(bank.clips) == len(rows) and len(voices) == len(set(bank.speakers)) >= 2
    for (_, r), sid in zip(rows.iterrows(), bank.speakers):
        assert voices.names[sid] == data.load_labels(corpus, r)["voice"]
    assert bank.batch(4, 3200, torch.Generator().manual_seed(0)).speaker.max() < len(voices)
    test_voice = tasks.voice_of(corpus, data.select(df, split="test", domain="speech").iloc[0])
    with pytest.raises(ValueError, match="not a training voice"):
        voices.id(test_voice)  # held-out voices have no embedding to convert to


# --- oracles with stand-in models ---------------------------------------------------------------------


class Identity:
    """A "codec" that hands its input straight back: the perfect neutral codec, the null restorer."""

    cfg = SimpleNamespace(speakers=0)

    def eval(self):
        return self

    def encode(self, x, sample=None):
        return SimpleNamespace(mean=x)

    def decode(self, z, length=None, speaker=None):
        return z[..., :length]


def test_identity_is_perfect_on_the_neutral_oracle_and_the_floor_on_the_task_oracle(smoke):
    corpus, _ = smoke
    pairs = tasks.restoration_eval(corpus, "test", n=2)
    assert [p.condition for p in pairs[:3]] == list(tasks.DEGRADATIONS)
    assert tasks.neutral_oracle(Identity(), [p.clean for p in pairs]) == pytest.approx(0.0, abs=1e-6)
    floor = tasks.restoration_oracle(None, pairs)
    ident = tasks.restoration_oracle(Identity(), pairs)
    assert np.allclose(ident.values, floor.values) and (floor > 0.05).all()
    noisy = [p for p in pairs if p.condition == "noisy"]
    assert floor["noisy"] == pytest.approx(np.mean([metrics.mel_distance(p.degraded, p.clean) for p in noisy]))
    assert floor["all"] == pytest.approx(np.mean([metrics.mel_distance(p.degraded, p.clean) for p in pairs]))


def test_a_perfect_restorer_scores_zero_on_the_task_oracle(smoke):
    corpus, _ = smoke
    pairs = tasks.restoration_eval(corpus, "test", n=1)
    lookup = {p.degraded.data_ptr(): p.clean for p in pairs}

    class Restorer(Identity):
        def decode(self, z, length=None, speaker=None):
            return lookup[z.data_ptr()][None]

    assert (tasks.restoration_oracle(Restorer(), pairs) < 1e-6).all()


class FakeVoiceModel(Identity):
    """Audio is a constant whose value names the voice (id / 10).  ``obeys``: the decoder speaks the
    id it is given (a speaker-free latent); otherwise it returns the source voice (a leaky latent)."""

    cfg = SimpleNamespace(speakers=4)

    def __init__(self, obeys: bool):
        self.obeys = obeys

    def decode(self, z, length=None, speaker=None):
        assert speaker is not None
        return torch.full_like(z, speaker / 10) if self.obeys else z


class FakeTeacher(nn.Module):
    """Recognises the phones perfectly from the position alone: 'aa' for the first 60 % of frames."""

    def forward(self, x, layer="logits"):
        n = x.shape[-1] // 160
        logits = torch.zeros(1, len(PHONE_ID), n)
        cut = int(0.6 * n)
        logits[0, PHONE_ID["aa"], :cut] = 1
        logits[0, PHONE_ID["b"], cut:] = 1
        return logits


class ConstantVoiceClassifier(tasks.SpeakerClassifier):
    def predict(self, clips):
        return np.array([int(round(float(c.mean()) * 10)) for c in clips])


def test_conversion_oracle_hears_the_target_voice_only_when_the_decoder_obeys():
    sources = [0, 1, 2, 3, 1]
    clips = [torch.full((1, SR), s / 10) for s in sources]
    labels = [{"phones": [{"phone": "aa", "start": 0.0, "end": 0.6}, {"phone": "b", "start": 0.6, "end": 1.0}]}] * 5
    clf = ConstantVoiceClassifier(tasks.Voices(("a", "b", "c", "d")), None, 1.0)
    good = tasks.conversion_oracle(FakeVoiceModel(True), clips, labels, sources, FakeTeacher(), clf)
    assert good.speaker_target == 1.0 and good.speaker_source == 0.0 and good.speaker_own == 1.0
    assert good.content_converted == good.content_original == 1.0 and good.content_chance == pytest.approx(0.6)
    assert good.content_kept == pytest.approx(1.0) and good.speaker_chance == 0.25
    assert [float(c.mean()) * 10 for c in good.converted] == pytest.approx(good.targets)
    leaky = tasks.conversion_oracle(FakeVoiceModel(False), clips, labels, sources, FakeTeacher(), clf)
    assert leaky.speaker_target == 0.0 and leaky.speaker_source == 1.0
    with pytest.raises(ValueError, match="differs from its source"):
        tasks.conversion_oracle(FakeVoiceModel(True), clips, labels, sources, FakeTeacher(), clf, targets=sources)


def test_conversion_targets_are_other_voices_and_cover_every_pair():
    sources = [v for v in range(4) for _ in range(3)]
    targets = tasks.conversion_targets(sources, 4)
    assert all(t != s for s, t in zip(sources, targets))
    assert {(s, t) for s, t in zip(sources, targets)} == {(s, t) for s in range(4) for t in range(4) if s != t}
    with pytest.raises(ValueError, match="two training voices"):
        tasks.conversion_targets([0], 1)


# --- the speaker-conditioned decoder ------------------------------------------------------------------


def tiny(speakers: int = 3, width: int = 2) -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1), width=width, speakers=speakers)).eval()


def test_convert_decodes_the_same_latent_with_the_target_id():
    model = tiny()
    x = 0.1 * torch.randn(1, 3200, generator=torch.Generator().manual_seed(1))
    z = model.encode(x[None], sample=False).mean
    with torch.no_grad():
        want = model.decode(z, 3200, speaker=2)[0]
        other = model.decode(z, 3200, speaker=0)[0]
    assert torch.equal(tasks.convert(model, x, 2), want)
    assert (want - other).abs().max() > 1e-4  # the voice id really reaches the output


def test_bad_speaker_ids_are_refused():
    model, x = tiny(), torch.zeros(1, 3200)
    with pytest.raises(ValueError, match="0..2"):
        tasks.convert(model, x, 3)
    with pytest.raises(ValueError, match="takes no speaker"):
        tasks.convert(tiny(speakers=0), x, 0)
    with pytest.raises(ValueError, match="speaker ids"):
        tasks.neutral_oracle(model, [x, x], speakers=[0])


def test_voice_features_ignore_loudness():
    t = torch.arange(SR) / SR
    x = (0.3 * torch.sin(2 * np.pi * 180 * t) * (1 + torch.sin(2 * np.pi * 3 * t)))[None]
    a, b = tasks.voice_features(x), tasks.voice_features(0.2 * x)
    assert a.shape == (38,) and np.allclose(a, b, atol=1e-3)


# --- the latent bridge and the lesson's models ----------------------------------------------------------


def test_latent_bridge_is_zero_on_the_clean_latent_and_needs_the_pair():
    ref = tiny(speakers=0, width=4)
    clean = 0.1 * torch.randn(2, 1, 3200, generator=torch.Generator().manual_seed(2))
    bank = tasks.RestorationBank([clean[0], clean[1]], targets=[clean[0], clean[1]])
    bridge = tasks.LatentBridge(ref, bank)
    with pytest.raises(RuntimeError, match="RestorationBank"):
        bridge(clean, torch.zeros(2, 4, 10))
    bank.last = data.Batch(clean, target=clean)
    loss, logged = bridge(clean, ref.encode(clean, sample=False).mean)
    assert float(loss) == pytest.approx(0.0, abs=1e-6) and logged["bridge"] == pytest.approx(0.0, abs=1e-6)
    far, _ = bridge(clean, torch.zeros(2, 4, 10))
    assert float(far) > 0.5
    assert not any(p.requires_grad for p in bridge.parameters())  # the reference stays frozen


def test_restoration_encoder_trains_with_the_bridge_on_the_smoke_corpus(smoke, tmp_path):
    corpus, _ = smoke
    lesson = tasks.dual_oracle_lesson("smoke", 0, voices=3)
    p = lesson.restoration["restoration encoder"]
    p = replace(p, train=replace(p.train, steps=2, batch_size=2, checkpoint_every=2))
    ref = training.new_model(p.model, 1)
    bank = tasks.restoration_bank(corpus)
    run = training.train_or_load(p, corpus=corpus, root=tmp_path, progress=False, bank=bank,
                                 aux=tasks.LatentBridge(ref, bank, 1.0, "ref"))
    assert "bridge" in run.history[-1] and np.isfinite(run.history[-1]["bridge"])
    pairs = tasks.restoration_eval(corpus, "test", n=1)
    assert set(tasks.latent_distance_to_clean(run.model, ref, pairs).index) == set(tasks.DEGRADATIONS)


def test_notebook_07_presets_are_well_formed_and_the_gpu_models_take_a_step_on_cpu():
    for name in ("smoke", "cpu", "gpu"):
        lesson = tasks.dual_oracle_lesson(name, seed=2, voices=5)
        (neutral, restore), (wide, narrow) = lesson.restoration.values(), lesson.conversion.values()
        assert neutral == restore  # same network, width and budget: only the data and the bridge differ
        assert replace_width(wide, narrow.model.width) == narrow and narrow.model.width < wide.model.width
        assert wide.model.speakers == narrow.model.speakers == 5 and neutral.model.speakers == 0
        models = [neutral, restore, wide, narrow]
        assert len({p.train.steps for p in models}) == 1 and {p.model.latent_rate for p in models} == {50.0}
        assert {p.train.seed for p in models} == {2}
    smoke_steps = tasks.dual_oracle_lesson("smoke").restoration["neutral codec"].train.steps
    assert smoke_steps <= 10  # smoke must run in seconds
    gpu = tasks.dual_oracle_lesson("gpu", voices=5)
    assert {p.device for p in [*gpu.restoration.values(), *gpu.conversion.values()]} == {"cuda"}
    for p in (gpu.restoration["restoration encoder"], gpu.conversion["narrow bottleneck"]):
        model = training.new_model(p.model, 0)
        x = torch.randn(2, 1, 1600)
        y, _ = model(x, speaker=torch.tensor([0, 4]) if p.model.speakers else None)
        (y - x).abs().mean().backward()
        assert y.shape == x.shape and all(q.grad is not None for q in model.decoder.parameters())


def replace_width(p, width):
    return replace(p, model=replace(p.model, width=width))
