"""Every chapter of the book executed end to end by papermill with its FAST parameters.

The executed notebooks are written next to their sources (``book/NN_name.ipynb``, git-ignored):
nbval and the jupyter-book build use them next. Chapters run in order, since chapter 01
records the data the others read. A chapter's own "check" cell asserts what it teaches
(for example, that the adversarial prediction is sharper than the L2 one), so a lesson that
stops holding fails here.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.py"))


def test_every_chapter_is_in_the_table_of_contents() -> None:
    toc = (BOOK.parent / "_toc.yml").read_text()
    missing = [source.stem for source in CHAPTERS if f"book/{source.stem}" not in toc]
    assert CHAPTERS and not missing, f"chapters missing from _toc.yml: {missing}"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_executes_with_fast_parameters(source: Path) -> None:
    notebook = jupytext.read(source)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{source.name}: the jupytext header must name the python3 kernelspec"
    )
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{source.name}: needs exactly one cell tagged 'parameters'"

    target = source.with_suffix(".ipynb")
    nbformat.write(notebook, target)
    papermill.execute_notebook(
        str(target), str(target), cwd=str(BOOK), progress_bar=False, log_output=False
    )

    executed = nbformat.read(target, as_version=4)
    assert executed.metadata.papermill.duration > 1.0, f"{source.name} did not really run"
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells), f"{source.name}: a cell did not run"
    figures = [
        output
        for cell in code_cells
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert figures, f"{source.name} produced no figure"
