import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# 05 · Semantic teachers are invariance contracts

Many recent codecs add a **teacher**: align the latent to WavLM or HuBERT features, to phone
posteriors, to chroma, to an inter-channel level difference. It is usually called *semantic alignment*.
A more useful name is **invariance contract**. A teacher declares which differences the latent may
*collapse* (what the teacher ignores) and which must stay *measurable* (what the teacher encodes).

That contract can be the product or a bug. A phone recogniser ignores who is speaking. Couple it into
a narrow latent and you ask that latent to keep the words and, with the little room left, to
let the voice go. For a speech-understanding tokenizer that is fine. For a voice-cloning codec it is
a disaster. VibeVoice reports exactly this: its coupled tokenizer improved content and lost speaker
similarity, so the final design keeps two paths, an acoustic one and a semantic one. Semantic-VAE
aligns a speech VAE to WavLM and finds that *which layer* you align to changes what you get.

The builder's move is to **write the ledger first**: for every factor, retain, collapse, or "the
product decides". Then measure each encoder against it with probes.

This lesson:
1. writes a retain/collapse ledger for a voice-cloning TTS codec;
2. trains a small **content teacher** on the corpus's phone labels (our stand-in for WavLM);
3. trains three encoders: an **acoustic-only** narrow latent, the same latent **coupled** to the
   teacher, and a **two-path** latent (the acoustic stream plus a semantic stream that alone carries
   the teacher);
4. probes all three against the ledger (linear probes, chance beside every score);
5. measures how much of the teacher's phone knowledge **fits in four channels**, and how the
   coupled encoder learns the phones of the voices it knows before those of new voices;
6. asks whether the **teacher layer** matters, and plays the decodes.
""")
code('''
preset = "auto"  # "smoke" (CI), "cpu" (a laptop: about 4 min on 2 idle cores, under 1 min re-run) or "gpu"; "auto": gpu if CUDA
seed = 0
''', tags=["parameters"])
md("""
## 1 · Write the ledger before training

The product: a **voice-cloning TTS codec**. A generator predicts its latents from text and a voice
prompt, so the latent must keep the words, the voice and the prosody. Room tone is a product choice
(a podcast clone may want the room). Background noise should go.

`Ledger` turns that into probes: each factor names a linear probe on the frozen latent, and the
verdict compares the probe with chance. *Present* means the probe scores at least `threshold` of
the way from chance to perfect (for R² probes: R² ≥ threshold).
""")
code('''
import time
import numpy as np, pandas as pd, torch
import matplotlib.pyplot as plt
from IPython.display import display
from tqdm.auto import tqdm
from course_lib import data, presets, training, teachers, probes, metrics, widgets
from course_lib.ledger import Ledger
from course_lib.claims import check_claim

t_start = time.time()
torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
preset = presets.resolve(preset)
lesson = presets.teacher_lesson(preset, seed)
corpus = data.ensure_corpus(next(iter(lesson.encoders.values()))[0].corpus)

ledger = Ledger(
    {"content": "retain", "speaker": "retain", "prosody": "retain", "energy": "retain",
     "room": "product", "degradation": "collapse"},
    notes={"content": "the generator reads text: the words must be there",
           "speaker": "voice cloning: the prompt's voice must survive",
           "prosody": "F0 carries intonation", "energy": "loudness contour",
           "room": "a podcast clone may want the room; a clean TTS voice may not",
           "degradation": "noise should not be cloned"})
print(ledger)
''')
md("""
## 2 · A content teacher, trained here

A small phone recogniser (log-mel → a few convolutions → 41 phone posteriors, 100 frames per
second), trained on the festival/flite phone timings of the training voices. It is scored on the
**test voices, which it never heard**. It is a teacher, not an ASR system: what matters is that its
deep layers encode phones and care little about who speaks.

