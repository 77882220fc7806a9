"""Execute the course notebooks with papermill: ``python -m course_lib.run_notebooks --preset cpu``.

Each notebook in ``notebooks/`` runs in order with its ``parameters`` cell set to the preset and
seed; executed copies (with figures and audio) go to ``--out``, with ``times.json`` holding the
wall-clock seconds of each.  ``--html`` also writes a static HTML page per notebook.  Notebooks are
independent, so one that stops (a claim not shown in a preset meant to show it, or an error) does
not stop the others: every notebook runs, and the exit status is 1 if any stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from course_lib.data import REPO_ROOT
from course_lib.presets import resolve


def kernel_manager_class():
    """The kernel manager papermill starts each notebook's kernel with: local sockets on POSIX.

    Over TCP without CurveZMQ keys, ipykernel 7 prints a three-line "susceptible to eavesdropping"
    warning for every notebook, although the kernel listens on 127.0.0.1 only; Unix-domain sockets
    (``transport="ipc"``) are not reachable over a network, so the kernel has nothing to warn about.
    Their files go in the temp folder under a short name (``<tmp>/course-kernel-<id>-<port>``, removed
    when the kernel stops): a socket's path must fit in 104 bytes on macOS, and Jupyter's default, beside
    a connection file named by a 36-character id in the runtime folder, can pass that with a long
    user name.  Where even that would not fit, and on Windows (no IPC transport), TCP it is.
    """
    import tempfile
    import uuid

    from jupyter_client import AsyncKernelManager

    if os.name == "nt":
        return AsyncKernelManager

    class LocalSocketKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            base = os.path.join(tempfile.gettempdir(), f"course-kernel-{uuid.uuid4().hex[:12]}")
            if len(base.encode()) + len("-65535") < 104:
                kwargs.setdefault("transport", "ipc")
                kwargs.setdefault("ip", base)
            super().__init__(**kwargs)

    return LocalSocketKernelManager


def run(preset: str = "auto", seed: int = 0, out: Path | None = None, only: list[str] | None = None,
        html: bool = False, kernel: str = "course", keep_going: bool = False,
        notebooks_dir: Path | None = None) -> dict[str, float]:
    import papermill

    preset = resolve(preset)
    out = Path(out or REPO_ROOT / "build" / preset)
    out.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(Path(notebooks_dir or REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    if only:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(o) for o in only)]
    if not notebooks:
        raise SystemExit("no notebooks matched")
    times, failed = {}, []
    if keep_going:
        # make claims: every claim's verdict, also those after a failed one (the kernel inherits this)
        from course_lib.claims import RECORD_ONLY_ENV

        os.environ[RECORD_ONLY_ENV] = "1"
    times_path = out / "times.json"
    if times_path.exists():
        times = json.loads(times_path.read_text())
    for nb in notebooks:
        print(f"== {nb.name} (preset={preset}, seed={seed})", flush=True)
        t0 = time.time()
        try:
            papermill.execute_notebook(
                str(nb), str(out / nb.name), parameters={"preset": preset, "seed": seed},
                kernel_name=kernel, cwd=str(nb.parent), progress_bar=False, log_output=False,
                kernel_manager_class=kernel_manager_class(),
            )
        except papermill.PapermillExecutionError as err:
            # Notebooks are independent: one that stops (a claim not shown, an error) does not stop
            # the others.  Its executed copy, saved up to the failing cell, shows where and why.
            why = f"{err.ename}: {(str(err.evalue).splitlines() or [''])[0][:200]}"
            print(f"   {nb.name}: stopped at {why}", flush=True)
            failed.append(f"{nb.name} ({why})")
        except Exception as err:  # the kernel itself died (out of memory, say) or a cell timed out
            why = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"
            print(f"   {nb.name}: stopped, {why}", flush=True)
            failed.append(f"{nb.name} ({why})")
        if (out / nb.name).exists():
            try:
                _settle(out / nb.name)
            except Exception as err:  # a copy cut short cannot be read: it stays as papermill left it
                print(f"   {nb.name}: progress bars left as they were ({type(err).__name__})", flush=True)
        times[nb.name] = round(time.time() - t0, 1)
        print(f"   {nb.name}: {times[nb.name]} s", flush=True)
        times_path.write_text(json.dumps(times, indent=1))
        if html and (out / nb.name).exists():  # a stopped notebook's page shows the cell where it stopped
            try:
                _to_html(out / nb.name)
            except Exception as err:  # a copy cut short (the kernel died mid-save) has no page
                print(f"   {nb.name}: no HTML page ({type(err).__name__})", flush=True)
    if html:
        write_index(out, preset, seed)
    if failed:
        msg = f"{len(failed)} of {len(notebooks)} notebooks stopped (claim records: build/claims/; " \
              f"executed copies: {out}): " + "; ".join(failed)
        if not keep_going:
            raise SystemExit(msg)  # exit status 1: make course / make test fail, after every notebook ran
        print(msg, flush=True)  # make claims: the verdicts are the result, a stopped notebook is one of them
    return times


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def progress_text(state: dict, model_id: str) -> str | None:
    """The last text a tqdm notebook bar showed, rebuilt from the saved widget state (an HBox of
    description, progress bar and counter); None when ``model_id`` is not such a bar.

    Why: the output's own ``text/plain`` is the bar's *first* frame ("training: 0%|  | 0/1250"),
    which is all a page without widgets can show; a finished run should read as finished."""
    from html import unescape

    box = state.get(model_id, {})
    children = [c.removeprefix("IPY_MODEL_") for c in box.get("state", {}).get("children", [])]
    if box.get("model_name") != "HBoxModel" or len(children) != 3:
        return None
    left, bar, right = (state.get(c, {}) for c in children)
    if (left.get("model_name"), right.get("model_name")) != ("HTMLModel", "HTMLModel") or \
            bar.get("model_name") not in ("FloatProgressModel", "IntProgressModel"):
        return None
    done = bar["state"].get("value", 0) / (bar["state"].get("max") or 1)
    filled = max(0, min(10, round(10 * done)))
    text = f"{left['state'].get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{right['state'].get('value', '')}"
    return unescape(text).replace("\u2007", " ")


def settle_progress_bars(nb):
    """Give every progress bar's output the text of its last frame (``progress_text``) as its
    ``text/plain``, keeping the live view: JupyterLab still draws the widget from the saved state,
    and a viewer without widgets (GitHub, nbviewer, a text diff) reads "100%" instead of "0%"."""
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and "text/html" not in data:
                text = progress_text(state, data[WIDGET_VIEW].get("model_id", ""))
                if text is not None:
                    data["text/plain"] = text
    return nb


def static_outputs(nb):
    """Drop live-widget views that carry a static ``text/html`` snapshot beside them
    (``widgets._Shown``): an exported page has no kernel and no widget state, so the snapshot's
    players and spectrograms are what it can show.  A progress bar's view becomes the text of its
    last frame (``progress_text``)."""
    settle_progress_bars(nb)
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and ("text/html" in data or
                                        progress_text(state, data[WIDGET_VIEW].get("model_id", "")) is not None):
                del data[WIDGET_VIEW]
    return nb


# nbconvert's lab template loads require.js, MathJax and mermaid from a CDN.  The course's pages need
# none of them (no widget state, no TeX, no diagrams), and a page that fetches scripts is not an
# offline page: this template keeps the lab look and drops those three blocks.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def to_html(nb) -> str:
    """One executed notebook as a self-contained page: figures and audio inline, no remote scripts."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                            template_file="offline.html.j2")
    body, _ = exporter.from_notebook_node(static_outputs(nb))
    return body


