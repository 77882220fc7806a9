"""The workshop app of notebook 03: the latent-noise slider, the decode-path A/B player and the channel
mixer, served with Voilà (``make workshop``).  It loads notebook 03's plain codec and its predictions from the
checkpoint cache (run notebook 03 first, or ``make course``), so a slider answers in well under a
second; on an empty cache it trains them first (the preset's budget)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# The latent-noise slider (notebook 03)

Move the slider: noise is added to the latent of one held-out sentence, in units of the probe
predictor's measured error per channel (1.0 = errors the size the predictor makes), and the decoder
renders it. Switch the path to hear the predicted latent `ẑ` instead of the encoder's `E(x)`; pick a
channel to hear what one latent channel carries. Below, the same sentence through every decode path,
and a mixer that mutes latent channels (or keeps only them: solo), the widest four muted to start.
""")
code('''
import os
from course_lib import dashboard, data, decode_paths, predictors, presets, training, widgets

preset = presets.resolve(os.environ.get("COURSE_PRESET", "auto"))  # Voilà has no parameters cell: an env var
seed = int(os.environ.get("COURSE_SEED", "0"))
cfg = presets.for_notebook("03", preset, seed)
corpus = data.ensure_corpus(cfg.corpus)
task = predictors.speech_task(corpus, preset, cfg.eval_clips)
# the same probe as notebook 03, so the same checkpoint key: the codec 03 trained is loaded, not retrained
probe = predictors.ProbeGate(corpus, task.train_rows.iloc[::2], task.eval_rows.head(8), task.vocab, task.speakers,
                             presets.probe_budget(preset, seed))
run = training.train_or_load(cfg, probe=probe, progress=False)
study = predictors.study(run.model, corpus, task.train_rows, task.eval_rows, task.vocab, task.speakers,
                         presets.predictor_budget(preset, seed), progress=False, cache_dir=run.info["dir"])
sigma = decode_paths.residual_std(study)
by_spread = dashboard.spread_order(study)  # widest channel first
''')
code('''
i = 0
u = study.eval[i]
widgets.latent_noise_slider(widgets.autoencoder_decoder(run.model, u.length, u.spans),
                            {"D(E(x))": u.z, "D(ẑ)": study.z_hat[i]}, std=sigma,
                            title=f"“{task.eval_rows.iloc[i]['text']}” · {preset} preset", seed=seed)
''')
code('''
paths = decode_paths.all_paths(run.model, study, task.refs, noise_std=sigma, seed=seed)
widgets.ab_player({name: clips[i] for name, clips in {"reference x": task.refs, **paths}.items()},
                  title="the decode paths, A/B")
''')
code('''
widgets.channel_mixer(widgets.autoencoder_decoder(run.model, u.length, u.spans),
                      {"D(E(x))": u.z, "D(ẑ)": study.z_hat[i]}, fill=study.stats.mean, channels=by_spread[:4],
                      title="mute or solo latent channels (a muted channel sits at its training mean)",
                      labels={c: f"{c}  (spread rank {r + 1})" for r, c in enumerate(by_spread)},
                      order=by_spread)
''')

write("workshops/03_slider_app.ipynb", shared=False)