Two textbook tricks from speech recognition buy it that indifference to the voice. Each mel band has
its mean over the clip removed (cepstral mean normalisation: what a voice or a room keeps constant
goes), and every training clip is also played 10% faster and slower (speed perturbation: new pitch
*and* new formants, vocal tracts the five base voices lack). On voices it never heard they lift its
phone accuracy from 48% to 57–58% (`cpu`, seeds 0–4).
""")
code('''
teacher, tinfo = teachers.content_teacher_or_load(corpus, lesson.teacher, progress=True)
how = "loaded" if tinfo["loaded"] else f"trained in {tinfo['train_seconds']:.0f} s"
print(f"content teacher: frame phone accuracy on unseen voices {tinfo['test_accuracy']:.1%} "
      f"(chance: the most common phone, {tinfo['chance']:.1%}) · {how}")
''')
code('''
# What the teacher hears in one sentence it never heard: its phone posteriors against the labels.
df = data.read_manifest(corpus)
row = data.select(df, split="test", domain="speech", condition="clean").iloc[0]
x_ex, lab_ex = data.load_clip(corpus, row, 1), data.load_labels(corpus, row)
with torch.no_grad():
    post = teacher(x_ex[None], "posteriors")[0].numpy()
truth = teachers.phone_targets(lab_ex, post.shape[1]).numpy()
used = sorted(set(truth[truth >= 0]) | set(post.argmax(0)))
fig, ax = plt.subplots(figsize=(11, 4))
ax.imshow(post[used], aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
          extent=(0, post.shape[1] / 100, -0.5, len(used) - 0.5))
frames = np.flatnonzero(truth >= 0)
ax.scatter(frames / 100 + 0.005, [used.index(p) for p in truth[frames]], s=3, c="cyan", label="labelled phone")
ax.set_yticks(range(len(used)), [teachers.PHONES[i] for i in used], fontsize=7)
ax.set_xlabel("time (s)"); ax.set_ylabel("phone")
ax.set_title(f"teacher phone posteriors (colour) vs the labels (cyan) · {row['speaker']}: “{row['text']}”")
ax.legend(loc="upper right", fontsize=8); plt.tight_layout(); plt.show()
''')
md("""
## 3 · Three encoders, one narrow budget

All three share the network and the data of notebooks 01–04, at 50 latent frames per second, and
one budget. In `cpu` that is 1000 steps of four half-second crops: the same 2000 seconds of audio
as the 250 steps of eight one-second crops that notebooks 01–04 train on, in four times as many,
smaller updates (section 5 shows why the coupled encoder needs them). What changes is the contract:

| encoder | latent | coupling |
|---|---|---|
| **acoustic only** | 4 channels | reconstruction only |
| **coupled to the teacher** | the same 4 channels | + KL from the teacher's phone posteriors to a projection of z |
| **two-path** | 4 acoustic + 4 semantic channels | the coupling reaches only the semantic 4 |

The coupling loss goes through a learned 1×1 projection P (Semantic-VAE, SALAD-VAE): z does not
have to *equal* the teacher, only to make it linearly readable, which is what a generator or a
probe can use. The two-path latent is wider by design: that is VibeVoice's answer, a second path
instead of one latent carrying every job.
""")
code('''
def train_encoder(p, coupling):
    """Train (or load) one autoencoder, with the teacher coupled in when ``coupling`` is given."""
    aux = None
    if coupling is not None:
        aux = teachers.TeacherAlignment(teacher, coupling, p.model.width, p.model.down, tinfo["key"], seed=seed)
    return training.train_or_load(p, progress=False, aux=aux)

def describe(runs, lesson_part):
    """One row per encoder: its latent, its coupling, its budget and how it got here."""
    rows = {}
    for label, run in runs.items():
        p, c = lesson_part[label]
        rows[label] = {"latent channels": run.model.cfg.width,
                       "coupling": "—" if c is None else f"{c.layer} ({c.loss}, weight {c.weight:g})"
                       + ("" if c.channels is None else f" on channels {c.channels[0]}–{c.channels[1] - 1}"),
                       "steps": p.train.steps, "crop s": p.train.segment_s,
                       "final train loss": round(run.history[-1]["loss"], 3),
                       "train s": "cached" if run.info["loaded"] else round(run.info["train_seconds"])}
    return pd.DataFrame(rows).T

runs = {label: train_encoder(p, c) for label, (p, c) in tqdm(lesson.encoders.items(), desc="encoders")}
describe(runs, lesson.encoders)
''')
md("""
## 4 · Probe all three against the ledger

