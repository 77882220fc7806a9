import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# 05 · Semantic teachers are invariance contracts

Many recent codecs add a **teacher**: align the latent to WavLM or HuBERT features, to phone
posteriors, to chroma, to an interaural level difference. It is usually called *semantic alignment*.
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
5. measures how much of the teacher's phone knowledge **fits in the latent's width**, at four
   channels and at eight;
6. asks whether the **teacher layer** matters, and plays the decodes.
""")
code('''
preset = "auto"  # "smoke" (CI), "cpu" (a laptop, about 4 min) or "gpu"; "auto" picks gpu when CUDA is there
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

All three share the network, the data and the steps of notebooks 01–04, at 50 latent frames per
second. What changes is the contract:

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

runs = {}
for label, (p, coupling) in tqdm(lesson.encoders.items(), desc="encoders"):
    runs[label] = train_encoder(p, coupling)
pd.DataFrame({label: {"latent channels": r.model.cfg.width,
                      "coupling": "—" if c is None else f"{c.layer} ({c.loss}, weight {c.weight:g})"
                                  + ("" if c.channels is None else f" on channels {c.channels[0]}–{c.channels[1] - 1}"),
                      "final train loss": round(r.history[-1]["loss"], 3),
                      "train s": "cached" if r.info["loaded"] else round(r.info["train_seconds"])}
              for label, (r, (_, c)) in zip(runs, zip(runs.values(), lesson.encoders.values()))}).T
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
accuracy change is several standard errors); speaker on about a hundred held-out sentences (0.05 is
one or two errors in twenty).

At `cpu` scale C10 is **not shown**: its speaker half holds in every seed, its content half in three
of five, not seed 0, and by margins at the level of run-to-run noise (see *What we measured*); section 5
measures why. It is asserted in `gpu` and recorded, with its numbers, here. (The `gpu` models,
trained on a CPU for seed 0, show both halves by far: *What we measured*.)
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
            preset=preset, seed=seed, shown_in=("gpu",))  # cpu: 3 of 5 seeds, not seed 0: the content half
check_claim("05", "C11 the two-path latent keeps both",
            {"content": c, "speaker": s},
            holds=c[two_path] >= c[coupled] - 0.01 and s[two_path] >= s[acoustic] - 0.05,
            detail=f"two-path content {c[two_path]:.3f} vs coupled {c[coupled]:.3f} (within 0.01 or above); "
                   f"two-path speaker {s[two_path]:.3f} vs acoustic-only {s[acoustic]:.3f} (within 0.05 or above)",
            preset=preset, seed=seed);
''')
md("""
## 5 · Why the content half is small: room in four channels, and voices the encoder knows

Two questions. First, is there anything to gain? The coupled latent can pass on only what the
teacher knows, and only as much of it as four channels hold. How much phone identity *fits* in four
linear channels? Ask the teacher itself. Take its phone
logits (41 numbers a frame, pooled to 50 Hz), squeeze them to four channels with the linear map that
best separates the phones (linear discriminant analysis, fitted on the training voices only), and
probe the result exactly like a latent. That estimates the ceiling for the coupled latent: about
the most of this teacher's phone knowledge that four linear channels carry. (An estimate, not a
bound: LDA is the best linear squeeze only when every phone's frames spread alike.)

Second, whose phones did the coupled encoder learn? The content probe is tested on voices the
encoders never heard. The column *content, training voices* probes again on **new sentences of the
training voices** (`probes` factor `content_known`): the same question without the change of voice.
It is a diagnostic only: a probe that knows the voice can lean on it, which is why the ledger tests
content on new voices.

