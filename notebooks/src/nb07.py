import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# 07 · Task-shaped encoders need two oracles

Some encoders *should* be bad neutral codecs.

- **AUTOVC** squeezes speech through a bottleneck so narrow that the voice no longer fits, and hands
  the decoder the voice from outside: it is built to forget who spoke.
- **VoiceBridge** maps *degraded* speech toward the latents of *clean* speech: it is built to forget
  the noise, the room and the missing band.
- LatentFlowSR trains for super-resolution in latent space, TADA aligns audio to text tokens,
  Semantic-VAE shapes a latent for TTS learnability.

Judge any of them only by *clean audio → encoder → decoder → clean audio* and the evaluation rewards
leakage and punishes the intended task. So every task-shaped encoder gets **two oracle floors**:

| oracle | path | what it answers |
|---|---|---|
| **neutral** | clean x → E → D → x | how much audio can the codec preserve? |
| **task** | task input → E → D → task target | did the latent keep the right evidence for the task? |

and **leakage probes matched to its contract**: content, speaker, channel, degradation, prosody,
event — each either something the task must keep or something it exists to remove.

This lesson builds two task encoders, each beside a neutral codec of the same budget:
1. a **restoration encoder** (degraded → clean, its latent bridged to clean latents), judged by the
   neutral oracle, the restoration oracle, and degradation probes on what it reads;
2. a **conversion bottleneck** (AUTOVC: a narrow latent, the voice given to the decoder from
   outside), judged by the neutral oracle, a conversion oracle (are the words kept? is the voice
   moved?) and a speaker probe on the latent.
""")
code('''
preset = "auto"  # "smoke" (CI), "cpu" (a laptop: about 2 min on 2 idle cores, under 1 min re-run) or "gpu"; "auto": gpu if CUDA
seed = 0
''', tags=["parameters"])
code('''
import time
import numpy as np, pandas as pd, torch
import matplotlib.pyplot as plt
from IPython.display import display
from tqdm.auto import tqdm
from course_lib import data, presets, training, teachers, probes, tasks, widgets
from course_lib.ledger import Ledger
from course_lib.claims import check_claim

t_start = time.time()
torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
preset = presets.resolve(preset)
corpus = data.ensure_corpus(presets.sweep_base(preset).corpus)
df = data.read_manifest(corpus)
voice_bank, voices = tasks.speaker_bank(corpus)  # clean training speech, each clip with its voice id
lesson = tasks.dual_oracle_lesson(preset, seed, voices=len(voices))
pd.DataFrame({label: {"task": task, "interface": f"{p.model.latent_rate:g} Hz x {p.model.width}",
                      "decoder gets the voice from outside": bool(p.model.speakers), "steps": p.train.steps}
              for task, models in (("restoration", lesson.restoration), ("conversion", lesson.conversion))
              for label, p in models.items()}).T
''')
md("""
## 1 · Restoration: a latent that bridges degraded → clean

Every clean training sentence of the corpus also exists **noisy** (five noise types, 0–20 dB SNR),
**reverberant** (eight simulated rooms) and **band-limited** (2–4 kHz). The same recording, sample
for sample: a restoration pair.

Two models, one network, one width (50 Hz × 8), one step budget:

| model | encoder reads | decoder must produce | latent pressure |
|---|---|---|---|
| **neutral codec** | clean speech | the same clean speech | none |
| **restoration encoder** | noisy / reverberant / band-limited speech | its clean twin | *bridge*: z(degraded) ≈ the neutral codec's z(clean twin) |