Each factor is a *linear* probe on the frozen latent: what is linearly readable is what a small
generator can use. The probe for content is trained on the training voices and tested on voices
the encoders never heard; speaker identity is tested on new sentences of known voices. Chance sits
beside every score.
""")
code('''
n_train, n_degraded = {"smoke": (12, 6), "cpu": (250, 100)}.get(preset, (500, 200))
pset = probes.probe_set(corpus, n_train=n_train, n_degraded=n_degraded, seed=seed)
print(f"probing on {len(pset.rows)} speech clips "
      f"({pd.Series([r['condition'] for r in pset.rows]).value_counts().to_dict()})")

latents_of = {}  # label -> the frozen latents of every probe clip (section 5 probes them again)

def judge(label, model):
    latents_of[label] = pset.latents(model)
    return ledger.run(latents_of[label], pset.rows, pset.labels, model.cfg.latent_rate, audio=pset.mono(), seed=seed)

results = {label: judge(label, run.model) for label, run in tqdm(runs.items(), desc="probing")}
display(ledger.table(results))
''')
md("""
Read the table row by row against the contract. Two rows are worth a pause whatever the teacher:
with four channels at 50 Hz the **intonation contour** (F0 around the speaker's own register) is not
linearly readable from any of the three latents, and the **noise type** is: nothing in this
training asked for noise to go (every encoder saw clean speech only), so the contract's "collapse"
is broken by all three. Notebook 07 trains an encoder whose job is to remove it.

The first row is the lesson's starting point. The four-channel acoustic-only latent *loses the
phones* of unseen voices by the ledger's bar: in `cpu`, seed 0, its content probe scores 0.267,
0.19 of the way from chance (0.10) to perfect, short of the 0.2 the ledger asks (about 0.28 here);
in seeds 0–4 it scores 0.254–0.273, short every time (*What we measured*). That is what the
teacher's coupling is for: the coupled latent clears the bar (0.290).
""")
code('''
def score(label, factor):
    return next(r for r in results[label] if r.factor == factor)

labels = list(runs)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, factor, title in zip(axes, ("content", "speaker"),
                             ("content: frame phone accuracy, unseen voices", "speaker: voice id, new sentences")):
    vals = [score(lab, factor).score for lab in labels]
    ax.bar(range(len(labels)), vals, color=["#777", "#d62728", "#2ca02c"][: len(labels)])
    ax.axhline(score(labels[0], factor).chance, color="k", ls="--", lw=1, label="chance")
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(range(len(labels)), [lab.replace(" (", "\\n(") for lab in labels], fontsize=8)
    ax.set_ylabel("accuracy"); ax.set_title(title, fontsize=10); ax.legend(fontsize=8)
plt.tight_layout(); plt.show()
''')
md("""
### The claims

**C10** (VibeVoice): coupling the content teacher into the one narrow latent *raises* the content
probe and *lowers* the speaker probe. **C11**: the two-path latent keeps both: content at least as
high as the coupled latent's, speaker as high as the acoustic-only latent's.

The margins are set by the probes' resolution: content is scored on thousands of frames (a 0.01
accuracy change is several standard errors); speaker on about 165 held-out clips, new sentences of
the known voices (159–174 in seeds 0–4): 0.05 is about 8 of them.
""")
code('''
acoustic, coupled, two_path = labels
c = {lab: score(lab, "content").score for lab in labels}
s = {lab: score(lab, "speaker").score for lab in labels}
check_claim("05", "C10 coupling a content teacher raises content and drops speaker (VibeVoice)",
            {"content": c, "speaker": s},
            holds=c[coupled] - c[acoustic] >= 0.01 and s[acoustic] - s[coupled] >= 0.05,
            detail=f"content {c[acoustic]:.3f} → {c[coupled]:.3f} (needs +0.01), "
                   f"speaker {s[acoustic]:.3f} → {s[coupled]:.3f} (needs −0.05)",
            preset=preset, seed=seed)
check_claim("05", "C11 the two-path latent keeps both",
            {"content": c, "speaker": s},
            holds=c[two_path] >= c[coupled] - 0.01 and s[two_path] >= s[acoustic] - 0.05,
            detail=f"two-path content {c[two_path]:.3f} vs coupled {c[coupled]:.3f} (within 0.01 or above); "
                   f"two-path speaker {s[two_path]:.3f} vs acoustic-only {s[acoustic]:.3f} (within 0.05 or above)",
            preset=preset, seed=seed);
''')
md("""
## 5 · Why the coupled encoder needs the steps: room in four channels, and voices it knows

