"""The static HTML course: an index page over the executed notebooks."""

import json
from pathlib import Path

import nbformat
import pytest

from course_lib.run_notebooks import write_index


def test_index_lists_every_lesson_with_its_time(tmp_path):
    for name, title in (("00_welcome", "00 · Welcome"), ("08_checklist", "08 · The checklist")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\ntext"), nbformat.v4.new_code_cell("1")]
        nbformat.write(nb, str(tmp_path / f"{name}.ipynb"))
        (tmp_path / f"{name}.html").write_text("<html></html>")
    (tmp_path / "times.json").write_text(json.dumps({"00_welcome.ipynb": 222.0}))
    page = write_index(tmp_path, "cpu", 0).read_text()
    assert "href='00_welcome.html'>00 · Welcome</a>" in page and "3.7 min" in page
    assert "href='08_checklist.html'>08 · The checklist</a>" in page  # no time measured: left blank
    assert page.index("00_welcome") < page.index("08_checklist") and "<b>cpu</b>" in page


def test_static_pages_keep_the_players_of_widgets():
    import torch

    from course_lib import widgets
    from course_lib.run_notebooks import WIDGET_VIEW, static_outputs

    clips = {"a": 0.1 * torch.randn(1, 1600), "b": 0.1 * torch.randn(1, 1600)}
    bundle = widgets.ab_player(clips, title="rows")._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle["text/html"].count("<audio") == 2  # every row, for a static page
    slider = widgets.latent_noise_slider(lambda z: z.mean(0, keepdim=True).repeat(1, 160), {"E(x)": torch.randn(4, 10)})
    assert "<audio" in slider._repr_mimebundle_()["text/html"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("display_data", data=bundle)])]
    data = static_outputs(nb).cells[0].outputs[0]["data"]
    assert WIDGET_VIEW not in data and "<audio" in data["text/html"]


def test_a_finished_progress_bar_reads_as_finished_on_a_static_page():
    from course_lib.run_notebooks import WIDGET_STATE, WIDGET_VIEW, settle_progress_bars, static_outputs

    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    # the widget state tqdm.notebook leaves after 400 of 400 steps (as saved by papermill)
    state = {"box": model("HBoxModel", children=["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]),
             "l": model("HTMLModel", value="content\u2007teacher:\u2007100%"),
             "p": model("FloatProgressModel", value=400.0, max=400.0, bar_style="success"),
             "r": model("HTMLModel", value="\u2007400/400\u2007[00:11&lt;00:00,\u200749.04it/s]"),
             "other": model("IntSliderModel", value=3)}
    first_frame = "content teacher:   0%|          | 0/400 [00:00<?, ?it/s]"
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    outs = [nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": mid}, "text/plain": first_frame})
            for mid in ("box", "other", "missing")]
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=outs)]
    bar, other, missing = (o["data"] for o in static_outputs(nb).cells[0].outputs)
    assert bar == {"text/plain": "content teacher: 100%|██████████| 400/400 [00:11<00:00, 49.04it/s]"}
    assert WIDGET_VIEW in other and WIDGET_VIEW in missing  # not a progress bar: left as it was
    nb.metadata["widgets"][WIDGET_STATE]["state"]["p"]["state"]["value"] = 200.0  # stopped half way: half a bar
    nb.cells[0].outputs[0]["data"] = {WIDGET_VIEW: {"model_id": "box"}, "text/plain": first_frame}
    assert "|█████     |" in static_outputs(nb).cells[0].outputs[0]["data"]["text/plain"]
    # the executed copy keeps the live view for JupyterLab; only its text fallback is the last frame
    nb.cells[0].outputs[0]["data"] = {WIDGET_VIEW: {"model_id": "box"}, "text/plain": first_frame}
    settled = settle_progress_bars(nb).cells[0].outputs[0]["data"]
    assert settled[WIDGET_VIEW] == {"model_id": "box"} and "|█████     |" in settled["text/plain"]


