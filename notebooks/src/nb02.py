import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# 02 · The oracle: which reconstruction losses?

Before asking whether a generator can predict the latent, build the best **oracle** you can: the
path `x → E → z → D → x̂` with the encoder's own latent. It sets the ceiling every later lesson is
measured against — `D(ẑ)` can only approach `D(E(x))`.

The oracle is judged by ears, and the loss decides what the decoder spends its capacity on:

- **waveform L1** compares samples. Two signals that sound identical but differ in phase are far
  apart, so the decoder is pushed to match phase it cannot know and ends up smearing.
- **multi-resolution STFT** (MR-STFT) compares magnitudes at several window sizes: sharp
  transients and fine pitch at once, and no penalty for inaudible phase.
- **mel** compares on a perceptual frequency scale: errors where the ear is coarse count less.
- **adversarial + feature matching**: a small critic learns what the fixed losses miss (buzz,
  over-smoothing); feature matching gives the decoder a dense signal from the critic's layers.
- **complex STFT / phase-aware** terms put phase back in, gently, so overlapping frames add up.
- for **stereo music**: left/right losses vs **mid/side** (sum and difference): a loss on each
  channel alone can leave the difference between them — the stereo image — unattended; and a
  **log-frequency (CQT)** term, where every semitone gets the same number of bins, for pitch.

**The experiment.** The same small autoencoder, the same data and **the same number of steps**
within each domain (in `cpu`: 200 for speech, 600 for stereo music, which needs longer to learn an
image at all); only the loss changes. Claims: *spectral losses beat waveform L1 at equal steps* (mel distance and
PESQ) and *the mid/side loss keeps the stereo image* (lower ILD error).
""")
code('''
preset = "auto"  # "smoke" (CI), "cpu" (a laptop: about 5 min on 2 idle cores, under 1 min re-run) or "gpu"; "auto": gpu if CUDA
seed = 0
''', tags=["parameters"])
md("## 1 · Setup")
code('''
import time
import numpy as np, pandas as pd, torch
import matplotlib.pyplot as plt
from IPython.display import display
from tqdm.auto import tqdm
from course_lib import data, presets, training, metrics, plots, widgets
from course_lib.claims import check_claim

t_start = time.time()
preset = presets.resolve(preset)
rows = presets.loss_ablation(preset, seed)
base = presets.for_notebook("02", preset, seed)
corpus = data.ensure_corpus(base.corpus)
df = data.read_manifest(corpus)
eval_sets = {}
for domain, channels in [("speech", 1), ("music", 2)]:
    sel = data.select(df, domain=domain, condition="clean")
    sel = sel[sel["split"].isin(["valid", "test"])]
    eval_sets[domain] = data.eval_clips(corpus, sel, n=base.eval_clips, channels=channels,
                                        max_seconds=4.0)[0]
steps = {p.train.domain: p.train.steps for p in rows.values()}
print(f"preset {preset} · {len(rows)} rows · {steps['speech']} steps per speech row, {steps['music']} per music row · "
      f"eval: {len(eval_sets['speech'])} speech clips (held-out sentences and speakers), "
      f"{len(eval_sets['music'])} stereo music clips")
''')
code('''
# NBVAL_CHECK_OUTPUT
display(pd.DataFrame([{"row": k, "domain": p.train.domain, "channels": p.model.channels, "loss": p.train.loss,
                       "adversarial": p.train.adv_weight > 0, "steps": p.train.steps} for k, p in rows.items()])
        .set_index("row"))
''')
md("""
## 2 · Train every row (or load it)

