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
from msgan_lib.losses import TERM_LABELS

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


def clip_cut(
    frames: np.ndarray, t: int, y: int, x: int, history: int = 4, crop: int = 32
) -> Figure:
    """How a training clip is cut: the window's full frames with the crop outlined (top)
    and the cropped clip (bottom), input frames then the frame to predict.

    ``frames`` is a video ``(T, H, W, 3)`` uint8; the clip is
    ``frames[t:t+history+1, y:y+crop, x:x+crop]``.
    """
    n = history + 1
    fig, axes = plt.subplots(2, n, figsize=(2.0 * n, 4.6), height_ratios=[2.2, 1])
    for k in range(n):
        top, bottom = axes[0][k], axes[1][k]
        top.imshow(frames[t + k], interpolation="nearest")
        top.add_patch(
            plt.Rectangle((x - 0.5, y - 0.5), crop, crop, fill=False, color="white", lw=1.5)
        )
        top.set_title(f"frame {t + k}" + (" (target)" if k == history else ""), fontsize=9)
        bottom.imshow(frames[t + k, y : y + crop, x : x + crop], interpolation="nearest")
        for ax in (top, bottom):
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def motion_histogram(scores: np.ndarray, threshold: float, title: str = "") -> Figure:
    """Histogram of motion scores (log bins) with the keep threshold marked.

    Scores of exactly 0 (no pixel changes) cannot sit on a log axis; their share is given
    in the legend instead.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    moving = scores[scores > 0]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    if len(moving):
        bins = np.logspace(np.log10(moving.min()), np.log10(moving.max()) + 1e-9, 60)
        ax.hist(moving, bins=bins, color="tab:blue", alpha=0.8)
    ax.set_xscale("log")
    ax.axvline(threshold, color="tab:red", lw=1.5, label=f"threshold {threshold:g}")
    ax.plot([], [], " ", label=f"score 0 (static): {np.mean(scores == 0):.0%} of crops")
    ax.set_xlabel("motion score: summed squared frame difference on [-1, 1]")
    ax.set_ylabel("crops")
    ax.set_title(title)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def binned_histogram(
    edges: Sequence[float], counts: Sequence[int], threshold: float, xlabel: str = ""
) -> Figure:
    """A histogram given as bin ``edges`` and ``counts`` (e.g. from a clip manifest), on a
    log axis that is linear near 0, with the keep threshold marked."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.stairs(counts, edges, fill=True, alpha=0.8, color="tab:blue")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.axvline(threshold, color="tab:red", lw=1.5, label=f"threshold {threshold:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("clips")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def bar_counts(counts: dict[str, float], title: str = "", ylabel: str = "") -> Figure:
    """A small bar chart of named values (e.g. ghosts visible per sampling method)."""
    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(counts), 3.0))
    bars = ax.bar(list(counts), list(counts.values()), color="tab:blue")
    ax.bar_label(bars, fmt="%.2f", fontsize=9)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


# --- chapter 02: model ---


def scale_grid(
    rows: Sequence[Sequence[torch.Tensor | None]],
    row_titles: Sequence[str],
    col_titles: Sequence[str],
    detail_rows: Sequence[int] = (),
    cell_inches: float = 2.0,
) -> Figure:
    """One column per pyramid scale, every panel drawn at the same size.

    ``rows[r][c]`` is a frame ``(3, h, w)`` in [-1, 1] (or a batch of one, ``(1, 3, h, w)``,
    as the models return it), or ``None`` for an empty cell. Rows
    listed in ``detail_rows`` hold differences of two frames instead; they are drawn as
    the mean absolute value over RGB on one shared colour scale (0 = no difference, 2 = the
    full range), with a colour bar. Coarse scales look blocky because each panel fills the
    same area whatever its resolution: that is what the next scale has to refine.
    """
    rows = [[p[0] if p is not None and p.dim() == 4 else p for p in row] for row in rows]
    n_rows, n_cols = len(rows), max(len(row) for row in rows)
    shapes = [panel.shape for row in rows for panel in row if panel is not None]
    aspect = shapes[0][-2] / shapes[0][-1]
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(cell_inches * n_cols + 1.5, cell_inches * aspect * n_rows + 0.4),
        squeeze=False,
        layout="constrained",
    )
    details = [
        panel.detach().float().abs().mean(0).cpu().numpy()
        for r in detail_rows
        for panel in rows[r]
        if panel is not None
    ]
    top = max((float(d.max()) for d in details), default=1.0) or 1.0
    image = None
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
            ax.spines[:].set_visible(False)
            panel = row[c] if c < len(row) else None
            if panel is None:
                continue
            if r in detail_rows:
                values = panel.detach().float().abs().mean(0).cpu().numpy()  # (h, w)
                image = ax.imshow(values, cmap="magma", vmin=0, vmax=top, interpolation="nearest")
            else:
                ax.imshow(to_image(panel), interpolation="nearest")
            if r == 0 and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=9)
        axes[r][0].set_ylabel(row_titles[r], fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=[axes[r][-1] for r in detail_rows], shrink=0.8, label="mean |diff|")
    return fig