Why the bridge? The audio loss only asks for clean audio *out*. A model can restore in its decoder
and keep every trace of the noise in its latent, and then a generator trained on those latents has
to model the noise too. VoiceBridge puts the restoration in the latent: the degraded clip's latent
is pulled toward the clean latent (`tasks.LatentBridge`, a mean squared distance in units of the
clean latent's variance).
""")
code('''
clean_rows = data.select(df, split="train", domain="speech", condition="clean")
clean_bank = data.ClipBank.from_manifest(corpus, clean_rows, channels=1)
pair_bank = tasks.restoration_bank(corpus, clean_rows)  # every degraded twin -> its clean original
print(f"neutral codec trains on {len(clean_bank.clips)} clean clips; the restoration encoder on "
      f"{len(pair_bank.clips)} degraded clips paired with those same clean clips")

bar = tqdm(total=2, desc="restoration models")
neutral = training.train_or_load(lesson.restoration["neutral codec"], bank=clean_bank, progress=False)
bar.update()
bridge = tasks.LatentBridge(neutral.model, pair_bank, lesson.bridge_weight, neutral.info["key"])
restorer = training.train_or_load(lesson.restoration["restoration encoder"], bank=pair_bank, aux=bridge,
                                  progress=False)
bar.update(); bar.close()
rest_runs = {"neutral codec": neutral, "restoration encoder": restorer}
pd.DataFrame({label: {"final train loss": round(r.history[-1]["loss"], 3),
                      "train s": "cached" if r.info["loaded"] else round(r.info["train_seconds"])}
              for label, r in rest_runs.items()}).T
''')
md("""
### Two oracles

Both models are scored on sentences spoken by voices **neither heard**, in rooms neither heard (the
corpus's test split), by the log-mel distance to the reference (lower is better):

- the **neutral oracle**: the clean sentence in, the same clean sentence expected out;
- the **task oracle**: each degraded twin in, the clean sentence expected out. The first row is the
  "do nothing" floor: the degraded input itself, scored against the clean original.
""")
code('''
pairs = tasks.restoration_eval(corpus, "test", lesson.eval_clips)
clean_eval = [p.clean for p in pairs if p.condition == pairs[0].condition]  # each clean sentence once
rest_neutral = {label: tasks.neutral_oracle(r.model, clean_eval) for label, r in rest_runs.items()}
rest_task = {label: tasks.restoration_oracle(r.model, pairs) for label, r in rest_runs.items()}
floor = tasks.restoration_oracle(None, pairs)
rest_table = pd.DataFrame({"do nothing (the degraded input)": floor,
                           **{label: t for label, t in rest_task.items()}}).T.add_prefix("task · ")
rest_table.insert(0, "neutral oracle (clean → clean)",
                  [np.nan] + [rest_neutral[label] for label in rest_runs])
display(rest_table.round(3))
''')
md("""
Read the two columns in opposite directions. On the neutral oracle the neutral codec wins: it was
trained for exactly that, and the restoration encoder has never seen a clean input. On the task
oracle the neutral codec is *worse than doing nothing* on noisy input: it faithfully encodes the
noise and decodes it badly. The restoration encoder beats the floor under every condition.

**C16** (restoration), stated before measuring: the restoration encoder *loses* the neutral oracle
by at least 0.05 (log-mel distance) and *wins* the task oracle by at least 0.05, while beating the
do-nothing floor. (0.05 is several times the seed-to-seed spread of a 16-sentence mean.)
""")
code('''
n_r, n_n = rest_neutral["restoration encoder"], rest_neutral["neutral codec"]
t_r, t_n = rest_task["restoration encoder"]["all"], rest_task["neutral codec"]["all"]
check_claim("07", "C16 restoration: the task encoder loses the neutral oracle and wins its task oracle",
            {"neutral_oracle": rest_neutral, "task_oracle": {k: v["all"] for k, v in rest_task.items()},
             "floor": floor["all"]},
            holds=n_r - n_n >= 0.05 and t_n - t_r >= 0.05 and t_r < floor["all"],
            detail=f"neutral oracle: restoration {n_r:.3f} vs neutral codec {n_n:.3f} (needs +0.05); "
                   f"task oracle: restoration {t_r:.3f} vs neutral codec {t_n:.3f} (needs −0.05), "
                   f"do-nothing floor {floor['all']:.3f}",
            preset=preset, seed=seed);
''')
md("""
### What did the restoration latent remove? Leakage probes on what it reads

The contract of a restoration latent: keep the **content**, the **speaker** and the **prosody**
(a restored podcast is still the same person saying the same thing the same way); collapse the
**channel** (room, band limit) and the **degradation** (noise type). *Event* leakage belongs to the
sound-effects domain; this speech task has no events, so it is not in the ledger.

The probes read latents of **degraded inputs only** (noisy, reverberant, band-limited, from training
and from unseen voices): what a downstream model would be given. Each is a linear probe on the
frozen latent with chance beside it (room and degradation on held-out sentences, content on unseen
voices).
""")
code('''
rest_ledger = Ledger(
    {"content": "retain", "speaker": "retain", "prosody": "retain", "energy": "retain",
     "room": "collapse", "condition": "collapse", "degradation": "collapse"},
    notes={"content": "restored speech says the same words", "speaker": "and is the same person",
           "prosody": "F0 contour around the speaker's register", "energy": "loudness contour",
           "room": "which of eight rooms (reverberant clips)", "condition": "noisy / reverberant / band-limited",
           "degradation": "which noise type (noisy clips)"})
dset = tasks.degraded_probe_set(corpus, n_train=lesson.probe_clips[0])
rest_probes = {}
for label, r in tqdm(rest_runs.items(), desc="probing degraded latents"):
    rest_probes[label] = rest_ledger.run(dset.latents(r.model), dset.rows, dset.labels, r.model.cfg.latent_rate,
                                         audio=dset.mono(), seed=seed)
print(f"{len(dset.rows)} degraded clips; a factor is present when it scores ≥ 0.2 of the way from chance to perfect")
display(rest_ledger.table(rest_probes))
''')
md("""
The verdict column is binary, and at this scale it says *leaks* for both latents: three degradation
classes that sound this different stay linearly separable unless the latent is perfectly invariant.
The scores are graded, though. In seed 0 they move in the direction of the contract: the probes for
what should go fall, the room most (0.65 → 0.56, chance 0.18), then the condition (0.98 → 0.92,
chance 0.33), the noise type barely (0.95 → 0.94, chance 0.09); the probes for what should stay
(content, speaker) rise a little. Which collapse probe falls, and by how much, varies with the seed:
in seeds 1 and 2 the room probe rises instead, and the three together do not fall (*What we
measured*). A second, direct look: how far is the latent of a degraded clip from the neutral codec's
latent of its clean twin (in units of that latent's variance; 0 = on it)?
""")
code('''
distance = pd.DataFrame({label: tasks.latent_distance_to_clean(r.model, neutral.model, pairs)
                         for label, r in rest_runs.items()}).T
distance.columns = [f"{c} → clean twin" for c in distance.columns]
display(distance.round(3))
''')
md("""
**C17** (restoration), stated before measuring: averaged over the three *collapse* factors (room,
condition, noise type), the restoration latent's above-chance probe score is at least 0.05 lower
than the neutral latent's, and averaged over content and speaker it is not more than 0.05 lower.

At `cpu` scale this is **at the margin**, so it is recorded here and asserted in `gpu` only. Over
seeds 0–4 the margin was met in 3 of 5 seeds on one machine (an Intel Xeon) and 4 of 5 on another (an
AMD EPYC), different seeds failing on each; the same seeds trained on one CPU thread instead of two
(a different, equally valid run) met it in 1 of 5 (see *What we measured*). A claim that flips with
the host and the thread count is not one to assert on a learner's laptop. The latent distance to the clean twin, by contrast, falls by more than half in every
seed: the bridge's residual (about a quarter of the clean latent's variance after 300 steps) is small
for a decoder and still plenty for a linear probe to tell a hiss from a missing band.
""")
code('''
def above(results, factor):
    return next(r for r in results if r.factor == factor).above_chance

collapse, retain = ("room", "condition", "degradation"), ("content", "speaker")
leak = {label: float(np.nanmean([above(res, f) for f in collapse])) for label, res in rest_probes.items()}
keep = {label: float(np.nanmean([above(res, f) for f in retain])) for label, res in rest_probes.items()}
check_claim("07", "C17 restoration: the leakage probes show what it removed",
            {"collapse_above_chance": leak, "retain_above_chance": keep,
             "latent_distance": distance.mean(axis=1).to_dict()},
            holds=leak["neutral codec"] - leak["restoration encoder"] >= 0.05
                  and keep["restoration encoder"] >= keep["neutral codec"] - 0.05,
            detail=f"room/condition/noise-type probes {leak['neutral codec']:.3f} → {leak['restoration encoder']:.3f} "
                   f"(needs −0.05); content/speaker {keep['neutral codec']:.3f} → {keep['restoration encoder']:.3f} "
                   f"(may not fall by more than 0.05)",
            preset=preset, seed=seed, shown_in=("gpu",));  # cpu: the collapse probes fall by less than 0.05
''')
md("""
Listen: one sentence by a voice neither model heard, in a room neither heard. The neutral codec
carries the degradation through; the restoration encoder removes much of it (at this scale it also
muffles the voice: that is what its neutral-oracle score was telling you).
""")
code('''
sentence = pairs[0].row["clean_clip_id"]
for p in (p for p in pairs if p.row["clean_clip_id"] == sentence):
    display(widgets.ab_player({f"{p.condition} input": p.degraded,
                               "neutral codec": tasks.autoencode(neutral.model, p.degraded),
                               "restoration encoder": tasks.autoencode(restorer.model, p.degraded),
                               "clean target": p.clean},
                              title=f"{p.condition}: {p.row['speaker']}, “{p.row['text']}”"))
''')
md("""
## 2 · Conversion: a bottleneck too narrow for the voice (AUTOVC)

Both models get the **voice from outside the latent**: a learned embedding of the training voice,
given to the decoder at every frame. The only difference is the bottleneck:

| model | latent | the voice can travel through z? |
|---|---|---|
| **wide codec** | 50 Hz × 64 | easily: the decoder can ignore the embedding |
| **narrow bottleneck** | 50 Hz × 2 | hardly: every channel is needed for the words |

Conversion is then one line (`tasks.convert`): encode a sentence, decode the *same* latent with
**another training voice's** embedding. If the latent still carries the source voice, that is what
comes out.

A *voice* here is one TTS voice (five in training). The corpus renders each in five styles (low,
mid, high register, fast, slow); a style is prosody, which the words carry with them, not identity.
""")
code('''
conv_runs = {label: training.train_or_load(p, bank=voice_bank, progress=False)
             for label, p in tqdm(lesson.conversion.items(), desc="conversion models")}
pd.DataFrame({label: {"final train loss": round(r.history[-1]["loss"], 3),
                      "train s": "cached" if r.info["loaded"] else round(r.info["train_seconds"])}
              for label, r in conv_runs.items()}).T
''')
md("""
### Two instruments for the task oracle

- **Are the words kept?** The content teacher of notebook 05 (a phone recogniser trained on the
  corpus) reads the converted audio; its frame phone accuracy is scored against the *source*
  sentence's phone labels.
- **Is the voice moved?** A speaker classifier on audio (the mean and spread of MFCCs over an
  utterance, logistic regression), trained on **real** recordings of the training voices. It is
  asked which voice the converted clip sounds like.

Both are scored on real held-out sentences first: that is each instrument's own ceiling.
""")
code('''
teacher, tinfo = teachers.content_teacher_or_load(corpus, lesson.teacher, progress=True)
valid = data.select(df, split="valid", domain="speech", condition="clean")
classifier = tasks.train_speaker_classifier(corpus, voices, clean_rows, valid, seed=seed)
print(f"content teacher: {tinfo['test_accuracy']:.1%} frame phone accuracy on unseen voices "
      f"(chance {tinfo['chance']:.1%}) · {'loaded' if tinfo['loaded'] else 'trained now'}")
print(f"speaker classifier: {classifier.accuracy:.1%} on {len(valid)} real held-out sentences "
      f"of the {len(voices)} training voices (chance {classifier.chance:.0%})")
''')
md("""
### Two oracles

On new sentences of the training voices: the **neutral oracle** decodes with each sentence's *own*
voice; the **task oracle** decodes with another training voice (every source → target pair appears)
and asks both instruments.
""")
code('''
conv_rows = valid.head(lesson.conversion_clips)
conv_clips = [data.load_clip(corpus, r, 1) for _, r in conv_rows.iterrows()]
conv_labels = [data.load_labels(corpus, r) for _, r in conv_rows.iterrows()]
sources = [voices.id(tasks.voice_of(corpus, r)) for _, r in conv_rows.iterrows()]
conv_neutral, conv_task = {}, {}
for label, r in tqdm(conv_runs.items(), desc="conversion oracles"):
    conv_neutral[label] = tasks.neutral_oracle(r.model, conv_clips, sources)
    conv_task[label] = tasks.conversion_oracle(r.model, conv_clips, conv_labels, sources, teacher, classifier)
c0 = next(iter(conv_task.values()))
conv_table = pd.DataFrame({label: {
    "neutral oracle (own voice, mel)": conv_neutral[label],
    "content: phone acc. own voice": t.content_own, "content: phone acc. converted": t.content_converted,
    "content kept (share above chance)": t.content_kept,
    "voice: target named": t.speaker_target, "voice: source still named": t.speaker_source,
    "voice: own voice named (own decode)": t.speaker_own} for label, t in conv_task.items()}).T
display(conv_table.round(3))
print(f"chance: phone accuracy {c0.content_chance:.3f} (the most common phone), voice {c0.speaker_chance:.2f}; "
      f"the teacher on the original audio: {c0.content_original:.3f}")
''')
md("""
The wide codec decodes better with its own voice, and when told to speak another voice it mostly
doesn't: the source voice is in its latent and comes through. The narrow bottleneck sounds worse
with its own voice, and when told to speak another voice, the classifier hears that voice. Both keep
most of the phones they carry when the voice is swapped.

**C16** (conversion), stated before measuring: the narrow bottleneck *loses* the neutral oracle (log-mel
distance at least 0.02 higher) and *wins* the task oracle: the classifier names the target voice at
least 0.2 more often than for the wide codec, while the conversion keeps at least half of the phones
the narrow codec carries above chance.
""")
code('''
wide, narrow = conv_task["wide codec"], conv_task["narrow bottleneck"]
nw, nn_ = conv_neutral["wide codec"], conv_neutral["narrow bottleneck"]
check_claim("07", "C16 conversion: the task encoder loses the neutral oracle and wins its task oracle",
            {"neutral_oracle": conv_neutral, "task_oracle": {k: v.row() for k, v in conv_task.items()}},
            holds=nn_ - nw >= 0.02 and narrow.speaker_target - wide.speaker_target >= 0.2
                  and narrow.content_kept >= 0.5,
            detail=f"neutral oracle: narrow {nn_:.3f} vs wide {nw:.3f} (needs +0.02); target voice named: "
                   f"narrow {narrow.speaker_target:.2f} vs wide {wide.speaker_target:.2f} (needs +0.2, chance "
                   f"{narrow.speaker_chance:.2f}); narrow content kept {narrow.content_kept:.2f} (needs 0.5)",
            preset=preset, seed=seed);
''')
md("""
### What did the bottleneck remove? Leakage probes on the latent

The conversion contract: keep **content**, **prosody** (the intonation contour) and **energy**;
collapse the **speaker**: the voice must come from the embedding, not from z. The speaker probe
reads each clip's latent statistics and names the voice, on sentences it did not train on.
""")
code('''
conv_ledger = Ledger({"content": "retain", "speaker": "collapse", "prosody": "retain", "energy": "retain"},
                     notes={"content": "the converted voice says the same words",
                            "speaker": "the voice must come from outside the latent",
                            "prosody": "F0 contour around the speaker's register", "energy": "loudness contour"})
cset = probes.probe_set(corpus, n_train=lesson.probe_clips[1], n_degraded=0, seed=seed)
conv_probes = {}
for label, r in tqdm(conv_runs.items(), desc="probing conversion latents"):
    conv_probes[label] = conv_ledger.run(cset.latents(r.model), cset.rows, cset.labels, r.model.cfg.latent_rate,
                                         audio=cset.mono(), seed=seed)
display(conv_ledger.table(conv_probes))
''')
md("""
**C17** (conversion), stated before measuring: the speaker probe's above-chance score on the narrow
latent is at least 0.15 below the wide latent's.

AUTOVC's stronger claim, a speaker probe **at chance**, is not what we see at this scale (see *What
we measured*): the narrow latent still names the voice in 0.67–0.80 of held-out sentences (seeds
0–4), chance 0.14. And the squeeze is not selective: the content probe falls too (0.41 → 0.26 in
seed 0), though the teacher still recognises most phones the narrow codec decodes. Part of the
reason is in the corpus: the latent must carry the pitch contour, and a contour sits in its voice's
register (two of the five voices are female), so pitch alone gives the voice away. SpeechSplit's
answer is a separate pitch path; AUTOVC's is a bottleneck tuned until conversion works, which is
what the task oracle measures directly.
""")
code('''
spk = {label: above(res, "speaker") for label, res in conv_probes.items()}
check_claim("07", "C17 conversion: the leakage probes show what it removed",
            {"speaker_above_chance": spk,
             "speaker_score": {k: next(r for r in v if r.factor == "speaker").score for k, v in conv_probes.items()},
             "content_above_chance": {k: above(v, "content") for k, v in conv_probes.items()}},
            holds=spk["wide codec"] - spk["narrow bottleneck"] >= 0.15,
            detail=f"speaker probe above chance: wide {spk['wide codec']:.3f} → narrow {spk['narrow bottleneck']:.3f} "
                   "(needs −0.15)",
            preset=preset, seed=seed);
''')
md("""
Listen: a sentence, a real recording of the voice it is converted to, and both conversions.
""")
code('''
i = 0
target = narrow.targets[i]
target_row = next(r for _, r in clean_rows.iterrows() if tasks.voice_of(corpus, r) == voices.names[target])
widgets.ab_player({f"source ({voices.names[sources[i]]})": conv_clips[i],
                   f"a real clip of {voices.names[target]}": data.load_clip(corpus, target_row, 1),
                   "wide codec → target": wide.converted[i],
                   "narrow bottleneck → target": narrow.converted[i],
                   "narrow bottleneck, own voice": tasks.autoencode(conv_runs["narrow bottleneck"].model,
                                                                    conv_clips[i], sources[i])},
                  title=f"“{conv_rows.iloc[i]['text']}” → {voices.names[target]}")
''')
md("""
## 3 · Both oracles, side by side

Three panels. Restoration, on the left: each encoder's neutral oracle (grey) beside its task oracle
(blue), lower is better, with the do-nothing floor dashed. Conversion takes the other two, because
its task oracle is not a distance: its neutral oracle in the middle (grey, lower is better), and on
the right its task oracle, higher is better: how often the target voice is named (green, its chance
dashed) and the share of phones kept (purple). Each task encoder loses on its grey bar and wins its
task oracle: the restoration encoder's blue bar is the lower one, under the floor, and the narrow
bottleneck names the target voice far more often, for a few phones. Judged by the grey
neutral-oracle bars alone, both would be thrown away.
""")
code('''
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
labels = list(rest_runs)
xs = np.arange(len(labels))
ax = axes[0]
ax.bar(xs - 0.2, [rest_neutral[k] for k in labels], 0.4, label="neutral oracle (clean → clean)", color="#888")
ax.bar(xs + 0.2, [rest_task[k]["all"] for k in labels], 0.4, label="task oracle (degraded → clean)", color="#1f77b4")
ax.axhline(floor["all"], color="k", ls="--", lw=1, label="do nothing (degraded input)")
ax.set_xticks(xs, labels); ax.set_ylabel("log-mel distance (lower is better)")
ax.set_title("restoration"); ax.legend(fontsize=8)
labels = list(conv_runs)
xs = np.arange(len(labels))
ax = axes[1]
ax.bar(xs, [conv_neutral[k] for k in labels], 0.5, color="#888")
ax.set_xticks(xs, labels); ax.set_ylabel("log-mel distance (lower is better)")
ax.set_title("conversion: neutral oracle (own voice)")
ax = axes[2]
ax.bar(xs - 0.2, [conv_task[k].speaker_target for k in labels], 0.4, label="target voice named", color="#2ca02c")
ax.bar(xs + 0.2, [conv_task[k].content_kept for k in labels], 0.4, label="content kept (share)", color="#9467bd")
ax.axhline(c0.speaker_chance, color="#2ca02c", ls="--", lw=1, label="voice chance")
ax.set_xticks(xs, labels); ax.set_ylim(0, 1.05); ax.set_ylabel("higher is better")
ax.set_title("conversion: task oracle"); ax.legend(fontsize=8)
plt.tight_layout(); plt.show()
''')
code('''
print(f"notebook 07 ran in {(time.time() - t_start) / 60:.1f} min (preset {preset}, seed {seed})")
''')
md("""
## What we measured

`cpu` preset, 2 CPU cores (the notebook's default: two torch threads), seeds 0–4, every encoder
trained in the run (the content teacher loaded from notebook 05's cache). Log-mel distances, lower
is better. Restoration on 16 test sentences (unseen voices and rooms) and their 48 degraded twins,
do-nothing floor 1.346; conversion on 50 new sentences of the 5 training voices. The collapse and
the content + speaker columns are mean above-chance probe scores on latents of degraded inputs; the
speaker probe column is the accuracy on the conversion latents (chance 0.14).

| seed | restoration · neutral oracle: codec / restoration | task oracle: codec / restoration | collapse probes: codec → restoration | content + speaker probes | latent distance to the clean twin | conversion · neutral oracle: wide / narrow | target voice named: wide / narrow | content kept: wide / narrow | speaker probe: wide → narrow | C16 r | C17 r | C16 c | C17 c |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
| 0 | 0.856 / 1.045 | 1.585 / 1.138 | 0.834 → 0.758 | 0.359 → 0.391 | 0.62 → 0.21 | 0.607 / 0.665 | 0.28 / 0.68 | 0.97 / 0.89 | 1.00 → 0.70 | ✓ | ✓ | ✓ | ✓ |
| 1 | 0.867 / 1.051 | 1.595 / 1.150 | 0.733 → 0.735 | 0.375 → 0.402 | 0.76 → 0.27 | 0.609 / 0.647 | 0.22 / 0.64 | 0.98 / 0.85 | 0.98 → 0.72 | ✓ | ✗ +0.002 | ✓ | ✓ |
| 2 | 0.865 / 1.023 | 1.634 / 1.137 | 0.722 → 0.729 | 0.335 → 0.405 | 0.70 → 0.30 | 0.633 / 0.669 | 0.28 / 0.60 | 0.95 / 0.91 | 1.00 → 0.67 | ✓ | ✗ +0.007 | ✓ | ✓ |
| 3 | 0.832 / 1.049 | 1.539 / 1.130 | 0.856 → 0.775 | 0.355 → 0.409 | 0.73 → 0.28 | 0.612 / 0.665 | 0.30 / 0.58 | 0.94 / 0.88 | 0.97 → 0.80 | ✓ | ✓ | ✓ | ✓ |
| 4 | 0.861 / 1.098 | 1.610 / 1.162 | 0.777 → 0.721 | 0.344 → 0.431 | 0.77 → 0.29 | 0.626 / 0.724 | 0.30 / 0.66 | 0.93 / 0.89 | 0.98 → 0.72 | ✓ | ✓ | ✓ | ✓ |

(r = restoration, c = conversion.) Voice chance 0.20, phone chance 0.085; the content teacher reads
78% of the phones of the original sentences.

- **C16 holds in every seed for both encoders.** The restoration encoder loses the neutral oracle
  by 0.16–0.24 and wins the task oracle by 0.41–0.50; the neutral codec is *worse than doing
  nothing* on degraded input (1.54–1.63 against the 1.346 floor): it faithfully encodes the noise
  and decodes it badly. The narrow bottleneck loses the neutral oracle by 0.036–0.098 and names the
  target voice 0.28–0.42 more often than the wide codec, which mostly ignores the id it is given
  because its latent already carries the voice. Conversion costs both a few phones (the narrow
  keeps 85–91% of what it carries above chance, the wide 93–98%).
- **C17 for conversion holds in every seed**: the speaker probe falls from 0.97–1.00 to 0.67–0.80,
  far from AUTOVC's chance level (0.14).
- **C17 for restoration is at the margin: 3 of 5** (asserted in `gpu` only). In seeds 0, 3 and 4 the
  collapse probes fall by 0.056–0.081; in seeds 1 and 2 they do not fall at all (+0.002, +0.007): the
  room probe reads the restoration encoder's latent *better* than the codec's. The latent distance to
  the clean twin, which the bridge optimises directly, falls from 0.62–0.77 to 0.21–0.30 in every
  run. The margin moves with the host and the thread count (another host: 4 of 5; one thread: 1 of 5).
- Without the bridge (the audio loss alone, measured once in seed 0) the restoration encoder restores
  about as well (task oracle 1.19) but its latent keeps the degradation like the neutral codec's
  (condition probe 0.94, noise type 0.95): the decoder does the restoring.

What would make the restoration half of C17 show clearly: more steps (the bridge's training error
falls from about 0.43 to 0.19 over the 300 steps and levels off only as the learning rate decays), a
narrower latent, or a gpu-sized encoder.

Full lab notes (every run, host and attempt): [benchmarks/NOTES.md](../benchmarks/NOTES.md#07--task-shaped-encoders-need-two-oracles)

## Takeaway

A task-shaped encoder is judged against its task contract *and* its neutral floor, never the floor
alone. The restoration encoder and the conversion bottleneck both reconstruct clean speech worse
than a neutral codec of the same size, and both do their job better; the leakage probes show the
degradation and the voice leaving the latent, and how much of them is still there. Report both
oracles, and write the probes from the contract: what the task must keep, what it exists to remove.
""")

write("notebooks/07_dual_oracles.ipynb")