Then all of it at eight channels, with the acoustic-only / coupled pair trained again at that width:
with room to spare, does the teacher still push the voice out?
""")
code('''
W = presets.NARROW_WIDTH
logits = teachers.teacher_features(teacher, pset.mono(), "logits", 50.0)
teacher_full = pset.probe(logits, 50.0, factors=("content",), seed=seed)["content"]
squeeze = {k: probes.content_squeeze(logits, pset.rows, pset.labels, 50.0, k, seed=seed) for k in (W, 2 * W)}
squeezed = {k: pset.probe(zk, 50.0, seed=seed) for k, zk in squeeze.items()}
wider_runs = {label: train_encoder(p, cp) for label, (p, cp) in tqdm(lesson.wider.items(), desc="wider pair")}
latents_of.update({label: pset.latents(run.model) for label, run in wider_runs.items()})
wider = {label: pset.probe(latents_of[label], 50.0, seed=seed) for label in wider_runs}
wide_acoustic, wide_coupled = lesson.wider

def known(features):
    """Phones on new sentences of the *training* voices: the content probe without the voice change."""
    return pset.probe(features, 50.0, factors=("content_known",), seed=seed)["content_known"].score

def scores(label):
    """(content, speaker) of one probed encoder: section 4's narrow ones, or the wider pair above."""
    if label in wider:
        return wider[label]["content"].score, wider[label]["speaker"].score
    return c[label], s[label]

table = {f"teacher logits ({len(logits[0])} channels)": {
    "channels": len(logits[0]), "content": teacher_full.score, "content, training voices": known(logits),
    "speaker": np.nan}}
for k, pair in ((W, (acoustic, coupled)), (2 * W, (wide_acoustic, wide_coupled))):
    table[f"teacher squeezed to {k}"] = {"channels": k, "content": squeezed[k]["content"].score,
                                         "content, training voices": known(squeeze[k]),
                                         "speaker": squeezed[k]["speaker"].score}
    for short, label in zip(("acoustic only", "coupled"), pair):
        content, speaker = scores(label)
        table[f"{short} · {k}"] = {"channels": k, "content": content,
                                   "content, training voices": known(latents_of[label]), "speaker": speaker}