Each row trains the same model for as many steps as the other rows of its domain (speech or
music); only the loss differs. Checkpoints are cached by configuration, so a second run of this
notebook loads them in seconds. A speech row's step is too small to keep two CPU threads busy, so
the six speech rows train two at a time, one thread each (`training.train_or_load_parallel`); the
stereo rows, whose spectral losses do use both threads, train one after the other.
""")
code('''
def evaluate(label, run):
    p = rows[label]
    refs = eval_sets[p.train.domain]
    ests = training.reconstruct(run.model, refs)
    speech = p.train.domain == "speech"
    r = metrics.score(refs, ests, speech=speech)
    if not speech:
        r["ILD error dB"] = float(np.mean([metrics.ild_error_db(e, x) for e, x in zip(ests, refs)]))
        r["ILD corr"] = float(np.nanmean([metrics.ild_correlation(e, x) for e, x in zip(ests, refs)]))
        r["chroma error"] = float(np.mean([metrics.chroma_error(e, x) for e, x in zip(ests, refs)]))
        r["width dB"] = float(np.mean([metrics.stereo_width(e) for e in ests]))
        r["width error dB"] = float(np.mean([abs(metrics.stereo_width(e) - metrics.stereo_width(x))
                                             for e, x in zip(ests, refs)]))
    r["train s"] = run.info["train_seconds"]
    return r, ests

# Speech rows: two at a time, one thread each (a speech step barely uses a second thread); the stereo
# music rows use both threads, so they train one after the other below.  Loaded if already trained.
speech_rows = [k for k, p in rows.items() if p.train.domain == "speech"]
runs = dict(zip(speech_rows, training.train_or_load_parallel([rows[k] for k in speech_rows], workers=2)))
results, decoded = {}, {}
for label, p in tqdm(rows.items(), desc="loss rows"):
    if label not in runs:
        runs[label] = training.train_or_load(p, progress=False)
    results[label], decoded[label] = evaluate(label, runs[label])
res = pd.DataFrame.from_dict(results, orient="index")
''')
md("## 3 · Speech: what each loss buys at equal steps")
code('''
sp = res[res.index.str.startswith("speech")].dropna(axis=1, how="all")
display(sp.round(3))
fig, axes = plt.subplots(1, 3, figsize=(16, 3.6))
short = {k: k.replace("speech · ", "") for k in sp.index}
plots.ranking({short[k]: v for k, v in sp["mel_dist"].items()}, ax=axes[0], title="mel distance", xlabel="mel")
plots.ranking({short[k]: v for k, v in sp["pesq_wb"].items()}, ax=axes[1], title="PESQ-wb", xlabel="PESQ",
              lower_is_better=False)
plots.ranking({short[k]: v for k, v in sp["si_sdr"].items()}, ax=axes[2], title="SI-SDR (waveform match)",
              xlabel="dB", lower_is_better=False)
fig.tight_layout()
plt.show()
''')
md("""
Waveform L1 is the only row that scores well on SI-SDR — it is the only one asked to match the
waveform sample by sample — and it is the worst on what we hear (mel distance, PESQ). Listen:
""")
code('''
i = 0
ref = eval_sets["speech"][i]
clips = {"reference": ref, **{short[k]: decoded[k][i] for k in sp.index}}
widgets.players(clips, title="speech: the same sentence through every row")
fig, axes = plt.subplots(1, 4, figsize=(16, 2.6))
for ax, name in zip(axes, ["reference", "waveform L1", "MR-STFT + mel", "MR-STFT + mel + adv/FM"]):
    plots.spectrogram(clips[name], ax=ax, title=name)
fig.tight_layout()
plt.show()
''')
md("""
## 4 · Stereo music: L/R vs mid/side, and pitch