def test_static_pages_load_nothing_from_the_network():
    import re

    import torch

    from course_lib import widgets
    from course_lib.run_notebooks import to_html

    nb = nbformat.v4.new_notebook()
    bundle = widgets.ab_player({"a": 0.1 * torch.randn(1, 1600)}, title="rows")._repr_mimebundle_()
    nb.cells = [nbformat.v4.new_markdown_cell("# 00 · A lesson\n\ntext with $x$"),
                nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("display_data", data=bundle)])]
    page = to_html(nb)
    assert "<audio" in page and "00 · A lesson" in page and "jp-Notebook" in page  # the lab look, the players
    remote = re.findall(r"""<(?:script|link|img|iframe)[^>]*(?:src|href)=["'](https?:[^"']+)""", page)
    assert remote == [], remote  # no CDN script or stylesheet: the page works offline
    assert "require.min.js" not in page and "mathjax" not in page.lower()


def test_a_stopped_notebook_does_not_stop_the_others(tmp_path, monkeypatch):
    import papermill

    from course_lib import run_notebooks as rn
    from course_lib.claims import RECORD_ONLY_ENV

    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    names = ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"]
    for name in names:
        nbformat.write(nbformat.v4.new_notebook(), str(nbdir / name))
    ran = []

    def execute(inp, outp, **kw):  # papermill without a kernel: 01 stops at a claim
        ran.append(Path(inp).name)
        if Path(inp).name == "01_b.ipynb":
            raise papermill.PapermillExecutionError(3, 1, "check_claim(...)", "ClaimNotShown",
                                                    "01: claim 'x' not shown in preset 'gpu'\nmore", [])
        nbformat.write(nbformat.v4.new_notebook(), outp)

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    monkeypatch.setenv(RECORD_ONLY_ENV, "0")  # run(keep_going=True) sets it; restored after the test
    with pytest.raises(SystemExit, match=r"1 of 3 notebooks stopped .*01_b\.ipynb \(ClaimNotShown: 01: claim 'x' "
                                         r"not shown in preset 'gpu'\)$"):
        rn.run("smoke", 0, tmp_path / "course", notebooks_dir=nbdir)
    assert ran == names  # 02 ran after 01 stopped
    assert set(json.loads((tmp_path / "course" / "times.json").read_text())) == set(names)
    ran.clear()
    times = rn.run("smoke", 0, tmp_path / "claims", notebooks_dir=nbdir, keep_going=True)  # make claims: exit 0
    assert ran == names and set(times) == set(names)

    # a kernel that dies (a laptop out of memory) stops its notebook, not the run
    from nbclient.exceptions import DeadKernelError

    def dies(inp, outp, **kw):
        ran.append(Path(inp).name)
        if Path(inp).name == "00_a.ipynb":
            Path(outp).write_text("{")  # cut short: not a notebook
            raise DeadKernelError("Kernel died")
        nbformat.write(nbformat.v4.new_notebook(), outp)

    monkeypatch.setattr(papermill, "execute_notebook", dies)
    ran.clear()
    with pytest.raises(SystemExit, match=r"1 of 3 notebooks stopped .*00_a\.ipynb \(DeadKernelError: Kernel died\)$"):
        rn.run("smoke", 0, tmp_path / "dead", notebooks_dir=nbdir, html=True)
    assert ran == names and (tmp_path / "dead" / "01_b.html").exists() and (tmp_path / "dead" / "index.html").exists()


def test_notebooks_run_on_local_sockets_without_the_kernels_network_warning(tmp_path, capfd):
    """A real kernel runs a notebook; ipykernel's TCP warning would print once per notebook."""
    import os

    from course_lib import run_notebooks as rn

    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("preset = 'auto'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print('ran in', preset)"),
                nbformat.v4.new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='steps'): pass")]
    nbformat.write(nb, str(nbdir / "00_a.ipynb"))
    rn.run("smoke", 0, tmp_path / "out", notebooks_dir=nbdir, kernel="python3")
    executed = nbformat.read(str(tmp_path / "out" / "00_a.ipynb"), as_version=4)
    assert executed.cells[-2].outputs[0]["text"] == "ran in smoke\n"
    bar = [o for o in executed.cells[-1].outputs if "data" in o]
    assert "steps: 100%" in bar[0]["data"]["text/plain"], bar  # the bar's last frame, not its first
    if os.name != "nt":
        assert "without encryption" not in capfd.readouterr().err
        km = rn.kernel_manager_class()()
        assert km.transport == "ipc" and len(km.ip) < 90  # a socket path fits macOS's 104 bytes
        assert not list(Path(km.ip).parent.glob("course-kernel-*"))  # the run's sockets were removed
