"""Evaluation of models against the baselines over many test windows, and its reports
(chapter 05, ``msgan evaluate``).

Mathieu, Couprie & LeCun (2016), section 4: PSNR, SSIM and the sharpness difference of
:mod:`msgan_lib.metrics`, on full frames and on the pixels that move, step by step of a
recursive prediction. A window is ``T`` true history frames followed by ``steps`` true
frames. At step ``s`` every model's prediction, ``last_input`` (the last true history frame
copied forward) and ``history_mean`` (mean of the true history) are scored against true
frame ``s``; the moving-pixel mask of step ``s`` holds the pixels where true frame ``s``
differs from the last true history frame. Windows in which nothing moves between the last
history frame and the first true frame (e.g. the game's start-up pause) are skipped: there
a copy is perfect and its capped 100 dB would swamp every mean. Their number is reported.

Action-conditioned models (ours, beyond the paper) are scored on the same windows, side by
side with the others: they play the recorded actions of the test episodes (each video's
``actions.csv``), the ``T-1`` transitions inside the history and then one per step.

Reports: ``metrics.csv`` (tidy: model, step, metric, region, mean, std, n), ``metrics.md``
(a table) and ``metrics.png`` (metrics against the step).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from msgan_lib import metrics
from msgan_lib.checkpoint import load_models
from msgan_lib.dream import position_error
from msgan_lib.fileio import MsganError, ensure_dir, write_text_atomic
from msgan_lib.frames import frames_to_model, list_videos, load_video
from msgan_lib.model import Generator, check_frame_size
from msgan_lib.pacman import pacman_position
from msgan_lib.predict import (
    Predictor,
    encode_actions,
    model_to_frames,
    moving_starts,
    recorded_actions,
)

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default log: say nothing."""


@dataclass(frozen=True)
class MetricRow:
    """One line of ``metrics.csv``: a metric's mean, std and count over the windows."""

    model: str
    step: int  # recursion step, from 1
    metric: str  # psnr | ssim | sharp_diff
    region: str  # full | moving
    mean: float
    std: float
    n: int  # windows with a value (moving: those where some pixel moves at this step)


@dataclass
class Evaluation:
    """What :func:`evaluate_models` measured and on what."""

    rows: list[MetricRow]
    test_dir: str
    windows: int  # windows scored
    static_skipped: int  # candidate windows left out because nothing moved at step 1
    short_videos: int  # test videos shorter than history + steps
    steps: int
    precision: str  # the dtype the models ran in
    action_models: tuple[str, ...] = ()  # the models that played the recorded actions
    # every window's value by (model, step, metric, region), NaN where it has none: for
    # medians and paired differences (not written to metrics.csv)
    per_window: dict[tuple[str, int, str, str], list[float]] = field(default_factory=dict)


# Ms. Pac-Man in the predictions (ours): over the windows where she is in the true frame
# (msgan_lib.pacman.pacman_position), whether the prediction still shows her (1 or 0) and,
# where it does, how far from the truth in pixels (around the tunnels).
SPRITE_METRICS: tuple[str, ...] = ("pacman_found", "pacman_error")
SPRITE_REGION = "sprite"


def _sprite_scores(
    prediction: torch.Tensor, true_positions: list[tuple[float, float] | None]
) -> dict[tuple[str, str], np.ndarray]:
    """Per window: ``pacman_found`` (1/0; NaN where the truth has no Ms. Pac-Man) and
    ``pacman_error`` in pixels (NaN unless both show her) of ``prediction`` ``(B, 3, H, W)``
    in [0, 1] against the true frames' positions."""
    found, error = [], []
    frames = model_to_frames(prediction * 2 - 1)  # (B, H, W, 3) uint8, as stored
    for frame, truth in zip(frames, true_positions, strict=True):
        position = pacman_position(frame) if truth is not None else None
        found.append(math.nan if truth is None else float(position is not None))
        error.append(position_error(position, truth, frame.shape[1]))
    return {
        ("pacman_found", SPRITE_REGION): np.array(found),
        ("pacman_error", SPRITE_REGION): np.array(error),
    }


