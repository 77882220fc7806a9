"""The workshop app of notebook 04: the rate dial, served with Voilà (``make workshop``).  It loads
notebook 04's rate sweep (the codecs fine-tuned under each rate limit and the flow head's predictions
for them) from the checkpoint cache (run notebook 04 first, or ``make course``); on an empty cache it
trains them first (the preset's budget)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _nb import code, md, write  # noqa: E402

md(r"""
# The rate dial (notebook 04)

Every point of the dial is the same codec, fine-tuned under a limit on how many nats per second its
latent may carry (the last point has no limit). At each point, one held-out sentence twice: as the
codec reconstructs it, `D(E(x))`, and as the decoder renders what a *sampling* generator (notebook
04's flow head, the same budget at every point) predicted, `D(ẑ)`. The curve is each path's STOI on
the held-out sentences (higher is more intelligible); the ring marks what is playing.

Walk the dial up from the lowest rate on `D(E(x))`, then again on `D(ẑ)`: the codec gets better as
the rate rises, and the generator's drafts do not follow it.
""")
code('''
import os
from course_lib import data, predictors, presets, widgets

preset = presets.resolve(os.environ.get("COURSE_PRESET", "auto"))  # Voilà has no parameters cell: an env var
seed = int(os.environ.get("COURSE_SEED", "0"))
rate_sweep, _ = presets.ownership_sweep(preset, seed)
plain = list(rate_sweep)[-1]
corpus = data.ensure_corpus(rate_sweep[plain].corpus)
task = predictors.speech_task(corpus, preset, min(rate_sweep[plain].eval_clips, 12))  # notebook 04's task
budget = presets.predictor_budget(preset, seed)
# notebook 04's rate sweep, the same call: the same checkpoint keys, so loaded, not retrained
points = predictors.rate_sweep(rate_sweep, corpus, task, budget, head="flow", seed=seed, progress=False)
''')
code('''
i = 0
clips, stoi = predictors.dial_inputs(points, i, "STOI")  # one sentence, both paths, every point
widgets.players({"reference x": task.refs[i]}, title=f"“{task.eval_rows.iloc[i]['text']}” · {preset} preset")
''')
code('''
widgets.sweep_dial(clips, stoi, title="the rate dial: lowest rate first", ylabel="STOI (higher is better)")
''')

write("workshops/04_rate_app.ipynb", shared=False)
