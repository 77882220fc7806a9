import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# 06 · Stage training by gradient ownership

By now an encoder has four pressures on it. **Reconstruction** wants waveform detail. A **prior**
(KL) wants latents that are cheap to describe. A **semantic teacher** wants content structure. An
**adversarial** critic wants perceptual texture. Put all four into one blended loss and train, and
the sum tells you nothing about which one *owns* the latent: if the result is worse, whose fault is
it?

Many working systems stage the work instead. RAVE learns the representation first, then freezes the
encoder and improves the decoder adversarially. Stable Audio Open fine-tunes its decoder. SAME warms
up before letting the other losses reach the encoder. The schedule this lesson trains:

| phase | what trains | the pressure owns |
|---|---|---|
| 1 | encoder + decoder: reconstruction + a light KL prior | the latent's geometry |
| 2 | + the content teacher of notebook 05 (probes watching) | content structure |
| 3 | **frozen encoder**, decoder polish with a discriminator | waveform texture, without moving the latent |
| 4 | **frozen encoder**, decoder trained on *predicted* latents ẑ | the decoder's tolerance to the generator |
| 5 | a short joint tune, kept only if the latent barely moves | small corrections |

Every few steps the trainer logs **who owns the encoder**: the encoder's gradient from each loss on
its own (its norm) and the cosine between them (negative: one loss undoes the other's step), and
how far the latent has drifted from the phase start (linear CKA on fixed clips). Every boundary also
logs the oracle, the predicted-latent quality and the content/speaker probes of notebook 05.

The comparison: **the blend** (all four losses from step 0) against **the staged schedule**, at
equal total steps.
""")
code('''
preset = "auto"  # "smoke" (CI), "cpu" (a laptop: about 3 min on 2 idle cores, under 1 min re-run) or "gpu"; "auto": gpu if CUDA
seed = 0
''', tags=["parameters"])
md("""
## 1 · Setup

The latent is 50 Hz × 8 with a light KL prior: narrow enough that the teacher and reconstruction
compete for it. The predictor that scores *generation* is notebook 03's probe predictor (phones +
durations + speaker → latents, a fixed budget), scored on new sentences of the training speakers.
The content teacher is notebook 05's (trained here if its checkpoint is missing).
""")
code('''
import time
import numpy as np, pandas as pd, torch
import matplotlib.pyplot as plt
from IPython.display import display
from course_lib import data, presets, predictors, probes, staging, teachers, training, widgets, decode_paths, metrics
from course_lib.claims import check_claim

t_start = time.time()
torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
LOSS_COLORS = {"reconstruction": "tab:blue", "prior": "tab:gray", "teacher": "tab:red", "adversarial": "tab:purple"}
''')
md("""
The lesson's configs, the corpus, notebook 05's content teacher, and the speech task that scores
generation (its probe predictor, `gate`, and the clips the drift monitor encodes, `watch`).
""")
code('''
preset = presets.resolve(preset)
lesson = presets.staging_lesson(preset, seed)
corpus = data.ensure_corpus(lesson.base.corpus)
teacher, tinfo = teachers.content_teacher_or_load(corpus, lesson.teacher, progress=True)
task = predictors.speech_task(corpus, preset, lesson.base.eval_clips)
gate = predictors.ProbeGate(corpus, task.train_rows, task.eval_rows, task.vocab, task.speakers, lesson.replay)
watch = task.refs[:8]  # the fixed clips the drift monitor encodes
pset = probes.probe_set(corpus, n_train={"smoke": 12, "cpu": 150}.get(preset, 400), n_degraded=0, seed=seed)
''')
md("""
Three small helpers the schedules call: the probes of notebook 05 (run once per distinct encoder),
the teacher coupling, and phase 4's replay data.
""")
code('''
@staging.per_encoder  # a frozen phase leaves the latent, hence the probes, unchanged: probe once
def protected_probes(model):
    return {f: r.score for f, r in pset.probe(pset.latents(model), model.cfg.latent_rate, seed=seed).items()}

def alignment():
    """The teacher coupling of notebook 05 (phone posteriors, KL), with a fresh projection head."""
    return teachers.TeacherAlignment(teacher, lesson.coupling, lesson.base.model.width, lesson.base.model.down,
                                     tinfo["key"], seed=seed)

def replay(model):
    """Phase 4's data: the training clips, their E(x), and ẑ from a predictor that never saw them."""
    return staging.replay_bank(model, corpus, task, lesson.replay, lesson.replay_frac)