def evaluation_windows(
    moving: dict[Path, np.ndarray], max_windows: int | None, stride: int, seed: int
) -> list[tuple[Path, int]]:
    """Window starts to score: every ``stride``-th start with motion, at most ``max_windows``.

    ``moving`` maps each video to its :func:`moving_starts`. Starts are taken on a grid of
    ``stride`` frames (the first start of the grid is 0); when more remain than
    ``max_windows``, a seeded random subset is kept. Sorted by video, then start.
    """
    candidates = [
        (video, int(start))
        for video, starts in moving.items()
        for start in starts
        if start % stride == 0
    ]
    if max_windows is not None and len(candidates) > max_windows:
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(candidates), size=max_windows, replace=False)
        candidates = [candidates[i] for i in sorted(chosen)]
    return candidates


def evaluate_models(
    models: dict[str, Generator],
    test_dir: str | os.PathLike[str],
    steps: int = 8,
    max_windows: int | None = 64,
    stride: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    batch_size: int = 8,
    log: Log = _quiet,
) -> Evaluation:
    """Score every model and both baselines over windows of the test videos.

    Windows (see :func:`evaluation_windows`): starts ``stride`` frames apart (default
    ``history + steps``: no overlap) in which something moves at step 1, at most
    ``max_windows`` (``None``: all). Windows of one video go through the generators in
    batches of ``batch_size``. Every (model, step, metric, region) gets mean, std and ``n``
    over the windows (:func:`msgan_lib.metrics.summarize`). The models run in fp32 by
    default, so the figures do not depend on whether the hardware has bf16 (on chapter 4's
    model, bf16 moved the means by at most 0.03 dB). Action-conditioned models play each
    window's recorded actions (:func:`msgan_lib.predict.recorded_actions`).
    """
    if not models:
        raise MsganError("no model given")
    if steps < 1 or batch_size < 1:
        raise MsganError(f"steps ({steps}) and batch size ({batch_size}) must be at least 1")
    history = next(iter(models.values())).config.history
    stride = stride or history + steps
    if stride < 1:
        raise MsganError(f"stride must be at least 1, got {stride}")
    predictors = {name: Predictor(g, device, precision) for name, g in models.items()}
    action_models = tuple(name for name, g in models.items() if g.config.action_names)

    moving, short, grid_starts = {}, 0, 0
    transitions: dict[Path, list[str]] = {}  # the recorded actions, for action models
    for video in list_videos(test_dir):
        frames = load_video(video)  # pass 1: where can windows start?
        if len(frames) < history + steps:
            short += 1
            continue
        for name, generator in models.items():
            where = f"test video {video} ({name})"
            check_frame_size(*frames.shape[1:3], generator.config.n_scales, where)
        if action_models:  # a video without actions fails here, before the work
            transitions[video] = recorded_actions(video, 0, len(frames) - 1)
        moving[video] = moving_starts(frames, history, steps)
        grid_starts += len(range(0, len(frames) - history - steps + 1, stride))
    if not moving:
        raise MsganError(
            f"every test video in {test_dir} is shorter than the {history + steps} frames of "
            f"{history} history frames + {steps} steps; evaluate fewer --steps"
        )
    windows = evaluation_windows(moving, max_windows, stride, seed)
    static = grid_starts - sum(int((s % stride == 0).sum()) for s in moving.values())
    if not windows:
        raise MsganError(
            f"no window of the test videos in {test_dir} shows motion between its last input "
            "frame and the next frame; record videos with motion"
        )

    names = [*models, *metrics.BASELINES]
    values: dict[tuple[str, int, str, str], list[float]] = {}
    done = 0
    for video in dict.fromkeys(v for v, _ in windows):  # pass 2, in video order
        frames = load_video(video)
        starts = [s for v, s in windows if v == video]
        for first in range(0, len(starts), batch_size):
            batch_starts = starts[first : first + batch_size]
            batch = np.stack([frames[s : s + history + steps] for s in batch_starts])
            # batch: (B, T+S, H, W, 3)
            size, _, height, width, _ = batch.shape
            clip = frames_to_model(batch.reshape(-1, height, width, 3), device)  # (B*(T+S),3,H,W)
            clip = clip.reshape(size, history + steps, 3, height, width)
            true_history = clip[:, :history].reshape(size, 3 * history, height, width)
            truth = metrics.to_unit(clip[:, history:])  # (B, S, 3, H, W) in [0, 1]
            guesses = {}
            for name, predictor in predictors.items():
                actions = None
                if name in action_models:  # each window's T-1+S recorded actions
                    played = [transitions[video][s : s + history - 1 + steps] for s in batch_starts]
                    where = f"{video}/actions.csv ({name})"
                    actions = encode_actions(played, models[name].config, where)  # (B, T-1+S)
                guesses[name] = metrics.to_unit(predictor(true_history, steps, actions))
                # guesses[name]: (B, S, 3, H, W)
            for name, baseline in metrics.BASELINES.items():
                guess = metrics.to_unit(baseline(true_history))  # (B, 3, H, W)
                guesses[name] = guess[:, None].expand(-1, steps, -1, -1, -1)
            last_true = metrics.to_unit(true_history[:, -3:])  # (B, 3, H, W)
            for step in range(steps):
                mask = metrics.moving_mask(last_true, truth[:, step])  # (B, H, W)
                true_frames = model_to_frames(truth[:, step] * 2 - 1)  # (B, H, W, 3)
                true_positions = [pacman_position(f) for f in true_frames]
                for name in names:
                    pred = guesses[name][:, step].cpu()
                    scores = metrics.frame_metrics(pred, truth[:, step].cpu(), mask.cpu())
                    scores.update(_sprite_scores(pred, true_positions))
                    for (metric, region), per_window in scores.items():
                        key = (name, step + 1, metric, region)
                        values.setdefault(key, []).extend(per_window.tolist())
            done += size
            log(f"evaluated {done}/{len(windows)} windows")

    rows = [
        MetricRow(
            name, step, metric, region, *metrics.summarize(values[name, step, metric, region])
        )
        for name in names
        for step in range(1, steps + 1)
        for metric, region in [
            *((m, g) for m in metrics.METRICS for g in metrics.REGIONS),
            *((m, SPRITE_REGION) for m in SPRITE_METRICS),
        ]
    ]
    if not any(r.n for r in rows if r.region == SPRITE_REGION):  # not Ms. Pac-Man's game
        rows = [r for r in rows if r.region != SPRITE_REGION]
    dtype = next(iter(predictors.values())).dtype
    return Evaluation(
        rows=rows,
        test_dir=str(test_dir),
        windows=len(windows),
        static_skipped=static,
        short_videos=short,
        steps=steps,
        precision="bf16" if dtype == torch.bfloat16 else "fp32",
        action_models=action_models,
        per_window=values,
    )


