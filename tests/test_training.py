from dataclasses import replace

import pytest
import torch

from course_lib import data, presets, training
from course_lib.models import ModelConfig


def tiny_preset(steps=6):
    p = presets.get("smoke")
    return replace(p, model=ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1)),
                   train=replace(p.train, steps=steps, batch_size=2, checkpoint_every=3, warmup=2))


def interrupted_then_resumed(p, stop_at, corpus, root):
    """An "interrupted" run: train only to the step-``stop_at`` checkpoint, then resume it through
    train_or_load (which must pick up last.pt and finish the job)."""
    from course_lib import data

    key = training.cache_key(p, data.corpus_hash(corpus))
    bank = data.ClipBank.from_manifest(
        corpus, data.select(data.read_manifest(corpus), split="train", domain="speech"))
    model = training.new_model(p.model, p.train.seed)
    training.train(model, bank, replace(p.train, steps=stop_at), ckpt_dir=root / key, progress=False)
    return training.train_or_load(p, corpus=corpus, root=root, progress=False)


def test_lr_schedule():
    cfg = presets.TrainConfig(steps=100, warmup=10, lr=1.0, min_lr_frac=0.1)
    assert training.lr_at(0, cfg) == 0.1 and training.lr_at(9, cfg) == 1.0
    assert abs(training.lr_at(100, cfg) - 0.1) < 1e-9


def test_train_or_load_trains_then_loads(fake_corpus, tmp_path):
    p = tiny_preset()
    first = training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "ck", progress=False)
    assert not first.info["loaded"] and len(first.history) == 6
    again = training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "ck", progress=False)
    assert again.info["loaded"]
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    assert not list((tmp_path / "ck").rglob("*.tmp"))


def test_same_seed_same_weights(fake_corpus, tmp_path):
    p = tiny_preset(steps=3)
    a = training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "a", progress=False)
    b = training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "b", progress=False)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


def test_resume_after_interruption_matches_uninterrupted(fake_corpus, tmp_path):
    p = tiny_preset(steps=6)
    full = training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "full", progress=False)
    resumed = interrupted_then_resumed(p, 3, fake_corpus, tmp_path / "res")
    assert [round(h["loss"], 5) for h in resumed.history] == [round(h["loss"], 5) for h in full.history]


def test_cache_key_changes_with_config_and_corpus():
    p = presets.get("smoke")
    k = training.cache_key(p, "abc")
    assert k != training.cache_key(p, "abd")
    assert k != training.cache_key(replace(p, train=replace(p.train, seed=1)), "abc")


def test_atomic_save_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "m.pt"
    training.atomic_save({"a": torch.ones(1)}, target)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")

    try:
        training.atomic_save({"a": Boom()}, target)
    except Exception:
        pass
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.ones(1))
    assert not list(tmp_path.glob("*.tmp"))


def test_reconstruct_shapes(fake_corpus, tmp_path):
    run = training.train_or_load(tiny_preset(2), corpus=fake_corpus, root=tmp_path, progress=False)
    out = training.reconstruct(run.model, [torch.randn(1, 5000) * 0.1])
    assert out[0].shape == (1, 5000)


def test_adversarial_training_runs_and_resumes(fake_corpus, tmp_path):
    p = tiny_preset(steps=4)
    p = replace(p, train=replace(p.train, adv_weight=1.0, checkpoint_every=2))
    run = training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "ck", progress=False)
    h = run.history[-1]
    assert {"adv", "fm", "disc"} <= set(h) and all(map(lambda v: v == v, h.values()))  # logged, not NaN
    # resume from the step-2 checkpoint reproduces the same losses (critic state is saved too)
    resumed = interrupted_then_resumed(p, 2, fake_corpus, tmp_path / "res")
    assert [round(x["loss"], 4) for x in resumed.history] == [round(x["loss"], 4) for x in run.history]


def test_phone_topology_trains_on_phone_spans(fake_corpus, tmp_path):
    p = tiny_preset(steps=2)
    p = replace(p, model=replace(p.model, topology="phone", width=8))
    run = training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "ck", progress=False)
    assert len(run.history) == 2 and run.model.cfg.topology == "phone"


