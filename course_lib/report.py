"""The interface report card: any folder of audio in, one page out that says whether an encoder is a
good *interface* -- not just a good codec.

    python -m course_lib.report --audio DIR --out OUT [--checkpoint CKPT] [--preset smoke|cpu|gpu]

What it does, in the order of the essay's checklist:

1. reads the folder (``adapters.scan``: a plain folder, a course corpus, LibriTTS, VCTK or
   MUSDB18-HQ; any sample rate, mono or stereo, wav / flac / ogg), resampled to 16 kHz;
2. trains an encoder/decoder in the preset's budget (``presets.report_budget``), or loads
   ``--checkpoint`` (a course checkpoint directory: ``model.pt`` + ``info.json``), cached like every
   lesson's model (``training.train_or_load``): a second run on the same folder is quick;
3. trains a probe predictor on its latents -- the conditional TTS predictor of notebooks 01-04 when
   the audio has phone timings (a course corpus), else the AR next-latent predictor;
4. writes the card: the five decode-path rows and the predicted-latent gap (notebook 03), the
   latent dashboard by place (04) and channel by channel (which channels carry the sound, and how
   much of the gap their prediction errors cost: 03 section 4), the ledger's probes where labels
   exist (05-07), audio of every path, and how long each part took.

Bad input: a file that cannot be used gets one line (``skipped <file>: <why>``) and is left out;
``--strict`` stops instead.  No usable audio, an unreadable checkpoint or a missing folder is one
line on stderr and exit code 2 -- never a traceback.  The card's files are written only once
everything is computed, each one atomically (temp file, then rename), so a failed run leaves the
previous card (if any) untouched and never a half-written one.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from course_lib import adapters, audio, dashboard, data, decode_paths, metrics, predictors, presets, probes, training
from course_lib.files import atomic_write
from course_lib.ledger import Ledger
from course_lib.models import Autoencoder, ModelConfig

REPORT_FILES = ("report.md", "report.html", "report.json")
MIN_GAP = 0.02  # mel distance; below this the gap is within seed-to-seed noise and the card does not split it


class ReportError(RuntimeError):
    """A one-line reason the report cannot be made (bad checkpoint, too little usable audio)."""


@dataclass
class Fitted:
    """What ``build`` trained or loaded, kept for the next step of a lesson (a decoder polish)."""

    model: Autoencoder
    run: training.TrainedModel | None  # None when the model came from --checkpoint
    codec: presets.Preset | None  # the preset it was trained with
    bank: data.ClipBank | None  # the clips it was trained on
    corpus: Path | None  # the directory whose manifest keys the checkpoint cache
    refs: list[torch.Tensor]  # the evaluation audio of the decode-path table
    eval_rows: pd.DataFrame  # their manifest rows


@dataclass
class Card:
    """Everything the report card shows; ``findings`` holds the numbers a notebook can check."""

    source: str  # what was read (adapters.Scan.summary)
    problems: list[str]  # one line per skipped file
    model: dict  # the interface and where the weights came from
    predictor: str  # which probe predictor scored the encoder
    table: pd.DataFrame  # the decode-path table (ROWS x metrics, with the gap)
    places: dict[str, pd.DataFrame]  # dashboard place tables, by regime / domain / condition
    channels: pd.DataFrame  # dashboard channel table, the channels carrying most debt first
    debt: dict  # dashboard.debt_report
    ledger: pd.DataFrame | None  # Ledger.judge, or None when the audio has no labels to probe
    timings: dict[str, float]  # seconds per stage
    findings: dict  # gap, noise share, projection recovery, probes above chance
    notes: list[str] = field(default_factory=list)  # sentences for the reader, computed from the numbers
    figures: dict[str, bytes] = field(default_factory=dict)  # name -> PNG
    clips: dict[str, torch.Tensor] = field(default_factory=dict)  # path name -> audio of the first evaluation clip
    fitted: Fitted | None = None  # the trained parts, for a notebook to go on with (not written to disk)
    channel_curve: pd.DataFrame | None = None  # dashboard.channel_curve, channels taken widest first

    def to_json(self) -> dict:
        return {
            "source": self.source, "problems": self.problems, "model": self.model, "predictor": self.predictor,
            "decode_paths": _records(self.table), "places": {k: _records(v) for k, v in self.places.items()},
            "debt": {k: v for k, v in self.debt.items() if not isinstance(v, np.ndarray)},
            "ledger": None if self.ledger is None else self.ledger.to_dict("records"),
            "channel_curve": None if self.channel_curve is None else _records(self.channel_curve),
            "timings_s": self.timings, "findings": self.findings, "notes": self.notes,
        }

    def to_markdown(self) -> str:
        m = self.model
        out = ["# Interface report card", "",
               f"**Audio:** {self.source}  ",
               f"**Encoder:** {m['interface']} — {m['origin']}  ",
               f"**Probe predictor:** {self.predictor}", ""]
        out += ["## Findings", ""] + [f"- {n}" for n in self.notes] + [""]
        out += ["## 1 · Decode paths and the predicted-latent gap", "",
                "Every way a latent can reach the decoder, scored against the original audio "
                "(`gap` = mel distance minus the oracle's; positive is worse).", "",
                _md_table(self.table.round(4)), "", _md_image("decode paths", self.figures.get("paths")), "",
                _md_image("spectrograms", self.figures.get("spectrograms")), ""]
        out += ["## 2 · The latent dashboard, by place", "",
                f"Who carries the debt: {self.debt.get('summary', '')}", ""]
        for by, tab in self.places.items():
            out += [f"**by {by}**", "", _md_table(tab.round(4)), ""]
        out += ["**channels carrying the most debt**", "", _md_table(self.channels.round(4)), "",
                _md_image("dashboard", self.figures.get("dashboard")), ""]
        if self.channel_curve is not None:
            out += ["**channels k at a time**, widest training spread first: the mel cost of muting the k "
                    "widest (or narrowest) channels of E(x), and the part of the gap that comes back when the "
                    "k widest channels of ẑ are taken from E(x)", "", _md_table(self.channel_curve.round(4)), ""]
        out += ["## 3 · Probes (the ledger)", ""]
        out += [_md_table(self.ledger.round(3)) if self.ledger is not None else
                "No labels to probe: the folder has no speakers, transcripts or conditions."]
        out += ["", "## 4 · Timings", "", _md_table(pd.DataFrame({"seconds": self.timings}).round(1)), ""]
        if self.problems:
            out += ["## Skipped files", ""] + [f"- {p}" for p in self.problems] + [""]
        if "training" in self.figures:
            out += [_md_image("training", self.figures["training"]), ""]
        return "\n".join(out)

    def to_html(self) -> str:
        m = self.model
        esc = html.escape
        from course_lib.widgets import audio_html

        players = "".join(f"<tr><td><b>{esc(name)}</b></td><td>{audio_html(x)}</td></tr>"
                          for name, x in self.clips.items())
        places = "".join(f"<h4>by {esc(by)}</h4>{tab.round(4).to_html()}" for by, tab in self.places.items())
        ledger = (self.ledger.round(3).to_html(index=False) if self.ledger is not None else
                  "<p>No labels to probe: the folder has no speakers, transcripts or conditions.</p>")
        curve = ("" if self.channel_curve is None else
                 "<h4>channels k at a time, widest training spread first</h4><p>The mel cost of muting the k "
                 "widest (or narrowest) channels of E(x), and the part of the gap that comes back when the k "
                 f"widest channels of ẑ are taken from E(x).</p>{self.channel_curve.round(4).to_html()}")
        skipped = ("<h2>Skipped files</h2><ul>" + "".join(f"<li>{esc(p)}</li>" for p in self.problems) + "</ul>"
                   if self.problems else "")
        style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
                 "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:2px 6px}"
                 "img{max-width:100%}")
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>Interface report card</title>
<style>{style}</style></head><body>
<h1>Interface report card</h1>
<p><b>Audio:</b> {esc(self.source)}<br><b>Encoder:</b> {esc(m['interface'])} — {esc(m['origin'])}<br>
<b>Probe predictor:</b> {esc(self.predictor)}</p>
<h2>Findings</h2><ul>{''.join(f'<li>{esc(n)}</li>' for n in self.notes)}</ul>
<h2>1 · Decode paths and the predicted-latent gap</h2>
<p>Every way a latent can reach the decoder, scored against the original audio (<code>gap</code> = mel
distance minus the oracle's; positive is worse).</p>
{self.table.round(4).to_html()}
{_html_image(self.figures.get('paths'))}
<h3>Listen: the first evaluation clip through every path</h3><table>{players}</table>
{_html_image(self.figures.get('spectrograms'))}
<h2>2 · The latent dashboard, by place</h2><p>Who carries the debt: {esc(self.debt.get('summary', ''))}</p>
{places}<h4>channels carrying the most debt</h4>{self.channels.round(4).to_html()}
{_html_image(self.figures.get('dashboard'))}
{curve}
<h2>3 · Probes (the ledger)</h2>{ledger}
<h2>4 · Timings</h2>{pd.DataFrame({'seconds': self.timings}).round(1).to_html()}
{_html_image(self.figures.get('training'))}
{skipped}
</body></html>
"""


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.reset_index().to_json(orient="records"))