CSV_COLUMNS = ("model", "step", "metric", "region", "mean", "std", "n")


def metrics_csv(rows: Sequence[MetricRow]) -> str:
    """The tidy CSV text: columns ``model, step, metric, region, mean, std, n``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.model,
                row.step,
                row.metric,
                row.region,
                f"{row.mean:.6g}",
                f"{row.std:.6g}",
                row.n,
            ]
        )
    return buffer.getvalue()


def read_metrics_csv(path: str | os.PathLike[str]) -> list[MetricRow]:
    """Rows of a ``metrics.csv`` written by :func:`write_evaluation`."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
                raise MsganError(f"{path} is not a metrics.csv: columns {reader.fieldnames}")
            return [
                MetricRow(
                    r["model"],
                    int(r["step"]),
                    r["metric"],
                    r["region"],
                    float(r["mean"]),
                    float(r["std"]),
                    int(r["n"]),
                )
                for r in reader
            ]
    except (OSError, ValueError, KeyError) as error:
        raise MsganError(f"cannot read {path}: {error}") from None


def metrics_markdown(evaluation: Evaluation) -> str:
    """A Markdown table: one row per model and step, mean ± std per metric and region."""
    rows = evaluation.rows
    by_key = {(r.model, r.step, r.metric, r.region): r for r in rows}
    models = list(dict.fromkeys(r.model for r in rows))
    columns = [(m, g) for m in metrics.METRICS for g in metrics.REGIONS]
    units = {"psnr": " (dB)", "ssim": "", "sharp_diff": " (dB)"}
    lines = [
        f"Evaluation on {evaluation.windows} windows of {evaluation.test_dir} "
        f"({evaluation.steps} recursive steps, models in {evaluation.precision}; "
        f"{evaluation.static_skipped} windows without motion at step 1 and "
        f"{evaluation.short_videos} too-short videos left out). Moving pixels: pixels that "
        "differ between the last input frame and the true frame (a stand-in for the "
        "paper's optical-flow mask); n counts windows with at least one."
        + (
            f" Action-conditioned models ({', '.join(evaluation.action_models)}) played the "
            "recorded actions of the test episodes."
            if evaluation.action_models
            else ""
        ),
        "",
        "| model | step | "
        + " | ".join(f"{m}{units[m]} {g}" for m, g in columns)
        + " | n full | n moving |",
        "|---|--:|" + "--:|" * (len(columns) + 2),
    ]
    for model in models:
        for step in range(1, evaluation.steps + 1):
            cells = []
            for metric, region in columns:
                row = by_key[model, step, metric, region]
                digits = 3 if metric == "ssim" else 2
                cells.append(
                    "n/a" if row.n == 0 else f"{row.mean:.{digits}f} ± {row.std:.{digits}f}"
                )
            n_full = by_key[model, step, "psnr", "full"].n
            n_moving = by_key[model, step, "psnr", "moving"].n
            lines.append(
                f"| {model} | {step} | " + " | ".join(cells) + f" | {n_full} | {n_moving} |"
            )
    if any(r.region == SPRITE_REGION for r in rows):
        lines += [
            "",
            "Ms. Pac-Man (`msgan_lib.pacman.pacman_position`), over the windows where she is in "
            "the true frame: the share of predictions that still show her, and the mean "
            "distance to her true position where they do.",
            "",
            "| model | step | found | error (px) | n |",
            "|---|--:|--:|--:|--:|",
        ]
        for model in models:
            for step in range(1, evaluation.steps + 1):
                found = by_key[model, step, "pacman_found", SPRITE_REGION]
                error = by_key[model, step, "pacman_error", SPRITE_REGION]
                shown = "n/a" if error.n == 0 else f"{error.mean:.1f} ± {error.std:.1f}"
                lines.append(
                    f"| {model} | {step} | {found.mean:.0%} | {shown} | {found.n} |"
                    if found.n
                    else f"| {model} | {step} | n/a | n/a | 0 |"
                )
    return "\n".join(lines) + "\n"