def test_cpu_oracle_recipe_does_not_leak_into_the_sweeps():
    # 00's oracle trains longer with a lighter waveform L1 and a linear-STFT term; every cpu sweep (01-08)
    # keeps the recipe its recorded numbers and cached checkpoints were measured with
    oracle, sweep = presets.get("cpu").train, presets.sweep_base("cpu").train
    assert (oracle.steps, oracle.l1_weight, oracle.loss, oracle.precision) == (1250, 0.1, "mel+lin", "bf16")
    assert oracle.fast_stft_grad and not sweep.fast_stft_grad  # the sweeps keep autograd's rounding
    assert not any(p.train.fast_stft_grad for p in presets.topology_sweep("cpu").values())
    assert not any(p.train.fast_stft_grad for p in presets.loss_ablation("cpu").values())
    assert not presets.breaking_base("cpu").train.fast_stft_grad
    assert not presets.report_budget("cpu").codec.train.fast_stft_grad
    assert sweep.l1_weight == 1.0 and sweep.steps == 250 and sweep.lr == oracle.lr and sweep.loss == "mel"
    assert sweep.precision == "fp32" and presets.report_budget("cpu").codec.train.precision == "fp32"
    assert all(p.train.precision == "fp32" for p in presets.topology_sweep("cpu").values())
    assert all(p.train.precision == "fp32" for p in presets.loss_ablation("cpu").values())
    assert presets.breaking_base("cpu").train.precision == "fp32"
    assert presets.breaking_base("cpu").train.l1_weight == 1.0
    assert presets.breaking_base("cpu").train.loss == "mel"
    assert all(p.train.l1_weight == 1.0 for p in presets.topology_sweep("cpu").values())
    assert all(p.train.loss == "mel" for p in presets.topology_sweep("cpu").values())
    assert all("lin" not in p.train.loss for p in presets.loss_ablation("cpu").values())
    assert presets.report_budget("cpu").codec.train.l1_weight == 1.0
    assert presets.report_budget("cpu").codec.train.loss == "mel"
    assert presets.get("smoke").train.loss == presets.get("gpu").train.loss == "mel"
    assert presets.get("smoke").train.precision == presets.get("gpu").train.precision == "fp32"


def test_gpu_oracle_has_a_critic_the_sweeps_do_not_and_it_takes_steps_on_cpu(fake_corpus, tmp_path):
    gpu = presets.get("gpu")
    assert gpu.train.adv_weight > 0 and gpu.device == "cuda"
    assert presets.get("cpu").train.adv_weight == 0  # cpu's 00 oracle: the lesson measures why not
    assert presets.sweep_base("gpu").train.adv_weight == 0  # the sweeps compare settings at equal cost
    assert all(p.train.adv_weight == 0 for label, p in presets.loss_ablation("gpu").items() if "adv" not in label)
    # the gpu oracle as it is (width, depth, critic), two steps of a tiny batch on this CPU
    p = replace(gpu, device="cpu", train=replace(gpu.train, steps=2, batch_size=2, segment_s=0.2,
                                                 checkpoint_every=2, warmup=1))
    run = training.train_or_load(p, corpus=fake_corpus, root=tmp_path, progress=False)
    assert len(run.history) == 2 and {"adv", "fm", "disc"} <= set(run.history[-1])
    assert all(v == v for v in run.history[-1].values())  # nothing NaN


def test_cache_key_leaves_out_later_fields_at_their_default():
    # precision was added after checkpoints existed: at fp32 the key is what it was without the field
    import hashlib
    import json

    p = presets.get("smoke")
    assert p.train.precision == "fp32" and not p.train.fast_stft_grad and p.train.latent_noise_mix == ()
    d = p.to_dict()
    del d["train"]["precision"], d["train"]["fast_stft_grad"], d["train"]["latent_noise_mix"]
    blob = json.dumps({"preset": {**d, "name": None, "device": None}, "corpus": "abc"}, sort_keys=True, default=str)
    assert training.cache_key(p, "abc") == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert training.cache_key(replace(p, train=replace(p.train, precision="bf16")), "abc") != \
        training.cache_key(p, "abc")
    assert training.cache_key(replace(p, train=replace(p.train, fast_stft_grad=True)), "abc") != \
        training.cache_key(p, "abc")
    assert training.cache_key(replace(p, train=replace(p.train, latent_noise_mix=(1.0,))), "abc") != \
        training.cache_key(p, "abc")


def test_fast_stft_grad_trains_like_autograd(fake_corpus, tmp_path):
    """The hand-written STFT backward: the same first loss, the same trajectory to float rounding."""
    p = tiny_preset(steps=3)
    runs = [training.train_or_load(replace(p, train=replace(p.train, fast_stft_grad=fast)), corpus=fake_corpus,
                                   root=tmp_path / str(fast), progress=False) for fast in (False, True)]
    slow, fast = ([h["loss"] for h in r.history] for r in runs)
    assert slow[0] == fast[0]  # the first forward pass is bit for bit the same
    assert all(abs(a - b) <= 1e-4 * abs(a) for a, b in zip(slow, fast))
    assert runs[0].info["key"] != runs[1].info["key"]


def test_mixed_precision_context():
    import pytest

    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        training.mixed_precision("fp16")
    assert training.precision_used("fp32") == "fp32"
    assert training.precision_used("bf16") == ("bf16" if training.bf16_supported("cpu") else "fp32")
    assert training.mixed_precision("bf16")._enabled == training.bf16_supported("cpu")
    assert not training.mixed_precision("fp32")._enabled