def scale_costs(summaries: dict[str, Sequence[dict]], network: str = "G") -> Figure:
    """Forward GFLOP per scale of several presets (rows of ``model.model_summary``), log scale.

    One group of bars per scale, one bar per preset: the finest scale dominates the cost.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    n_presets = len(summaries)
    for i, (name, rows) in enumerate(summaries.items()):
        scales = [r for r in rows if r["network"] == network and r["scale"] != "total"]
        positions = np.arange(len(scales)) + (i - (n_presets - 1) / 2) * 0.8 / n_presets
        ax.bar(positions, [r["flops"] / 1e9 for r in scales], 0.8 / n_presets, label=name)
        ax.set_xticks(np.arange(len(scales)), [f"{r['scale']}\n{r['size']}" for r in scales])
    ax.set(yscale="log", ylabel="forward GFLOP per sample", xlabel="scale (size computed)")
    ax.set_title(f"{'generator' if network == 'G' else 'discriminator'} cost per scale")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- chapter 03: losses ---


def bimodal_risk_plot(
    candidates: np.ndarray,
    modes: tuple[float, float],
    panels: Sequence[tuple[float, dict[str, np.ndarray]]],
) -> Figure:
    """The expected loss of each constant guess for a pixel with two possible values.

    ``panels`` holds one ``(weight, curves)`` pair per subplot: the pixel takes ``modes[0]``
    with probability ``weight`` (else ``modes[1]``), drawn as two stems; ``curves[label]`` is
    the expected loss of predicting each value of ``candidates`` (e.g. from
    ``blur_demo.bimodal_risk``), scaled to a maximum of 1. Each curve's minimisers are marked:
    one dashed line, or a shaded band where the minimum is flat.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.2), squeeze=False)
    for ax, (weight, curves) in zip(axes[0], panels, strict=True):
        ax.vlines(modes, 0, [weight, 1 - weight], color="0.3", lw=4, alpha=0.5)
        for (label, risk), color in zip(curves.items(), ("C0", "C1", "C2", "C3"), strict=False):
            scaled = risk / risk.max()
            ax.plot(candidates, scaled, color=color, label=label)
            best = candidates[scaled <= scaled.min() + 1e-6]
            if best[-1] - best[0] > 1e-6 * (candidates[-1] - candidates[0]):
                ax.axvspan(best[0], best[-1], color=color, alpha=0.15)
            else:
                ax.axvline(best[0], color=color, ls="--", lw=1)
        ax.set(
            xlabel="predicted pixel value",
            ylabel="expected loss (scaled) / probability",
            title=f"P(first value) = {weight:g}",
            ylim=(0, 1.05),
        )
        ax.legend(fontsize=8, loc="upper center")
    fig.tight_layout()
    return fig


def commitment_bars(scores: dict[str, dict[str, float]]) -> Figure:
    """How much of each possible future's sprite every model draws (``blur_demo.evaluate``).

    ``scores[model]`` holds ``share_committed`` (the future the model favours) and
    ``share_other``. A dotted line marks 1/2: the L2 minimiser draws half a sprite in each
    place; a model that commits draws 1 and 0.
    """
    names = list(scores)
    positions = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.4 * len(names) + 2, 3.2))
    ax.bar(
        positions - 0.2, [scores[n]["share_committed"] for n in names], 0.4, label="favoured future"
    )
    ax.bar(positions + 0.2, [scores[n]["share_other"] for n in names], 0.4, label="other future")
    ax.axhline(0.5, color="0.3", ls=":", lw=1)
    ax.axhline(1.0, color="0.3", lw=0.8)
    ax.set_xticks(positions, names)
    ax.set(ylabel="share of the sprite drawn", ylim=(min(0.0, ax.get_ylim()[0]), 1.15))
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


