"""Repository hygiene: notebooks committed without outputs, each with a parameters cell."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_has_no_outputs_and_a_parameters_cell(nb):
    cells = json.loads(nb.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    for c in code:
        assert not c.get("outputs"), f"{nb.name}: a cell has outputs: strip them (executed copies go to build/)"
        assert c.get("execution_count") is None, f"{nb.name}: execution counts left in"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{nb.name}: needs exactly one cell tagged 'parameters'"
    src = "".join(params[0]["source"])
    assert "preset" in src and "seed" in src


APPS = sorted((ROOT / "workshops").glob("*.ipynb"))


@pytest.mark.parametrize("nb", APPS, ids=[n.name for n in APPS])
def test_workshop_apps_have_no_outputs_and_read_the_preset_from_the_environment(nb):
    cells = json.loads(nb.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "COURSE_PRESET" in "".join(code[0]["source"])  # Voilà has no papermill parameters


def test_binder_registers_the_kernel_the_notebooks_ask_for():
    post = (ROOT / "postBuild").read_text()
    kernel = json.loads(NOTEBOOKS[0].read_text())["metadata"]["kernelspec"]["name"]
    assert f"--name {kernel}" in post and (ROOT / "postBuild").stat().st_mode & 0o111
    assert "apt.txt" in (ROOT / "environment.yml").read_text()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_colab_install_cell_comes_first_and_does_nothing_elsewhere(nb, monkeypatch, tmp_path):
    cells = json.loads(nb.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    first, second = code[0], code[1]
    assert "colab" in first["metadata"].get("tags", []), f"{nb.name}: the Colab cell must be the first code cell"
    assert "parameters" in second["metadata"].get("tags", []), f"{nb.name}: parameters must follow it"
    src = "".join(first["source"])
    assert 'if "google.colab" in sys.modules:' in src
    import subprocess
    import sys

    def no_run(*a, **k):
        raise AssertionError("the Colab cell ran a command outside Colab")

    monkeypatch.setattr(subprocess, "run", no_run)
    monkeypatch.chdir(tmp_path)
    path = list(sys.path)
    exec(src, {})  # outside Colab: no command, no chdir, no sys.path change
    assert Path.cwd() == tmp_path and sys.path == path
