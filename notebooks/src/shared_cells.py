"""Cells every lesson shares: the Colab install cell before ``parameters`` and the exercise at the end.

    .venv/bin/python notebooks/src/shared_cells.py        # (re)apply to every notebook, idempotently

``_nb.write`` applies them to the notebooks generated from ``nbNN.py``; 00-02 are edited as notebooks
and get them from this script.  The exercise text and stub come from ``course_lib.exercises``, so the
notebook, the check and ``tests/test_exercises.py`` cannot drift apart.
"""
import sys
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from course_lib.exercises import EXERCISES  # noqa: E402

SHARED_TAGS = {"colab", "exercise"}

# On Colab the notebook arrives alone: fetch the course next to it, its Debian packages and course_lib.
# Anywhere else (make lab, Binder, papermill) the `if` is false and the cell does nothing.
COLAB = '''
# Colab only: install the course (anywhere else this cell does nothing).
import os, sys
if "google.colab" in sys.modules:
    import subprocess
    COURSE_DIR = "/content/train-the-interface"
    if not os.path.exists(COURSE_DIR):
        url = os.environ.get("COURSE_GIT")  # the git URL of the course (your fork, or your teacher's)
        if not url:
            raise RuntimeError("Set the course's git URL first: os.environ['COURSE_GIT'] = 'https://...'")
        subprocess.run(["git", "clone", "--depth", "1", url, COURSE_DIR], check=True)
        subprocess.run(f"apt-get -qq update && xargs -a {COURSE_DIR}/apt.txt apt-get -qq install -y "
                       "--no-install-recommends", shell=True, check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", COURSE_DIR], check=True)
    sys.path.insert(0, COURSE_DIR)
    os.chdir(f"{COURSE_DIR}/notebooks")
'''

SOLUTIONS_PARAM = "solutions = False  # True: the exercise at the end runs the reference answer (solutions/)"


def _cell(kind, text, tag, cell_id):
    cell = (nbf.v4.new_markdown_cell if kind == "md" else nbf.v4.new_code_cell)(text.strip("\n"))
    cell.metadata["tags"] = [tag]
    cell.id = cell_id
    return cell


def exercise_cells(nn: str) -> list:
    ex = EXERCISES[nn]
    check = (f"from course_lib import exercises\n"
             f"if solutions:\n"
             f"    {ex.name} = exercises.solution(\"{nn}\")\n"
             f"exercises.check(\"{nn}\", {ex.name})")
    return [_cell("md", f"## Exercise\n{ex.task}\nRun the next cell after editing it, then the check below it.",
                  "exercise", "exercise-task"),
            _cell("code", ex.stub, "exercise", "exercise-stub"),
            _cell("code", check, "exercise", "exercise-check")]


def apply(nb, nn: str):
    """Put the shared cells into ``nb`` (notebook number ``nn``), replacing earlier copies."""
    cells = [c for c in nb.cells if not SHARED_TAGS & set(c.get("metadata", {}).get("tags", []))]
    params = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    if "solutions =" not in cells[params].source:
        cells[params].source = cells[params].source.rstrip("\n") + "\n" + SOLUTIONS_PARAM
    cells.insert(params, _cell("code", COLAB, "colab", "colab"))
    nb.cells = cells + exercise_cells(nn)
    return nb


def main():
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        nb = nbf.read(str(path), as_version=4)
        nbf.write(apply(nb, path.name[:2]), str(path))
        print(f"shared cells: {path.name}")


if __name__ == "__main__":
    main()
