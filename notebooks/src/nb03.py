import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# 03 · Build the oracle, then break it

An autoencoder that reconstructs well has passed the easy test. At generation time its decoder will
not get `E(x)`: it will get `ẑ`, a latent *predicted* by another model, with that model's errors in
it. This lesson measures what those errors cost, where the cost comes from, and what the encoder's
training can do about it.

**The decode-path table.** Every way a latent can reach the decoder, scored with the same metrics:

| row | the decoder gets | the question it answers |
|---|---|---|
| `D(E(x))` | the encoder's latent | how good is the codec? (the oracle) |
| `D(sample q(z\|x))` | a posterior sample | does the decoder tolerate the encoder's own uncertainty? |
| `D(E(x)+ε)` | the oracle latent + noise the size of the predictor's errors | is the decoder fragile to errors of that size? |
| `D(ẑ)` | a predictor's latent | how good can generation be? |
| `D(project(ẑ))` | the prediction, denoised back toward the encoder's manifold | are the errors off-manifold? |

`D(ẑ) − D(E(x))` is the **predicted-latent gap**. The middle rows split it: if `D(E(x)+ε)` is
nearly as bad as `D(ẑ)`, the decoder is simply fragile (train it with such noise); if it is fine
while `D(ẑ)` is bad, the predictor's errors are *structured* — no amount of noise robustness fixes
them.

