"""Probes: planted signals are found, noise scores chance, chance is computed right, bad input is named."""

import numpy as np
import pandas as pd
import pytest

from course_lib import probes as P


def planted_classes(n=600, d=8, k=4, shift=2.0, seed=0):
    """Features whose mean depends on the class: any working probe beats chance by far."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.standard_normal((n, d)) + shift * np.eye(k, d)[y]
    return X, y


def halves(X, y):
    h = len(y) // 2
    return X[:h], y[:h], X[h:], y[h:]


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_classify_finds_planted_signal(kind):
    r = P.probe_classify(*halves(*planted_classes()), factor="toy", split="random", kind=kind)
    assert r.metric == "accuracy" and r.task == "classify" and r.kind == kind
    assert r.n_classes == 4 and r.n_train == 300 and r.n_test == 300
    assert r.chance < 0.35 and r.score > 0.8 and r.above_chance > 0.7


def test_classify_on_noise_is_at_chance():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2000, 8))
    y = rng.integers(0, 4, 2000)
    r = P.probe_classify(*halves(X, y), factor="toy", split="random")
    assert abs(r.score - r.chance) < 0.06 and abs(r.above_chance) < 0.1


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_regress_finds_planted_signal(kind):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((600, 6))
    y = X @ rng.standard_normal(6) + 0.1 * rng.standard_normal(600) + 40.0  # offset: targets far from unit scale
    r = P.probe_regress(*halves(X, y), factor="toy", split="random", kind=kind)
    assert r.metric == "r2" and r.chance == 0.0 and r.n_classes == 0
    assert r.score > 0.9 and r.above_chance == r.score


def test_regress_on_noise_scores_zero_or_below():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((2000, 8)), rng.standard_normal(2000)
    r = P.probe_regress(*halves(X, y), factor="toy", split="random")
    assert r.score <= 0.05


def test_chance_is_majority_training_class_on_test():
    rng = np.random.default_rng(4)
    X_tr, X_te = rng.standard_normal((10, 3)), rng.standard_normal((5, 3))
    y_tr = np.array(["a"] * 7 + ["b"] * 3)  # majority "a"
    y_te = np.array(["a", "b", "b", "b", "c"])  # "c" never seen in training: must not crash
    r = P.probe_classify(X_tr, y_tr, X_te, y_te, factor="toy", split="s")
    assert r.chance == pytest.approx(0.2)
    assert r.above_chance == pytest.approx((r.score - 0.2) / 0.8)


def test_same_seed_same_score_and_subsampling_is_seeded():
    args = halves(*planted_classes(n=2000, shift=0.7))
    a = P.probe_classify(*args, factor="t", split="s", kind="mlp", seed=3, max_train=300)
    b = P.probe_classify(*args, factor="t", split="s", kind="mlp", seed=3, max_train=300)
    assert a.score == b.score and a.n_train == 300
    lin = [P.probe_classify(*args, factor="t", split="s", seed=s, max_train=200).score for s in (0, 0, 1)]
    assert lin[0] == lin[1]


def test_bad_input_is_named():
    X, y = planted_classes(n=40)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        P.probe_classify(Xn, y, X, y, factor="t", split="s")
    with pytest.raises(ValueError, match="differ in length"):
        P.probe_classify(X, y[:-1], X, y, factor="t", split="s")
    with pytest.raises(ValueError, match="fewer than 2 training classes"):
        P.probe_classify(X, np.zeros(40), X, y, factor="t", split="s")
    with pytest.raises(ValueError, match="empty test set"):
        P.probe_classify(X, y, X[:0], y[:0], factor="t", split="s")
    with pytest.raises(ValueError, match="unknown probe kind"):
        P.probe_classify(X, y, X, y, factor="t", split="s", kind="forest")
    with pytest.raises(ValueError, match="constant"):
        P.probe_regress(X, y.astype(float), X, np.ones(40), factor="t", split="s")


def test_result_to_dict_and_not_probed():
    r = P.ProbeResult("room", "classify", "accuracy", 0.6, 0.5, 10, 5, 2, "s", "linear")
    d = r.to_dict()
    assert d["above_chance"] == pytest.approx(0.2) and d["reason"] == "" and r.probed
    n = P.not_probed("prosody", "no f0")
    assert not n.probed and n.metric == "r2" and np.isnan(n.above_chance)


# ------------------------------------------------------------------------------------------- builders

def labels_two_phones():
    # frame rate 10 Hz: centres at 0.05, 0.15, 0.25, ... ; "pau" [0, 0.2), "aa" [0.2, 0.35), gap, "b" [0.4, 0.5)
    return {"phones": [{"phone": "aa", "start": 0.2, "end": 0.35}, {"phone": "pau", "start": 0.0, "end": 0.2},
                       {"phone": "b", "start": 0.4, "end": 0.5}]}


def test_phone_frames_label_the_frame_centre():
    z = np.arange(2 * 7, dtype=float).reshape(2, 7)  # 7 frames, centres 0.05 .. 0.65 s
    X, y, clip = P.phone_frames([z, z[:, :3]], [labels_two_phones(), labels_two_phones()], frame_rate=10)
    pau, aa, b = P.PHONES.index("pau"), P.PHONES.index("aa"), P.PHONES.index("b")
    # clip 0: frames 0,1 pau; 2 aa (0.25); 3 (0.35) sits on aa's end: gap, dropped; 4 (0.45) b; 5, 6 past the end
    assert y.tolist() == [pau, pau, aa, b, pau, pau, aa]
    assert clip.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert X.shape == (7, 2) and X[3].tolist() == z[:, 4].tolist()
    assert len(P.PHONES) == 41 and len(set(P.PHONES)) == 41


def test_phone_frames_unknown_phone_is_named():
    lab = {"phones": [{"phone": "qx", "start": 0.0, "end": 1.0}]}
    with pytest.raises(ValueError, match="qx"):
        P.phone_frames([np.zeros((2, 5))], [lab], frame_rate=10)
    X, y, _ = P.phone_frames([np.zeros((2, 5))], [lab], frame_rate=10, phone_to_id={"qx": 7})
    assert y.tolist() == [7] * 5


def test_f0_frames_skip_unvoiced_and_take_nearest():
    # f0 at 10 ms; latent at 50 Hz: centres 0.01, 0.03, 0.05, 0.07 s -> f0 frames 1, 3, 5, 7
    hz = [0, 100, 0, 0, 0, 200, 0, 400]
    X, y, clip = P.f0_frames([np.ones((3, 4)), np.ones((3, 2))], [{"f0": {"hop_s": 0.01, "hz": hz}}] * 2,
                             frame_rate=50, relative=False)
    assert y.tolist() == [np.log2(100), 1 + np.log2(100), np.log2(400), np.log2(100)]
    assert clip.tolist() == [0, 0, 0, 1] and X.shape == (4, 3)


def test_f0_frames_relative_is_the_contour_around_each_clips_register():
    hz = [0, 100, 0, 0, 0, 200, 0, 400]
    labels = [{"f0": {"hop_s": 0.01, "hz": hz}}, {"f0": {"hop_s": 0.01, "hz": [2 * h for h in hz]}}]
    _, y, clip = P.f0_frames([np.ones((3, 4)), np.ones((3, 4))], labels, frame_rate=50)
    # an octave up is the same contour
    assert np.allclose(y[clip == 0], [-1, 0, 1]) and np.allclose(y[clip == 1], y[clip == 0])


def test_energy_frames_of_a_sine():
    sr, fr = 16000, 50
    t = np.arange(sr) / sr
    x = 0.5 * np.sin(2 * np.pi * 500 * t)  # 500 Hz: whole periods in every 20 ms frame
    x[: 320] = 0.0  # first frame silent
    X, y, clip = P.energy_frames([np.zeros((2, 60))], [x], frame_rate=fr, sample_rate=sr)
    assert len(y) == 50  # frames past one second of audio are dropped
    assert y[0] == pytest.approx(-100.0)
    np.testing.assert_allclose(y[1:], 20 * np.log10(0.5 / np.sqrt(2)), atol=1e-6)  # -9.03 dB
    stereo = np.stack([x, x])
    _, y2, _ = P.energy_frames([np.zeros((2, 60))], [stereo], frame_rate=fr, sample_rate=sr)
    np.testing.assert_allclose(y2, y)


def test_utterance_stats_mean_then_std():
    z = np.array([[1.0, 3.0], [0.0, 0.0]])
    s = P.utterance_stats([z, 2 * z])
    assert s.shape == (2, 4)
    np.testing.assert_allclose(s[0], [2.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(s[1], [4.0, 0.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="channels"):
        P.utterance_stats([z, np.zeros((3, 2))])


def test_split_groups_never_shares_a_group():
    groups = np.repeat(["a", "b", "c", "d", "e", "f"], 5)
    m = P.split_groups(groups, seed=1)
    assert set(groups[m]).isdisjoint(groups[~m]) and m.any() and (~m).any()
    assert np.array_equal(m, P.split_groups(groups, seed=1))
    given = P.split_groups(groups, test_groups=["b"])
    assert set(groups[given]) == {"b"}
    with pytest.raises(ValueError, match="at least 2 groups"):
        P.split_groups(["a", "a"])


def test_split_within_groups_puts_every_group_on_both_sides():
    groups = np.array(["a"] * 4 + ["b"] * 2 + ["c"])
    m = P.split_within_groups(groups, test_frac=0.3, seed=0)
    assert set(groups[m]) == {"a", "b"} and set(groups[~m]) == {"a", "b", "c"}
    units = np.array(["s1", "s1", "s2", "s2", "s3", "s4", "s5"])  # two copies of a sentence stay together
    m = P.split_within_groups(groups, units=units, seed=0)
    assert m[0] == m[1] and m[2] == m[3] and m[0] != m[2]


# -------------------------------------------------------------------------------------------- factors

def toy_corpus(n_per_speaker=6, frames=40, channels=6, fr=50.0, seed=0, planted=True, per_speaker=False):
    """Speech clips of 4 speakers (2 held out in split=test) whose latents carry the phone id when planted
    (``per_speaker``: each speaker codes the phones its own way)."""
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((len(P.PHONES), channels)) * 2
    latents, rows, labels = [], [], []
    for s in range(4):
        if per_speaker:
            table = rng.standard_normal((len(P.PHONES), channels)) * 2
        for u in range(n_per_speaker):
            ids = rng.choice([P.PHONES.index(p) for p in ("aa", "s", "m", "pau")], size=frames // 5)
            phones = [{"phone": P.PHONES[k], "start": j * 5 / fr, "end": (j + 1) * 5 / fr} for j, k in enumerate(ids)]
            z = rng.standard_normal((channels, frames))
            if planted:
                z += table[np.repeat(ids, 5)].T
            latents.append(z)
            labels.append({"phones": phones, "f0": {"hop_s": 0.01, "hz": [0.0, 120.0] * frames}})
            rows.append(pd.Series({"clip_id": f"c{s}{u}", "split": "test" if s >= 2 else "train", "domain": "speech",
                                   "condition": "clean", "source_id": f"c{s}{u}", "speaker": f"spk{s}"}))
    return latents, rows, labels, fr


def test_probe_factor_content_on_held_out_speakers():
    latents, rows, labels, fr = toy_corpus()
    r = P.probe_factor("content", latents, rows, labels, fr)
    assert r.factor == "content" and "held-out speakers" in r.split
    assert r.n_classes == 4 and r.above_chance > 0.8
    noise = P.probe_factor("content", *toy_corpus(planted=False))
    assert noise.above_chance < 0.15


def test_content_known_sees_a_per_voice_phone_code_that_content_misses():
    latents, rows, labels, fr = toy_corpus(n_per_speaker=10, per_speaker=True)
    known = P.probe_factor("content_known", latents, rows, labels, fr)
    unseen = P.probe_factor("content", latents, rows, labels, fr)
    assert "training voices, new sentences (2 voices)" == known.split
    assert known.n_test > 0 and known.above_chance > 0.8 and unseen.above_chance < 0.3
    # a phone code shared by every voice reads the same either way
    shared = P.probe_factor("content_known", *toy_corpus(n_per_speaker=10))
    assert shared.above_chance > 0.8
    # it never tests on the held-out voices
    X, y, test, _ = P._dataset("content_known", latents, rows, labels, fr, None, 0)
    assert len(X) == sum(len(lab["phones"]) * 5 for r, lab in zip(rows, labels) if r["split"] == "train")


def test_probe_set_probe_is_probe_factor_per_factor():
    import torch

    latents, rows, labels, fr = toy_corpus()
    audio = [torch.from_numpy(np.random.default_rng(i).standard_normal((1, 8000))) * 0.1 for i in range(len(rows))]
    ps = P.ProbeSet(rows, labels, audio)
    got = ps.probe(latents, fr, factors=("content", "speaker", "energy"), seed=3)
    assert list(got) == ["content", "speaker", "energy"]
    for f in ("content", "speaker"):
        assert got[f].to_dict() == P.probe_factor(f, latents, rows, labels, fr, seed=3).to_dict()
    assert got["energy"].to_dict() == P.probe_factor("energy", latents, rows, labels, fr, audio=ps.mono(),
                                                     seed=3).to_dict()
    assert got["content"].above_chance > 0.8


def test_probe_factor_takes_a_dataframe_and_falls_back_to_seeded_speakers():
    latents, rows, labels, fr = toy_corpus()
    df = pd.DataFrame(rows).assign(split="train")  # no test split: hold out speakers by seed
    r = P.probe_factor("content", latents, df, labels, fr)
    assert "seeded" in r.split and r.above_chance > 0.8


def test_probe_factor_errors_name_the_factor():
    latents, rows, labels, fr = toy_corpus(n_per_speaker=2)
    with pytest.raises(ValueError, match="unknown factor 'timbre'.*content"):
        P.probe_factor("timbre", latents, rows, labels, fr)
    with pytest.raises(ValueError, match="room: no rows with condition == 'reverb'"):
        P.probe_factor("room", latents, rows, labels, fr)
    with pytest.raises(ValueError, match="energy: needs the audio"):
        P.probe_factor("energy", latents, rows, labels, fr)
    with pytest.raises(ValueError, match="condition: fewer than 2 training classes"):
        P.probe_factor("condition", latents, rows, labels, fr)
    with pytest.raises(ValueError, match="parallel"):
        P.probe_factor("speaker", latents[:-1], rows, labels, fr)
    with pytest.raises(ValueError, match="prosody: test targets are constant"):  # every voiced frame is 120 Hz
        P.probe_factor("prosody", latents, rows, labels, fr)


def test_probe_factor_stereo_reads_ild_from_stem_gains():
    rng = np.random.default_rng(5)
    latents, rows, labels = [], [], []
    for i in range(40):
        gl, gr = rng.uniform(0.2, 1.0, 2)
        lab = {"instruments": [{"stem_rms": 0.1, "gain_l": gl, "gain_r": gr}]}
        ild = P.ild_db(lab)
        assert ild == pytest.approx(20 * np.log10(gl / gr))
        latents.append(rng.standard_normal((3, 20)) * 0.1 + ild)  # the mean of z is the ILD
        labels.append(lab)
        rows.append({"clip_id": f"m{i}", "domain": "music", "condition": "clean", "source_id": f"m{i}"})
    r = P.probe_factor("stereo", latents, rows, labels, 50.0)
    assert r.metric == "r2" and r.score > 0.9 and r.split.startswith("held-out pieces")


def test_every_factor_on_the_smoke_corpus_returns_or_says_why():
    from course_lib import data

    corpus = data.corpus_dir("smoke")
    if not (corpus / "manifest.csv").exists():
        pytest.skip(f"no smoke corpus at {corpus} (build it with `make corpus`)")
    df = data.read_manifest(corpus).sort_values("clip_id").reset_index(drop=True)
    labels = [data.load_labels(corpus, r) for _, r in df.iterrows()]
    rng = np.random.default_rng(0)
    fr = 50.0
    latents = [rng.standard_normal((4, int(float(r["duration_s"]) * fr))) for _, r in df.iterrows()]
    audio = [rng.standard_normal(int(float(r["duration_s"]) * 16000)) * 0.1 for _, r in df.iterrows()]
    for factor in P.FACTORS:
        try:
            r = P.probe_factor(factor, latents, df, labels, fr, audio=audio)
        except ValueError as e:
            assert str(e).startswith(f"{factor}:")
        else:
            assert r.factor == factor and np.isfinite(r.score) and np.isfinite(r.chance) and r.n_test > 0


def test_probe_set_picks_clean_train_and_test_speech_and_encodes_it(fake_corpus):
    import torch

    from course_lib import presets, training

    ps = P.probe_set(fake_corpus, n_train=3, n_degraded=2)
    splits = [r["split"] for r in ps.rows]
    assert splits.count("train") == 3 and splits.count("test") == 1  # the fake corpus has one test speech clip
    assert all(r["domain"] == "speech" for r in ps.rows) and len(ps.labels) == len(ps.audio) == len(ps.rows)
    model = training.new_model(presets.get("smoke").model, 0)
    zs = ps.latents(model)
    assert len(zs) == len(ps.rows) and zs[0].shape[0] == model.cfg.width
    assert zs[0].shape[1] == -(-ps.audio[0].shape[-1] // model.cfg.samples_per_latent)
    assert all(m.ndim == 1 for m in ps.mono()) and isinstance(ps.audio[0], torch.Tensor)
    with pytest.raises(ValueError, match="no speech"):
        P.probe_set(_no_speech(fake_corpus))


def _no_speech(corpus):
    df = pd.read_csv(corpus / "manifest.csv")
    df[df.domain != "speech"].to_csv(corpus / "manifest.csv", index=False)
    return corpus


def test_content_squeeze_keeps_the_phone_directions_and_fits_on_training_voices_only():
    latents, rows, labels, fr = toy_corpus(channels=3)
    rng = np.random.default_rng(1)
    # bury the 3 phone channels under 9 loud noise channels: a squeeze to 2 must find the phone ones
    feats = [np.concatenate([rng.standard_normal((9, z.shape[1])) * 5, z]) for z in latents]
    squeezed = P.content_squeeze(feats, rows, labels, fr, width=2)
    assert len(squeezed) == len(feats) and all(s.shape == (2, f.shape[1]) for s, f in zip(squeezed, feats))
    kept = P.probe_factor("content", squeezed, rows, labels, fr)
    noise_only = P.probe_factor("content", [f[:2] for f in feats], rows, labels, fr)
    assert kept.above_chance > 0.6 and noise_only.above_chance < 0.15
    # the held-out voices' phones never reach the fit: relabelling them leaves the squeeze unchanged
    shuffled = [dict(lab, phones=[dict(p, phone="pau") for p in lab["phones"]]) if r["split"] == "test" else lab
                for r, lab in zip(rows, labels)]
    again = P.content_squeeze(feats, rows, shuffled, fr, width=2)
    assert all(np.allclose(a, b) for a, b in zip(squeezed, again))


def test_content_squeeze_rejects_a_width_it_cannot_give():
    latents, rows, labels, fr = toy_corpus(channels=6)
    with pytest.raises(ValueError, match="width"):
        P.content_squeeze(latents, rows, labels, fr, width=6)
    with pytest.raises(ValueError, match="cannot define"):  # 4 phones define at most 3 directions
        P.content_squeeze(latents, rows, labels, fr, width=4)
