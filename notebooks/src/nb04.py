import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# 04 · Regularisation is error ownership

Notebook 03 showed that a generator's errors cost the decoder far more than the oracle suggests.
Someone has to absorb those errors. Every bottleneck answers *who*:

- a **KL** term makes the latent cheap to describe (a low rate) and teaches the decoder the
  neighbourhood of each latent; **target-KL** holds that rate at a chosen number of nats per second;
- a **σ-VAE** fixes the size of the error the decoder must tolerate;
- **tanh** and **soft normalisation** remove outliers a generator would rarely reach;
- **latent dropout** spreads information so no single channel is critical;
- **latent noise** makes the decoder tolerant of small errors on every channel.

None of them is free: each trades reconstruction for something the generator needs. This lesson
measures the trade three ways, with the tools of notebook 03 (the same predictor and decode paths):

1. **the rate–distortion curve** — oracle and predicted quality along a target-KL sweep. Target-KL
   audio VAEs report that the two pull apart (claim **C7a**) and the best downstream point is in the
   middle (**C7**);
2. **mean vs sampled targets** — should the predictor learn the posterior mean or samples of it?
   SALAD found that sampled targets help its latent diffusion model, a generator that samples and
   reads its own samples back (**C8**);
3. **the dashboard** — where the debt sits. An average KL or an average error can hide one channel
   or one kind of sound that carries most of it (**C9**).
""")
code('''
preset = "auto"  # "smoke" (CI), "cpu" (a laptop: about 5 min on 2 idle cores, under 1 min re-run) or "gpu"; "auto": gpu if CUDA
seed = 0
''', tags=["parameters"])
md("""
## 1 · Setup

Speech, the same predictor as notebooks 01 and 03 (phones + durations + speaker → latents, a fixed
budget), scored on new sentences of the training speakers.
""")
code('''
import time
from dataclasses import replace
import numpy as np, pandas as pd, torch
import matplotlib.pyplot as plt
from IPython.display import display
from tqdm.auto import tqdm
from course_lib import data, metrics, presets, training, predictors, decode_paths, dashboard, plots, widgets
from course_lib.bottlenecks import OWNS
from course_lib.claims import check_claim

t_start = time.time()
torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
preset = presets.resolve(preset)
rate_sweep, zoo = presets.ownership_sweep(preset, seed)
budget = presets.predictor_budget(preset, seed)
base = next(iter(rate_sweep.values()))

corpus = data.ensure_corpus(base.corpus)
task = predictors.speech_task(corpus, preset, min(base.eval_clips, 12))  # the same task as 01 and 03
train_rows, eval_rows, vocab, speakers, refs = task.train_rows, task.eval_rows, task.vocab, task.speakers, task.refs
print(f"preset {preset} · {len(rate_sweep)} rate points (the plain codec's "
      f"{list(rate_sweep.values())[-1].train.steps} steps, then {base.train.steps} more each) + {len(zoo)} bottlenecks "
      f"({next(iter(zoo.values()), base).train.steps} steps each, from scratch) · scored on {len(refs)} new sentences")
''')
code('''
def measure(p, **kw):
    """One point of the sweep: train (or load) the codec ``p``, train the fixed predictor on its latents,
    score D(E(x)) and D(ẑ) (``kw``: head, targets, init).  Only the codec changes from point to point."""
    return predictors.sweep_point(p, corpus, task, budget, seed=seed, **kw)
''')
md("""
## 2 · The rate–distortion curve

Each point is a codec trained with the `target_kl` bottleneck: a controller adjusts the KL weight
during training so the latent carries about the target number of nats per second (1 nat ≈ 1.44
bits). The last point has no rate limit at all (the plain codec). Two choices make the sweep a fair
experiment at this scale:

