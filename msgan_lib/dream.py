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
one; :func:`write_dream` writes frames, a side-by-side GIF and the per-step table;
:class:`Player` plays one step at a time (the chapter's widget).

Whether the model is a world model, on held-out recorded episodes from starts where Ms.
Pac-Man is visible (:func:`visible_starts`), measured four ways and judged against the
targets of :func:`world_model_targets` (chapter 06, ``benchmarks/world_model.py``):

- :func:`recorded_dreams`: under the recorded actions, her position error step by step and
  whether the dream still shows her, beside the unconditioned control and "stays put";
- :func:`steer` and :func:`separation`: LEFT against RIGHT (UP against DOWN) from the same
  start, how far the dreams move her apart against the emulator (:func:`emulator_branches`);
- :func:`action_effect`: the one-step error on moving pixels under shuffled and random
  actions instead of the recorded ones;
- :func:`moving_psnr_gain`: chapter 5's moving-pixel PSNR against the control.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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
    video_positions,
)
from msgan_lib.predict import (
    Predictor,
    encode_actions,
    model_to_frames,
    recorded_actions,
    resolve_video,
)

if TYPE_CHECKING:
    from msgan_lib.evaluate import Evaluation  # evaluate imports this module

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


# --- measuring a world model: does the dream follow the game, and the joystick? ---
#
# Four measures on held-out recorded episodes, with positions by pacman_position:
# recorded_dreams (under the recorded actions, against the video, which *is* the emulator
# replaying them), steer and separation (the same start under LEFT, RIGHT, UP, DOWN, against
# emulator_branches), action_effect (the one-step error under other actions than the
# recorded ones) and moving_psnr_gain (chapter 5's moving-pixel PSNR against a control).
# world_model_targets turns them into the pass/fail lines of chapter 06 and
# benchmarks/world_model.py.

STAYS_PUT = "stays put"  # the reference "model": her position in the last input frame, held


def visible_starts(
    test_dir: str | os.PathLike[str],
    history: int,
    steps: int,
    count: int | None = 16,
    stride: int | None = None,
    seed: int = 0,
) -> list[tuple[Path, int]]:
    """Windows of the recorded test videos in which Ms. Pac-Man is visible in the last
    input frame: ``(video, start)``, ``start`` the first of ``history`` input frames, with
    ``steps`` recorded frames after them.

    Starts lie on a grid of ``stride`` frames (default ``history + steps``: windows do not
    overlap); a seeded random ``count`` of them is kept (``None``: all), sorted by video
    and start, as :func:`msgan_lib.evaluate.evaluation_windows` picks. Positions come from
    :func:`msgan_lib.pacman.video_positions` (``positions.csv``, or computed).
    """
    from msgan_lib.evaluate import evaluation_windows  # evaluate imports this module

    visible = {}
    for video in list_videos(test_dir):
        located = video_positions(video)  # (L, 2), NaN where she is not visible
        last = np.arange(history - 1, len(located) - steps)  # the last input frame
        visible[video] = last[~np.isnan(located[last, 0])] - (history - 1)
    starts = evaluation_windows(visible, count, stride or history + steps, seed)
    if not starts:
        raise MsganError(
            f"no window of {history} + {steps} frames in {test_dir} shows Ms. Pac-Man in its "
            "last input frame"
        )
    return starts