def test_bf16_autocast_keeps_the_latent_and_the_waveform_float32():
    model = training.new_model(ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1)), 0)
    x = torch.randn(2, 1, 3200) * 0.1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, out = model(x)
        inner = model.encoder.inp(model.encoder.features(x))
    assert inner.dtype == torch.bfloat16  # the network's convolutions did run in bfloat16
    assert out.z.dtype == torch.float32 and y.dtype == torch.float32
    with torch.no_grad():
        y32, out32 = model(x)
    # the same weights: bfloat16 moves the latent by a few percent of its scale, not more
    assert (out.z - out32.z).abs().max() < 0.05 * out32.z.abs().max()


def test_bf16_training_steps_and_resumes(fake_corpus, tmp_path):
    p = tiny_preset(steps=4)
    p = replace(p, train=replace(p.train, precision="bf16"))
    full = training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "full", progress=False)
    assert len(full.history) == 4 and all(h["loss"] == h["loss"] for h in full.history)
    assert full.info["precision"] == training.precision_used("bf16")
    assert all(v.dtype == torch.float32 for v in full.model.state_dict().values() if v.is_floating_point())
    resumed = interrupted_then_resumed(p, 2, fake_corpus, tmp_path / "res")
    assert [round(h["loss"], 5) for h in resumed.history] == [round(h["loss"], 5) for h in full.history]


def test_bf16_supported_is_false_when_the_private_query_is_missing(monkeypatch):
    class NoQuery:
        def __getattr__(self, name):
            raise AttributeError(name)

    monkeypatch.setattr(torch.ops, "mkldnn", NoQuery())
    assert training.bf16_supported("cpu") is False
    assert training.precision_used("bf16") == "fp32"


def test_score_speech_sets_rows_per_clip_with_voice_and_f0(fake_corpus):
    model = training.new_model(ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1)), 0)
    per_clip, decoded = training.score_speech_sets(model, fake_corpus, n=2)
    # the fake corpus: train has 3 speech clips (2 spread ones kept), valid 1, test 1
    assert per_clip.groupby("split").size().to_dict() == {"train": 2, "valid": 1, "test": 1}
    assert set(per_clip["set"]) == set(training.SPEECH_SETS.values()) == set(decoded)
    assert {"clip", "pesq_wb", "stoi", "mel_dist", "speaker", "voice", "f0_hz"} <= set(per_clip.columns)
    assert per_clip["f0_hz"].isna().all()  # the fake labels carry no F0: NaN, not a crash
    clips, recon, names, speakers = decoded["held-out speakers"]
    assert names == per_clip.loc[per_clip["split"] == "test", "clip"].tolist()
    assert recon[0].shape == clips[0].shape and speakers == ["spk0"]


def test_preset_bank_is_the_train_split_of_the_presets_domain_and_condition(fake_corpus):
    p = presets.get("smoke")
    speech = training.preset_bank(p, fake_corpus)
    df = data.read_manifest(fake_corpus)
    train = data.select(df, split="train", domain="speech", condition="clean")
    assert speech.seconds == pytest.approx(train["duration_s"].astype(float).sum(), rel=1e-3)
    music = training.preset_bank(replace(p, model=replace(p.model, channels=2), train=replace(p.train, domain="music")),
                                 fake_corpus)
    batch = music.batch(2, 1600, torch.Generator().manual_seed(0))
    assert batch.x.shape == (2, 2, 1600)  # stereo, as the preset's model


def test_train_or_load_parallel_trains_each_preset_as_one_thread_in_process_would(fake_corpus, tmp_path, monkeypatch):
    a = tiny_preset(steps=3)
    b = replace(a, train=replace(a.train, seed=1))
    runs = training.train_or_load_parallel([a, b], corpus=fake_corpus, root=tmp_path / "par", workers=2,
                                           progress=False)
    assert [r.info["loaded"] for r in runs] == [True, True]  # trained by the workers, loaded here
    assert runs[0].info["key"] != runs[1].info["key"]
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // 2))  # what each worker had
    try:
        ref = [training.train_or_load(p, corpus=fake_corpus, root=tmp_path / "seq", progress=False) for p in (a, b)]
    finally:
        torch.set_num_threads(threads)
    for run, r in zip(runs, ref):
        assert [h["loss"] for h in run.history] == [h["loss"] for h in r.history]
        for x, y in zip(run.model.state_dict().values(), r.model.state_dict().values()):
            assert torch.equal(x, y)
    # everything cached: a second call starts no process at all
    monkeypatch.setattr(training, "_train_in_worker", None)
    again = training.train_or_load_parallel([a, b], corpus=fake_corpus, root=tmp_path / "par", workers=2,
                                            progress=False)
    assert all(r.info["loaded"] for r in again)