''')
code('''
print(f"preset {preset} · latent {lesson.base.model.latent_rate:g} Hz × {lesson.base.model.width} · "
      f"{sum(p.steps for p in lesson.staged)} steps both ways · teacher "
      f"{'loaded' if tinfo['loaded'] else 'trained'} ({tinfo['test_accuracy']:.0%} phone accuracy, unseen voices)")
phases = pd.DataFrame([{"phase": p.name, "steps": p.steps, "encoder": "trains" if p.encoder else "frozen",
                        "teacher": "✓" if p.teacher else "", "adversarial": "✓" if p.adversarial else "",
                        "replay ẑ": "✓" if p.replay else "", "owns": p.owns} for p in lesson.staged + lesson.blended])
with pd.option_context("display.max_colwidth", None):
    display(phases.set_index("phase"))
''')
md("""
## 2 · The blend: everything at once

Reconstruction, KL, the teacher and the discriminator all reach the encoder from the first step.
Every 20 steps the monitor splits the encoder's gradient by loss.
""")
code('''
blend = staging.run_schedule(lesson.base, lesson.blended, corpus, watch, alignment=alignment(), gate=gate,
                             probe_fn=protected_probes)[0]
own_blend = staging.ownership_table(blend.run.history)
COUNTED = 0.05  # a pair counts as a conflict only if each of its losses holds ≥ 5% of the gradient
conf = staging.conflict(own_blend, min_share=COUNTED)
display(pd.DataFrame({"mean share of the encoder's gradient": conf["share"]}).round(3))
display(pd.DataFrame({"mean cosine between the two losses' encoder gradients": conf["mean_cos"],
                      f"counted (each loss ≥ {COUNTED:.0%} of the gradient)":
                          {p: p in conf["counted"] for p in conf["mean_cos"]}}
                     ).round(3))
''')
code('''
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
grads = own_blend[[c for c in own_blend.columns if c.startswith("grad/") and c != "grad/total"]]
shares = grads.div(grads.sum(axis=1), axis=0)
axes[0].stackplot(shares.index, shares.T.values, labels=[c[5:] for c in shares.columns], alpha=0.85,
                  colors=[LOSS_COLORS.get(c[5:], "k") for c in shares.columns])
axes[0].set(xlabel="step", ylabel="share of the summed per-loss norms", ylim=(0, 1),
            title="the blend: who owns the encoder's gradient")
axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
for c in [c for c in own_blend.columns if c.startswith("cos/")]:
    axes[1].plot(own_blend.index, own_blend[c], marker=".", label=c[4:])
axes[1].axhline(0, color="k", lw=0.8)
axes[1].set(xlabel="step", ylabel="cosine", title="do the losses pull the same way? (< 0: they fight)")
axes[1].legend(fontsize=7, ncol=2)
plt.tight_layout(); plt.show()
''')
md("""
**C13**: in the blend, the per-loss encoder gradients *conflict*: at least one pair of losses has a
negative mean cosine (one loss's step partly undoes another's), or one loss holds two thirds or more
of the summed per-loss gradient norm (it owns the encoder, whatever its declared job). The criterion
was fixed before anything was measured. A pair counts only if each of its two losses holds at
least 5% of the gradient: the light KL prior's gradient is tiny and its direction mostly noise, so
its negative cosine with another loss would name a conflict that no step of the encoder feels.
""")
code('''
check_claim("06", "C13 per-loss encoder gradients conflict in the blend",
            {"mean_cos": conf["mean_cos"], "share": conf["share"], "counted_share": COUNTED,
             "worst_pair": conf["worst_pair"], "worst_cos": conf["worst_cos"]},
            holds=conf["worst_cos"] < 0 or conf["dominant_share"] >= 2 / 3,
            detail=f"most opposed counted pair {conf['worst_pair']} (mean cosine {conf['worst_cos']:+.3f}); "
                   f"{conf['dominant']} holds {conf['dominant_share']:.0%} of the encoder's gradient",
            preset=preset, seed=seed);
''')
md("""
## 3 · The staged schedule

The same total steps, one pressure per phase. Each phase starts from the previous one's weights
(and is cached, so a re-run loads it). Phase 5 is **gated**: it is kept only if the latent's CKA to
its start stays above 0.95; otherwise the schedule ends on phase 4's weights.
""")
code('''
staged = staging.run_schedule(lesson.base, lesson.staged, corpus, watch, alignment=alignment(), gate=gate,
                              probe_fn=protected_probes, replay=replay)
