"""Every codec notebooks 01-04 and 08 train in the ``gpu`` preset, one step through the real trainer on
this CPU: the ``gpu`` preset is right by construction (shapes, topologies, losses, bottlenecks, the
critic, stereo rows), though no GPU is here to run it.  00's oracle, 05, 06 and 07 have their own
tests (test_training, test_claims_widgets_plots, test_staging, test_tasks)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from course_lib import presets, training


def gpu_codecs() -> dict[str, presets.Preset]:
    """label -> preset for each distinct codec 01-04 and 08 train in ``gpu`` (02's rows as they are)."""
    out = {f"01 · {k}": p for k, p in presets.topology_sweep("gpu").items()}
    out.update({f"02 · {k}": p for k, p in presets.loss_ablation("gpu").items()})
    base = presets.breaking_base("gpu")
    out["03 · plain codec"] = base
    rate, zoo = presets.ownership_sweep("gpu")
    out.update({f"04 · {k}": p for k, p in [*rate.items(), *zoo.items()]})
    out["08 · report card codec"] = presets.report_budget("gpu").codec
    return out


def one_step(p: presets.Preset) -> presets.Preset:
    return replace(p, device="cpu", train=replace(p.train, steps=1, batch_size=2, segment_s=0.64, warmup=1,
                                                  checkpoint_every=1, probe_every=0))


CODECS = gpu_codecs()


def test_the_gpu_codecs_are_the_notebooks_own():
    assert all(p.device == "cuda" for p in CODECS.values())
    assert len(CODECS) == 7 + 10 + 1 + 8 + 6 + 1
    assert {p.model.topology for p in CODECS.values()} == {"grid", "phone", "chunk", "global+frame"}
    assert {p.model.bottleneck for p in CODECS.values()} >= set(presets.ZOO) | {"target_kl", "plain", "kl"}


@pytest.mark.parametrize("label", list(CODECS))
def test_every_gpu_codec_takes_a_training_step_on_cpu(label, fake_corpus, tmp_path):
    run = training.train_or_load(one_step(CODECS[label]), corpus=fake_corpus, root=tmp_path, progress=False)
    last = run.history[-1]
    assert len(run.history) == 1 and all(v == v for v in last.values()), last  # nothing NaN
    assert run.model.cfg == CODECS[label].model  # the gpu network itself, not a smaller stand-in


def test_03s_gpu_decoder_finetunes_take_a_step_from_the_gpu_codec(fake_corpus, tmp_path):
    base = presets.breaking_base("gpu")
    run = training.train_or_load(one_step(base), corpus=fake_corpus, root=tmp_path, progress=False)
    width = base.model.width
    for ft in (presets.decoder_finetune(base, (0.3,) * width, (0.5,) * width),  # calibrated noise
               presets.decoder_finetune(base, noise_mix=(0.1,) * width * width),  # with the errors' covariance
               presets.decoder_finetune(base)):  # the control: the same steps, no noise
        tuned = training.train_or_load(one_step(ft), corpus=fake_corpus, root=tmp_path, progress=False, init=run)
        assert ft.train.freeze_encoder and len(tuned.history) == 1
        for a, b in zip(run.model.encoder.parameters(), tuned.model.encoder.parameters()):
            assert a.equal(b)  # only the decoder moved


@pytest.mark.parametrize("budget", ["predictor", "probe"])
@pytest.mark.parametrize("head", ["regression", "flow"])
def test_the_gpu_predictors_and_probes_train_a_step_on_a_gpu_codecs_latents(budget, head, fake_corpus):
    from course_lib import data
    from course_lib import predictors as P

    cfg = (presets.predictor_budget if budget == "predictor" else presets.probe_budget)("gpu")
    cfg = replace(cfg, steps=3, batch_size=2)
    rows = data.select(data.read_manifest(fake_corpus), domain="speech")
    vocab = P.phone_vocab(fake_corpus, rows)
    model = training.new_model(presets.breaking_base("gpu").model, 0)
    st = P.study(model, fake_corpus, rows.iloc[:4], rows.iloc[4:], vocab, {"spk0": 0, "spk1": 1, "spk2": 2}, cfg,
                 head=head, progress=False, device="cpu")
    assert len(st.history) == 3 and len(st.z_hat) == 2 and st.z_hat[0].shape == st.eval[0].z.shape
    ar, losses = P.train_ar_predictor(st.train, st.stats, cfg, progress=False, device="cpu",
                                      n_phones=len(vocab), n_speakers=3)
    assert len(losses) == 3 and all(v == v for v in losses)