# --- chapter 04: training ---


def training_curves(records: Sequence[dict], n_scales: int = 4) -> Figure:
    """Loss curves of a run from its ``metrics.jsonl`` records (``msgan_lib.runlog``).

    Panels: the generator's unweighted terms (every term of
    :data:`msgan_lib.losses.TERM_LABELS` the records hold) on a log scale; the
    discriminator's loss beside its value at chance (``2 ln 2`` per scale); the mean D(real)
    and D(fake) probabilities with the 0.5 of a discriminator at chance; and, when logged,
    D's accuracy per scale on held-out clips (``d_acc_K``), with chance at 0.5 too. A
    non-adversarial run shows the first panel only.
    """
    steps = [r["step"] for r in records]
    adversarial = any("d_loss" in r for r in records)
    accuracy = sorted({k for r in records for k in r if k.startswith("d_acc_")})
    panels = 1 + (2 if adversarial else 0) + (1 if accuracy else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.4 * panels if panels > 1 else 5, 3.2))
    axes = np.atleast_1d(axes)
    for key, label in TERM_LABELS.items():
        if any(key in r for r in records):
            axes[0].plot(steps, [r.get(key, np.nan) for r in records], label=label)
    axes[0].set(xlabel="step", ylabel="loss (sum over scales)", yscale="log", title="generator")
    axes[0].legend(fontsize=8)
    if adversarial:
        axes[1].plot(steps, [r["d_loss"] for r in records], color="C3")
        chance = n_scales * 2 * np.log(2)
        axes[1].axhline(chance, color="grey", ls=":", lw=1, label=f"chance ({chance:.2f})")
        axes[1].set(xlabel="step", ylabel="BCE (sum over scales)", title="discriminator")
        axes[1].legend(fontsize=8)
        axes[2].plot(steps, [r["d_real"] for r in records], label="D(real)", color="C2")
        axes[2].plot(steps, [r["d_fake"] for r in records], label="D(fake)", color="C1")
        axes[2].axhline(0.5, color="grey", ls=":", lw=1)
        axes[2].set(xlabel="step", ylabel="mean probability 'real'", ylim=(0, 1))
        axes[2].set_title("discriminator's verdicts")
        axes[2].legend(fontsize=8)
    if accuracy:
        ax = axes[-1]
        for key in accuracy:
            k = int(key.rsplit("_", 1)[1])
            factor = 2 ** (n_scales - 1 - k)
            name = "1" if factor == 1 else f"1/{factor}"
            ax.plot(steps, [r.get(key, np.nan) for r in records], label=f"scale {name}")
        ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
        ax.set(xlabel="step", ylabel="accuracy on held-out clips", ylim=(0, 1))
        ax.set_title("discriminator's accuracy")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sample_grid(
    history: torch.Tensor, prediction: torch.Tensor, truth: torch.Tensor, title: str = ""
) -> Figure:
    """Held-out clips in rows: last input frame, predicted next frame, true next frame.

    ``history`` ``(B, 3*T, H, W)``, ``prediction`` and ``truth`` ``(B, 3, H, W)``, in [-1, 1].
    """
    rows = [
        [history[b, -3:], prediction[b], truth[b]]  # each (3, H, W)
        for b in range(history.shape[0])
    ]
    fig = image_grid(rows, col_titles=["last input", "prediction", "truth"], cell_inches=1.2)
    if title:
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
    return fig


def image_files(paths: Sequence[str | os.PathLike[str]], titles: Sequence[str]) -> Figure:
    """Saved images (e.g. a run's ``samples/step_*.png``) side by side with titles."""
    fig, axes = plt.subplots(1, len(paths), figsize=(3.2 * len(paths), 4.2), squeeze=False)
    for ax, path, title in zip(axes[0], paths, titles, strict=True):
        ax.imshow(plt.imread(os.fspath(path)))
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


# --- chapter 05: prediction and metrics ---