def write_evaluation(evaluation: Evaluation, out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``metrics.csv``, ``metrics.md`` and ``metrics.png`` into ``out`` (atomically)."""
    from msgan_lib import viz

    out = Path(out)
    paths = {name: out / f"metrics.{name}" for name in ("csv", "md", "png")}
    write_text_atomic(paths["csv"], metrics_csv(evaluation.rows))
    write_text_atomic(paths["md"], metrics_markdown(evaluation))
    viz.save_figure(viz.metrics_vs_step(evaluation.rows), paths["png"])
    return paths


def run_evaluate(
    checkpoints: Sequence[str | os.PathLike[str]],
    test_dir: str | os.PathLike[str] = "data/images/test",
    steps: int = 8,
    max_windows: int | None = 64,
    stride: int | None = None,
    seed: int = 0,
    out: str | os.PathLike[str] = "inference",
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    batch_size: int = 8,
    log: Log = _quiet,
) -> tuple[Evaluation, dict[str, Path]]:
    """``msgan evaluate``: load the models, score them and the baselines, write ``out``."""
    ensure_dir(out)  # an unwritable output fails before the work
    models = load_models(checkpoints, device)
    evaluation = evaluate_models(
        models, test_dir, steps, max_windows, stride, seed, device, precision, batch_size, log
    )
    return evaluation, write_evaluation(evaluation, out)