boundary = pd.DataFrame([{"phase": r.phase.name, **{k: r.boundary.get(k, np.nan) for k in
                          ("drift_cka", "drift_max_abs_change", "drift_latent_rms", "kl_per_frame", "teacher_kl",
                           "oracle", "generation", "gap", "probe_content", "probe_speaker")},
                          "kept": r.kept} for r in staged]).set_index("phase")
boundary.loc[blend.phase.name] = [blend.boundary.get(k, np.nan) for k in boundary.columns[:-1]] + [True]
display(boundary.round(3))
''')
md("""
Read the boundary table column by column: **drift** (CKA to the phase start: 1.0 means the latent's
geometry did not move; max |Δz| = 0 means not one number did), **KL per frame** (the prior's price),
**teacher KL** (the coupling: lower is closer to the teacher), **oracle** D(E(x)) and **generation**
D(ẑ) (log-mel distance, lower is better), and the **probes** of notebook 05 (content: frame phone
accuracy on unseen voices; speaker: voice identity on new sentences).
""")
code('''
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
offset, ticks = 0, []
for r in staged:
    t = staging.ownership_table(r.run.history)
    for c in [c for c in t.columns if c.startswith("grad/") and c != "grad/total"]:
        axes[0].plot(t.index + offset, t[c], color=LOSS_COLORS.get(c[5:], "k"), marker=".",
                     label=c[5:] if c[5:] not in axes[0].get_legend_handles_labels()[1] else None)
    axes[1].plot(t.index + offset, t["drift/cka"], color="k", marker=".")
    ticks.append((offset + r.phase.steps / 2, r.phase.name.split(" ·")[0]))
    offset += r.phase.steps
    for ax in axes:
        ax.axvline(offset, color="0.7", lw=0.8)
axes[0].set(yscale="log", xlabel="step (phase boundaries in grey)", ylabel="encoder gradient norm",
            title="staged: who owns the encoder, phase by phase")
axes[0].legend(fontsize=8)
axes[1].set(xlabel="step", ylabel="CKA to the phase-start latent", title="latent drift inside each phase")
for ax in axes:
    sec = ax.secondary_xaxis("top")
    sec.set_xticks([x for x, _ in ticks], [f"phase {n}" for _, n in ticks], fontsize=8)
plt.tight_layout(); plt.show()
''')
md("""
Phases 3 and 4 have no gradient curve: the encoder is frozen, so no loss owns it, and its drift is
flat at 1.0. That is the point of a frozen phase: the latent a generator was (or will be) trained
on does not move.

## 4 · Frozen-encoder polish (RAVE)

**C14**: phase 3 improves the sound with **zero** latent drift: the oracle's log-mel distance and
its multi-resolution STFT distance both drop, while every latent number stays exactly where it was.

The polish needs enough steps for its critic. The discriminator starts fresh, and its first steps
are close to noise. In an earlier schedule with 50 polish steps (and other phase lengths, so its
numbers do not match this run's), seed 0's mel distance dropped (0.762 → 0.722) but its MR-STFT
distance rose (1.989 → 2.002). With the 100 steps used here, both dropped in all five seeds
(numbers at the end).
""")
code('''
p2, p3, p4, p5 = staged[1], staged[2], staged[3], staged[4]
refs = task.refs
before, after = training.reconstruct(p2.model, refs), training.reconstruct(p3.model, refs)  # D(E(x))
polish = decode_paths.path_table(refs, {"before polish (end of phase 2)": before, "after polish (phase 3)": after},
                                 pesq=False, extra={"mrstft": metrics.mrstft_distance})
display(polish[["mel_dist", "mrstft", "stoi"]].round(4))
mel_gain = polish["mel_dist"].iloc[0] - polish["mel_dist"].iloc[1]
stft_gain = polish["mrstft"].iloc[0] - polish["mrstft"].iloc[1]
check_claim("06", "C14 frozen-encoder polish improves sound with zero latent drift (RAVE)",
            {"mel_gain": mel_gain, "mrstft_gain": stft_gain, "max_abs_change": p3.boundary["drift_max_abs_change"]},
            holds=mel_gain > 0 and stft_gain > 0 and p3.boundary["drift_max_abs_change"] == 0.0,
            detail=f"oracle mel {polish['mel_dist'].iloc[0]:.3f} → {polish['mel_dist'].iloc[1]:.3f}, "
                   f"MR-STFT {polish['mrstft'].iloc[0]:.3f} → {polish['mrstft'].iloc[1]:.3f}, "
                   f"max |Δz| {p3.boundary['drift_max_abs_change']:.1e}",
            preset=preset, seed=seed)