- **every point starts from the same trained plain codec** and trains the same number of steps
  again, under its own rate limit (the plain point without one). Trained from scratch for 200
  steps, a KL codec is still paying for the noise of its posterior samples, and its oracle is far
  behind (mel 0.79 vs 0.66 in seed 0: section 3's table): the sweep then measures training speed,
  not rate.
  `Autoencoder.load_from` starts a KL codec from a plain one (its posterior starts narrow);
- **predicted quality comes from the flow-matching head**, a generator that *samples* its latents,
  like the diffusion model Target-KL put downstream. A regression head outputs the average latent;
  its error is over-smoothing, which a rate limit does not change (see "What we measured").
""")
code('''
plain_label = "plain (no limit)"
base = training.train_or_load(rate_sweep[plain_label], progress=False)  # where every rate point starts
points = predictors.rate_sweep(rate_sweep, corpus, task, budget, head="flow", seed=seed)
runs = {label: pt.run for label, pt in points.items()}
studies = {label: pt.study for label, pt in points.items()}
rate_rows = {label: pt.row for label, pt in points.items()}
rate = pd.DataFrame.from_dict(rate_rows, orient="index")
print(f"each point: the plain codec's {base.info['preset']['train']['steps']} steps, then "
      f"{rate_sweep[plain_label].train.steps} more under its rate limit · D(ẑ) from the flow head")
display(rate.round(3))
''')
code('''
x = np.arange(len(rate))
fig, axes = plt.subplots(1, 2, figsize=(13, 3.6))
for ax, metric, better in [(axes[0], "mel", "lower"), (axes[1], "STOI", "higher")]:
    ax.plot(x, rate[f"oracle {metric}"], "o-", color="tab:green", label="oracle D(E(x))")
    ax.plot(x, rate[f"D(ẑ) {metric}"], "o-", color="tab:red", label="predicted D(ẑ)")
    ax.set_xticks(x, [f"{v:,.0f}" if np.isfinite(v) else "∞ (plain)" for v in rate["KL nats/s"]])
    ax.set(xlabel="measured KL (nats per second)", ylabel=f"{metric} ({better} is better)",
           title=f"rate–distortion · {metric}")
    ax.legend()
fig.tight_layout()
plt.show()
''')
md("""
**Listen along the curve.** The dial walks the sweep for one held-out sentence: at each point the
codec's reconstruction `D(E(x))` and the decoded draw of the flow head `D(ẑ)`, beside each path's STOI
(the ring marks what is playing). Walk it up on one path, then on the other. The same dial is the
projector app of `make workshop` (`workshops/04_rate_app.ipynb`).
""")
code('''
i = 0
clips, stoi = predictors.dial_inputs(points, i, "STOI")  # one sentence, both paths, every point
widgets.sweep_dial(clips, stoi, title=f"“{eval_rows.iloc[i]['text']}”, lowest rate first",
                   ylabel="STOI (higher is better)")
''')
md("""
**C7a** (Target-KL): the rate that reconstructs best is not the rate a sampler predicts best. Judged
by STOI, as in notebook 01: the best `D(ẑ)` sits at another point than the best oracle, ahead of that
point's `D(ẑ)` by at least 0.01 STOI, and not worse by mel.
""")
code('''
table = rate.round(4).astype(str).to_dict()
split = decode_paths.ranking_split(rate, "oracle STOI", "D(ẑ) STOI")  # the same test as notebook 01's
stoi_oracle, stoi_pred, stoi_margin = split["best_oracle"], split["best_predicted"], split["margin"]
mel_margin = rate.loc[stoi_oracle, "D(ẑ) mel"] - rate.loc[stoi_pred, "D(ẑ) mel"]
_ = check_claim(
    "04", "the rate that reconstructs best is not the rate a sampler predicts best",
    {"best_oracle": stoi_oracle, "best_predicted": stoi_pred, "stoi_margin": float(stoi_margin),
     "mel_margin": float(mel_margin), "table": table},
    holds=bool(stoi_oracle != stoi_pred and stoi_margin >= 0.01 and mel_margin >= 0),
    detail=(f"STOI, as in notebook 01: best oracle at {stoi_oracle} ({rate.loc[stoi_oracle, 'oracle STOI']:.3f}), best "
            f"predicted at {stoi_pred} (D(ẑ) {rate.loc[stoi_pred, 'D(ẑ) STOI']:.3f} vs "
            f"{rate.loc[stoi_oracle, 'D(ẑ) STOI']:.3f}, margin {stoi_margin:+.3f}, claim ≥ 0.01); its D(ẑ) mel "
            f"{mel_margin:+.4f} better (claim: not worse)"),
    preset=preset, seed=seed)
''')
md("""
**C7**: the essay asks for more than rankings that part: the best point for the generator should
sit **in the middle** of the curve. Too much rate and the latent is hard to predict; too little and
the decoder has too little to work with. The check below asks for that by mel distance: the best
`D(ẑ)` at an interior rate, ahead of both ends of the sweep by at least 0.01 mel (less is within the
spread of one run).
""")
code('''
order = list(rate.index)  # low rate → no limit
best_oracle, best_pred = rate["oracle mel"].idxmin(), rate["D(ẑ) mel"].idxmin()
interior = order.index(best_pred) not in (0, len(order) - 1)
ends = rate["D(ẑ) mel"].iloc[[0, -1]]
interior_margin = float(ends.min() - rate.loc[best_pred, "D(ẑ) mel"]) if interior else 0.0
_ = check_claim(
    "04", "oracle and predicted quality pull apart; the best downstream rate is in the middle",
    {"best_oracle": best_oracle, "best_predicted": best_pred, "interior_margin": interior_margin, "table": table},
    holds=bool(interior and best_oracle != best_pred and interior_margin >= 0.01),
    detail=(f"oracle best at {best_oracle} (mel {rate.loc[best_oracle, 'oracle mel']:.3f}); D(ẑ) best at {best_pred} "
            f"(mel {rate.loc[best_pred, 'D(ẑ) mel']:.3f}, "
            + (f"{interior_margin:.4f} ahead of both ends" if interior else "an end of the sweep, not interior")
            + "; claim: interior, ≥ 0.01 ahead of both ends); "
            "D(ẑ) mel along the sweep: " + ", ".join(f"{v:.3f}" for v in rate["D(ẑ) mel"])),
    preset=preset, seed=seed, shown_in=("gpu",))  # measured: absent at cpu scale (see below)
''')
md("""
## 3 · The bottleneck zoo

Every other bottleneck with its default knob, trained from scratch beside the plain codec the rate
sweep started from and the middle rate point, here trained from scratch too: the same network, steps,
predictor (the regression head of notebooks 01 and 03) and decode paths. `owns` is the error each one
takes off the generator's hands. In `cpu` four of them (latent noise, softnorm, tanh, the variance
floor) are left to the `gpu` preset: at 200 steps they changed little against the plain codec,
and 04 keeps to about 5 minutes on an idle 2-core machine (see "What we measured").
""")
code('''
rate_points = list(rate_sweep)[:-1]  # the target-KL codecs, low rate first
mid_label = presets.rate_middle(rate_sweep)  # the middle of the curve (upper middle when even)
zoo_rows = {"plain": measure(rate_sweep[plain_label]).row}  # the codec the rate sweep started from
middle = measure(rate_sweep[mid_label])  # from scratch, this time
mid_run, mid_study, zoo_rows[mid_label] = middle.run, middle.study, middle.row
for label, p in tqdm(zoo.items(), desc="bottleneck zoo"):
    point = measure(p)
    runs[label], studies[label], zoo_rows[label] = point.run, point.study, point.row
zoo_tab = pd.DataFrame.from_dict(zoo_rows, orient="index")
zoo_tab.insert(1, "owns", [OWNS[b] for b in zoo_tab["bottleneck"]])
display(zoo_tab.drop(columns=["bottleneck"]).round(3))
''')
code('''
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(zoo_tab["oracle mel"], zoo_tab["D(ẑ) mel"], color="tab:blue")
for name, r in zoo_tab.iterrows():
    ax.annotate(name, (r["oracle mel"], r["D(ẑ) mel"]), fontsize=8, xytext=(4, 2), textcoords="offset points")
lo = min(zoo_tab["oracle mel"].min(), zoo_tab["D(ẑ) mel"].min())
hi = max(zoo_tab["oracle mel"].max(), zoo_tab["D(ẑ) mel"].max())
ax.plot([lo, hi], [lo, hi], ls=":", color="gray", lw=1)
ax.set(xlabel="oracle D(E(x)) mel distance", ylabel="predicted D(ẑ) mel distance",
       title="who owns the error: reconstruction vs generation (lower-left is better; dotted = no gap)")
plt.show()
''')
md("""
## 4 · Mean or sampled targets for the predictor?