**ILD error** (inter-channel level difference): per time-frequency bin, how much louder the left is
than the right, in dB, compared between the decoded and the original clip. It is the stereo image
in one number: 0 dB means every instrument sits where it was panned. A large error can mean two
things, though: an image in the wrong place, or no image at all. **ILD corr** tells them apart: the
correlation, over the same bins, between the decoded and the original ILD (1 = every bin leans the
way the original leans, 0 = no relation, which is what a mono copy scores). **Width** is the side/mid
energy ratio (dB): how much of the sound differs between the two channels; a decoder whose channels
drift apart in phase sounds wide and diffuse. **Chroma error** compares the pitch-class content: the
notes.
""")
code('''
mu = res[res.index.str.startswith("music")].dropna(axis=1, how="all")
display(mu.round(3))
# For scale: the ILD error of a copy with no image at all (both channels get the mono mix).
ild_mono = float(np.mean([metrics.ild_error_db(x.mean(dim=0, keepdim=True).expand(2, -1), x) for x in eval_sets["music"]]))
print(f"a mono copy of each reference (left = right, no stereo image at all): ILD error {ild_mono:.2f} dB")
fig, axes = plt.subplots(1, 5, figsize=(22, 3.4))
shortm = {k: k.replace("music · ", "") for k in mu.index}
plots.ranking({shortm[k]: v for k, v in mu["mel_dist"].items()}, ax=axes[0], title="mel distance", xlabel="mel")
plots.ranking({shortm[k]: v for k, v in mu["ILD error dB"].items()}, ax=axes[1], title="stereo image: ILD error",
              xlabel="dB")
axes[1].axvline(ild_mono, color="k", ls="--", lw=1, label="a mono copy")
lo, hi = axes[1].get_xlim()
axes[1].set_xlim(min(lo, ild_mono - 0.5), max(hi, ild_mono + 0.5))
axes[1].legend(fontsize=8, loc="upper right")
plots.ranking({shortm[k]: v for k, v in mu["chroma error"].items()}, ax=axes[2], title="pitch: chroma error",
              xlabel="chroma L1")
plots.ranking({shortm[k]: v for k, v in mu["width error dB"].items()}, ax=axes[3], title="stereo width error",
              xlabel="|side/mid − original| dB")
plots.ranking({shortm[k]: v for k, v in mu["ILD corr"].items()}, ax=axes[4], title="is there an image? ILD corr",
              xlabel="correlation (a mono copy: 0)", lower_is_better=False)
axes[4].set_xlim(min(0.0, mu["ILD corr"].min() - 0.05), 1.0)  # on the full scale: 1 = the image kept
fig.tight_layout()
plt.show()
''')
code('''
ref = eval_sets["music"][0]
clips = {"reference (stereo)": ref, **{shortm[k]: decoded[k][0] for k in mu.index}}
widgets.players(clips, title="stereo music: listen on headphones for where each instrument sits")
side = {name: (c[0] - c[1]) / 2 for name, c in clips.items() if name in ("reference (stereo)", "L/R mel", "L/R mel + mid/side")}
fig, axes = plt.subplots(1, len(side), figsize=(15, 2.6))
for ax, (name, s) in zip(axes, side.items()):
    plots.spectrogram(s[None], ax=ax, title=f"side channel (L−R)/2 · {name}")
fig.tight_layout()
plt.show()
''')
md("""
## 5 · The claims

1. *Spectral losses beat waveform L1 at equal steps*: both spectral speech rows (MR-STFT, MR-STFT +
   mel) must beat L1 on mel distance **and** PESQ, and the L/R mel music row must beat music L1 on
   mel distance. Asserted in `cpu` and `gpu`.