def labelled_row(
    panels: Sequence[np.ndarray], labels: Sequence[str], title: str = "", scale: int = 2
) -> np.ndarray:
    """Frames side by side under a title line and one label per frame, as a uint8 image.

    ``panels`` are ``(H, W, 3)`` uint8 frames of one size, enlarged ``scale`` times with
    nearest neighbour (Atari pixels stay crisp). Used for ``compare_N.png`` and the GIF.
    """
    from PIL import Image, ImageDraw, ImageFont

    height, width = panels[0].shape[:2]
    gap, line = 4, 16
    header = (2 if title else 1) * line
    canvas = Image.new(
        "RGB",
        (len(panels) * (width * scale + gap) - gap, header + height * scale),
        (24, 24, 24),
    )
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=12)
    if title:
        draw.text((2, 1), title, fill=(255, 255, 255), font=font)
    for index, (panel, label) in enumerate(zip(panels, labels, strict=True)):
        left = index * (width * scale + gap)
        image = Image.fromarray(panel).resize((width * scale, height * scale), Image.NEAREST)
        canvas.paste(image, (left, header))
        draw.text((left + 2, header - line + 1), label, fill=(255, 220, 120), font=font)
    return np.asarray(canvas)


def save_gif(
    frames: Sequence[np.ndarray], path: str | os.PathLike[str], duration_ms: int = 400
) -> None:
    """Write ``(H, W, 3)`` uint8 frames as a looping animated GIF, atomically."""
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)


def prediction_grid(
    truth: np.ndarray, predictions: dict[str, np.ndarray], last_input: np.ndarray | None = None
) -> Figure:
    """Recursive predictions against the truth: one row per source, one column per step.

    ``truth`` and each of ``predictions`` are ``(S, H, W, 3)`` uint8; with ``last_input``
    ``(H, W, 3)`` a first column shows the last true input frame in every row.
    """
    prefix = [] if last_input is None else [last_input]
    rows = [[*prefix, *truth]] + [[*prefix, *frames] for frames in predictions.values()]
    steps = [f"step {s}" for s in range(1, len(truth) + 1)]
    col_titles = (["last input"] if last_input is not None else []) + steps
    return image_grid(rows, row_titles=["truth", *predictions], col_titles=col_titles)


_METRIC_LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "sharp_diff": "sharpness diff. (dB)"}
_BASELINE_STYLE = {"last_input": ("black", "--"), "history_mean": ("grey", ":")}


