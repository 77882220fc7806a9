"""The little the notebook sources share: cells in order, then one ``write``.

    from _nb import md, code, write
    md("# 05 · ..."); code('preset = "auto"', tags=["parameters"]); write("notebooks/05_teachers.ipynb")
"""
from pathlib import Path

import nbformat as nbf

CELLS = []


def md(text):
    CELLS.append(nbf.v4.new_markdown_cell(text.strip("\n")))


def code(text, tags=None):
    cell = nbf.v4.new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = tags
    CELLS.append(cell)


def write(path, shared=True):
    """Write the cells as an output-free notebook for the course kernel, with fixed cell ids so a
    regenerated notebook diffs only where its source changed.  ``shared``: add the lessons' shared
    cells (Colab install, exercise); a workshop app has no parameters cell and takes none."""
    nb = nbf.v4.new_notebook()
    for i, cell in enumerate(CELLS):
        cell.id = f"c{i:02d}"
    nb.cells = CELLS
    if shared:
        import shared_cells  # the Colab install cell and the exercise (see shared_cells.py)

        shared_cells.apply(nb, Path(path).name[:2])
    nb.metadata["kernelspec"] = {"name": "course", "display_name": "Train the Interface (course)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbf.write(nb, path)