2. *The mid/side loss keeps the stereo image*: the mid/side row's ILD error must be at least 10%
   lower than the L/R row's. Asserted in `cpu` and `gpu`. It needs an image to keep: trained 200
   steps, like the speech rows, no music row had learned one (ILD correlation 0.02–0.16, every
   row within a dB of a mono copy's ILD error, seeds 0–4), and the claim held in no seed. So the
   music rows train 600 steps; how the verdict moved with steps is in the takeaway.
   The mid/side term also keeps the stereo **width**: the L/R row decodes left and right with
   unrelated phases, so its side channel is as loud as its mid, while the mid/side row stays close
   to the originals. We noticed this after the first run, so it is reported, not claimed.
""")
code('''
spectral = ["speech · MR-STFT", "speech · MR-STFT + mel"]
l1 = res.loc["speech · waveform L1"]
speech_ok = all(res.loc[k, "mel_dist"] < l1["mel_dist"] and res.loc[k, "pesq_wb"] > l1["pesq_wb"] for k in spectral)
music_ok = res.loc["music · L/R mel", "mel_dist"] < res.loc["music · waveform L1", "mel_dist"]
_ = check_claim(
    "02", "spectral losses beat waveform L1 at equal steps",
    {k: {"mel_dist": res.loc[k, "mel_dist"], "pesq_wb": res.loc[k].get("pesq_wb", float("nan"))}
     for k in spectral + ["speech · waveform L1", "music · L/R mel", "music · waveform L1"]},
    holds=bool(speech_ok and music_ok),
    detail=(f"speech mel/PESQ: L1 {l1['mel_dist']:.3f}/{l1['pesq_wb']:.2f}, "
            + ", ".join(f"{k.split(' · ')[1]} {res.loc[k, 'mel_dist']:.3f}/{res.loc[k, 'pesq_wb']:.2f}" for k in spectral)
            + f"; music mel: L1 {res.loc['music · waveform L1', 'mel_dist']:.3f}, "
              f"L/R mel {res.loc['music · L/R mel', 'mel_dist']:.3f}"),
    preset=preset, seed=seed)
''')
code('''
ild_lr, ild_ms = res.loc["music · L/R mel", "ILD error dB"], res.loc["music · L/R mel + mid/side", "ILD error dB"]
_ = check_claim(
    "02", "mid/side keeps the stereo image",
    {"ild_lr_db": ild_lr, "ild_ms_db": ild_ms,
     "width_ref_db": float(np.mean([metrics.stereo_width(x) for x in eval_sets["music"]])),
     "width_lr_db": res.loc["music · L/R mel", "width dB"], "width_ms_db": res.loc["music · L/R mel + mid/side", "width dB"],
     "ild_mono_db": ild_mono, "ild_corr_lr": res.loc["music · L/R mel", "ILD corr"],
     "ild_corr_ms": res.loc["music · L/R mel + mid/side", "ILD corr"]},
    holds=bool(ild_ms < 0.9 * ild_lr),
    detail=(f"ILD error: L/R mel {ild_lr:.2f} dB, + mid/side {ild_ms:.2f} dB (claim: at least 10% lower); "
            f"a mono copy {ild_mono:.2f} dB; ILD corr L/R {res.loc['music · L/R mel', 'ILD corr']:.2f}, "
            f"mid/side {res.loc['music · L/R mel + mid/side', 'ILD corr']:.2f}"),
    preset=preset, seed=seed)  # cpu, 600 music steps: 4 of 5 seeds on two machines (a different seed failed on each), see the takeaway
''')
code('''
print(f"notebook time: {time.time() - t_start:.0f} s")
''')
md("""
## What we measured, and the takeaway

`cpu`, seed 0, 200 steps per speech row (1 s crops), 600 per stereo music row (0.5 s crops):

| speech row | mel distance | PESQ-wb | STOI | SI-SDR |
|---|---|---|---|---|
| waveform L1 | 1.658 | 1.02 | 0.56 | **−10.2 dB** |
| MR-STFT | 0.756 | 1.11 | 0.72 | −27.6 dB |
| MR-STFT + mel | **0.684** | **1.14** | **0.77** | −40.4 dB |
| MR-STFT + mel + adv/FM | 0.732 | 1.11 | 0.75 | −18.2 dB |
| mel + complex STFT | 0.725 | 1.10 | 0.75 | −35.8 dB |
| mel + phase | 0.709 | 1.11 | 0.75 | −35.0 dB |

| music row (stereo) | mel distance | ILD error | ILD corr | width error | chroma error |
|---|---|---|---|---|---|
| waveform L1 | 1.833 | 8.6 dB | 0.07 | 3.6 dB | **0.635** |
| L/R mel | 1.025 | 7.6 dB | 0.15 | 6.4 dB | 1.059 |
| L/R mel + mid/side | 1.034 | **6.2 dB** | **0.19** | **2.4 dB** | 1.061 |
| L/R mel + CQT | **1.021** | 7.8 dB | 0.10 | 5.7 dB | 1.053 |
| *a mono copy of the reference* | – | *9.1 dB* | *0* | – | – |

- **C2 holds in 4 of 5 seeds.** At equal steps the spectral losses beat waveform L1 on what the ear
  measures (mel distance less than half, PESQ and STOI higher), while L1 wins only SI-SDR. Over seeds
  0–4 the mel distance verdict never wavered (L1 1.66–3.05, spectral 0.68–0.79); the seed that fails
  does so on PESQ alone (seed 4: L1 1.33 against 1.11, at four times their mel distance): near its
  floor of 1.0, PESQ is noisy. The critic (adv/FM) moved the waveform closer without raising PESQ;
  the CQT term lowered the chroma error by only 0.006, too small to count in one seed.
- **C3 holds in 4 of 5 seeds.** The mid/side term keeps more of the stereo image (seed 0: ILD error
  6.2 dB against 7.6 for L/R, 18% lower; over seeds 0–4 16–20% lower except in one seed, 7%, where
  the claim asks 10%) and its width (2.4 dB width error against 6.4: the L/R row's channels drift
  apart in phase). The margin is thin: even the best row's ILD correlation is 0.2 against 1 for a
  kept image, and float rounding alone moves which seed fails.
- **How the C3 verdict moves with the music steps**: mid/side ≥ 10% lower in 0 seeds of 5 at 200
  steps, 1 of 4 at 400, 4 of 5 at 600 (this notebook), 2 of 2 at 800 and 1 of 1 at 1200. After 200
  steps every row lands within a dB of the mono copy: no decoder has learned an image yet, and the
  mid/side row is the one that learns one first.

Full lab notes (every run, host and attempt): [benchmarks/NOTES.md](../benchmarks/NOTES.md#02--the-oracle-which-reconstruction-losses)

The oracle is the ceiling, not the goal: notebook 03 breaks it on purpose and measures how far the
decoded predictions fall below it.
""")
write("notebooks/02_oracle.ipynb")
