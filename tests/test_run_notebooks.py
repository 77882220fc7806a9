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