Two questions. First, is there anything to gain? The coupled latent can pass on only what the
teacher knows, and only as much of it as four channels hold. How much phone identity *fits* in four
linear channels? Ask the teacher itself. Take its phone
logits (41 numbers a frame, pooled to 50 Hz), squeeze them to four channels with the linear map that
best separates the phones (linear discriminant analysis, fitted on the training voices only), and
probe the result exactly like a latent. That estimates the ceiling for the coupled latent: about
the most of this teacher's phone knowledge that four linear channels carry. (An estimate, not a
bound: LDA is the best linear squeeze only when every phone's frames spread alike.)

Second, whose phones does the coupled encoder learn, and when? The content probe is tested on voices
the encoders never heard. The column *content, training voices* probes again on **new sentences of
the training voices** (`probes` factor `content_known`): the same question without the change of
voice. It is a diagnostic only: a probe that knows the voice can lean on it, which is why the ledger
tests content on new voices. We ask it twice: of section 3's pair, and of the same pair trained a
quarter of the steps (the *quick* pair).
""")
code('''
# The teacher's phone logits, probed as they are and squeezed to W linear channels (LDA).
W = presets.NARROW_WIDTH
logits = teachers.teacher_features(teacher, pset.mono(), "logits", 50.0)
teacher_full = pset.probe(logits, 50.0, factors=("content",), seed=seed)["content"]
squeeze = probes.content_squeeze(logits, pset.rows, pset.labels, 50.0, W, seed=seed)
squeezed = pset.probe(squeeze, 50.0, seed=seed)
''')
md("""
The quick pair: section 3's acoustic-only and coupled encoders again, trained a quarter of the
steps, probed the same way.
""")
code('''
quick_runs = {label: train_encoder(p, cp) for label, (p, cp) in tqdm(lesson.quick.items(), desc="quick pair")}
display(describe(quick_runs, lesson.quick))
latents_of.update({label: pset.latents(run.model) for label, run in quick_runs.items()})
quick = {label: pset.probe(latents_of[label], 50.0, seed=seed) for label in quick_runs}
quick_acoustic, quick_coupled = lesson.quick
full_steps, quick_steps = (next(iter(part.values()))[0].train.steps for part in (lesson.encoders, lesson.quick))
''')
md("""
One table: the teacher, its four-channel squeeze and both pairs, on the three probes.
""")
code('''
def known(features):
    """Phones on new sentences of the *training* voices: the content probe without the voice change."""
    return pset.probe(features, 50.0, factors=("content_known",), seed=seed)["content_known"].score

def scores(label):
    """(content, speaker) of one probed encoder: section 4's, or the quick pair above."""
    if label in quick:
        return quick[label]["content"].score, quick[label]["speaker"].score
    return c[label], s[label]

table = {f"teacher logits ({len(logits[0])} channels)": {
             "content": teacher_full.score, "content, training voices": known(logits), "speaker": np.nan},
         f"teacher squeezed to {W} channels": {
             "content": squeezed["content"].score, "content, training voices": known(squeeze),
             "speaker": squeezed["speaker"].score}}