def _md_table(df: pd.DataFrame) -> str:
    """A GitHub-markdown table (pandas' to_markdown needs tabulate; this needs nothing)."""
    df = df.reset_index() if df.index.name or not isinstance(df.index, pd.RangeIndex) else df
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _md_image(alt: str, png: bytes | None) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})" if png else ""


def _html_image(png: bytes | None) -> str:
    return f"<p><img src='data:image/png;base64,{base64.b64encode(png).decode()}'></p>" if png else ""


# --- loading ------------------------------------------------------------------------------------

def load_checkpoint(path: str | Path) -> tuple[Autoencoder, dict]:
    """A course checkpoint: a directory holding ``model.pt`` and ``info.json`` (what
    ``training.train_or_load`` and ``python -m course_lib.train`` write), or the ``model.pt`` itself."""
    path = Path(path)
    if not path.exists():
        raise ReportError(f"checkpoint {path}: not found")
    weights = path / "model.pt" if path.is_dir() else path
    info_path = weights.parent / "info.json"
    if not weights.exists():
        raise ReportError(f"checkpoint {path}: no model.pt in this directory")
    if not info_path.exists():
        raise ReportError(f"checkpoint {weights}: no info.json beside it (the model's configuration the course "
                          f"writes there); pass a checkpoint directory made by train_or_load or course_lib.train")
    try:
        info = json.loads(info_path.read_text())
        cfg_dict = info["preset"]["model"]
        cfg = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg_dict.items()})
        state = torch.load(weights, weights_only=True, map_location="cpu")
        model = Autoencoder(cfg)
        model.load_state_dict(state["model"])
    except Exception as e:  # noqa: BLE001 -- any failure here is 'not a loadable course checkpoint', said in one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReportError(f"checkpoint {weights}: cannot be loaded as a course autoencoder ({first})") from None
    return model.eval(), info