def position_errors(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """:func:`position_error` of ``(..., 2)`` position arrays, elementwise: ``(...)``
    pixels, NaN where either lacks her."""
    dx = np.abs(a[..., 1] - b[..., 1]) % width
    return np.hypot(a[..., 0] - b[..., 0], np.minimum(dx, width - dx))


def _windows(
    frames: np.ndarray, starts: Sequence[int], history: int, device: str | torch.device
) -> torch.Tensor:
    """The true histories of windows of a video: ``(B, 3T, H, W)`` in [-1, 1]."""
    height, width = frames.shape[1:3]
    stacked = np.stack([frames[s : s + history] for s in starts])  # (B, T, H, W, 3)
    model = frames_to_model(stacked.reshape(-1, height, width, 3), device)  # (B*T, 3, H, W)
    return model.reshape(len(starts), 3 * history, height, width)


def _by_video(starts: Sequence[tuple[Path, int]], size: int) -> list[tuple[Path, list[int]]]:
    """Indices into ``starts`` grouped by video, in batches of at most ``size``."""
    groups: dict[Path, list[int]] = {}
    for index, (video, _) in enumerate(starts):
        groups.setdefault(Path(video), []).append(index)
    return [
        (video, rows[i : i + size])
        for video, rows in groups.items()
        for i in range(0, len(rows), size)
    ]


@dataclass
class RecordedDreams:
    """Dreams under the recorded actions against the recorded frames, which are what the
    emulator makes replaying those actions (:func:`recorded_dreams`).

    Positions are ``(N, S, 2)`` ``(y, x)`` pixels per start and step, NaN where she is not
    visible; ``positions`` holds every model and :data:`STAYS_PUT`.
    """

    starts: list[tuple[Path, int]]
    steps: int
    width: int  # frame width, for distances around the tunnels
    truth: np.ndarray  # (N, S, 2) in the recorded frames
    positions: dict[str, np.ndarray]  # name -> (N, S, 2)
    frames: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N, S, H, W, 3)

    def errors(self, name: str) -> np.ndarray:
        """``(N, S)`` pixels from the truth, NaN where either lacks her."""
        return position_errors(self.positions[name], self.truth, self.width)

    def found(self, name: str) -> np.ndarray:
        """``(N, S)``: 1 where the dream shows her, 0 where it lost her, NaN where the true
        frame does not show her either."""
        shown = (~np.isnan(self.positions[name][..., 0])).astype(float)
        return np.where(np.isnan(self.truth[..., 0]), np.nan, shown)

    def found_share(self, name: str) -> np.ndarray:
        """``(S,)``: the share of dreams that show her, of those whose true frame does."""
        return _nanmean(self.found(name))

    def median_error(self, name: str, lost_counts: bool = True) -> np.ndarray:
        """``(S,)`` median position error over the starts whose true frame shows her. With
        ``lost_counts`` a dream that lost her counts as infinitely far, so the median is
        ``inf`` once she is lost in half of them; otherwise only dreams that show her count
        (NaN if none does)."""
        errors, found = self.errors(name), self.found(name)
        values = np.where(found == 0, np.inf if lost_counts else np.nan, errors)  # (N, S)
        return np.array([_nanmedian(values[:, s]) for s in range(self.steps)])


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 ignoring NaN, NaN (without a warning) where all are NaN."""
    counts = (~np.isnan(values)).sum(axis=0)
    return np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1), np.nan)


def _nanmedian(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(np.median(kept)) if len(kept) else math.nan


def recorded_dreams(
    models: dict[str, Generator],
    starts: Sequence[tuple[Path, int]],
    steps: int,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    batch_size: int = 8,
    keep_frames: bool = False,
) -> RecordedDreams:
    """Every model dreams ``steps`` frames from each start (:func:`visible_starts`); an
    action model plays the recorded actions (``T-1`` in the history, then one per step),
    an unconditioned one none. Ms. Pac-Man is located in every dreamed frame and in the
    recorded one. The recording replays exactly in the emulator, so the recorded frames
    are the emulator's answer to the same actions. ``keep_frames`` keeps the dreams.
    """
    if not models:
        raise MsganError("no model given")
    history = next(iter(models.values())).config.history
    predictors = {name: Predictor(g, device, precision) for name, g in models.items()}
    n = len(starts)
    truth = np.full((n, steps, 2), np.nan)
    positions = {name: np.full((n, steps, 2), np.nan) for name in [*models, STAYS_PUT]}
    kept: dict[str, list[np.ndarray]] = {name: [np.empty(0)] * n for name in models}
    width = 0
    for video, rows in _by_video(starts, batch_size):
        frames = load_video(video)  # (L, H, W, 3)
        located = video_positions(video, frames)  # (L, 2)
        width = frames.shape[2]
        firsts = [starts[i][1] for i in rows]
        if max(firsts) + history + steps > len(frames) or min(firsts) < 0:
            raise MsganError(
                f"{video} has {len(frames)} frames: starts {firsts} leave no {steps} recorded "
                f"frames after {history} input frames"
            )
        true_history = _windows(frames, firsts, history, device)  # (B, 3T, H, W)
        for name, predictor in predictors.items():
            actions = None
            if predictor.config.action_names:
                played = [recorded_actions(video, s, history - 1 + steps) for s in firsts]
                actions = encode_actions(played, predictor.config, f"{video}/actions.csv")
            dreamed = model_to_frames(predictor(true_history, steps, actions))  # (B, S, H, W, 3)
            for row, frames_b in zip(rows, dreamed, strict=True):
                positions[name][row] = pacman_positions(frames_b)
                if keep_frames:
                    kept[name][row] = frames_b
        for row, s in zip(rows, firsts, strict=True):
            truth[row] = located[s + history : s + history + steps]
            positions[STAYS_PUT][row] = located[s + history - 1]
    return RecordedDreams(
        starts=[(Path(v), s) for v, s in starts],
        steps=steps,
        width=width,
        truth=truth,
        positions=positions,
        frames={name: np.stack(rows) for name, rows in kept.items()} if keep_frames else {},
    )


def emulator_branches(
    video_dir: str | os.PathLike[str], frame: int, branches: Sequence[Sequence[str]]
) -> list[np.ndarray]:
    """:func:`emulator_rollout` of several action sequences from the same frame ``frame``
    (0-based): the emulator is restored once and each branch starts from a copy of its
    state. Returns one ``(len(branch), 210, 160, 3)`` uint8 array per branch."""
    emulator = restore_emulator(video_dir, frame + 1)  # restore_emulator counts from 1
    state = emulator.ale.cloneState()
    rollouts = []
    for actions in branches:
        emulator.ale.restoreState(state)
        rollouts.append(np.stack([emulator.step(name) for name in actions]))  # (N, H, W, 3)
    return rollouts


STEERING = ("LEFT", "RIGHT", "UP", "DOWN")
# The pairs of opposite directions and the position column they separate her along.
OPPOSITES = {("LEFT", "RIGHT"): 1, ("UP", "DOWN"): 0}  # 1: x, 0: y


@dataclass
class Steering:
    """The same starts dreamed and played in the emulator under each of ``directions``
    held for ``steps`` frames (:func:`steer`). Positions ``(N, D, S, 2)``; frames at the
    last step only, ``(N, D, H, W, 3)``."""

    starts: list[tuple[Path, int]]
    directions: tuple[str, ...]
    steps: int
    width: int
    start_positions: np.ndarray  # (N, 2) her position in the last input frame
    dream: np.ndarray  # (N, D, S, 2)
    emulator: np.ndarray  # (N, D, S, 2)
    dream_frames: np.ndarray  # (N, D, H, W, 3) at step S
    emulator_frames: np.ndarray  # (N, D, H, W, 3) at step S

    def errors(self) -> np.ndarray:
        """``(N, D, S)`` pixels between the dream and the emulator, NaN where either lacks
        her."""
        return position_errors(self.dream, self.emulator, self.width)


def steer(
    generator: Generator,
    starts: Sequence[tuple[Path, int]],
    steps: int = 8,
    directions: Sequence[str] = STEERING,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
) -> Steering:
    """From each start, the action model dreams ``steps`` frames under each direction held
    throughout (after the history's recorded actions), in one batch per start, and the
    emulator, restored at the last input frame, plays the same (:func:`emulator_branches`).
    """
    require_action_model(generator)
    config = generator.config
    history, directions = config.history, tuple(directions)
    predictor = Predictor(generator, device, precision)
    n, d = len(starts), len(directions)
    dream_positions = np.full((n, d, steps, 2), np.nan)
    true_positions = np.full((n, d, steps, 2), np.nan)
    start_positions = np.full((n, 2), np.nan)
    dream_last: list[np.ndarray] = [np.empty(0)] * n  # (D, H, W, 3) per start
    true_last: list[np.ndarray] = [np.empty(0)] * n
    width = 0
    for video, rows in _by_video(starts, len(starts)):
        frames = load_video(video)  # (L, H, W, 3)
        width = frames.shape[2]
        for row in rows:
            start = starts[row][1]
            past = recorded_actions(video, start, history - 1)
            played = [past + [direction] * steps for direction in directions]
            actions = encode_actions(played, config, "the steering directions")  # (D, T-1+S)
            true_history = _windows(frames, [start] * d, history, device)  # (D, 3T, H, W)
            dreamed = model_to_frames(predictor(true_history, steps, actions))  # (D, S, H, W, 3)
            held = [[direction] * steps for direction in directions]
            true = emulator_branches(video, start + history - 1, held)  # D x (S, H, W, 3)
            for k in range(d):
                dream_positions[row, k] = pacman_positions(dreamed[k])
                true_positions[row, k] = pacman_positions(true[k])
            start_positions[row] = pacman_positions([frames[start + history - 1]])[0]
            dream_last[row] = dreamed[:, -1]
            true_last[row] = np.stack([t[-1] for t in true])
    return Steering(
        starts=[(Path(v), s) for v, s in starts],
        directions=directions,
        steps=steps,
        width=width,
        start_positions=start_positions,
        dream=dream_positions,
        emulator=true_positions,
        dream_frames=np.stack(dream_last),
        emulator_frames=np.stack(true_last),
    )


MIN_SEPARATION_PX = 6.0  # issue 20: only starts where the emulator moves her this far apart


@dataclass
class Separation:
    """How far a pair of opposite directions moves her apart at one step, in the dreams and
    in the emulator (:func:`separation`), per start: ``second - first`` along the pair's
    axis (x around the tunnels, or y), NaN where she is not visible."""

    pair: tuple[str, str]
    step: int
    min_px: float
    emulator: np.ndarray  # (N,)
    dream: np.ndarray  # (N,)
    used: np.ndarray  # (N,) bool: the emulator separates her by min_px or more
    lost: int  # used starts where a dream lost her (counted as no separation)
    agree: int  # used starts where the dream separates her the emulator's way
    ratio: float  # sum of the dreams' separations along the emulator's sign / sum of its
    median_ratio: float  # median over the used starts of the same ratio, start by start


def separation(
    steering: Steering,
    pair: tuple[str, str] = ("LEFT", "RIGHT"),
    step: int | None = None,
    min_px: float = MIN_SEPARATION_PX,
) -> Separation:
    """The dreams' separation of ``pair`` at ``step`` (default: the last) against the
    emulator's, over the starts where the emulator's is at least ``min_px``.

    ``ratio`` = sum over those starts of ``sign(e) * d`` / sum of ``|e|`` (``e``, ``d``:
    the emulator's and the dream's separations); a dream that lost her under either
    direction separates nothing (``d = 0``). 1 is the emulator's separation, 0 a model
    that ignores the actions, below 0 one that swaps them. NaN without a used start.
    """
    if pair not in OPPOSITES:
        raise MsganError(f"pair {pair} is not one of {', '.join(map(str, OPPOSITES))}")
    missing = [d for d in pair if d not in steering.directions]
    if missing:
        raise MsganError(f"the steering did not play {', '.join(missing)}")
    step = steering.steps if step is None else step
    axis, (a, b) = OPPOSITES[pair], (steering.directions.index(d) for d in pair)

    def apart(positions: np.ndarray) -> np.ndarray:  # (N,): b minus a along the axis
        first, second = positions[:, a, step - 1, axis], positions[:, b, step - 1, axis]
        if axis == 1:  # x, the short way around the tunnels
            half = steering.width / 2
            return (second - first + half) % steering.width - half
        return second - first

    true, dreamed = apart(steering.emulator), apart(steering.dream)
    used = np.abs(np.nan_to_num(true)) >= min_px
    along = np.sign(true[used]) * np.nan_to_num(dreamed[used])  # (U,), lost: 0
    scale = np.abs(true[used])
    return Separation(
        pair=pair,
        step=step,
        min_px=min_px,
        emulator=true,
        dream=dreamed,
        used=used,
        lost=int(np.isnan(dreamed[used]).sum()),
        agree=int((along > 0).sum()),
        ratio=float(along.sum() / scale.sum()) if used.any() else math.nan,
        median_ratio=float(np.median(along / scale)) if used.any() else math.nan,
    )


ACTION_VARIANTS = ("recorded", "shuffled", "random")


@dataclass
class ActionEffect:
    """The one-step squared error on moving pixels (in [0, 1] units, mean over the pixels
    that differ between the last input frame and the true next frame) of an action model
    under the recorded actions and under others (:func:`action_effect`), per window."""

    starts: list[tuple[Path, int]]
    errors: dict[str, np.ndarray]  # variant -> (N,), NaN where nothing moves

    def mean(self, variant: str) -> float:
        return float(np.nanmean(self.errors[variant]))

    def rise(self, variant: str) -> float:
        """Relative rise of the mean error over the recorded actions' (0.1: +10%)."""
        return self.mean(variant) / self.mean("recorded") - 1.0


def action_effect(
    generator: Generator,
    starts: Sequence[tuple[Path, int]],
    seed: int = 0,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    batch_size: int = 16,
) -> ActionEffect:
    """Does the model read its actions? It predicts the frame after each window's ``T``
    input frames under the window's ``T`` recorded actions (``recorded``), under another
    window's (``shuffled``: a seeded permutation of the windows) and under ``T`` actions
    drawn uniformly from its action set (``random``, seeded). A model that ignores its
    actions scores the same under all three."""
    require_action_model(generator)
    config = generator.config
    history, names = config.history, config.action_names
    predictor = Predictor(generator, device, precision)
    n = len(starts)
    recorded = encode_actions(
        [recorded_actions(v, s, history) for v, s in starts], config, "the recorded actions"
    )  # (N, T)
    rng = torch.Generator().manual_seed(seed)
    variants = {
        "recorded": recorded,
        "shuffled": recorded[torch.randperm(n, generator=rng)],
        "random": torch.randint(len(names), (n, history), generator=rng),
    }
    errors = {name: np.full(n, np.nan) for name in variants}
    for video, rows in _by_video(starts, batch_size):
        frames = load_video(video)
        firsts = [starts[i][1] for i in rows]
        true_history = _windows(frames, firsts, history, device)  # (B, 3T, H, W)
        target = metrics.to_unit(frames_to_model(np.stack([frames[s + history] for s in firsts])))
        last = metrics.to_unit(true_history[:, -3:].cpu())  # (B, 3, H, W)
        mask = metrics.moving_mask(last, target)[:, None]  # (B, 1, H, W)
        for name, actions in variants.items():
            guess = metrics.to_unit(predictor(true_history, 1, actions[rows])[:, 0].cpu())
            squared = ((guess - target) ** 2 * mask).flatten(1).sum(1, dtype=torch.float64)
            count = mask.flatten(1).sum(1).double() * 3  # (B,) three channels per pixel
            errors[name][rows] = torch.where(count > 0, squared / count.clamp(min=1), torch.nan)
    return ActionEffect(starts=[(Path(v), s) for v, s in starts], errors=errors)


def moving_psnr_gain(
    evaluation: Evaluation, model: str, control: str, steps: range = range(4, 9)
) -> float:
    """Mean over ``steps`` of ``model``'s moving-pixel PSNR minus ``control``'s, from an
    :class:`msgan_lib.evaluate.Evaluation`, in dB (NaN if a step is missing)."""
    table = {
        (r.model, r.step): r.mean
        for r in evaluation.rows
        if (r.metric, r.region) == ("psnr", "moving")
    }
    gaps = [table.get((model, s), math.nan) - table.get((control, s), math.nan) for s in steps]
    return float(np.mean(gaps))


# --- the targets (issue 20) ---

TARGET_ERROR_PX, TARGET_ERROR_STEP = 4.0, 8  # median position error at step 8: 4 px or less
TARGET_FOUND, TARGET_FOUND_STEP = 0.8, 16  # still found at step 16 in 80% of the dreams
TARGET_SEPARATION, TARGET_SEPARATION_STEP = 0.7, 8  # LEFT/RIGHT at step 8: 70% of the emulator's
TARGET_RISE = 0.10  # random actions raise the one-step moving-pixel error by 10% or more
TARGET_PSNR_GAIN, TARGET_PSNR_STEPS = (
    1.0,
    range(4, 9),
)  # steps 4 to 8  # +1 dB at steps 4-8 over the control


@dataclass(frozen=True)
class Target:
    """One line of the targets' table: what is asked, what was measured, and whether the
    measure meets it."""

    target: str
    measured: str
    met: bool


def _px(value: float) -> str:
    return "lost" if math.isinf(value) else "n/a" if math.isnan(value) else f"{value:.1f} px"


def _share(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0%}"


def world_model_targets(
    dreams: RecordedDreams,
    model: str,
    control: str,
    lr: Separation,
    effect: ActionEffect,
    psnr_gain: float | None = None,
) -> list[Target]:
    """Issue 20's targets for the action model ``model`` against its unconditioned
    ``control``, measured; steps beyond a shorter run are taken at its last step, and
    the target says so."""
    error_step = min(TARGET_ERROR_STEP, dreams.steps)
    found_step = min(TARGET_FOUND_STEP, dreams.steps)
    error = dreams.median_error(model)[error_step - 1]
    seen = dreams.median_error(model, lost_counts=False)[error_step - 1]
    found = dreams.found_share(model)[found_step - 1]
    control_found = dreams.found_share(control)[found_step - 1]
    n_truth = int((~np.isnan(dreams.truth[:, found_step - 1, 0])).sum())
    rise = effect.rise("random")
    first, second = lr.pair
    targets = [
        Target(
            f"median position error at step {error_step}, recorded actions: "
            f"{TARGET_ERROR_PX:g} px or less (a lost Ms. Pac-Man counts as far)",
            f"{_px(error)} over {len(dreams.starts)} starts ({_px(seen)} where found; "
            f"{control}: {_px(dreams.median_error(control)[error_step - 1])})",
            error <= TARGET_ERROR_PX,
        ),
        Target(
            f"she is still found at step {found_step}: in {TARGET_FOUND:.0%} of the dreams",
            f"{_share(found)} of {n_truth} ({control}: {_share(control_found)})",
            found >= TARGET_FOUND,
        ),
        Target(
            f"{first} vs {second} separation at step {lr.step}: {TARGET_SEPARATION:.0%} of the "
            f"emulator's (where it is {lr.min_px:g} px or more)",
            f"{_share(lr.ratio)} (median per start {_share(lr.median_ratio)}) over "
            f"{int(lr.used.sum())} of {len(lr.used)} starts; right way at {lr.agree}, lost at "
            f"{lr.lost}",
            bool(lr.used.any()) and lr.ratio >= TARGET_SEPARATION,
        ),
        Target(
            f"random actions raise the one-step moving-pixel error: +{TARGET_RISE:.0%} or more",
            f"{rise:+.1%} over {int(np.isfinite(effect.errors['random']).sum())} windows "
            f"(shuffled: {effect.rise('shuffled'):+.1%})",
            rise >= TARGET_RISE,
        ),
    ]
    if psnr_gain is not None:
        steps = TARGET_PSNR_STEPS
        targets.append(
            Target(
                f"moving-pixel PSNR at steps {steps[0]}-{steps[-1]}: +{TARGET_PSNR_GAIN:g} dB or "
                f"more over {control}",
                f"{psnr_gain:+.2f} dB",
                psnr_gain >= TARGET_PSNR_GAIN,
            )
        )
    return targets


def targets_markdown(targets: Sequence[Target]) -> str:
    """The targets as a Markdown table: target | measured | met/missed."""
    lines = ["| target | measured | |", "|---|---|---|"]
    lines += [
        f"| {t.target} | {t.measured} | {'met' if t.met else '**missed**'} |" for t in targets
    ]
    return "\n".join(lines) + "\n"


def targets_csv(targets: Sequence[Target]) -> str:
    """The targets as CSV: ``target,measured,met`` (``met``: ``met`` or ``missed``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["target", "measured", "met"])
    writer.writerows([t.target, t.measured, "met" if t.met else "missed"] for t in targets)
    return buffer.getvalue()


# --- playing inside the model ---


class Player:
    """Play inside an action model one step at a time, from a recorded start, with the
    emulator playing the same actions beside it (chapter 06's widget).

    ``restart()`` goes back to the true history and its recorded actions; ``play(action)``
    dreams the next frame from the last ``T`` frames (true or dreamed) and actions, and
    steps the emulator. Step by step it is the computation of :func:`dream`.
    """

    def __init__(
        self,
        generator: Generator,
        video_dir: str | os.PathLike[str],
        start: int,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
    ) -> None:
        require_action_model(generator)
        self.config = generator.config
        self.predictor = Predictor(generator, device, precision)
        history = self.config.history
        self.history = load_video(video_dir)[start : start + history]  # (T, H, W, 3)
        self.history_actions = recorded_actions(video_dir, start, history - 1)
        self._emulator = restore_emulator(video_dir, start + history)
        self._state = self._emulator.ale.cloneState()
        self.restart()

    def restart(self) -> None:
        """Back to the real start."""
        self._emulator.ale.restoreState(self._state)
        self.frames = list(frames_to_model(self.history, self.predictor.device))  # T x (3, H, W)
        self.actions = list(self.history_actions)  # T-1, then one per step played
        self.made: list[tuple[str, np.ndarray, np.ndarray]] = []  # (action, dream, emulator)

    def play(self, action: str) -> tuple[np.ndarray, np.ndarray]:
        """One step under ``action``: the dreamed and the emulator's ``(H, W, 3)`` uint8."""
        history = self.config.history
        window = torch.cat(self.frames[-history:])[None]  # (1, 3T, H, W)
        recent = self.actions[len(self.actions) - (history - 1) :]  # the last T-1
        held = encode_actions([[*recent, action]], self.config, "play")  # (1, T)
        frame = self.predictor(window, 1, held)[0, 0]  # (3, H, W)
        self.actions.append(action)
        self.frames.append(frame)
        dreamt, true = model_to_frames(frame), self._emulator.step(action)
        self.made.append((action, dreamt, true))
        return dreamt, true