widgets.ab_player({"original": refs[0], "before polish": before[0], "after polish": after[0]},
                  title="the same latent, two decoders")
''')
md("""
## 5 · Predicted-latent replay

Notebook 03 trained the decoder on E(x) plus noise *shaped like* the predictor's errors. Replay
goes one step further: the decoder trains on the predictor's actual outputs ẑ for the training
clips (half of each batch; the other half is E(x), so the oracle is not forgotten). Each ẑ comes
from a predictor that never saw that clip (two folds), so its errors are held-out errors.

Is any gain the replay's, or just 50 more decoder steps? The **control** trains the same phase-3
decoder for the same steps on E(x) only.
""")
code('''
control = staging.run_schedule(lesson.base, [lesson.control], corpus, watch, gate=gate, probe_fn=protected_probes,
                               init=p3.run)[0]
rep = pd.DataFrame({r: {"oracle D(E(x))": b["oracle"], "generation D(ẑ)": b["generation"], "gap": b["gap"]}
                    for r, b in (("end of phase 3", p3.boundary), ("control: +steps on E(x)", control.boundary),
                                 ("phase 4: + replay of ẑ", p4.boundary))}).T
display(rep.round(4))
check_claim("06", "C15 replay calibration improves D(ẑ)",
            {k: dict(v) for k, v in rep.iterrows()},
            holds=p4.boundary["generation"] < p3.boundary["generation"]
                  and p4.boundary["generation"] < control.boundary["generation"],
            detail=f"D(ẑ) mel: phase 3 {p3.boundary['generation']:.4f}, control {control.boundary['generation']:.4f}, "
                   f"replay {p4.boundary['generation']:.4f}",
            preset=preset, seed=seed)
# the probe predictor's ẑ for the held-out sentences (the frozen encoder is the same for all three decoders)
st = predictors.study(p3.model, corpus, task.train_rows, task.eval_rows, task.vocab, task.speakers, lesson.replay,
                      progress=False, cache_dir=p3.run.info["dir"])
with torch.no_grad():
    heard = {name: m.decode(st.z_hat[0][None], st.eval[0].length)[0] for name, m in
             (("D(ẑ), phase 3 decoder", p3.model), ("D(ẑ), control decoder", control.model),
              ("D(ẑ), replay decoder", p4.model))}
widgets.ab_player({"original": refs[0], **heard}, title="the same predicted latent, three decoders")
''')
md("""
## 6 · The gate, and the blend against the schedule

Phase 5 re-opens the encoder for a short joint tune (teacher on, a quarter of the learning rate) and
keeps it only if the latent stays put. Then the last question: at equal total steps, which model is
the better *interface*?
""")
code('''
print(f"phase 5: CKA to its start {p5.boundary['drift_cka']:.4f} (gate: ≥ {1 - lesson.staged[-1].max_drift:.2f}) "
      f"→ {'kept' if p5.kept else 'rejected: the schedule ends on phase 4'}")
final = staged[-1] if staged[-1].kept else p4
versus = pd.DataFrame({"blend": blend.boundary, "staged": final.boundary}).T[
    ["oracle", "generation", "gap", "probe_content", "probe_speaker", "kl_per_frame", "teacher_kl"]]
display(versus.round(4))
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, col, title in zip(axes, ("oracle", "generation", "probe_content"),
                          ("oracle D(E(x)) mel ↓", "generation D(ẑ) mel ↓", "content probe ↑")):
    ax.bar(versus.index, versus[col], color=["tab:gray", "tab:green"])
    for i, v in enumerate(versus[col]):
        ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("frame phone accuracy, unseen voices" if col == "probe_content" else "log-mel distance")
