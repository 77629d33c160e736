"""Dreaming: an action-conditioned model plays Ms. Pac-Man under actions we choose
(chapter 06, ``msgan dream``).

Ours, beyond the paper: Mathieu et al. (2016) predict what happens next; an
action-conditioned generator (Oh et al., NeurIPS 2015; ``ModelConfig.action_names``)
predicts what happens next *if the player does this*. From a test window's true history
(whose own ``T-1`` transitions use the recorded actions) the model predicts ``N`` frames
recursively under a sequence of actions we pick: a dream. The Atari emulator, restored at
the window's last history frame (:func:`msgan_lib.pacman.restore_emulator`), plays the same
actions and gives the frames that really follow, so a dream is checked two ways per step:

- where Ms. Pac-Man is (:func:`pacman_position`, the centroid of her sprite colour) in the
  dream and in the emulator, and how far apart in pixels (:func:`position_error`);
- the moving-pixel PSNR of the dream against the emulator, with chapter 5's definitions
  (:func:`msgan_lib.metrics.moving_mask` from the last history frame, then
  :func:`msgan_lib.metrics.psnr`).

:func:`parse_actions` reads an action sequence such as ``LEFT*8,UP*4``; :func:`dream` runs
one; :func:`write_dream` writes frames, a side-by-side GIF and the per-step table.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from msgan_lib import metrics
from msgan_lib.fileio import MsganError, atomic_dir, check_replaceable
from msgan_lib.frames import frames_to_model, list_videos, load_video, write_video
from msgan_lib.model import Generator
from msgan_lib.pacman import (  # her position is chapter 01's; F401: also imported from here
    COLOUR_TOLERANCE,  # noqa: F401
    MAZE_ROWS,  # noqa: F401
    MIN_WEIGHT,  # noqa: F401
    PACMAN_COLOUR,  # noqa: F401
    pacman_position,  # noqa: F401
    pacman_positions,
    pacman_weights,  # noqa: F401
    restore_emulator,
)
from msgan_lib.predict import (
    Predictor,
    encode_actions,
    model_to_frames,
    recorded_actions,
    resolve_video,
)

# --- Ms. Pac-Man's position ---


def position_error(
    a: tuple[float, float] | None, b: tuple[float, float] | None, width: int
) -> float:
    """Distance in pixels between two positions of :func:`pacman_position`, ``x`` measured
    around the tunnels of a ``width``-wide maze; NaN when either is ``None``."""
    if a is None or b is None:
        return math.nan
    dx = abs(a[1] - b[1]) % width
    return math.hypot(a[0] - b[0], min(dx, width - dx))


def x_shift(
    a: tuple[float, float] | np.ndarray, b: tuple[float, float] | np.ndarray, width: int
) -> float:
    """Signed horizontal distance from position ``b`` to position ``a`` (``a``'s x minus
    ``b``'s), taken the short way around the tunnels of a ``width``-wide maze."""
    return float((a[1] - b[1] + width / 2) % width - width / 2)


# --- actions ---

_REPEAT = re.compile(r"^([A-Za-z]+)\s*(?:\*\s*(\d+))?$")


def parse_actions(text: str, names: Sequence[str]) -> list[str]:
    """An action sequence such as ``"LEFT*8, up, UP*4"`` as a list of ALE names.

    Comma-separated names from ``names`` (any case); ``NAME*K`` repeats ``NAME`` ``K``
    times. Anything else is a one-line error listing the names.
    """
    known = {name.upper(): name for name in names}
    hint = f"use comma-separated {', '.join(names)}; NAME*K repeats NAME K times"
    actions: list[str] = []
    for token in text.split(","):
        match = _REPEAT.match(token.strip())
        if match is None or match.group(1).upper() not in known:
            raise MsganError(f"actions {text!r}: cannot read {token.strip()!r}; {hint}")
        count = int(match.group(2) or 1)
        if count < 1:
            raise MsganError(f"actions {text!r}: {token.strip()!r} repeats 0 times; {hint}")
        actions += [known[match.group(1).upper()]] * count
    return actions


# --- the emulator's answer ---


def emulator_rollout(
    video_dir: str | os.PathLike[str], frame: int, actions: Sequence[str]
) -> np.ndarray:
    """The true frames that follow frame ``frame`` (0-based) of a recorded video under
    ``actions``: ``(len(actions), 210, 160, 3)`` uint8.

    The emulator is restored right after that frame (:func:`restore_emulator`, from the
    video's ``emulator.json`` and ``actions.csv``) and plays one action per stored frame.
    """
    emulator = restore_emulator(video_dir, frame + 1)  # restore_emulator counts from 1
    return np.stack([emulator.step(name) for name in actions])  # (N, 210, 160, 3)


# --- dreaming ---


@dataclass
class DreamResult:
    """A dream: the model's frames under chosen actions, and the emulator's when asked.

    Positions are ``(N, 2)`` float arrays of ``(y, x)`` pixels, NaN where Ms. Pac-Man is
    not visible; the emulator's fields are ``None`` for a dream without the emulator.
    """

    video: Path
    start: int  # index of the first history frame in the video (0-based)
    history: np.ndarray  # (T, H, W, 3) uint8, the true history, oldest first
    history_actions: list[str]  # the T-1 recorded transitions inside the history
    actions: list[str]  # the N actions played, one per predicted frame
    frames: np.ndarray  # (N, H, W, 3) uint8, the dream
    positions: np.ndarray  # (N, 2) Ms. Pac-Man in the dream
    emulator: np.ndarray | None = None  # (N, H, W, 3) uint8, the true frames
    emulator_positions: np.ndarray | None = None  # (N, 2)
    errors: np.ndarray | None = None  # (N,) position error in pixels, NaN if she is missing
    psnr_moving: np.ndarray | None = None  # (N,) dB on moving pixels, NaN if none moves


def require_action_model(generator: Generator) -> None:
    """Raise a one-line error unless ``generator`` is action-conditioned."""
    if not generator.config.action_names:
        raise MsganError(
            "this model is not action-conditioned, so it cannot dream under chosen actions; "
            "train one with msgan train --action-conditional"
        )


def dream(
    generator: Generator,
    video_dir: str | os.PathLike[str],
    actions: Sequence[str],
    steps: int,
    start: int | None = None,
    emulator: bool = False,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
) -> DreamResult:
    """Predict ``steps`` frames of a recorded video under ``actions`` (ALE names).

    The history is the ``T`` frames from ``start`` (default 0, the video's first window)
    with their recorded transitions; the first ``steps`` of ``actions`` are played, one per
    predicted frame. With ``emulator`` (videos of ``record-pacman``) the emulator plays
    them from the last history frame, and positions, their errors and the moving-pixel
    PSNR of the dream against it are measured step by step.
    """
    require_action_model(generator)
    config = generator.config
    if steps < 1 or len(actions) < steps:
        raise MsganError(
            f"{len(actions)} actions for {steps} steps: give at least one action per step"
        )
    video_dir = Path(video_dir)
    frames = load_video(video_dir)  # (L, H, W, 3)
    history, start = config.history, 0 if start is None else start
    if not 0 <= start <= len(frames) - history:
        raise MsganError(
            f"--start {start} is out of range for {video_dir} ({len(frames)} frames): "
            f"{history} history frames allow starts 0 .. {len(frames) - history}"
        )
    inputs = frames[start : start + history]  # (T, H, W, 3)
    history_actions = recorded_actions(video_dir, start, history - 1)
    played = list(actions[:steps])
    encoded = torch.cat(
        [
            encode_actions([history_actions], config, f"{video_dir}/actions.csv"),
            encode_actions([played], config, "the dream's actions"),
        ],
        dim=1,
    )  # (1, T-1+N)
    height, width = inputs.shape[1:3]
    true_history = frames_to_model(inputs, device).reshape(1, 3 * history, height, width)
    predicted = Predictor(generator, device, precision)(true_history, steps, encoded)
    dreamed = model_to_frames(predicted[0])  # (N, H, W, 3)
    result = DreamResult(
        video=video_dir,
        start=start,
        history=inputs,
        history_actions=history_actions,
        actions=played,
        frames=dreamed,
        positions=pacman_positions(dreamed),
    )
    if emulator:
        true = emulator_rollout(video_dir, start + history - 1, played)  # (N, H, W, 3)
        result.emulator = true
        result.emulator_positions = pacman_positions(true)
        result.errors = np.array(
            [
                position_error(_as_position(a), _as_position(b), width)
                for a, b in zip(result.positions, result.emulator_positions, strict=True)
            ]
        )
        result.psnr_moving = _moving_psnr(dreamed, true, inputs[-1])
    return result


def _as_position(row: np.ndarray) -> tuple[float, float] | None:
    """A row of a positions array back to ``(y, x)``, or ``None`` for NaN."""
    return None if np.isnan(row).any() else (float(row[0]), float(row[1]))


def _moving_psnr(dreamed: np.ndarray, true: np.ndarray, last_input: np.ndarray) -> np.ndarray:
    """PSNR of each dreamed frame on the pixels where the true frame differs from the last
    history frame (chapter 5's moving pixels), ``(N,)`` dB, NaN where none moves."""
    pred = metrics.to_unit(frames_to_model(dreamed))  # (N, 3, H, W) in [0, 1]
    target = metrics.to_unit(frames_to_model(true))
    last = metrics.to_unit(frames_to_model(last_input[None])).expand_as(target)
    return metrics.psnr(pred, target, metrics.moving_mask(last, target)).numpy()


def dream_summary(result: DreamResult) -> str:
    """One line: where Ms. Pac-Man was found, and with the emulator the median position
    error and the moving-pixel PSNR at steps 1, 8 and N."""
    steps = len(result.actions)
    found = int((~np.isnan(result.positions[:, 0])).sum())
    line = f"{steps} frames dreamed; Ms. Pac-Man visible in {found}/{steps}"
    if result.errors is None or result.psnr_moving is None or result.emulator_positions is None:
        return line
    errors = result.errors[~np.isnan(result.errors)]
    median = f"{np.median(errors):.1f} px" if len(errors) else "n/a"
    shown = sorted({s for s in (1, 8, steps) if s <= steps})
    psnr = ", ".join(f"step {s}: {_db(result.psnr_moving[s - 1])}" for s in shown)
    true_found = int((~np.isnan(result.emulator_positions[:, 0])).sum())
    return (
        f"{line} (emulator: {true_found}/{steps}); median position error {median} over "
        f"{len(errors)} steps; moving-pixel PSNR against the emulator {psnr}"
    )


def _db(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f} dB"


# --- writing a dream ---

CSV_COLUMNS = (
    "step",
    "action",
    "dream_y",
    "dream_x",
    "emulator_y",
    "emulator_x",
    "error_px",
    "psnr_moving",
)


def dream_csv(result: DreamResult) -> str:
    """The per-step table (columns :data:`CSV_COLUMNS`); a value that does not exist (she
    is not visible, nothing moves, no emulator) is an empty cell."""

    steps = len(result.actions)
    unmeasured = np.full(steps, np.nan)  # (N,), the emulator's columns of a dream without it
    true = result.emulator_positions
    columns = [
        result.positions[:, 0],
        result.positions[:, 1],
        unmeasured if true is None else true[:, 0],
        unmeasured if true is None else true[:, 1],
        unmeasured if result.errors is None else result.errors,
        unmeasured if result.psnr_moving is None else result.psnr_moving,
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for index, action in enumerate(result.actions):
        values = [float(column[index]) for column in columns]
        cells = ["" if math.isnan(v) else f"{v:.6g}" for v in values]
        writer.writerow([index + 1, action, *cells])
    return buffer.getvalue()


def _is_dream(path: Path) -> bool:
    return (path / "dream.json").is_file()


def write_dream(
    result: DreamResult,
    out: str | os.PathLike[str],
    overwrite: bool = False,
    source: str = "",
    scale: int = 2,
) -> dict[str, Path]:
    """Write a dream into the directory ``out``, which appears complete or not at all.

    ``dream/frame_000001.png`` .. (the dream, a video directory), with the emulator
    ``emulator/frame_000001.png`` .., ``dream.gif`` (the history, then dream | emulator
    step by step, ``scale`` x enlarged), ``dream.csv`` (:func:`dream_csv`) and
    ``dream.json`` (video, start, actions, model ``source``). An existing non-empty ``out``
    is replaced only with ``overwrite`` and only if it holds a dream. Returns the paths.
    """
    from msgan_lib import viz

    out = Path(out)
    check_replaceable(out, overwrite, _is_dream, "dream")
    panels = {"dream": result.frames}
    if result.emulator is not None:
        panels["emulator"] = result.emulator
    labels = list(panels)
    with atomic_dir(out) as tmp:
        for name, frames in panels.items():
            (tmp / name).mkdir()
            write_video(frames, tmp / name)
        rows = [
            viz.labelled_row(
                [frame] * len(labels), labels, f"input {i}/{len(result.history)}", scale
            )
            for i, frame in enumerate(result.history, start=1)
        ]
        steps = len(result.actions)
        for step, action in enumerate(result.actions):
            title = f"step {step + 1}/{steps}: {action}"
            rows.append(viz.labelled_row([p[step] for p in panels.values()], labels, title, scale))
        viz.save_gif(rows, tmp / "dream.gif")
        (tmp / "dream.csv").write_text(dream_csv(result))
        info = {
            "video": str(result.video),
            "start": result.start,
            "history": len(result.history),
            "steps": steps,
            "history_actions": result.history_actions,
            "actions": result.actions,
            "emulator": result.emulator is not None,
            "model": source,
        }
        (tmp / "dream.json").write_text(json.dumps(info, indent=2) + "\n")
    return {
        **{name: out / name for name in panels},
        "gif": out / "dream.gif",
        "csv": out / "dream.csv",
        "info": out / "dream.json",
    }


def run_dream(
    weights: str | os.PathLike[str],
    test_dir: str | os.PathLike[str],
    actions: str,
    steps: int | None,
    out: str | os.PathLike[str],
    video: str | None = None,
    start: int | None = None,
    emulator: bool = False,
    overwrite: bool = False,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
) -> tuple[DreamResult, dict[str, Path]]:
    """``msgan dream``: load the model, read ``actions`` (:func:`parse_actions`), dream
    ``steps`` frames (default: one per action) from a window of ``video`` (default: the
    first test video) and write ``out``.
    """
    from msgan_lib.checkpoint import load_generator

    check_replaceable(Path(out), overwrite, _is_dream, "dream")  # fail before the work
    generator = load_generator(weights, device)
    require_action_model(generator)
    played = parse_actions(actions, generator.config.action_names)
    video_dir = list_videos(test_dir)[0] if video is None else resolve_video(test_dir, video)
    result = dream(
        generator,
        video_dir,
        played,
        len(played) if steps is None else steps,
        start,
        emulator,
        device,
        precision,
    )
    return result, write_dream(result, out, overwrite, str(weights))