Three claims are tested (their ids in the README's table of claims): the plain codec's gap is
large (**C4**); a decoder trained with **calibrated** latent noise closes much of it at a small
oracle cost (**C5**; LatentFlowSR trains its decoder this way); and the checkpoint with the best
oracle is not the checkpoint with the best generation (**C6**).
""")
code('''
preset = "auto"  # "smoke" (CI), "cpu" (a laptop: about 4 min on 2 idle cores, under 1 min re-run) or "gpu"; "auto": gpu if CUDA
seed = 0
compare_kl = None  # train the KL-VAE of section 5 as well; None: in every preset but cpu (2 min more there)
''', tags=["parameters"])
md("""
## 1 · Setup

Speech, as in notebook 01: the predictor turns phones + durations + speaker into latents. It learns
from the training speakers and is scored on new sentences of the same speakers.
""")
code('''
import time
from dataclasses import replace
import numpy as np, pandas as pd, torch
import matplotlib.pyplot as plt
from IPython.display import display
from course_lib import data, metrics, presets, training, predictors, decode_paths, dashboard, plots, widgets
from course_lib.claims import check_claim

t_start = time.time()
torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
preset = presets.resolve(preset)
cfg = presets.for_notebook("03", preset, seed)
budget = presets.predictor_budget(preset, seed)

corpus = data.ensure_corpus(cfg.corpus)
task = predictors.speech_task(corpus, preset, cfg.eval_clips)  # the same task as 01 and 04
train_rows, eval_rows, vocab, speakers, refs = task.train_rows, task.eval_rows, task.vocab, task.speakers, task.refs
print(f"preset {preset} · codec {cfg.model.latent_rate:g} Hz × {cfg.model.width}, {cfg.train.steps} steps · "
      f"predictor: {len(train_rows)} utterances, {budget.steps} steps · scored on {len(refs)} new sentences")
''')
md("""
## 2 · Train the plain codec, with a probe predictor alive

`predictors.ProbeGate` is a small predictor kept alive during the encoder's training: every
`probe_every` steps it re-encodes a fixed set of training sentences with the encoder *as it is now*,
trains a fresh probe predictor on those latents (fixed budget and seed), predicts held-out
sentences and decodes both paths. The trainer logs the oracle, the generation score and their gap,
and keeps two checkpoints: the best by the oracle and the best by generation. (A re-run loads all
of it from the checkpoint cache.)
""")
code('''
probe = predictors.ProbeGate(corpus, train_rows.iloc[::2], eval_rows.head(8), vocab, speakers,
                             presets.probe_budget(preset, seed))
run = training.train_or_load(cfg, probe=probe)
log = pd.DataFrame(run.info["probe"]).set_index("step")
print(("loaded" if run.info["loaded"] else "trained") + f" in {run.info['train_seconds']:.0f} s, "
      f"{len(log)} probe evaluations")
''')
md("""
## 3 · The decode-path table of the plain codec

The predictor here is the course's standard stand-in generator (notebook 01): a regression head,
trained on the codec's latents with a fixed budget. `ε` is Gaussian noise with the per-channel size
*and* the time correlation of this predictor's measured errors (`residual_std`, `residual_corr`).
`project` is a small convolutional denoiser trained on `E(x) + noise → E(x)` over the training
latents (see `decode_paths.Projector` for why a denoiser rather than a nearest-neighbour step).
""")
code('''
t0 = time.time()
study = predictors.study(run.model, corpus, train_rows, eval_rows, vocab, speakers, budget, progress=False,
                         cache_dir=run.info["dir"])
sigma, rho = decode_paths.residual_std(study), decode_paths.residual_corr(study)
train_latents = [u.z for u in predictors.encode_utterances(run.model, corpus, train_rows, vocab, speakers, False)]
projector = decode_paths.train_projector(train_latents, sigma, seed=seed)
paths = decode_paths.all_paths(run.model, study, refs, projector, sigma, seed, rho)
table = decode_paths.decode_path_table(refs, paths)
print(f"predictor nMSE {study.nmse:.3f} (1 = predicting the mean latent) · residual std {float(sigma.mean()):.3f} "
      f"(latent std {float(study.stats.std.mean()):.3f}) · residual lag-1 correlation {float(rho.mean()):.2f} "
      f"· {time.time() - t0:.0f} s")
display(table.round(3))
''')
code('''
fig, axes = plt.subplots(1, 2, figsize=(13, 3.2))
decode_paths.plot_paths(table, "mel_dist", ax=axes[0], title="plain codec · mel distance")
decode_paths.plot_paths(table, "stoi", ax=axes[1], title="plain codec · STOI")
fig.tight_layout()
plt.show()
''')
md("""
Listen: the same sentence through every row (toggle between rows; headphones help).
""")
code('''
i = 0
widgets.ab_player({name: clips[i] for name, clips in {"reference x": refs, **paths}.items()},
                  title=f"“{eval_rows.iloc[i]['text']}”")
''')
code('''
gap = decode_paths.predicted_latent_gap(table, "mel_dist")
stoi_drop = table.loc[decode_paths.ORACLE, "stoi"] - table.loc[decode_paths.PREDICTED, "stoi"]
_ = check_claim(
    "03", "D(ẑ) is clearly worse than D(E(x)) for a plain codec",
    {"gap_mel": gap, "stoi_drop": stoi_drop, "table": table[["mel_dist", "stoi", "pesq_wb", "gap"]].round(4).to_dict()},
    holds=gap >= 0.1 and stoi_drop >= 0.03,
    detail=(f"mel distance {table.loc[decode_paths.ORACLE, 'mel_dist']:.3f} → {table.loc[decode_paths.PREDICTED, 'mel_dist']:.3f} "
            f"(gap {gap:+.3f}, claim ≥ 0.1); STOI {table.loc[decode_paths.ORACLE, 'stoi']:.3f} → "
            f"{table.loc[decode_paths.PREDICTED, 'stoi']:.3f} (drop {stoi_drop:.3f}, claim ≥ 0.03)"),
    preset=preset, seed=seed)
''')
md("""
**Reading the table.** Compare `D(E(x)+ε)` with `D(ẑ)`. Noise of the predictor's own size and
time correlation costs the decoder only a little; the prediction itself costs several times more.
So this gap is not decoder fragility: a regression predictor outputs the *average* latent for its
context, an over-smoothed latent that sits in a region the encoder never produces. Projecting it
onto the manifold with a denoiser barely moves it, because smoothness is not noise.

The `D(sample q(z|x))` row repeats `D(E(x))` exactly: a plain codec has no posterior to sample, so
its "sample" is the mean. The row matters for the KL-VAE at the end of section 5 and for
notebook 04's rate sweep, where a sample and the mean differ.

## 4 · Listen to the latent: the noise slider and the channel mixer

Add noise to a latent and hear what the decoder makes of it. The scale is in units of the
predictor's measured error per channel (`1.0` = errors the size this predictor makes); pick a
channel to hear what one latent channel carries; switch the decode path to hear the prediction.
The slider renders on release.
""")
code('''
i = 0
n, sp = study.eval[i].length, study.eval[i].spans
slider = widgets.latent_noise_slider(
    widgets.autoencoder_decoder(run.model, n, sp),
    {decode_paths.ORACLE: study.eval[i].z, decode_paths.PREDICTED: study.z_hat[i],
     decode_paths.PROJECTED: decode_paths.project(projector, [study.z_hat[i]])[0]},
    std=sigma, title="latent noise, in units of the predictor's error", max_scale=3.0, seed=seed)
slider
''')
md("""
### What each channel carries, and where the gap sits

The slider *adds* noise to a channel; here we take channels *away*. A muted channel is held at its
mean over the training latents, the value that says nothing about this clip. Two measurements, in
mel distance to the reference over the evaluation sentences (`dashboard.channel_costs`):

- **mute cost**: how much worse `D(E(x))` gets when only this channel is muted;
- **repair gain**: how much of the gap `D(ẑ) − D(E(x))` comes back when only this channel of `ẑ` is
  taken from `E(x)`: the share of the gap that channel's prediction errors cost.

Then channels k at a time (`dashboard.channel_curve`), in order of their spread in the training
latents (fixed before any decode is scored, so the order is not fitted to these numbers).
""")
code('''
t0 = time.time()
by_spread = dashboard.spread_order(study)  # widest channel (over the training latents) first
costs = dashboard.channel_costs_for(run.model, study, refs)  # one channel at a time
curve = dashboard.channel_curve_for(run.model, study, refs)  # the k widest (or narrowest) at once
gap_mel = float(curve["gap"].iloc[0])
width = len(costs)
print(f"{width} channels · gap D(ẑ) − D(E(x)) {gap_mel:.3f} mel · {time.time() - t0:.0f} s")
display(costs.loc[by_spread[:6], ["training_std", "mute_cost", "repair_gain"]].round(4))
display(curve.round(3))
''')
code('''
fig, axes = plt.subplots(1, 2, figsize=(13, 3.6))
x = np.arange(width)
axes[0].bar(x - 0.2, costs.loc[by_spread, "mute_cost"], 0.4, label="mute cost (oracle loses)")
axes[0].bar(x + 0.2, costs.loc[by_spread, "repair_gain"], 0.4, label="repair gain (gap comes back)")
axes[0].set(xlabel="channels ranked by their training spread (widest first)", ylabel="mel distance",
            title="one channel at a time")
axes[0].legend()
ks = curve.index.to_numpy()
axes[1].plot(ks, curve["mute_first"], "o-", label="mute the k widest channels")
axes[1].plot(ks, curve["mute_last"], "o-", label="mute the k narrowest channels")
axes[1].plot(ks, curve["repair_first"], "o-", label="repair the k widest channels of ẑ")
axes[1].axhline(gap_mel, color="k", ls="--", lw=1, label="the whole gap")
axes[1].set(xscale="log", xticks=ks, xticklabels=[str(k) for k in ks], xlabel="k channels",
            ylabel="mel distance", title="k channels at a time")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()
''')
code('''
k4 = curve.index[curve.index >= min(4, width)][0]
top = costs["mute_cost"].max()
print(f"muting one channel costs at most {top:.3f} mel ({top / gap_mel:.0%} of the gap); muting the {k4} widest "
      f"costs {curve.loc[k4, 'mute_first']:.3f}, the {k4} narrowest {curve.loc[k4, 'mute_last']:.3f}")
print(f"one channel at a time, the repairs add up to {costs['repair_gain'].sum():.3f} mel against a gap of "
      f"{gap_mel:.3f}; the {k4} widest channels of ẑ, repaired together, give back {curve.loc[k4, 'repair_first']:.3f} "
      f"({curve.loc[k4, 'repair_first'] / gap_mel:.0%} of the gap)")
''')
md("""
**Reading it.** The decoder leans on a few channels, those with the widest spread in the training
latents. One channel alone is hardly missed (others carry much of the same thing), but muting the
eight widest of 64 costs about as much as the whole predicted-latent gap, while the eight narrowest
go almost unheard. The prediction's errors are spread more evenly: repairing the eight widest
channels of `ẑ` gives back well under half of the gap, and the one-at-a-time repairs add up to
more than the gap, because errors on channels that carry the same thing overlap. What an error
costs depends on how it falls across channels together, not on one channel at a time: keep that in
mind for section 5, where the decoder is trained on noise drawn channel by channel.
""")
md("""
Listen: mute the widest channels (selected below), then switch to **solo** to hear what they carry
alone, the rest held at their means. The list runs from the widest channel to the narrowest, each
labelled with its mute cost; shift- or ctrl-click picks several.
""")
code('''
i = 0
widgets.channel_mixer(
    widgets.autoencoder_decoder(run.model, study.eval[i].length, study.eval[i].spans),
    {decode_paths.ORACLE: study.eval[i].z, decode_paths.PREDICTED: study.z_hat[i]},
    fill=study.stats.mean, channels=by_spread[:k4], title=f"“{eval_rows.iloc[i]['text']}” · mute or solo latent channels",
    labels={c: f"{c}  (mute cost {costs.loc[c, 'mute_cost']:+.3f})" for c in range(width)}, order=by_spread)
''')
md("""
## 5 · Train the decoder to survive the generator

The generators this course prepares for — diffusion and flow models — do not output an average:
they output a *sample*, and their errors look more like noise. `predictors.FlowHead` is the
course's tiny flow-matching head; we train it on the same latents and measure its errors.

Then we fine-tune **only the decoder** of the plain codec (the encoder is frozen, so the predictions
stay valid) two ways, with the same steps:

- **control** — on `E(x)` as before;
- **calibrated noise** — on `E(x) + ε`, with ε's per-channel size and time correlation measured
  from the flow predictor's errors.

A decoder trained with posterior samples is the other classic answer: the KL-VAE's decoder sees
`z ~ q(z|x)` during training, so it learns a neighbourhood, not a point. At the end of this section
we train one with the same budget as the plain codec and read its table (`compare_kl`: in `cpu` it
is off by default, to keep the notebook within 6 minutes; notebook 04 measures the same trade-off
along a whole rate curve). When we ran it in `cpu` (seed 4) the KL-VAE's oracle was worse (mel 0.70
vs 0.54), its gap smaller (0.15 vs 0.23) and its `D(ẑ)` worse too (0.85 vs 0.78): a smaller gap
bought with a worse codec.