plt.tight_layout(); plt.show()
''')
md("""
**Reading it.** At the same total steps the staged model is the better interface by the two
numbers a generator cares about: its oracle and its `D(ẑ)` are lower than the blend's (in `cpu`,
seed 0: 0.712 against 0.766 and 0.908 against 0.996 mel; the same way round in every seed, table
at the end), and its speaker probe is higher too. The blend keeps more phones (content probe 0.392
against 0.351 in seed 0): its teacher pushed for all 450 steps, the staged one for 140 (phases 2
and 5). The schedule decides *when* each loss may move the latent, and the teacher's pressure is the
price of freezing it early.
""")
code('''
print(f"notebook 06 ran in {(time.time() - t_start) / 60:.1f} min (preset {preset}, seed {seed})")
''')
md("""
## What we measured

`cpu` preset, 2 CPU cores, seeds 0–4, 450 steps both ways (latent 50 Hz × 8, KL 1e-4, 0.5 s crops;
phases of 160, 100, 100, 50 and 40 steps). Log-mel distances on 16 new sentences of the training
speakers (lower is better); probes as in 05.

| seed | C13: teacher's share · most opposed counted pair (each loss ≥ 5%) | C14: oracle mel before → after polish | C15: D(ẑ) phase 3 / control / replay | blend: oracle · D(ẑ) · content · speaker | staged: oracle · D(ẑ) · content · speaker |
|---|---|---|---|---|---|
| 0 | 76% · teacher~adversarial +0.034 | 0.791 → 0.742 (MR-STFT 2.014 → 1.964) | 0.926 / 0.920 / **0.906** | 0.766 · 0.996 · 0.392 · 0.880 | **0.712** · **0.908** · 0.351 · **0.947** |
| 1 | 72% · teacher~adversarial +0.122 | 0.812 → 0.749 (MR-STFT 2.059 → 1.999) | 0.948 / 0.925 / **0.912** | 0.725 · 0.943 · 0.422 · 0.893 | **0.718** · **0.919** · 0.398 · **0.907** |
| 2 | 71% · reconstruction~teacher +0.118 | 0.811 → 0.745 (MR-STFT 2.063 → 1.965) | 0.937 / 0.927 / **0.922** | 0.729 · 0.956 · 0.413 · 0.893 | **0.723** · **0.917** · 0.351 · **0.947** |
| 3 | 74% · teacher~adversarial +0.187 | 0.798 → 0.753 (MR-STFT 2.020 → 1.958) | 0.968 / 0.961 / **0.927** | 0.731 · 0.984 · 0.396 · **0.933** | **0.728** · **0.952** · 0.372 · 0.920 |
| 4 | 74% · teacher~adversarial +0.033 | 0.773 → 0.734 (MR-STFT 2.012 → 1.962) | 0.925 / 0.907 / **0.900** | 0.741 · 0.960 · 0.408 · 0.893 | **0.707** · **0.900** · 0.366 · **0.947** |

C13, C14 and C15 hold in every seed.

- **C13 holds by ownership, not by opposition.** The teacher (phone posteriors, KL, weight 3)
  holds 71–76% of the encoder's gradient in the blend. Every pair of losses that counts (each ≥ 5%
  of the gradient) has a positive mean cosine, +0.03 to +0.19 at its lowest: reconstruction,
  teacher and adversarial gradients point the same way. The blend's problem here is not a tug of
  war: one loss quietly owns the latent.
- **C14:** the 100-step polish lowers the oracle's mel distance by 0.04–0.07 and its MR-STFT
  distance by 0.05–0.10, and no latent number changes (max |Δz| = 0). Part of the gain is simply
  more decoder training (the control of section 5 improves the oracle too); what the frozen encoder
  buys is that the gain costs the generator nothing.
- **C15:** replay beats the equal-steps control in every seed, but by little: 0.005–0.034 mel.
  A clearer margin would need more replay steps, or a predictor whose errors are larger than its
  over-smoothing (the flow head of notebook 03).
- **Blend vs staged** at equal steps: the staged model has the better `D(ẑ)` and oracle in every
  seed and the better speaker probe in four; the blend keeps more phones in every seed (its
  teacher pushed for 450 steps, the staged one for 140). Phase 5's gate kept the joint tune in
  every seed (CKA to its start 0.997–0.999, gate 0.95).

Full lab notes (every run, host and attempt): [benchmarks/NOTES.md](../benchmarks/NOTES.md#06--stage-training-by-gradient-ownership)

## Takeaway

A blended loss is a vote nobody counts. Split the encoder's gradient by loss and you can see who
owns it. Give each pressure a phase and a declared job: shape the latent first, freeze it, then
polish and calibrate the decoder around it. The latent a generator learns does not move, and every
gain can be traced to the phase that made it.
""")

write("notebooks/06_staging.ipynb")