def metrics_vs_step(rows: Sequence, regions: Sequence[str] = ("full", "moving")) -> Figure:
    """Each metric against the recursion step, models and baselines as lines.

    ``rows`` are :class:`msgan_lib.predict.MetricRow` (model, step, metric, region, mean,
    std, n); one panel per (region, metric), mean with a band of one standard error.
    Baselines are drawn dashed (``last_input``) and dotted (``history_mean``).
    """
    from matplotlib.ticker import MaxNLocator

    rows = [r for r in rows if r.region in regions]  # e.g. not Ms. Pac-Man's "sprite" rows
    metric_names = list(dict.fromkeys(r.metric for r in rows))
    models = list(dict.fromkeys(r.model for r in rows))
    fig, axes = plt.subplots(
        len(regions),
        len(metric_names),
        figsize=(4 * len(metric_names), 2.8 * len(regions)),
        squeeze=False,
    )
    for i, region in enumerate(regions):
        for j, metric in enumerate(metric_names):
            ax = axes[i][j]
            for k, model in enumerate(models):
                line = sorted(
                    (r for r in rows if (r.model, r.metric, r.region) == (model, metric, region)),
                    key=lambda r: r.step,
                )
                steps = np.array([r.step for r in line])
                mean = np.array([r.mean for r in line])
                error = np.array([r.std / np.sqrt(r.n) if r.n else np.nan for r in line])
                color, style = _BASELINE_STYLE.get(model, (f"C{k}", "-"))
                ax.plot(steps, mean, style, color=color, marker="o", ms=3, label=model)
                ax.fill_between(steps, mean - error, mean + error, color=color, alpha=0.15)
            ax.set(xlabel="recursion step", ylabel=_METRIC_LABELS.get(metric, metric))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"{metric}, {region} pixels", fontsize=10)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def line_panels(
    panels: dict[str, dict[str, tuple[Sequence[float], Sequence[float]]]],
    xlabel: str,
    ylabel: str,
    logy: bool = False,
    shade_last: float = 0.0,
    columns: int = 4,
) -> Figure:
    """Small multiples: one panel per title, each a few labelled ``(x, y)`` lines.

    ``shade_last``: shade the last fraction of every panel's x range (e.g. 0.2, the
    stretch a plateau is judged on). Lines keep their colour across panels by label; one
    legend below the panels names them.
    """
    labels = list(dict.fromkeys(label for lines in panels.values() for label in lines))
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    rows = -(-len(panels) // columns)
    width = min(columns, len(panels))
    fig, axes = plt.subplots(rows, width, figsize=(3.3 * width, 2.6 * rows), squeeze=False)
    for ax, (title, lines) in zip(axes.flat, panels.items(), strict=False):
        for label, (x, y) in lines.items():
            ax.plot(x, y, color=colours[label], lw=1.2, label=label)
        xs = [v for x, _ in lines.values() for v in x]
        if shade_last and xs:
            ax.axvspan(
                max(xs) - shade_last * (max(xs) - min(xs)), max(xs), color="grey", alpha=0.15
            )
        ax.set(xlabel=xlabel, ylabel=ylabel, yscale="log" if logy else "linear")
        ax.set_title(title, fontsize=10)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if len(labels) > 1:  # one legend for all panels, below them
        handles = [plt.Line2D([], [], color=colours[label]) for label in labels]
        ncol = min(3, len(labels))
        fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.06 * -(-len(labels) // ncol), 1, 1))
    else:
        fig.tight_layout()
    return fig


def png_bytes(image: np.ndarray) -> bytes:
    """An ``(H, W, 3)`` uint8 image encoded as PNG (for ``ipywidgets.Image``)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


# --- chapter 06: the world model ---


def zoom(frame: np.ndarray, centre: tuple[float, float] | np.ndarray, half: int = 24) -> np.ndarray:
    """A ``(2 half, 2 half, 3)`` square of ``frame`` ``(H, W, 3)`` around ``centre``
    ``(y, x)``: rows are kept inside the frame, columns wrap through the side tunnels."""
    y = int(np.clip(round(float(centre[0])), half, frame.shape[0] - half))
    x = round(float(centre[1]))
    columns = np.arange(x - half, x + half) % frame.shape[1]
    return frame[y - half : y + half][:, columns]


_REFERENCE_STYLE = ("black", "--")  # a reference that is not a model, such as "stays put"


def position_curves(
    medians: dict[str, np.ndarray],
    found: dict[str, np.ndarray],
    references: Sequence[str] = ("stays put",),
) -> Figure:
    """Ms. Pac-Man in dreams against the emulator, step by step: the median position error
    in pixels (left; an infinite median, she is lost in half the dreams, is left out of the
    line) and the share of dreams that still show her (right), one line per model;
    ``references`` are drawn dashed black. Each value is an ``(S,)`` array."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for k, name in enumerate(medians):
        color, style = _REFERENCE_STYLE if name in references else (f"C{k}", "-")
        steps = np.arange(1, len(medians[name]) + 1)
        error = np.where(np.isinf(medians[name]), np.nan, medians[name])
        axes[0].plot(steps, error, style, color=color, marker="o", ms=3, label=name)
        axes[1].plot(steps, 100 * found[name], style, color=color, marker="o", ms=3, label=name)
    axes[0].set(xlabel="step", ylabel="median position error (px)", title="distance to the truth")
    axes[1].set(xlabel="step", ylabel="% of dreams", title="Ms. Pac-Man still found")
    axes[1].set_ylim(-5, 105)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def steering_grid(
    emulator: np.ndarray,
    dreamt: np.ndarray,
    directions: Sequence[str],
    centres: np.ndarray,
    row_titles: Sequence[str],
    half: int = 24,
) -> Figure:
    """The same starts under each direction, the emulator's frame beside the dream's.

    ``emulator`` and ``dreamt`` are ``(N, D, H, W, 3)`` uint8 (start, direction); each row
    is a start, zoomed (:func:`zoom`) around ``centres[n]`` ``(y, x)``, with the columns
    emulator, dream for each of ``directions`` in turn.
    """
    rows = [
        [
            zoom(frames[n, d], centres[n], half)
            for d in range(len(directions))
            for frames in (emulator, dreamt)
        ]
        for n in range(len(emulator))
    ]
    titles = [f"{who} {d}" for d in directions for who in ("emulator", "dream")]
    return image_grid(rows, row_titles=row_titles, col_titles=titles, cell_inches=1.4)