One more row asks what *kind* of error the flow head makes. `E(x) + another clip's error`
(`decode_paths.moved_errors`) adds to each clip's latent the flow head's error on the *next* clip:
the same size, the same movement in time and across channels, the same odd shape, and no tie to
this clip. If the noise-trained decoder repairs that row but not `D(ẑ)`, the flow head's error is
not noise on top of the right latent: its prediction lacks what belongs to *this* sentence, and no
decoder can put that back.
""")
code('''
t0 = time.time()
flow = predictors.study(run.model, corpus, train_rows, eval_rows, vocab, speakers, budget, head="flow",
                        progress=False, cache_dir=run.info["dir"])
f_sigma, f_rho = decode_paths.residual_std(flow), decode_paths.residual_corr(flow)
tuned = {"control": training.train_or_load(presets.decoder_finetune(cfg), init=run, progress=False),
         "calibrated noise": training.train_or_load(
             presets.decoder_finetune(cfg, tuple(map(float, f_sigma)), tuple(map(float, f_rho))), init=run, progress=False)}
MOVED = "E(x) + another clip's error"  # the flow head's real errors, each moved onto another clip
moved = decode_paths.moved_errors(flow)
rows, flow_paths = {}, {}
for name, r in tuned.items():
    flow_paths[name] = decode_paths.all_paths(r.model, flow, None, None, f_sigma, seed, f_rho)
    flow_paths[name][MOVED] = decode_paths.decode_latents(r.model, moved, [u.length for u in flow.eval],
                                                          [u.spans for u in flow.eval])
    t = decode_paths.decode_path_table(refs, flow_paths[name])
    # each row also scored as a *set* of clips (see below): not charged for another plausible rendition
    t["frechet_mel"] = [metrics.frechet_mel_distance(refs, flow_paths[name][path]) for path in t.index]
    for path in t.index:
        rows[(name, path)] = t.loc[path, ["mel_dist", "stoi", "pesq_wb", "frechet_mel"]]
ft = pd.DataFrame(rows).T
print(f"flow predictor nMSE {flow.nmse:.2f}, residual lag-1 correlation {float(f_rho.mean()):.2f} · {time.time() - t0:.0f} s")
display(ft.round(3))
''')
code('''
O, N, P = decode_paths.ORACLE, decode_paths.NOISY, decode_paths.PREDICTED
ctl, cal = "control", "calibrated noise"
fig, axes = plt.subplots(1, 2, figsize=(13, 3.4))
for ax, metric in zip(axes, ["mel_dist", "stoi"]):
    x = np.arange(4)
    for k, (name, color) in enumerate([(ctl, "tab:gray"), (cal, "tab:blue")]):
        ax.bar(x + 0.38 * k, [ft.loc[(name, p), metric] for p in (O, N, MOVED, P)], 0.38, label=name, color=color)
    ax.set_xticks(x + 0.19, [O, N, "E(x) + another\\nclip's error", P])
    ax.set(title=f"decoder fine-tuned on E(x) vs E(x)+ε · {metric}", ylabel=metric)
    ax.legend()
fig.tight_layout()
plt.show()
''')
md("""
Listen to what the two generators made of one sentence they never saw. The regression head's `D(ẑ)`
is an *average*: smooth, blurred formants and a steady buzz. The flow head's is a *sample*: grainier,
with detail of its own. After 300 steps much of that detail is wrong, and a distance to the
reference counts all of it as error, even where it sounds like speech. Then hear how little the
decoder trained on calibrated noise changes that sample, and how much more it does for the same
kind of error moved onto this sentence from another one: the last two players.
""")
code('''
i = 0
listen = {"reference x": refs[i], "regression D(ẑ) · an average": paths[decode_paths.PREDICTED][i],
          "flow D(ẑ) · a sample, control decoder": flow_paths[ctl][P][i],
          "flow D(ẑ) · calibrated-noise decoder": flow_paths[cal][P][i],
          "E(x) + another clip's error · control decoder": flow_paths[ctl][MOVED][i],
          "E(x) + another clip's error · calibrated-noise decoder": flow_paths[cal][MOVED][i]}
widgets.ab_player(listen, title=f"“{eval_rows.iloc[i]['text']}”")
''')
code('''
plots.spectrogram_row(listen, ncols=3)
plt.show()
''')
md("""
**Scored as sets.** The `frechet_mel` column asks a different question from the paired distance:
do the decoded clips, *as a set*, have the frames real speech has? `metrics.frechet_mel_distance`
fits a Gaussian to all log-mel frames of the decoded clips (16 in `cpu`) and another to the references', and
measures how far apart they are (the formula of FID and FAD). It does not care which clip goes with
which reference, so a sample that draws another plausible pitch movement is not charged for it.
With this few clips the estimate has a floor (two halves of the references score about 6 against
each other), so read it across rows of one table, not as an absolute. Compare three numbers: the control decoder's `D(E(x)+ε)` and `D(ẑ)` (which is further from real
frames, the noise or the flow head's sample?) and the calibrated decoder's `D(ẑ)` (did it bring the
sample closer?).
""")
code('''
closed = (ft.loc[(ctl, P), "mel_dist"] - ft.loc[(cal, P), "mel_dist"]) / (ft.loc[(ctl, P), "mel_dist"] - ft.loc[(ctl, O), "mel_dist"])
closed_stoi = (ft.loc[(cal, P), "stoi"] - ft.loc[(ctl, P), "stoi"]) / (ft.loc[(ctl, O), "stoi"] - ft.loc[(ctl, P), "stoi"])
closed_sets = ((ft.loc[(ctl, P), "frechet_mel"] - ft.loc[(cal, P), "frechet_mel"])
               / (ft.loc[(ctl, P), "frechet_mel"] - ft.loc[(ctl, O), "frechet_mel"]))
oracle_cost = ft.loc[(cal, O), "mel_dist"] - ft.loc[(ctl, O), "mel_dist"]
_ = check_claim(
    "03", "a decoder trained with calibrated noise closes much of the gap at a small oracle cost",
    {"gap_closed_mel": closed, "gap_closed_stoi": closed_stoi, "gap_closed_frechet_mel": closed_sets,
     "oracle_cost_mel": oracle_cost,
     "table": ft.round(4).reset_index().astype(str).to_dict("records")},
    holds=closed >= 0.3 and oracle_cost <= 0.05,
    detail=(f"D(ẑ) mel {ft.loc[(ctl, P), 'mel_dist']:.3f} → {ft.loc[(cal, P), 'mel_dist']:.3f}: {closed:.0%} of the gap closed "
            f"(STOI: {closed_stoi:.0%}, scored as sets: {closed_sets:.0%}; claim ≥ 30%), "
            f"oracle cost {oracle_cost:+.3f} mel (claim ≤ 0.05)"),
    preset=preset, seed=seed, shown_in=("gpu",))  # measured: absent at cpu scale (see below)
''')
code('''
if compare_kl or (compare_kl is None and preset != "cpu"):
    kl_cfg = replace(cfg, model=replace(cfg.model, bottleneck="kl"), train=replace(cfg.train, probe_every=0))
    kl = training.train_or_load(kl_cfg, progress=False)
    kl_study = predictors.study(kl.model, corpus, train_rows, eval_rows, vocab, speakers, budget, progress=False,
                                cache_dir=kl.info["dir"])
    kl_table = decode_paths.decode_path_table(refs, decode_paths.all_paths(kl.model, kl_study, refs, None, None, seed,
                                                                           decode_paths.residual_corr(kl_study)))
    display(pd.concat({"plain codec": table[["mel_dist", "stoi", "pesq_wb", "gap"]],
                       "KL-VAE (posterior samples)": kl_table[["mel_dist", "stoi", "pesq_wb", "gap"]]}).round(3))
else:
    print("KL-VAE comparison skipped in cpu: set compare_kl = True in the parameters cell to train it (about 2 min)")
''')
md("""
## 6 · Gate checkpoints on generation, not on the oracle

