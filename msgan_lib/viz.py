"""Figures for the book and the CLI, in one consistent style.

Every helper takes tensors or arrays as documented, returns the matplotlib ``Figure`` (so a
notebook ends the line with ``;`` and the CLI can save it with :func:`save_figure`), and never
calls ``plt.show()``. Sections follow the chapters.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from msgan_lib.fileio import atomic_path

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 10,
}
plt.rcParams.update(STYLE)


def to_image(frame: torch.Tensor | np.ndarray) -> np.ndarray:
    """A displayable ``(H, W, 3)`` float array in [0, 1] from a frame.

    Accepts a torch tensor ``(3, H, W)`` in [-1, 1] (the models' range) or a numpy
    ``(H, W, 3)`` uint8 array (frames on disk).
    """
    if isinstance(frame, torch.Tensor):
        array = frame.detach().float().cpu().clamp(-1, 1).permute(1, 2, 0).numpy()  # (H, W, 3)
        return (array + 1.0) / 2.0
    if frame.dtype == np.uint8:
        return frame.astype(np.float32) / 255.0
    return np.clip(frame, 0.0, 1.0)


def image_grid(
    rows: Sequence[Sequence[torch.Tensor | np.ndarray]],
    row_titles: Sequence[str] | None = None,
    col_titles: Sequence[str] | None = None,
    cell_inches: float = 1.6,
) -> Figure:
    """A grid of frames without axes: ``rows[r][c]`` is drawn at row r, column c."""
    n_rows, n_cols = len(rows), max(len(row) for row in rows)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(cell_inches * n_cols, cell_inches * n_rows), squeeze=False
    )
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_axis_off()
            if c < len(row):
                ax.imshow(to_image(row[c]), interpolation="nearest")
            if r == 0 and col_titles is not None and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=9)
        if row_titles is not None:
            axes[r][0].text(
                -0.05,
                0.5,
                row_titles[r],
                transform=axes[r][0].transAxes,
                ha="right",
                va="center",
                fontsize=9,
            )
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Save ``fig`` atomically (temporary file + rename) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)


# --- chapter 01: data ---

# --- chapter 02: model ---

# --- chapter 03: losses ---

# --- chapter 04: training ---

# --- chapter 05: prediction and metrics ---
