"""The static HTML course: an index page over the executed notebooks."""

import json

import nbformat

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