fit = pd.DataFrame(table).T
display(fit.astype({"channels": int}).round(3))
''')
code('''
# Three panels, read left to right: phones of new voices, phones of the training voices, the voice.
columns = ("content", "content, training voices", "speaker")
titles = ("content probe: unseen voices", "content probe: training voices, new sentences",
          "speaker probe: new sentences")
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for i, k in enumerate((W, 2 * W)):
    rows_k = {"acoustic only": fit.loc[f"acoustic only · {k}"], "coupled": fit.loc[f"coupled · {k}"]}
    for j, (name, colour) in enumerate((("acoustic only", "#777"), ("coupled", "#d62728"))):
        for ax, col in zip(axes, columns):
            v = rows_k[name][col]
            ax.bar(i + (j - 0.5) * 0.35, v, 0.35, color=colour, label=name if i == 0 else None)
            ax.text(i + (j - 0.5) * 0.35, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    for ax, col in zip(axes[:2], columns[:2]):  # what the teacher squeezed to this width reads
        ax.hlines(fit.loc[f"teacher squeezed to {k}"][col], i - 0.4, i + 0.4, color="k", ls="--",
                  label="the teacher squeezed to this width" if i == 0 else None)
for ax, title in zip(axes, titles):
    ax.set_xticks(range(2), [f"{k} channels" for k in (W, 2 * W)])
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend above the bars
    ax.set_ylabel("accuracy"); ax.set_title(title, fontsize=10); ax.legend(fontsize=7, loc="upper left")
plt.tight_layout(); plt.show()
''')
md("""
Read the two widths side by side; *What we measured* has them for five seeds.

- **There is room at four channels.** Squeezed to four channels, the teacher reads the phones of
  unseen voices 0.07–0.09 better than the acoustic-only latent does (seeds 0–4).
- **The coupled encoder fills it for the voices it trained on, not for new ones.** On new sentences
  of the training voices coupling raises the content probe by 0.06–0.09 in every seed; on unseen
  voices by −0.01 to +0.03. The KL loss taught the encoder to write the teacher's phones *in the
  voices it heard*. A new voice's phones land somewhere else in the latent, where a probe fitted on
  the known voices cannot read them. The teacher's indifference to the voice came from its own
  front end (band means removed, sped-up and slowed-down voices) and did not pass to the encoder
  through the loss. The encoder saw five base voices.
- **The voice has to make room at four channels:** the speaker probe falls in every seed.
- **At eight channels the content comes, and the voice stays.** Coupling raises the content probe
  in every seed, on unseen voices too. But two jobs fit side by side in eight channels, so the
  speaker probe moves up or down by a few points instead of falling.

So VibeVoice's trade needs a latent too narrow for both jobs *and* an encoder whose phone code
holds for new voices. Here the first comes at four channels and the content half of the second
only at eight. Coupling adds the teacher's phones; it does not add the teacher's generalisation.
""")
md("""
## 6 · Which teacher layer, which loss?

Semantic-VAE's ablations change the SSL layer and the alignment loss, and both change the result.
Here the same narrow latent is aimed at two ends of the teacher with the same cosine loss: its
**first layer** (close to the log-mel input, still full of voice) and its **phone logits** (the
decision, where the voice has been discarded). The coupled encoder of section 3 is the third point:
the phone **posteriors**, distilled with KL.
""")
code('''
layer_runs = {label: train_encoder(p, cp) for label, (p, cp) in tqdm(lesson.layers.items(), desc="layer study")}
layer_results = {label: pset.probe(pset.latents(run.model), run.model.cfg.latent_rate, seed=seed)
                 for label, run in layer_runs.items()}
deep_label = "posteriors (phone end) · KL"
layer_results[deep_label] = {"content": score(coupled, "content"), "speaker": score(coupled, "speaker")}
cosines = {label: run.history[-1].get("teacher_cos", np.nan) for label, run in layer_runs.items()}
layer_table = pd.DataFrame({label: {"content": r["content"].score, "speaker": r["speaker"].score,
                                    "teacher cosine (end of training)": cosines.get(label, np.nan)}
                            for label, r in layer_results.items()}).T
layer_table.loc["acoustic only (no teacher)"] = [c[acoustic], s[acoustic], np.nan]
display(layer_table.round(3))
''')
code('''
fig, ax = plt.subplots(figsize=(6.5, 4))
for label, r in layer_table.iterrows():
    ax.scatter(r["content"], r["speaker"], s=60)
    ax.annotate(label, (r["content"], r["speaker"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
ax.set_xlabel("content probe (unseen voices)"); ax.set_ylabel("speaker probe (new sentences)")
ax.margins(x=0.35, y=0.15)
ax.set_title("one narrow latent, three teacher targets"); plt.tight_layout(); plt.show()
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

`cpu` preset, 2 CPU cores, seeds 0–4, each run from an empty checkpoint cache (2.8–3.4 min a run,
2026-11-30; a linear probe on the frozen latent; content on the test voices, speaker on new
sentences; 550 probe clips). Chance: content 0.10, speaker 0.16. The content teacher reads 57.0–58.3%
of the phones of the unseen voices (48% before its band means were removed and its training voices
sped up and slowed down; that change left every claim's verdict as it was, 3 / 5 / 5 seeds).

| seed | acoustic only: content / speaker | coupled | two-path | layer 1 · cos, speaker | logits · cos, speaker | C10 | C11 | C12 |
|---|---|---|---|---|---|---|---|---|
| 0 | 0.256 / 0.709 | 0.264 / 0.552 | 0.297 / 0.794 | 0.745 | 0.703 | ✗ content +0.008 | ✓ | ✓ |
| 1 | 0.258 / 0.709 | 0.290 / 0.588 | 0.330 / 0.794 | 0.721 | 0.703 | ✓ | ✓ | ✓ |
| 2 | 0.243 / 0.747 | 0.263 / 0.632 | 0.295 / 0.816 | 0.695 | 0.644 | ✓ | ✓ | ✓ |
| 3 | 0.248 / 0.723 | 0.281 / 0.585 | 0.348 / 0.799 | 0.635 | 0.654 | ✓ | ✓ | ✓ |
| 4 | 0.275 / 0.751 | 0.269 / 0.598 | 0.313 / 0.787 | 0.651 | 0.633 | ✗ content −0.006 | ✓ | ✓ |

A re-run on one machine with one version of the code reproduces these numbers exactly (the
acoustic-only latent, which no teacher touches, matched the previous measurement to the last
digit). Other code or another machine (other floating-point kernels) moves them; see the fourth
point below.

- **The speaker half of C10 is robust**: coupling drops the voice probe by 0.12–0.16 in every seed.
  The **content half is not**: +0.020 to +0.033 in seeds 1–3, +0.008 in seed 0 and −0.006 in seed 4.
  C10 holds in 3 of 5 seeds but not in seed 0, so in `cpu` it is recorded, not asserted. A stronger
  coupling did not help (seed 0, a script, with a first version of this teacher: KL weight 10 and 30
  gave content 0.259 and 0.255 against 0.261 at weight 3). Nor did more steps: at 500 steps instead of 250 (seed 0, the earlier teacher)
  the coupled latent's content probe rose to 0.289, and the acoustic-only latent's rose with it, to
  0.290.
- **Section 5 says why: the coupled encoder learns the phones of the voices it knows.**

  | seed | teacher, 41 logits: unseen / training voices | squeezed to 4: unseen / training | acoustic 4 → coupled 4: unseen voices | training voices | acoustic 8 → coupled 8: unseen voices | training voices | speaker |
  |---|---|---|---|---|---|---|---|
  | 0 | 0.504 / 0.682 | 0.329 / 0.413 | 0.256 → 0.264 | 0.259 → 0.314 | 0.296 → 0.326 | 0.280 → 0.387 | 0.764 → 0.782 |
  | 1 | 0.515 / 0.685 | 0.345 / 0.398 | 0.258 → 0.290 | 0.246 → 0.332 | 0.308 → 0.355 | 0.301 → 0.418 | 0.764 → 0.861 |
  | 2 | 0.515 / 0.690 | 0.322 / 0.381 | 0.243 → 0.263 | 0.237 → 0.312 | 0.277 → 0.346 | 0.278 → 0.420 | 0.828 → 0.810 |
  | 3 | 0.513 / 0.688 | 0.323 / 0.390 | 0.248 → 0.281 | 0.246 → 0.302 | 0.316 → 0.342 | 0.310 → 0.389 | 0.805 → 0.799 |
  | 4 | 0.515 / 0.673 | 0.340 / 0.410 | 0.275 → 0.269 | 0.243 → 0.303 | 0.294 → 0.355 | 0.285 → 0.403 | 0.769 → 0.769 |

  The teacher squeezed to four channels sits 0.065–0.087 above the acoustic-only latent on the
  unseen voices, so there is room. (With the earlier teacher, which read 48% of their phones, it was
  0.007–0.054, and that small headroom looked like the whole story.) On new sentences of the
  training voices coupling takes 0.055–0.086 of it in every seed; on the unseen voices −0.006 to
  +0.033. Nor is the new voices' phone code the known one shifted by a per-voice constant: with each
  clip's latent mean removed before probing (seeds 0 and 4, a script), coupling still gained only
  −0.002 and +0.006 on the unseen voices. At eight channels coupling raises content on the unseen voices in every seed (+0.026 to
  +0.069), but the voice probe moves from −0.018 to +0.097: neither width shows both halves of the
  trade in every seed.
- **The content half is within the noise of training.** Earlier measurements of the same lesson
  (earlier code and teacher, possibly another machine of the same kind) gave content gains between
  −0.019 and +0.015 (1 of 5 seeds), +0.003 to +0.039 (2 of 5) and −0.011 to +0.038 (3 of 5). The
  speaker drop came out in every seed of all four measurements; the content rise on unseen voices
  did not. The rise on the training voices is the part the teacher reliably delivers here.
- **C11 holds in every seed**: the two-path latent has the best content probe *and* a speaker probe
  above the acoustic-only latent's. It is wider (8 channels, not 4), which is the point of the
  design.
- **C12 holds in every seed**: aiming at the phone end removes more of the voice than aiming at
  layer 1 (by 0.05–0.19). With the loss held fixed (cosine, layer 1 vs logits) the direction is the
  same in four of five seeds (by 0.02–0.05; seed 3 is reversed by 0.019).
- Intonation (F0 around each speaker's register) is not linearly readable from any of the three latents
  (R² ≤ 0.05), and the noise type leaks from all three: the ledger flags both.

What would make the content rise show on unseen voices in every seed: an encoder whose phone code
holds for voices it never heard. The teacher has that (57–58% on them, its four-channel squeeze
0.07–0.09 above the acoustic latent); the encoder, trained on the five base voices of the `cpu`
corpus, does not inherit it through the coupling loss in 250 steps. Nor does it get it from the teacher's own
augmentation: trained on its clips plus the same clips played 10% faster and slower (both encoders,
a script), the coupled latent's content gain on unseen voices was +0.004 (seed 0) and +0.002 (seed
4), and on the training voices still +0.058 and +0.071. More speakers made from the same voices
do not give it either: on the `gpu` corpus (eight variants of each voice instead of five, three
times the speech) with these `cpu` encoders, the gain on unseen voices was +0.014 and +0.007
(seeds 0 and 4, a script). A larger teacher alone did not help earlier: with the earlier teacher,
1200 steps instead of 400 and 192 × 4 layers instead of 128 × 3 left its unseen-voice accuracy at
48% and the coupled latent's content gain at +0.005 and +0.001 (seed 0, a script).

**Scale does.** The `gpu` preset's teacher and encoders (a wider network, 3000 steps each, the
`gpu` corpus), trained on two CPU cores for seed 0 (about 40 minutes, a script:
`benchmarks/experiments/c10_coupling.py --preset gpu`): coupling raised content on unseen voices
from 0.318 to 0.447 and on the training voices from 0.275 to 0.610, and dropped the speaker probe
from 0.714 to 0.423. Both halves of C10 hold in the seed that fails in `cpu`, each by several
times its margin (content +0.129 against 0.01, speaker −0.29 against −0.05). It is the encoders' training length. The `cpu` encoders trained 3000 steps instead
of 250 on the `gpu` corpus, with the `cpu` teacher, gave the same picture (content on unseen voices
0.312 → 0.437, speaker 0.742 → 0.498), while the `gpu` teacher with 250-step encoders did not
(+0.012). A coupled encoder needs many steps before its phone code stops depending on the voice.
On this notebook's own corpus 1000 steps are enough: coupling then raised content on unseen voices
by 0.028 (seed 0) and 0.039 (seed 4) and dropped the speaker probe by 0.35 and 0.28, in both seeds
that fail here. This notebook trains seven encoders, and at 1000 steps each (about 1.3 minutes
apiece on two cores) it would take well over its 6 minutes, so `cpu` keeps 250 steps.

## Takeaway

A teacher is not free semantic goodness. It is a contract about what the latent may forget, and a
narrow latent pays for it with whatever the teacher ignores. Write the ledger first, probe every
factor against it, and when one latent cannot keep everything the product needs, give the teacher
its own path. Probe content on voices the encoder never heard: a coupling loss hands the encoder the
teacher's phones for the voices it trains on, not the teacher's indifference to who is speaking.
""")

write("notebooks/05_teachers.ipynb")