The probe's log from section 2: the oracle `D(E(x))` and generation `D(ẑ)` scores of every probe
evaluation during the codec's training, and the probe's normalised error (nMSE: its squared error over
the latents' variance, 1 = no better than predicting the mean latent): how hard the codec's latents
are to predict, step by step.
""")
code('''
gating = training.gating_summary(log)
best_oracle, best_gen = gating["best_oracle_step"], gating["best_generation_step"]
fig, ax = plt.subplots(1, 3, figsize=(15, 3.4))
ax[0].plot(log.index, log["oracle"], "o-", label="oracle D(E(x))", color="tab:green")
ax[0].plot(log.index, log["generation"], "o-", label="generation D(ẑ)", color="tab:red")
ax[0].axvline(best_oracle, color="tab:green", ls="--", lw=1)
ax[0].axvline(best_gen, color="tab:red", ls="--", lw=1)
ax[0].set(xlabel="training step", ylabel="mel distance (lower is better)", title="probe predictor during training")
ax[0].legend()
ax[1].plot(log.index, log["gap"], "o-", color="tab:purple")
ax[1].set(xlabel="training step", ylabel="D(ẑ) − D(E(x)) (mel)", title="the predicted-latent gap grows as the codec sharpens")
ax[2].plot(log.index, log["nmse"], "o-", color="tab:orange")
ax[2].set(xlabel="training step", ylabel="probe nMSE", title="…and its latents get harder to predict")
fig.tight_layout()
plt.show()
display(log.round(4).T)
''')
code('''
oracle_gain, gen_loss = gating["oracle_gain_after"], gating["generation_loss_at_best_oracle"]
_ = check_claim(
    "03", "the best oracle checkpoint is not the best generation checkpoint",
    {"best_oracle_step": best_oracle, "best_generation_step": best_gen, "oracle_gain_after": oracle_gain,
     "generation_loss_at_best_oracle": gen_loss, "log": log.round(4).to_dict()},
    holds=best_gen < best_oracle and oracle_gain >= 0.05,
    detail=(f"oracle best at step {best_oracle} ({log.loc[best_oracle, 'oracle']:.3f}), generation best at step {best_gen} "
            f"({log.loc[best_gen, 'generation']:.3f}); after step {best_gen} the oracle improved by {oracle_gain:.3f} mel "
            f"(claim ≥ 0.05) while generation got {gen_loss:+.3f} worse"),
    preset=preset, seed=seed, shown_in=("gpu",))  # measured: 2-3 of 5 cpu seeds, by host (see below)
''')
code('''
print(f"notebook time: {time.time() - t_start:.0f} s")
''')
md("""
## What we measured (cpu preset, seeds 0–4)

| | seed 0 | seed 1 | seed 2 | seed 3 | seed 4 |
|---|---|---|---|---|---|
| plain codec: mel `D(E(x))` → `D(ẑ)` | 0.546 → 0.786 | 0.552 → 0.778 | 0.536 → 0.771 | 0.529 → 0.763 | 0.535 → 0.772 |
| plain codec: STOI `D(E(x))` → `D(ẑ)` | 0.821 → 0.723 | 0.817 → 0.714 | 0.825 → 0.727 | 0.828 → 0.726 | 0.830 → 0.725 |
| gap closed by calibrated-noise decoder (mel / STOI) | 10% / 23% | 10% / 22% | 11% / 21% | 13% / 23% | 12% / 21% |
| … scored as sets (`frechet_mel`) | −66% | −21% | −6% | −1% | −15% |
| its oracle cost (mel) | +0.038 | +0.044 | +0.043 | +0.042 | +0.037 |
| best oracle step / best generation step (of 500) | 500 / 250 | 500 / 300 | 500 / 250 | 450 / 350 | 500 / 200 |
| oracle gain after the best-generation step | 0.069 | 0.043 | 0.069 | 0.041 | 0.099 |

- **The gap is large and holds in every seed** (C4: 5 of 5): the predicted latent loses
  0.23–0.24 mel and about 0.1 STOI.
- **Its cause is the predictor, not the decoder's fragility.** `D(E(x)+ε)` — noise of the
  predictor's own size and time correlation — costs only 0.04–0.05 mel. A regression predictor
  outputs an over-smoothed average latent; projection onto the manifold with a denoiser does not
  change it (0.786 → 0.787 in seed 0), because smoothness is not noise.
- **What each channel carries** (section 4): muting the eight widest of 64 channels costs 0.17–0.27
  mel, about the whole gap, yet repairing those eight in `ẑ` gives back only 37–43% of it. The
  codec's sound sits in a few channels; the predictor's errors cost across many of them at once.

**Calibrated noise (C5: 0 of 5, not shown at this scale).** The decoder fine-tuned on `E(x)+ε`
shrugs off ε, but the flow predictor's `D(ẑ)` improves only 10–13% in mel and 21–23% in STOI (the
claim asks 30%) at 0.037–0.044 mel of oracle cost. The flow head's error is missing information, not
noise on top: moved onto another clip it hurts the control decoder as much as `D(ẑ)` does, and there
the calibrated decoder repairs it by 0.12–0.16 mel, against 0.04–0.05 in `ẑ`. A longer-trained
sampler, a score that does not charge a plausible alternative (`frechet_mel`), noise with the errors'
covariance, LatentFlowSR's own restoration setting and a text-reading sampler all left it short. The
claim needs a generator whose errors really are noise-like: on the noise row the decoder learns to
ignore about half of them.