def _spread(rows: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` rows, evenly spaced: every speaker and piece keeps a share."""
    if len(rows) <= n:
        return rows
    idx = np.linspace(0, len(rows) - 1, n).round().astype(int)
    return rows.iloc[np.unique(idx)]


def _load(root: Path, rows: pd.DataFrame, problems: list[str]) -> tuple[pd.DataFrame, list[torch.Tensor]]:
    """Load each row at 16 kHz; a file that fails becomes one problem line and is left out."""
    keep, clips = [], []
    for i, (_, r) in enumerate(rows.iterrows()):
        try:
            clips.append(data.load_clip(root, r))
            keep.append(i)
        except audio.AudioError as e:
            problems.append(str(e))
    return rows.iloc[keep].reset_index(drop=True), clips


def _has_phones(root: Path, rows: pd.DataFrame) -> bool:
    if rows.empty or not (rows["domain"] == "speech").all() or not (rows["labels"].astype(str) != "").all():
        return False
    return all(bool(data.load_labels(root, r).get("phones")) for _, r in rows.head(4).iterrows())


# --- the card -----------------------------------------------------------------------------------

def build(audio_dir: str | Path, preset: str = "auto", checkpoint: str | Path | None = None, layout: str = "auto",
          domain: str | None = None, predictor: str = "auto", seed: int = 0, strict: bool = False,
          progress: bool = True, log=print) -> Card:
    """Make the report card for the audio under ``audio_dir`` (see the module docstring).

    ``domain``: keep only this domain of a course corpus (e.g. "speech"), or label a plain folder's
    clips with it ("speech" enables the speech metrics PESQ / STOI); ``predictor``: "auto",
    "conditional" (needs phone timings) or "ar"; ``log``: where progress lines go.
    """
    t_all, timings = time.time(), {}
    name = presets.resolve(preset)
    budget = presets.report_budget(name, seed)
    t = time.time()
    scan = adapters.scan(audio_dir, layout, limit=None if _is_course(audio_dir, layout) else budget.max_clips,
                         domain=domain, seed=seed)
    root, problems = scan.root, list(scan.problems)
    rows = scan.manifest
    if scan.layout == "course":  # a course corpus: the clean clips (degraded copies are for the ledger)
        rows = rows[rows["condition"] == "clean"]
        rows = rows[rows["domain"] == domain] if domain else rows
        rows = _spread(rows.sort_values("clip_id"), budget.max_clips).reset_index(drop=True)
    for p in problems:
        log(f"skipped {p}")
    if strict and problems:
        raise ReportError(f"{len(problems)} unusable file(s) and --strict is set; first: {problems[0]}")
    rows, clips = _load(root, rows, problems)
    timings["read audio"] = time.time() - t
    if len(clips) < 2:
        raise ReportError(f"{root}: {len(clips)} usable clip(s); the report card needs at least 2 "
                          f"(one to train on, one to evaluate)")

    # the encoder: a checkpoint, or one trained (or loaded from the cache) in the preset's budget
    t = time.time()
    if checkpoint is not None:
        model, info = load_checkpoint(checkpoint)
        origin, history = f"loaded from {checkpoint}", []
        run_dir = run = codec = bank = corpus = None
    else:
        n_ch = 2 if all(c.shape[0] == 2 for c in clips) else 1
        codec = replace(budget.codec, model=replace(budget.codec.model, channels=n_ch))
        train_idx = [i for i in range(len(rows)) if rows.loc[i, "split"] == "train"] or list(range(len(rows)))
        bank = data.ClipBank([audio.to_channels(clips[i], n_ch) for i in train_idx],
                             [str(rows.loc[i, "clip_id"]) for i in train_idx])
        corpus = root if scan.layout == "course" else _manifest_dir(scan.manifest)
        log(f"encoder: a {codec.train.steps}-step budget on {bank.seconds / 60:.1f} min of audio ({name} preset)")
        run = training.train_or_load(codec, corpus=corpus, bank=bank, progress=progress)
        model, info, history, run_dir = run.model, run.info, run.history, run.info["dir"]
        origin = f"{'loaded from the cache' if run.info['loaded'] else 'trained'} ({name} budget, " \
                 f"{codec.train.steps} steps, {run.info['train_seconds']:.0f} s of training)"
    clips = [audio.to_channels(c, model.cfg.channels) for c in clips]
    timings["encoder"] = time.time() - t

    # evaluation clips: the valid split, else the test split, else every 7th training clip
    split = rows["split"].astype(str)
    eval_mask = (split == "valid") if (split == "valid").any() else (split == "test")
    if not eval_mask.any():
        eval_mask = pd.Series(np.arange(len(rows)) % 7 == 3, index=rows.index)
        eval_mask.iloc[-1] = True
    eval_idx = list(np.flatnonzero(eval_mask.to_numpy()))[: budget.eval_clips]
    train_idx = [i for i in range(len(rows)) if rows.loc[i, "split"] == "train" and i not in eval_idx]
    train_idx = train_idx or [i for i in range(len(rows)) if i not in eval_idx]
    eval_rows = rows.iloc[eval_idx].reset_index(drop=True)

    # the probe predictor: the downstream model this card judges the encoder for
    t = time.time()
    use = predictor
    if use == "auto":
        use = "conditional" if scan.layout == "course" and _has_phones(root, rows.iloc[train_idx + eval_idx]) else "ar"
    if use == "conditional":
        if not _has_phones(root, rows.iloc[train_idx + eval_idx]):
            raise ReportError("--predictor conditional needs speech with phone timings (a course corpus)")
        train_rows = rows.iloc[train_idx].reset_index(drop=True)
        vocab = predictors.phone_vocab(root, train_rows)
        speakers = {s: i for i, s in enumerate(sorted(train_rows["speaker"].astype(str).unique()))}
        study = predictors.study(model, root, train_rows, eval_rows, vocab, speakers, budget.predictor,
                                 progress=progress)
        refs = [clips[i] for i in eval_idx]
        described = "conditional (phones + durations + speaker → latents, non-AR), the TTS stand-in of notebooks 01–04"
    elif use == "ar":
        cut = int(budget.eval_seconds * audio.SAMPLE_RATE)
        refs = [clips[i][:, :cut] for i in eval_idx]
        train_clips = [clips[i][:, : 4 * cut] for i in train_idx]
        study = predictors.ar_study(model, train_clips, refs, budget.predictor, progress=progress)
        described = ("autoregressive next-latent (Gaussian head), generating 0.2 s at a time from the true past "
                     "before each stretch")
    else:
        raise ReportError(f"unknown predictor {predictor!r}: use auto, conditional or ar")
    timings["probe predictor"] = time.time() - t

    # the decode-path table
    t = time.time()
    is_speech = bool((eval_rows["domain"] == "speech").all()) and model.cfg.channels == 1
    sigma, rho = decode_paths.residual_std(study), decode_paths.residual_corr(study)
    projector = decode_paths.train_projector([u.z for u in study.train], sigma, steps=budget.projector_steps,
                                             seed=seed)
    paths = decode_paths.all_paths(model, study, refs, projector, sigma, seed, rho)
    extra = None if is_speech else {"mrstft": metrics.mrstft_distance}  # PESQ / STOI are speech-only
    table = decode_paths.decode_path_table(refs, paths, speech=is_speech, extra=extra, pesq=is_speech)
    table.index.name = "decode path"
    timings["decode paths"] = time.time() - t

    # the dashboard by place
    t = time.time()
    s = dashboard.collect(model, refs, meta=eval_rows, z_hat=study.z_hat)
    places = {"regime": dashboard.place_table(s, by="regime")}
    for by in ("domain", "condition"):
        if eval_rows[by].nunique() > 1:
            places[by] = dashboard.place_table(s, by=by)
    debt = dashboard.debt_report(s)
    chan = dashboard.channel_table(s)
    sort_col = "kl_share" if "kl_share" in chan.columns else chan.columns[-1]
    chan = chan.sort_values(sort_col, ascending=False).head(8)
    curve = dashboard.channel_curve_for(model, study, refs)  # channel by channel (03 section 4)
    timings["dashboard"] = time.time() - t

    # the ledger, where labels exist
    t = time.time()
    ledger_table, probe_scores = _ledger(model, scan.layout, root, rows, clips, budget, seed, progress)
    timings["probes"] = time.time() - t

    # figures and audio
    import matplotlib.pyplot as plt

    from course_lib import plots

    figures = {}
    fig, axes = plt.subplots(1, 2, figsize=(12, 3))
    decode_paths.plot_paths(table, "mel_dist", ax=axes[0], title="mel distance")
    decode_paths.plot_paths(table, "stoi" if is_speech else "mrstft", ax=axes[1],
                            title="STOI" if is_speech else "MR-STFT distance")
    fig.tight_layout()
    figures["paths"] = _png(fig)
    first = {"reference x": refs[0], **{k: v[0] for k, v in paths.items()}}
    figures["spectrograms"] = _png(plots.spectrogram_row(first))
    figures["dashboard"] = _png(dashboard.figure(s, places=tuple(places)[:2], title="latent dashboard"))
    if history:
        figures["training"] = _png(plots.training_curve(history).figure)

    findings, notes = _findings(table, probe_scores, debt, study.nmse, curve)
    timings["total"] = time.time() - t_all
    params = sum(p.numel() for p in model.parameters())
    interface = (f"{model.cfg.latent_rate:g} Hz × {model.cfg.width} ({model.cfg.topology}, {model.cfg.bottleneck}), "
                 f"{'stereo' if model.cfg.channels == 2 else 'mono'}, {params / 1e6:.2f} M parameters")
    model_info = {"interface": interface, "origin": origin, "config": info.get("preset", {}).get("model", {}),
                  "checkpoint_dir": run_dir}
    source = scan.summary() + f"; {len(rows)} clips used, {len(eval_idx)} scored"
    fitted = Fitted(model, run, codec, bank, corpus, refs, eval_rows)
    return Card(source, problems, model_info, described, table, places, chan, debt, ledger_table, timings,
                findings, notes, figures, first, fitted, curve)


def _is_course(audio_dir, layout: str) -> bool:
    return layout == "course" or (layout == "auto" and (Path(audio_dir) / "manifest.csv").exists())


def _manifest_dir(manifest: pd.DataFrame) -> Path:
    """The scan's manifest, saved where ``train_or_load`` can hash it (the checkpoint key then follows
    the files' content: every row carries its file's sha1)."""
    text = manifest.to_csv(index=False)
    d = training.CHECKPOINT_ROOT.parent / "report-scans" / hashlib.sha256(text.encode()).hexdigest()[:16]
    if not (d / "manifest.csv").exists():
        atomic_write(d / "manifest.csv", lambda tmp: Path(tmp).write_text(text))
    return d


def _ledger(model, layout, root, rows, clips, budget, seed, progress):
    """Probe what the labels allow.  A course corpus: content, speaker, prosody (retain) and room,
    degradation (product); a dataset with speakers: speaker.  Returns (judged table or None,
    factor -> above-chance score)."""
    if layout == "course" and (rows["domain"] == "speech").any():
        pset = probes.probe_set(root, n_train=budget.probe_clips, n_degraded=budget.probe_clips // 3, seed=seed)
        ledger = Ledger({"content": "retain", "speaker": "retain", "prosody": "retain", "room": "product",
                         "degradation": "product"})
        if model.cfg.channels == 2:
            pset.audio = [audio.to_channels(x, 2) for x in pset.audio]
        results = ledger.run(pset.latents(model), pset.rows, pset.labels, model.cfg.latent_rate,
                             audio=pset.mono(), seed=seed)
    else:
        contract = {}
        if (rows["domain"] == "speech").any() and rows["speaker"].astype(str).replace("", np.nan).nunique() >= 2:
            contract["speaker"] = "retain"
        if rows["condition"].nunique() > 1:
            contract["condition"] = "product"
        if not contract:
            return None, {}
        sel = _spread(rows, budget.probe_clips).index
        ledger = Ledger(contract)
        model.eval()
        with torch.no_grad():
            latents = [model.encode(clips[i][None], sample=False).mean[0].numpy() for i in sel]
        results = ledger.run(latents, [rows.loc[i] for i in sel], None, model.cfg.latent_rate, seed=seed)
    judged = ledger.judge(results)
    scores = {r["factor"]: float(r["above_chance"]) for _, r in judged.iterrows()
              if not str(r["verdict"]).startswith("not probed")}
    return judged.drop(columns=["note"]), scores


def _projection_note(gap: float, proj: float) -> str:
    """What projecting ẑ toward the manifold did to the gap, signed honestly: a recovery too small to show
    at three decimals, or a gap that grew, reads as recovering nothing."""
    recovered = gap - proj
    if recovered >= 0.0005:
        tail = f"recovers {recovered:.3f} of it ({recovered / gap:.0%})"
    elif recovered < 0:
        tail = f"recovers nothing (the gap grows by {-recovered:.4f} mel)"
    else:
        tail = f"recovers nothing measurable ({recovered:.4f} mel)"
    return f"Projecting ẑ back toward the encoder's manifold leaves a gap of {proj:+.3f}: it {tail}."


def _findings(table: pd.DataFrame, probe_scores: dict, debt: dict, nmse: float,
              curve: pd.DataFrame | None = None) -> tuple[dict, list[str]]:
    """The card's headline numbers, and sentences that read them (the same readings as 03-07)."""
    o, p = table.loc[decode_paths.ORACLE, "mel_dist"], table.loc[decode_paths.PREDICTED, "mel_dist"]
    gap = float(p - o)
    noisy = float(table.loc[decode_paths.NOISY, "gap"])
    proj = float(table.loc[decode_paths.PROJECTED, "gap"]) if decode_paths.PROJECTED in table.index else math.nan
    noise_share = noisy / gap if gap > 0 else math.nan
    f = {"oracle_mel": float(o), "predicted_mel": float(p), "gap_mel": gap, "noise_gap_mel": noisy,
         "projected_gap_mel": proj, "noise_share_of_gap": noise_share, "predictor_nmse": float(nmse),
         "probes_above_chance": probe_scores, "debt_summary": debt.get("summary", "")}
    if "stoi" in table.columns:
        f["stoi_drop"] = float(table.loc[decode_paths.ORACLE, "stoi"] - table.loc[decode_paths.PREDICTED, "stoi"])
    notes = [f"Predicted-latent gap: D(ẑ) is {gap:+.3f} mel distance from the oracle "
             f"({o:.3f} → {p:.3f}); the probe predictor's normalised error is {nmse:.2f} (1 = predicting the mean)."]
    if gap >= MIN_GAP:
        kind = ("mostly decoder fragility: noise of the predictor's size costs nearly as much — train the decoder "
                "with calibrated latent noise (notebook 03)" if noise_share >= 0.5 else
                "mostly structured: noise of the predictor's size costs only "
                f"{noise_share:.0%} of it, so the predictor's errors are off-manifold, not just large (notebook 03)")
        notes.append(f"Where the gap comes from: {kind}.")
        if not math.isnan(proj):
            notes.append(_projection_note(gap, proj))
    else:
        notes.append(f"No clear gap (< {MIN_GAP} mel): at this budget the predictor's latents decode about as "
                     f"well as the encoder's own; nothing to split.")
    if debt.get("summary"):
        notes.append(f"Debt by place (notebook 04): {debt['summary']}.")
    if curve is not None and len(curve):
        k = int(curve.index[curve.index <= 8].max())  # an eighth of a 64-channel latent
        row = curve.loc[k]
        f.update({"channels_k": k, "mute_widest_k_mel": float(row["mute_first"]),
                  "mute_narrowest_k_mel": float(row["mute_last"]), "repair_widest_k_mel": float(row["repair_first"])})
        note = (f"Channels (notebook 03): muting the {k} widest costs {row['mute_first']:.3f} mel, the {k} "
                f"narrowest {row['mute_last']:.3f}")
        if gap >= MIN_GAP:
            note += (f"; the {k} widest channels of ẑ, taken from E(x), give back {row['repair_first'] / gap:.0%} "
                     "of the gap")
        notes.append(note + ".")
    for factor, score in probe_scores.items():
        if math.isnan(score):
            notes.append(f"Probe {factor}: no score (too few classes in the probe's test split).")
        elif score <= 0:
            notes.append(f"Probe {factor}: at or below chance (absent).")
        else:
            notes.append(f"Probe {factor}: {score:.2f} above chance ({'present' if score >= 0.2 else 'absent'}).")
    return f, notes


def write(card: Card, out: str | Path) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``report.json`` under ``out``, each atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    texts = {"report.md": card.to_markdown(), "report.html": card.to_html(),
             "report.json": json.dumps(card.to_json(), indent=1, default=str, ensure_ascii=False)}
    return {name: atomic_write(out / name, lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"))
            for name, text in texts.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_lib.report", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio", required=True, help="a folder of audio (wav/flac/ogg), a course corpus, "
                                                   "or a LibriTTS / VCTK / MUSDB18-HQ root")
    ap.add_argument("--out", required=True, help="where report.md, report.html and report.json go")
    ap.add_argument("--checkpoint", help="a course checkpoint directory (model.pt + info.json) to judge "
                                         "instead of training one")
    ap.add_argument("--preset", default="auto", choices=("auto", *presets.PRESET_NAMES))
    ap.add_argument("--layout", default="auto", choices=("auto", *adapters.LAYOUTS))
    ap.add_argument("--domain", help="keep only this domain of a course corpus, or label a folder's clips "
                                     "(speech adds PESQ / STOI)")
    ap.add_argument("--predictor", default="auto", choices=("auto", "conditional", "ar"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strict", action="store_true", help="stop on the first unusable file instead of skipping it")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    try:
        card = build(args.audio, args.preset, args.checkpoint, args.layout, args.domain, args.predictor,
                     args.seed, args.strict, progress=not args.quiet)
        paths = write(card, args.out)
    except (adapters.DatasetError, audio.AudioError, data.CorpusError, ReportError) as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    f = card.findings
    print(f"report: {card.source}")
    print(f"report: oracle {f['oracle_mel']:.3f} → predicted {f['predicted_mel']:.3f} mel (gap {f['gap_mel']:+.3f}); "
          f"{len(card.problems)} file(s) skipped; {card.timings['total']:.0f} s")
    print(f"report: wrote {paths['report.html']} and {paths['report.md']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