A KL-type encoder gives a distribution per frame, q(z|x) = N(μ, σ²). The usual target for a
generator is μ. SALAD-style training draws a fresh sample of q(z|x) as the target each time the
predictor sees an utterance: the targets are noisier, but they cover the neighbourhood the decoder
was trained on.

Which generator matters, in two ways. **Does it sample?** Our regression head is trained with a
squared error, and for it the two targets are the same experiment in expectation: the expected loss
against μ + σε is the loss against μ plus a constant (σ², whatever the prediction), so the best
prediction is μ either way. The tiny **flow-matching head** of `predictors` draws ẑ instead of
averaging. **Does it read its own output?** Both heads write every latent from phones and a speaker;
nothing they generate is fed back. SALAD's per-token latent diffusion is *autoregressive*: its targets
are also its next inputs. Trained on μ, such a model only ever reads smooth pasts, and when it
generates it reads its own draws; trained on samples, it has read noisy pasts all along.

So we run three generators on the zoo's middle-rate codec, each with mean and with sampled targets
and the same budget: the regression head (the control, where no difference is expected), the flow
head, and `predictors.ARPredictor`, a next-latent model (causal convolutions, a Gaussian head) that
generates each held-out sentence one second at a time from the true past before it, greedily (the
Gaussian's mean) and by sampling, each step fed back as the next one's past. The claim is judged
on the autoregressive sampler, the kind of generator SALAD trained. It reads no text, only the past
sound, so its drafts are far worse than the two heads' in absolute terms: only the comparison of
its two kinds of target matters there. Beside it runs the same model reading the sentence too
(**AR + text**: the phones, their durations and the speaker, through the same text encoder as the
two heads, `ARPredictor(..., n_phones=...)`), a per-token TTS generator in miniature and the closer
analog of SALAD's; its drafts are worth listening to. Its result is recorded next to the claim's.
""")
code('''
mid = rate_sweep[mid_label]  # the zoo's codec at the middle rate, trained from scratch
rows = {"regression · mean targets": zoo_rows[mid_label]}
rows["regression · sampled targets"] = measure(mid, targets="sample").row
for t, name in (("mean", "mean"), ("sample", "sampled")):
    rows[f"flow · {name} targets"] = measure(mid, targets=t, head="flow").row

# the autoregressive generator: trained on this codec's training latents, generating 1 s at a time
train_u = mid_study.train or predictors.encode_utterances(  # kept by a fresh study, not by a loaded one
    mid_run.model, corpus, train_rows, vocab, speakers, progress=False)
eval_u, stats = mid_study.eval, predictors.LatentStats.of(train_u)
horizon = max(1, round(1.0 * mid.model.latent_rate))
lengths, spans = [u.length for u in eval_u], [u.spans for u in eval_u]
ar_audio = {}
text = dict(n_phones=len(vocab), n_speakers=len(speakers))  # the "AR + text" generator reads the sentence too
for ar, reads in (("AR", {}), ("AR + text", text)):
    for t, name in (("mean", "mean"), ("sample", "sampled")):
        gens = predictors.ar_generations(train_u, eval_u, stats, replace(budget, targets=t), horizon, (0.0, 1.0),
                                         seed, cache_dir=mid_run.info["dir"], **reads)  # loaded on a re-run
        for temp, z_hat in gens.items():
            mode = "greedy" if temp == 0 else "sampling"
            audio = ar_audio[(ar, name, mode)] = decode_paths.decode_latents(mid_run.model, z_hat, lengths, spans)
            sc = metrics.score(refs, audio, pesq=False)
            rows[f"{ar} {mode} · {name} targets"] = {
                "predictor nMSE": predictors.normalised_mse(z_hat, eval_u, stats), "D(ẑ) mel": sc["mel_dist"],
                "D(ẑ) STOI": sc["stoi"], "gap mel": sc["mel_dist"] - zoo_rows[mid_label]["oracle mel"]}
targets = pd.DataFrame(rows).T
display(targets[["predictor nMSE", "D(ẑ) mel", "D(ẑ) STOI", "gap mel"]].astype(float).round(4))
''')
code('''
kinds = ["regression", "flow", "AR greedy", "AR sampling", "AR + text greedy", "AR + text sampling"]
fig, axes = plt.subplots(2, 1, figsize=(12, 6.4))
for ax, metric, better in [(axes[0], "D(ẑ) mel", "lower"), (axes[1], "D(ẑ) STOI", "higher")]:
    x = np.arange(len(kinds))
    for k, (name, color) in enumerate([("mean", "tab:gray"), ("sampled", "tab:purple")]):
        ax.bar(x + 0.38 * k, [targets.loc[f"{g} · {name} targets", metric] for g in kinds], 0.38,
               label=f"{name} targets", color=color)
    ax.set_xticks(x + 0.19, [k.replace(" + text ", " + text\\n") for k in kinds])
    ax.set(ylabel=f"{metric} ({better} is better)", title=f"{mid_label} · {metric}")
    ax.legend()
fig.tight_layout()
plt.show()
''')
md("""
Listen to one held-out sentence as the two autoregressive samplers write it, a second at a time,
after learning from posterior means and from posterior samples. The one that reads no text only
continues the sound; the one that reads the text says the sentence.
""")
code('''
i = 0
widgets.ab_player({"reference x": refs[i]} | {
    f"{ar} sampling · {name} targets": ar_audio[(ar, name, "sampling")][i]
    for ar in ("AR", "AR + text") for name in ("mean", "sampled")}, title=f"“{eval_rows.iloc[i]['text']}”")
''')
md("""
The same sentence as spectrograms: the reference, then the text-reading generator's drafts, greedy and
sampled, after learning from posterior means and from posterior samples. Every draft has lost the
harmonics, the fine horizontal stripes of the reference's pitch: the missing detail that notebook 03
found no decoder can put back. On top of that, sampling adds a grain, most where the generator learnt
from posterior samples and so draws the posterior's own spread.
""")
code('''
plots.spectrogram_row({"reference x": refs[i]} | {
    f"AR + text {mode} · {name} targets": ar_audio[("AR + text", name, mode)][i]
    for mode in ("greedy", "sampling") for name in ("mean", "sampled")}, ncols=3)
plt.show()
''')
md("""
**C8** (SALAD): sampled posterior targets help the predictor, judged on the autoregressive sampler:
at least 0.01 mel better with sampled targets, and STOI not worse. The other generators' differences
(greedy, flow head, regression control, AR + text) are recorded beside it, not asserted.
""")
code('''
ar_mean, ar_sampled = targets.loc["AR sampling · mean targets"], targets.loc["AR sampling · sampled targets"]
gain_mel = ar_mean["D(ẑ) mel"] - ar_sampled["D(ẑ) mel"]
gain_stoi = ar_sampled["D(ẑ) STOI"] - ar_mean["D(ẑ) STOI"]
flow_gain = targets.loc["flow · mean targets", "D(ẑ) mel"] - targets.loc["flow · sampled targets", "D(ẑ) mel"]
greedy_gain = targets.loc["AR greedy · mean targets", "D(ẑ) mel"] - targets.loc["AR greedy · sampled targets", "D(ẑ) mel"]
control_mel = targets.loc["regression · mean targets", "D(ẑ) mel"] - targets.loc["regression · sampled targets", "D(ẑ) mel"]
text_gain = {(mode, metric): sign * (targets.loc[f"AR + text {mode} · mean targets", f"D(ẑ) {metric}"]
                                     - targets.loc[f"AR + text {mode} · sampled targets", f"D(ẑ) {metric}"])
             for mode in ("greedy", "sampling") for metric, sign in (("mel", 1), ("STOI", -1))}
_ = check_claim(
    "04", "sampled posterior targets help the predictor",
    {"gain_mel": gain_mel, "gain_stoi": gain_stoi, "model": mid_label, "head": "autoregressive, sampling, 1 s",
     "flow_gain_mel": flow_gain, "ar_greedy_gain_mel": greedy_gain, "regression_gain_mel": control_mel,
     **{f"text_ar_{mode}_gain_{metric.lower()}": float(v) for (mode, metric), v in text_gain.items()}},
    holds=bool(gain_mel >= 0.01 and gain_stoi >= 0),
    detail=(f"{mid_label}, autoregressive sampler: D(ẑ) mel {ar_mean['D(ẑ) mel']:.3f} (mean) vs "
            f"{ar_sampled['D(ẑ) mel']:.3f} (sampled), STOI {gain_stoi:+.3f} (claim: ≥ 0.01 mel better, STOI not "
            f"worse); greedy {greedy_gain:+.4f}, flow head {flow_gain:+.4f}, regression control {control_mel:+.4f} mel; "
            f"reading text: greedy {text_gain[('greedy', 'mel')]:+.4f} mel / {text_gain[('greedy', 'STOI')]:+.3f} STOI, "
            f"sampling {text_gain[('sampling', 'mel')]:+.4f} mel / {text_gain[('sampling', 'STOI')]:+.3f} STOI"),
    preset=preset, seed=seed)
''')
md("""
## 5 · The dashboard: where the debt sits

`dashboard.collect` keeps one row per latent frame (its channel values, KL, regime — silence,
transient or steady — and the predictor's residual), so every average can be split by *place*.
""")
code('''
model = mid_run.model  # the zoo's middle-rate codec, with the regression head's residual
s = dashboard.collect(model, refs, meta=eval_rows, z_hat=mid_study.z_hat)
display(dashboard.channel_table(s).sort_values("kl_share", ascending=False).head(8).round(4))
display(dashboard.place_table(s, by="regime").round(3))
fig = dashboard.figure(s, places=("regime",), title=f"latent dashboard · {mid_label}")
plt.show()
''')
md("""
In orange: the channel and the place (here a regime) that carry the largest share of the predictor's
residual, measured in units of each channel's own spread (`dashboard.debt_report`; the `residual:`
line below names them: channel 8 and transient frames in `cpu`, seed 0). A channel with almost no
spread, like that one, needs only a small error to carry a large share: the share is counted in
units of its spread.

**C9**: an average hides a channel or regime carrying the debt: some place's share of the
predictor's residual, or of the KL, is at least 1.5 times its share of the frames.
""")
code('''
kl_debt = dashboard.debt_report(s, quantity="kl")
res_debt = dashboard.debt_report(s, quantity="residual")
print("KL:      ", kl_debt["summary"])
print("residual:", res_debt["summary"])
_ = check_claim(
    "04", "an average hides a channel or regime carrying the debt",
    {"kl": {k: v for k, v in kl_debt.items() if k != "summary"},
     "residual": {k: v for k, v in res_debt.items() if k != "summary"}},
    holds=bool(res_debt["place_excess"] >= 1.5 or kl_debt["place_excess"] >= 1.5),
    detail=(f"predictor residual: {res_debt['place_by']} '{res_debt['place']}' carries {res_debt['place_share']:.0%} of it "
            f"in {res_debt['place_frame_share']:.0%} of the frames ({res_debt['place_excess']:.2f}× its share); "
            f"KL: '{kl_debt['place']}' {kl_debt['place_excess']:.2f}×, top channel {kl_debt['channel']} "
            f"{kl_debt['channel_excess']:.1f}× its fair share (claim: a place ≥ 1.5× its share)"),
    preset=preset, seed=seed)
''')
md("""
### Along the rate curve, channel by channel

Notebook 03 measured, channel by channel, what the decoder loses when channels are muted and how
much of the gap comes back when channels of `ẑ` are taken from `E(x)` (`dashboard.channel_curve`,
channels taken widest first). Here the same curves for each codec of section 2's rate sweep, with
its flow head: as shares of what muting *every* channel costs, and of the gap. Does a rate limit
move the sound, and the generator's debt, into fewer channels?
""")
code('''
t0 = time.time()
curves = {label: dashboard.channel_curve_for(runs[label].model, studies[label], refs) for label in rate.index}
shares = pd.DataFrame({label: {"sound in the 4 widest": c.loc[4, "mute_first"] / c.loc[4, "mute_all"],
                               "gap in the 4 widest": c.loc[4, "repair_first"] / c.loc[4, "gap"]}
                       for label, c in curves.items()}).T
print(f"{time.time() - t0:.0f} s · shares of what muting every channel costs, and of the gap")
display(shares.round(3))
fig, axes = plt.subplots(1, 2, figsize=(13, 3.4))
for label, c in curves.items():
    axes[0].plot(c.index, c["mute_first"] / c["mute_all"], "o-", label=label)
    axes[1].plot(c.index, c["repair_first"] / c["gap"], "o-", label=label)
for ax, what in ((axes[0], "share of the sound lost by muting them"),
                 (axes[1], "share of the gap repaired by taking them from E(x)")):
    ax.set(xscale="log", xticks=c.index, xticklabels=[str(k) for k in c.index], ylim=(0, 1),
           xlabel="k widest channels", ylabel="share", title=what)
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
''')
md("""
The lower the rate, the more of the codec sits in its few widest channels, and the more of the
flow head's gap does too: a rate limit does not spread its nats evenly, it concentrates the latent,
and the generator's debt follows it there. A channel-by-channel average would hide both.
""")
code('''
print(f"notebook time: {time.time() - t_start:.0f} s")
''')
md("""
## What we measured (cpu preset)

The rate sweep, seed 0 (every point: the plain codec's 200 steps, then 200 more; D(ẑ) from the flow
head):

| codec | KL nats/s | oracle mel / STOI | D(ẑ) mel / STOI | gap mel | flow nMSE |
|---|---|---|---|---|---|
| target 150 | 154 | 0.636 / 0.797 | 0.874 / **0.669** | 0.239 | 1.055 |
| target 1500 | 1504 | 0.557 / 0.831 | 0.878 / 0.636 | 0.321 | 1.087 |
| plain | ∞ | **0.527 / 0.840** | 0.879 / 0.604 | 0.352 | 1.089 |

The bottleneck zoo, seed 0 (each codec 200 steps from scratch, the regression head):

| codec | oracle mel | D(ẑ) mel | gap | predictor nMSE |
|---|---|---|---|---|
| plain | **0.661** | **0.805** | 0.144 | 0.166 |
| target 1500 nats/s | 0.791 | 0.898 | **0.107** | **0.132** |
| σ-VAE (5021 nats/s) | 0.750 | 0.872 | 0.122 | 0.139 |
| dropout | 0.707 | 0.832 | 0.125 | 0.161 |

- **Oracle and predicted quality pull apart** (C7a, holds in seeds 0–4): the lower the rate, the
  worse the oracle (mel 0.51–0.53 without a limit, 0.63–0.67 at 150 nats/s) and the *more*
  intelligible a sampler's predictions (D(ẑ) STOI 0.59–0.62 → 0.66–0.68). With the regression head
  instead the codecs decode their predictions within 0.018 mel and 0.005 STOI of each other: an
  averaging predictor's error is over-smoothing, which no rate limit removes.
- **The best point is in the middle only by mel, and only sometimes** (C7, **not shown at this
  scale**: it holds in seeds 1 and 2 only). By mel the middle point decodes best in seeds 1, 2
  and 3 (ahead of both ends by 0.024, 0.012 and 0.005); by STOI the lowest rate wins every seed.
  This sampler is weak (nMSE about 1), and for a weak sampler the flattest latent is the easiest.
  One more point at 50 nats/s makes the sweep a bowl by mel (best inside in every seed, ahead of
  both ends by 0.01 in four of five), and a text-reading AR sampler, which errs far less, prefers
  more rate: the turn has to show in the `gpu` sweep, with the generator you will train.
- **The regularisers cost more than they buy after 200 steps**: more predictable and a smaller gap,
  but oracles so much worse that their predictions decode worse too. Latent noise, softnorm, tanh and
  the variance floor run in `gpu` only: at 200 steps they changed little against the plain codec
  (latent noise: a gap 0.002–0.016 mel smaller for 0.005–0.052 of oracle; softnorm and tanh within
  0.01 mel).
- **Sampled targets help a generator that reads its own samples** (C8, holds in seeds 0–4): the
  autoregressive sampler decodes 0.12–0.26 mel better and more intelligibly (STOI 0.22–0.27 →
  0.28–0.32) when it learnt from posterior samples. Reading the text too, its greedy drafts gain and
  its samples lose intelligibility (STOI −0.003 to −0.033); where nothing is fed back, no gain.
- **The debt is not where the average puts it** (C9, holds in seeds 0–4): transient frames, 14% of
  the frames, carry 23–27% of the predictor's residual energy on the 1500 nats/s codec (1.6–1.9×
  their share), and a rate limit concentrates the codec in its widest channels, where the debt
  follows (section 5).

Full lab notes (every run, host and attempt): [benchmarks/NOTES.md](../benchmarks/NOTES.md#04--regularisation-is-error-ownership)

**Takeaway.** A regulariser is a decision about who pays for the generator's errors. Measure both
sides — the oracle it costs and the gap it buys — with the generator you will actually train: a rate
limit that does nothing for an averaging predictor makes a sampler's drafts clearly more
intelligible, at a clear oracle cost. The same holds for the targets: posterior samples help a
generator that feeds its own draws back, and not one that writes every latent from the text alone;
once the generator reads the text too, they help its greedy drafts and teach its samples the
posterior's noise.
And look where the residual lands, not just at its mean.
""")
write("notebooks/04_error_ownership.ipynb")