**Gating (C6: 3 of 5, seed 0 among them; asserted in `gpu` only).** Generation stops improving
before the oracle does in every seed (its best at step 200–350 of 500), but the oracle's gain after
that reaches the claim's 0.05 mel only in seeds 0, 2 and 4 (0.069, 0.069, 0.099); seeds 1 and 3 give
0.043 and 0.041, and a run on another host held in 2 of 5. Generation plateaus rather than declines,
so where its noisy minimum lands moves with the host, and training longer removes the effect:
the claim needs a codec that sharpens past what the predictor can follow. Underneath, the regression
probe's nMSE rises over training in every seed (0.19–0.25 at step 50, 0.33–0.36 at step 500): the
sharper the codec, the harder its latents are to predict.

Full lab notes (every run, host and attempt): [benchmarks/NOTES.md](../benchmarks/NOTES.md#03--build-the-oracle-then-break-it)

**Takeaway.** The oracle tells you how good the codec is; the decode-path table tells you *why*
generation from it is worse. Here the answer is "the predictor averages", so the fix belongs to the
generator (sample, don't average) or to the encoder (a latent whose conditional mean is still a
good latent) — not to the decoder. And an oracle-gated checkpoint keeps training long after
generation has stopped improving: put the probe in the loop.
""")
write("notebooks/03_breaking_the_oracle.ipynb")