def test_train_or_load_parallel_raises_a_workers_error(fake_corpus, tmp_path):
    a = tiny_preset(steps=2)
    bad = replace(a, train=replace(a.train, loss="no such loss"))
    with pytest.raises(ValueError, match="unknown loss"):
        training.train_or_load_parallel([a, bad], corpus=fake_corpus, root=tmp_path / "ck", workers=2,
                                        progress=False)


def test_train_or_load_parallel_trains_in_process_on_one_thread(fake_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "_train_in_worker", None)  # a pool would fail: it must not start one
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = training.train_or_load_parallel([tiny_preset(steps=2), tiny_preset(steps=3)], corpus=fake_corpus,
                                               root=tmp_path / "ck", workers=2, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert [r.info["loaded"] for r in runs] == [False, False] and [len(r.history) for r in runs] == [2, 3]


def test_train_or_load_parallel_stops_every_worker_when_one_job_fails(fake_corpus, tmp_path):
    import time

    endless = tiny_preset(steps=1_000_000)  # would train for hours: the failure must stop it
    bad = replace(tiny_preset(steps=2), train=replace(tiny_preset().train, steps=2, loss="no such loss"))
    t0 = time.time()
    with pytest.raises(ValueError, match="unknown loss"):
        training.train_or_load_parallel([endless, bad], corpus=fake_corpus, root=tmp_path / "ck", workers=2,
                                        progress=False)
    assert time.time() - t0 < 60


def test_train_or_load_parallel_workers_use_this_processs_checkpoint_root(fake_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "CHECKPOINT_ROOT", tmp_path / "moved")  # not what a worker's import sees
    a = tiny_preset(steps=2)
    b = replace(a, train=replace(a.train, seed=1))
    runs = training.train_or_load_parallel([a, b], corpus=fake_corpus, workers=2, progress=False)
    assert all(r.info["loaded"] for r in runs)  # the workers' checkpoints were found where this process looks
    assert all(str(tmp_path / "moved") in r.info["dir"] for r in runs)


def test_a_relative_checkpoint_folder_is_taken_from_the_repository_root(tmp_path):
    """A notebook's kernel runs in notebooks/, a script anywhere: the same variable, the same cache."""
    from course_lib import data

    assert training.checkpoint_root(None) == data.REPO_ROOT / "build" / "checkpoints"
    assert training.checkpoint_root("build/ck") == data.REPO_ROOT / "build" / "ck"
    assert training.checkpoint_root(str(tmp_path)) == tmp_path


def test_gating_summary_finds_both_best_steps_and_what_the_oracle_gained_after():
    import pandas as pd

    log = [{"step": 50, "oracle": 1.0, "generation": 1.1}, {"step": 100, "oracle": 0.7, "generation": 0.80},
           {"step": 150, "oracle": 0.6, "generation": 0.85}, {"step": 200, "oracle": 0.55, "generation": 0.9}]
    g = training.gating_summary(log)
    assert (g["best_oracle_step"], g["best_generation_step"]) == (200, 100)
    assert g["oracle_gain_after"] == pytest.approx(0.15) and g["generation_loss_at_best_oracle"] == pytest.approx(0.1)
    framed = pd.DataFrame(log).set_index("step").assign(flow=[1.2, 1.0, 0.95, 0.99])
    f = training.gating_summary(framed, "flow")  # another probe's column, a DataFrame log
    assert f["best_generation_step"] == 150 and f["oracle_gain_after"] == pytest.approx(0.05)


def test_cached_folders_are_the_finished_ones_of_this_corpus(tmp_path):
    root = tmp_path / "ck"
    for name, files in {"mine": {"model.pt": b"w", "info.json": '{"corpus_hash": "aaaa"}'},
                        "other": {"model.pt": b"w", "info.json": '{"corpus_hash": "bbbb"}'},
                        "unfinished": {"last.pt": b"half", "info.json": '{"corpus_hash": "aaaa"}'},
                        "broken": {"model.pt": b"w", "info.json": "{not json"},
                        ".kit-staging": {"model.pt": b"w", "info.json": '{"corpus_hash": "aaaa"}'}}.items():
        (root / name).mkdir(parents=True)
        for f, content in files.items():
            (root / name / f).write_bytes(content if isinstance(content, bytes) else content.encode())
    (root / "teacher-x").mkdir()
    torch.save({"model": {}, "info": {"corpus_hash": "aaaa"}}, root / "teacher-x" / "teacher.pt")
    assert [p.name for p in training.cached_folders("aaaa", root)] == ["mine", "teacher-x"]
    assert training.cached_folders("aaaa", tmp_path / "absent") == []