for n, pair in ((quick_steps, (quick_acoustic, quick_coupled)), (full_steps, (acoustic, coupled))):
    for short, label in zip(("acoustic only", "coupled"), pair):
        content, speaker = scores(label)
        table[f"{short} · {n} steps"] = {"content": content, "content, training voices": known(latents_of[label]),
                                         "speaker": speaker}
fit = pd.DataFrame(table).T
display(fit.round(3))
''')
code('''
# Three panels, read left to right: phones of new voices, phones of the training voices, the voice.
columns = ("content", "content, training voices", "speaker")
titles = ("content probe: unseen voices", "content probe: training voices, new sentences",
          "speaker probe: new sentences")
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for i, n in enumerate((quick_steps, full_steps)):
    for j, (name, colour) in enumerate((("acoustic only", "#777"), ("coupled", "#d62728"))):
        for ax, col in zip(axes, columns):
            v = fit.loc[f"{name} · {n} steps"][col]
            ax.bar(i + (j - 0.5) * 0.35, v, 0.35, color=colour, label=name if i == 0 else None)
            ax.text(i + (j - 0.5) * 0.35, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
for ax, col in zip(axes[:2], columns[:2]):  # what the teacher squeezed to four channels reads
    ax.axhline(fit.loc[f"teacher squeezed to {W} channels"][col], color="k", ls="--", lw=1,
               label=f"the teacher squeezed to {W} channels")
for ax, title in zip(axes, titles):
    ax.set_xticks(range(2), [f"{n} steps" for n in (quick_steps, full_steps)])
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend above the bars
    ax.set_ylabel("accuracy"); ax.set_title(title, fontsize=10); ax.legend(fontsize=7, loc="upper left")
plt.tight_layout(); plt.show()
''')
md("""
Read the two budgets side by side; *What we measured* has them for five seeds.

- **There is room at four channels.** Squeezed to four channels, the teacher reads the phones of
  unseen voices 0.05–0.09 better than the acoustic-only latent does (seeds 0–4).
- **The coupled encoder learns the phones of the voices it knows first.** After 250 steps coupling
  raises the content probe on new sentences of the *training* voices by 0.04–0.08 in every seed,
  and on unseen voices by anything from −0.01 to +0.05. The KL loss first teaches the encoder the
  teacher's phones *in the voices it hears*; a new voice's phones land somewhere else in the latent,
  where a probe fitted on the known voices cannot read them.
- **With four times the updates the code carries over.** After 1000 steps coupling raises content on
  unseen voices by 0.02–0.08 in every seed (on the training voices by 0.08–0.14), and the voice
  has made room: the speaker probe falls in every seed.

So VibeVoice's trade shows when the latent is too narrow for both jobs *and* the coupled encoder
has trained long enough for its phone code to stop depending on the voice. Coupling hands the
encoder the teacher's phones at once; the teacher's indifference to who is speaking takes longer.
""")
md("""
## 6 · Which teacher layer, which loss?

Semantic-VAE's ablations change the SSL layer and the alignment loss, and both change the result.
Here the same narrow latent is aimed at two ends of the teacher with the same cosine loss: its
**first layer** (close to the log-mel input, still full of voice) and its **phone logits** (the
decision, where much less of the voice remains: in section 5's table the logits, squeezed to four
channels, still name the voice 0.406 of the time in seed 0, against a chance of 0.16). The quick
coupled encoder of section 5 is the third point: the phone **posteriors**, distilled with KL. All
three train the quick budget, which keeps this study within the notebook's time. The price: after
250 steps the coupled encoder has let less of the voice go than it will (section 5), so the contrast
between the two ends is smaller here than at the full budget, and in one seed of five it misses
(*What we measured*).
""")
code('''
layer_runs = {label: train_encoder(p, cp) for label, (p, cp) in tqdm(lesson.layers.items(), desc="layer study")}
layer_results = {label: pset.probe(pset.latents(run.model), run.model.cfg.latent_rate, seed=seed)
                 for label, run in layer_runs.items()}
deep_label = "posteriors (phone end) · KL"
layer_results[deep_label] = quick[quick_coupled]
cosines = {label: run.history[-1].get("teacher_cos", np.nan) for label, run in layer_runs.items()}
layer_table = pd.DataFrame({label: {"content": r["content"].score, "speaker": r["speaker"].score,
                                    "teacher cosine (end of training)": cosines.get(label, np.nan)}
                            for label, r in layer_results.items()}).T
layer_table.loc["acoustic only (no teacher)"] = [*scores(quick_acoustic), np.nan]
display(layer_table.round(3))
''')
code('''
fig, ax = plt.subplots(figsize=(6.5, 4))
for label, r in layer_table.iterrows():
    ax.scatter(r["content"], r["speaker"], s=60)
    ax.annotate(label, (r["content"], r["speaker"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
ax.set_xlabel("content probe (unseen voices)"); ax.set_ylabel("speaker probe (new sentences)")
ax.margins(x=0.35, y=0.15)
ax.set_title(f"one narrow latent, three teacher targets ({quick_steps} steps)"); plt.tight_layout(); plt.show()
''')
md("""
**C12** (Semantic-VAE): the teacher layer matters. Stated before measuring, in the direction the
contract predicts: aiming at the phone end (posteriors, KL, as the coupled encoder does) collapses
more of the voice than aiming at the acoustic end (layer 1, cosine), by at least 0.05 speaker
accuracy. The logits · cosine row is shown, not asserted: it holds the loss fixed and moves only the
layer.
""")
code('''
shallow = next(iter(lesson.layers))
ls = {k: v["speaker"].score for k, v in layer_results.items()}
lc = {k: v["content"].score for k, v in layer_results.items()}
check_claim("05", "C12 the teacher layer matters (Semantic-VAE)", {"speaker": ls, "content": lc},
            holds=ls[shallow] - ls[deep_label] >= 0.05,
            detail=f"speaker probe: {shallow} {ls[shallow]:.3f} vs {deep_label} {ls[deep_label]:.3f} "
                   f"(needs a 0.05 drop); same loss, logits: {ls[next(reversed(lesson.layers))]:.3f}",
            preset=preset, seed=seed);
''')
md("""
## 7 · Listen

One sentence from a voice no encoder heard, decoded by each. The coupled latent spends its four
channels on the phones, and you can hear what it gave up. The table scores every encoder's
reconstruction on the held-out sentences (log-mel distance, lower is better).
""")
code('''
test_rows = data.select(df, split="test", domain="speech", condition="clean").head(
    next(iter(lesson.encoders.values()))[0].eval_clips)
refs = [data.load_clip(corpus, r, 1) for _, r in test_rows.iterrows()]
recon = {label: training.reconstruct(run.model, refs) for label, run in runs.items()}
mel = {label: float(np.mean([metrics.mel_distance(y, x) for y, x in zip(ys, refs)])) for label, ys in recon.items()}
display(pd.Series(mel, name="oracle mel distance (held-out sentences)").round(3).to_frame())
widgets.ab_player({"original": refs[0], **{label: ys[0] for label, ys in recon.items()}},
                  title=f"{test_rows.iloc[0]['speaker']}: “{test_rows.iloc[0]['text']}”")
''')
code('''
print(f"notebook 05 ran in {(time.time() - t_start) / 60:.1f} min (preset {preset}, seed {seed})")
''')
md("""
## What we measured

`cpu` preset, 2 CPU cores, seeds 0–4 (a linear probe on the frozen latent; content on the test
voices, speaker on new sentences; 550 probe clips). Chance: content 0.10, speaker 0.16. The content
teacher reads 57.0–58.3% of the phones of the unseen voices.

| seed | acoustic only: content / speaker | coupled | two-path | layer 1 · cos, speaker (250 steps) | posteriors · KL (250) | logits · cos (250) | C10 | C11 | C12 |
|---|---|---|---|---|---|---|---|---|---|
| 0 | 0.267 / 0.770 | 0.290 / 0.485 | 0.323 / 0.794 | 0.739 | 0.630 | 0.715 | ✓ | ✓ | ✓ |
| 1 | 0.257 / 0.697 | 0.332 / 0.564 | 0.358 / 0.848 | 0.709 | 0.655 | 0.612 | ✓ | ✓ | ✓ |
| 2 | 0.254 / 0.678 | 0.287 / 0.644 | 0.317 / 0.833 | 0.672 | 0.667 | 0.632 | ✗ speaker −0.034 | ✓ | ✗ 0.005 |
| 3 | 0.270 / 0.660 | 0.318 / 0.597 | 0.362 / 0.792 | 0.629 | 0.516 | 0.616 | ✓ | ✓ | ✓ |
| 4 | 0.273 / 0.751 | 0.299 / 0.533 | 0.335 / 0.822 | 0.722 | 0.633 | 0.734 | ✓ | ✓ | ✓ |

- **C10 holds in four seeds, seed 0 among them**: content on unseen voices +0.023 to +0.075 in
  every seed, speaker −0.06 to −0.29 in four; in seed 2 the voice probe fell by only 0.034 (the
  claim asks 0.05).
- **More updates, not more audio, made it show**: with the budget of notebooks 01–04 (250 steps of
  eight one-second crops, the same audio) the content half held in three seeds of five.
- **Section 5, seed by seed: known voices first, new voices later.** Coupling's gain in content on
  unseen voices / on the training voices / in the speaker probe:

  | seed | teacher squeezed to 4: unseen / training voices | 250 steps: unseen / training / speaker | 1000 steps: unseen / training / speaker |
  |---|---|---|---|
  | 0 | 0.330 / 0.413 | −0.011 / +0.041 / −0.164 | +0.023 / +0.099 / −0.285 |
  | 1 | 0.345 / 0.398 | +0.032 / +0.070 / −0.036 | +0.075 / +0.135 / −0.133 |
  | 2 | 0.322 / 0.381 | +0.020 / +0.056 / −0.011 | +0.033 / +0.082 / −0.034 |
  | 3 | 0.323 / 0.390 | +0.048 / +0.075 / −0.132 | +0.048 / +0.113 / −0.063 |
  | 4 | 0.340 / 0.409 | +0.001 / +0.042 / −0.024 | +0.026 / +0.076 / −0.218 |

  At the quick budget C10 would hold in one seed of five (seed 3). The speaker drop grows with the
  steps in four seeds; in seed 3 it shrinks.
- **C11 holds in every seed**: the two-path latent has the best content probe (0.026–0.044 above
  the coupled latent) *and* a speaker probe above the acoustic-only latent's (by 0.02–0.16). It is
  wider (8 channels, not 4), which is the point of the design.
- **C12 holds in four seeds**: at the quick budget, aiming at the phone end removes more of the
  voice than aiming at layer 1, by 0.05–0.11; in seed 2 by 0.005. With the loss held fixed (cosine,
  layer 1 vs logits) the direction is the same in four of five seeds (by 0.01–0.10; seed 4 is
  reversed by 0.012). With 01–04's budget (250 steps of eight one-second crops) it held in all
  five, by 0.05–0.19.
- **The coupled latent pays in sound**: its oracle mel distance is 0.92–1.05 against 0.84–0.86 for
  the acoustic-only latent; the two-path latent's is 0.82–0.95.
- Intonation (F0 around each speaker's register) is not linearly readable from any of the three
  latents, and the noise type leaks from all three: the ledger flags both.

Full lab notes (every run, host and attempt): [benchmarks/NOTES.md](../benchmarks/NOTES.md#05--semantic-teachers-are-invariance-contracts)

## Takeaway

A teacher is not free semantic goodness. It is a contract about what the latent may forget, and a
narrow latent pays for it with whatever the teacher ignores. Write the ledger first, probe every
factor against it, and when one latent cannot keep everything the product needs, give the teacher
its own path. Probe content on voices the encoder never heard: a coupling loss hands the encoder the
teacher's phones for the voices it trains on first, and the teacher's indifference to who is
speaking only with many more updates.
""")

write("notebooks/05_teachers.ipynb")