def _settle(path: Path) -> None:
    """The executed copy with its progress bars' last frames as text (``settle_progress_bars``)."""
    import nbformat

    from course_lib.files import atomic_write

    nb = settle_progress_bars(nbformat.read(str(path), as_version=4))
    atomic_write(path, lambda tmp: nbformat.write(nb, str(tmp)))


def _to_html(path: Path) -> Path:
    import nbformat

    target = path.with_suffix(".html")
    target.write_text(to_html(nbformat.read(str(path), as_version=4)))
    return target


def title(path: Path) -> str:
    """The notebook's first markdown heading, without the '#'."""
    import nbformat

    for cell in nbformat.read(str(path), as_version=4).cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            return cell.source.lstrip().splitlines()[0].lstrip("#").strip()
    return path.stem


def write_index(out: Path, preset: str, seed: int) -> Path:
    """``index.html`` beside the executed notebooks: every lesson with its measured time, linking the
    static HTML page (figures and audio players embedded, so the folder works offline)."""
    import html

    from course_lib.files import atomic_write

    out = Path(out)
    times = json.loads((out / "times.json").read_text()) if (out / "times.json").exists() else {}
    rows = []
    for page in sorted(out.glob("[0-9]*.html")):
        nb = page.with_suffix(".ipynb")
        t = times.get(nb.name)
        name = title(nb) if nb.exists() else page.stem
        rows.append(f"<tr><td><a href='{html.escape(page.name)}'>{html.escape(name)}</a></td>"
                    f"<td>{'' if t is None else f'{t / 60:.1f} min'}</td></tr>")
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>Train the Interface</title>"
            f"<style>body{{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto}}"
            f"td{{padding:4px 12px}}</style></head><body><h1>Train the Interface</h1>"
            f"<p>Executed with the <b>{html.escape(preset)}</b> preset, seed {seed}. Each page has its figures "
            f"and audio players inside it: this folder works offline.</p>"
            f"<table><tr><th>lesson</th><th>time to run</th></tr>{''.join(rows)}</table></body></html>\n")
    return atomic_write(out / "index.html", lambda tmp: Path(tmp).write_text(body, encoding="utf-8"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 00 03")
    ap.add_argument("--html", action="store_true")
    ap.add_argument("--keep-going", action="store_true",
                    help="record a claim that is not shown instead of raising, and exit 0 when a notebook "
                         "stops (make claims); without it every notebook still runs, and the exit status is 1 "
                         "if any stopped")
    args = ap.parse_args(argv)
    run(args.preset, args.seed, args.out, args.only, args.html, keep_going=args.keep_going)
    return 0


if __name__ == "__main__":
    sys.exit(main())
