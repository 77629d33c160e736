"""Recursive full-frame prediction, and writing it as frames and a GIF (chapter 05).

Mathieu, Couprie & LeCun (2016), section 4: the generator is trained on 32x32 crops but is
fully convolutional, so it predicts whole frames (210x160 for Ms. Pac-Man). Longer horizons
are predicted recursively: each prediction is appended to the history and the oldest frame
dropped, so errors compound step by step.

- :class:`Predictor` prepares a generator once (device, bf16 or fp32, channels_last) and
  predicts ``steps`` frames recursively. The history lives on the device in one rolling
  tensor ``(B, 3*(T+steps), H, W)``: each step reads a view of its last ``T`` frames and
  writes one new frame; nothing is re-read, re-normalised or re-stacked. An
  action-conditioned model (``ModelConfig.action_names``) also reads the player's actions,
  one per transition: :func:`recorded_actions` takes them from a video's ``actions.csv``
  and :func:`encode_actions` turns names into the model's indices.
- :func:`choose_window` picks a test window: ``T`` true history frames followed by
  ``steps`` true frames, by default one in which something moves at step 1.
- :func:`predict_video` / :func:`write_prediction` (``msgan predict``) run one or several
  models on one test window and write frames, side-by-side comparisons and a GIF.

Scoring many windows against the baselines is :mod:`msgan_lib.evaluate`.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from msgan_lib import metrics
from msgan_lib.checkpoint import load_models
from msgan_lib.config import ModelConfig
from msgan_lib.fileio import MsganError, atomic_path, ensure_dir, write_text_atomic
from msgan_lib.frames import frames_to_model, list_frames, list_videos, load_video
from msgan_lib.model import Generator, check_frame_size, check_history
from msgan_lib.pacman import read_actions
from msgan_lib.runtime import inference_dtype


def model_to_frames(frames: torch.Tensor) -> np.ndarray:
    """``(..., 3, H, W)`` in [-1, 1] -> ``(..., H, W, 3)`` uint8 (rounded, clamped)."""
    unit = metrics.to_unit(frames.detach()).cpu()
    return (unit * 255.0).round().to(torch.uint8).movedim(-3, -1).numpy()  # (..., H, W, 3)


# --- recursive prediction ---


class Predictor:
    """A generator prepared for inference: recursive prediction of whole frames.

    The generator is copied once to ``device`` in the inference dtype (bf16 weights where
    the hardware runs bf16 natively, see ``benchmarks/bench_predict.py``)
    with channels_last memory layout. The caller's generator is left untouched.
    """

    def __init__(
        self,
        generator: Generator,
        device: str | torch.device = "cpu",
        precision: str = "auto",
    ) -> None:
        self.device = torch.device(device)
        self.dtype = inference_dtype(self.device, precision)
        self.config = generator.config
        self.history = generator.config.history
        self.model = copy.deepcopy(generator).eval()
        self.model.to(device=self.device, dtype=self.dtype, memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(
        self, history: torch.Tensor, steps: int, actions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict ``steps`` frames after ``history`` recursively.

        ``history``: ``(B, 3*T, H, W)`` in [-1, 1], oldest frame first (any device).
        ``actions`` (action-conditioned models only): ``(B, T-1+steps)`` int64 indices into
        ``config.action_names``, one per transition: the ``T-1`` inside the history, then
        the one that makes each predicted frame; step ``s`` (from 0) reads
        ``actions[:, s:s+T]``, whose last entry makes its frame.
        Returns ``(B, steps, 3, H, W)`` float32 in [-1, 1] on the predictor's device.
        """
        channels = 3 * self.history
        check_history(history, "predict", self.history)
        if steps < 1:
            raise MsganError(f"steps must be at least 1, got {steps}")
        batch, _, height, width = history.shape
        check_frame_size(height, width, self.config.n_scales, "predict")
        actions = self._check_actions(actions, batch, steps)  # (B, T-1+steps) or None
        # The rolling history: T true frames, then each prediction as it is made.
        sequence = torch.empty(
            batch, 3 * (self.history + steps), height, width, device=self.device, dtype=self.dtype
        )  # (B, 3*(T+steps), H, W)
        sequence[:, :channels] = history
        for step in range(steps):
            window = sequence[:, 3 * step : 3 * step + channels]  # (B, 3T, H, W), a view
            window = window.contiguous(memory_format=torch.channels_last)
            held = None if actions is None else actions[:, step : step + self.history]  # (B, T)
            # (B, 3, H, W), the finest scale; clamped, since a model predicting the change from
            # the last frame (residual_on_last_input) can step slightly outside [-1, 1].
            frame = self.model(window, held)[-1].clamp(-1.0, 1.0)
            sequence[:, channels + 3 * step : channels + 3 * step + 3] = frame
        predicted = sequence[:, channels:].float()  # (B, 3*steps, H, W)
        return predicted.reshape(batch, steps, 3, height, width)  # (B, steps, 3, H, W)

    def _check_actions(
        self, actions: torch.Tensor | None, batch: int, steps: int
    ) -> torch.Tensor | None:
        """The actions on the device as int64 ``(B, T-1+steps)``, or a one-line error.

        The range of the indices is checked by the model (``model.action_planes``).
        """
        names = self.config.action_names
        if not names:
            if actions is not None:
                raise MsganError("predict: this model is not action-conditioned; pass no actions")
            return None
        expected = (batch, self.history - 1 + steps)
        if actions is None:
            raise MsganError(
                f"predict: this model is action-conditioned ({', '.join(names)}): pass the "
                f"actions, {expected} indices (T-1 = {self.history - 1} inside the history, "
                "then one per step)"
            )
        if not isinstance(actions, torch.Tensor) or actions.is_floating_point():
            raise MsganError("predict: actions must be an integer tensor of action indices")
        if tuple(actions.shape) != expected:
            raise MsganError(
                f"predict: actions must be shaped (B, T-1+steps) = {expected} "
                f"({self.history - 1} inside the history, then one per step), "
                f"got {tuple(actions.shape)}"
            )
        return actions.to(self.device, torch.int64)


def predict_recursive(
    generator: Generator,
    history: torch.Tensor,
    steps: int,
    device: str | torch.device = "cpu",
    precision: str = "auto",
    actions: torch.Tensor | None = None,
) -> torch.Tensor:
    """One-off :class:`Predictor` call: ``(B, 3*T, H, W)`` -> ``(B, steps, 3, H, W)``
    (``actions`` ``(B, T-1+steps)`` for an action-conditioned model)."""
    return Predictor(generator, device, precision)(history, steps, actions)


# --- the recorded actions of a window ---


def recorded_actions(video_dir: str | os.PathLike[str], start: int, count: int) -> list[str]:
    """The ``count`` recorded actions from frame ``start`` on (0-based): entry ``i`` turned
    frame ``start + i`` into ``start + i + 1``, read from the video's ``actions.csv``.

    A window of ``T`` history frames and ``S`` predictions needs ``count = T - 1 + S``.
    """
    video_dir = Path(video_dir)
    actions = read_actions(video_dir)
    if actions is None:
        raise MsganError(
            f"an action-conditioned model needs the actions of {video_dir}, which has no "
            "actions.csv; record with msgan record-pacman"
        )
    if start < 0 or start + count > len(actions):
        raise MsganError(
            f"{video_dir}/actions.csv holds {len(actions)} transitions, but frames {start} to "
            f"{start + count} need {count}; re-record the video with msgan record-pacman"
        )
    return actions[start : start + count]


def encode_actions(
    actions: Sequence[Sequence[str]], config: ModelConfig, where: str
) -> torch.Tensor:
    """Action names ``(B, N)`` as ``(B, N)`` int64 indices into ``config.action_names``.

    ``where`` names the source of the actions (a video, the command line) in the error
    raised for a name the model was not trained on.
    """
    names = config.action_names
    unknown = sorted({a for row in actions for a in row} - set(names))
    if unknown:
        raise MsganError(
            f"{where}: action {', '.join(unknown)} is not one the model knows "
            f"({', '.join(names) or 'none: it is not action-conditioned'})"
        )
    return torch.tensor([[names.index(a) for a in row] for row in actions], dtype=torch.int64)


# --- choosing test windows ---


def _video_lengths(test_dir: str | os.PathLike[str]) -> dict[Path, int]:
    return {video: len(list_frames(video)) for video in list_videos(test_dir)}


def moving_starts(video: np.ndarray, history: int, steps: int) -> np.ndarray:
    """Window starts in ``video`` (``(L, H, W, 3)`` uint8) where something moves at step 1.

    A window starting at ``t`` holds frames ``t .. t+history+steps-1``; it counts if frame
    ``t+history`` differs from frame ``t+history-1`` in any pixel.
    """
    count = len(video) - history - steps + 1
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    last = video[history - 1 : history - 1 + count]  # (count, H, W, 3)
    first = video[history : history + count]
    return np.flatnonzero((last != first).reshape(count, -1).any(axis=1))


def most_motion_window(
    test_dir: str | os.PathLike[str], history: int, steps: int
) -> tuple[Path, int]:
    """The test window whose true future moves the most: ``(video_dir, start)``.

    The showcase rule: over every window of every video in ``test_dir``, count the pixels
    that change from each frame to the next across the ``steps`` predicted frames (from
    the last input frame to the last true frame) and take the largest total (the first of
    equals, videos in natural order). In Ms. Pac-Man that picks sprites on the move with
    ghosts on screen, where L2 blur and sharpness show; a random window is often a corridor
    where only Ms. Pac-Man moves.
    """
    best: tuple[int, Path, int] | None = None
    for video_dir in list_videos(test_dir):
        frames = load_video(video_dir)  # (L, H, W, 3) uint8
        count = len(frames) - history - steps + 1
        if count <= 0:
            continue
        changed = (frames[1:] != frames[:-1]).any(axis=-1).reshape(len(frames) - 1, -1).sum(1)
        totals = np.concatenate([[0], np.cumsum(changed)])  # totals[i]: changes before frame i
        starts = np.arange(count)
        moved = totals[starts + history - 1 + steps] - totals[starts + history - 1]  # (count,)
        start = int(moved.argmax())
        if best is None or moved[start] > best[0]:
            best = (int(moved[start]), video_dir, start)
    if best is None:
        raise MsganError(
            f"no test video in {test_dir} has the {history + steps} frames needed for "
            f"{history} history frames + {steps} predictions; predict fewer steps or record "
            "longer videos"
        )
    return best[1], best[2]


@dataclass
class Prediction:
    """One test window predicted by one or more models (all frames uint8 ``(H, W, 3)``)."""

    video: Path
    start: int  # index of the first history frame in the video
    seed: int | None  # seed that chose the window (None when video and start were given)
    inputs: np.ndarray  # (T, H, W, 3) true history, oldest first
    truth: np.ndarray  # (S, H, W, 3) true next frames
    predictions: dict[str, np.ndarray]  # model name -> (S, H, W, 3)
    sources: dict[str, str] = field(default_factory=dict)  # model name -> path given
    # The recorded actions of the window's T-1+S transitions, read when a model is
    # action-conditioned (None otherwise).
    actions: list[str] | None = None


def resolve_video(test_dir: str | os.PathLike[str], video: str | os.PathLike[str]) -> Path:
    """The video directory ``video`` names: a directory, or a video's name in ``test_dir``."""
    video_dir = Path(video)
    if not video_dir.is_dir():
        video_dir = Path(test_dir) / video
    if not video_dir.is_dir():
        raise MsganError(
            f"video {video} is neither a directory nor a video in {test_dir}; "
            "pass a name listed there or a frame directory"
        )
    return video_dir


def choose_window(
    test_dir: str | os.PathLike[str],
    history: int,
    steps: int,
    video: str | os.PathLike[str] | None = None,
    start: int | None = None,
    seed: int | None = None,
) -> tuple[Path, int, np.ndarray]:
    """Pick a test window: ``(video_dir, start, frames (history+steps, H, W, 3) uint8)``.

    ``video`` is a directory name inside ``test_dir`` or a path; by default one long enough
    is drawn with ``seed``. ``start`` defaults to a random window in which something moves.
    """
    needed = history + steps
    rng = random.Random(seed)
    if video is None:
        lengths = _video_lengths(test_dir)
        long_enough = [v for v, n in lengths.items() if n >= needed]
        if not long_enough:
            raise MsganError(
                f"no test video in {test_dir} has the {needed} frames needed for {history} "
                f"history frames + {steps} predictions (longest: {max(lengths.values())}); "
                "predict fewer steps (-n) or record longer videos"
            )
        video_dir = rng.choice(long_enough)
    else:
        video_dir = resolve_video(test_dir, video)
    frames = load_video(video_dir)
    if len(frames) < needed:
        raise MsganError(
            f"test video {video_dir} has {len(frames)} frames but {history} history frames + "
            f"{steps} predictions need {needed}; predict fewer steps (-n) or pick a longer video"
        )
    last_start = len(frames) - needed
    if start is None:
        candidates = moving_starts(frames, history, steps)
        start = int(rng.choice(candidates)) if len(candidates) else rng.randint(0, last_start)
    elif not 0 <= start <= last_start:
        raise MsganError(
            f"--start {start} is out of range for {video_dir} ({len(frames)} frames): "
            f"{history} history frames + {steps} predictions allow starts 0 .. {last_start}"
        )
    return video_dir, start, frames[start : start + needed]


def predict_video(
    models: dict[str, Generator],
    test_dir: str | os.PathLike[str],
    steps: int = 7,
    video: str | os.PathLike[str] | None = None,
    start: int | None = None,
    seed: int | None = None,
    device: str | torch.device = "cpu",
    precision: str = "auto",
) -> Prediction:
    """Predict ``steps`` frames recursively on one test window with every model.

    The window comes from :func:`choose_window`; each model starts from the same true
    history, and action-conditioned models play the window's recorded actions
    (:func:`recorded_actions`). Returns a :class:`Prediction` (nothing is written: see
    :func:`write_prediction`).
    """
    if not models:
        raise MsganError("no model given")
    history = next(iter(models.values())).config.history
    video_dir, start, frames = choose_window(test_dir, history, steps, video, start, seed)
    height, width = frames.shape[1:3]
    inputs = frames_to_model(frames[:history], device)  # (T, 3, H, W)
    inputs = inputs.reshape(1, 3 * history, height, width)  # (1, 3T, H, W), oldest first
    conditioned = any(g.config.action_names for g in models.values())
    actions = recorded_actions(video_dir, start, history - 1 + steps) if conditioned else None
    predictions = {}
    for name, generator in models.items():
        check_frame_size(height, width, generator.config.n_scales, f"test video {video_dir}")
        played = None
        if generator.config.action_names and actions is not None:
            played = encode_actions([actions], generator.config, f"{video_dir}/actions.csv")
        predictor = Predictor(generator, device, precision)
        predicted = predictor(inputs, steps, played)  # (1, S, 3, H, W)
        predictions[name] = model_to_frames(predicted[0])  # (S, H, W, 3)
    chosen_by_seed = video is None or start is None
    return Prediction(
        video=video_dir,
        start=start,
        seed=seed if chosen_by_seed else None,
        inputs=frames[:history],
        truth=frames[history:],
        predictions=predictions,
        actions=actions,
    )


# --- writing predictions ---

_OUTPUT_NAME = re.compile(r"^(input|truth|compare|pred)_(\d+)\.png$")


def _save_png(frame: np.ndarray, path: Path) -> Path:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(frame).save(tmp)
    return path


def _remove_stale(folder: Path, kept: set[Path]) -> None:
    """Delete numbered outputs of an earlier, longer run that this run did not rewrite."""
    if folder.is_dir():
        for path in folder.iterdir():
            if _OUTPUT_NAME.match(path.name) and path not in kept:
                path.unlink()


def write_prediction(
    prediction: Prediction, out: str | os.PathLike[str] = "inference", scale: int = 2
) -> dict[str, list[Path]]:
    """Write a :class:`Prediction` into ``out`` (every file atomically).

    ``input_1.png`` .. (the true history), ``truth_1.png`` .., ``<model>/pred_1.png`` ..,
    ``compare_1.png`` .. (ground truth | each model, labelled, ``scale`` x enlarged),
    ``prediction.gif`` (the history, then ground truth | models step by step) and
    ``prediction.json`` (video, start, seed, models, and the recorded actions when a model
    read them). Numbered files left by an earlier run
    with more steps are removed. Returns the written paths by kind.
    """
    from msgan_lib import viz

    out = Path(out)
    names = list(prediction.predictions)
    written: dict[str, list[Path]] = {"input": [], "truth": [], "pred": [], "compare": []}
    for index, frame in enumerate(prediction.inputs, start=1):
        written["input"].append(_save_png(frame, out / f"input_{index}.png"))
    for index, frame in enumerate(prediction.truth, start=1):
        written["truth"].append(_save_png(frame, out / f"truth_{index}.png"))
    for name in names:
        for index, frame in enumerate(prediction.predictions[name], start=1):
            written["pred"].append(_save_png(frame, out / name / f"pred_{index}.png"))
    labels = ["ground truth", *names]
    gif_frames = []
    for index, frame in enumerate(prediction.inputs, start=1):
        title = f"input {index}/{len(prediction.inputs)}"
        gif_frames.append(viz.labelled_row([frame] * len(labels), labels, title, scale))
    steps = len(prediction.truth)
    for step in range(steps):
        panels = [prediction.truth[step], *(prediction.predictions[n][step] for n in names)]
        row = viz.labelled_row(panels, labels, f"prediction step {step + 1}/{steps}", scale)
        written["compare"].append(_save_png(row, out / f"compare_{step + 1}.png"))
        gif_frames.append(row)
    gif = out / "prediction.gif"
    viz.save_gif(gif_frames, gif)
    kept = {path for paths in written.values() for path in paths}
    _remove_stale(out, kept)
    for name in names:
        _remove_stale(out / name, kept)
    info = {
        "video": str(prediction.video),
        "start": prediction.start,
        "seed": prediction.seed,
        "history": len(prediction.inputs),
        "steps": steps,
        "models": {name: prediction.sources.get(name, name) for name in names},
    }
    if prediction.actions is not None:
        info["actions"] = prediction.actions
    write_text_atomic(out / "prediction.json", json.dumps(info, indent=2) + "\n")
    return {**written, "gif": [gif], "info": [out / "prediction.json"]}


def run_predict(
    checkpoints: Sequence[str | os.PathLike[str]],
    test_dir: str | os.PathLike[str] = "data/images/test",
    steps: int = 7,
    video: str | None = None,
    start: int | None = None,
    seed: int | None = None,
    out: str | os.PathLike[str] = "inference",
    device: str | torch.device = "cpu",
    precision: str = "auto",
    most_motion: bool = False,
) -> tuple[Prediction, dict[str, list[Path]]]:
    """``msgan predict``: load the models, predict one test window, write ``out``.

    ``most_motion`` picks the window by :func:`most_motion_window` instead of ``video``,
    ``start`` and ``seed``.
    """
    ensure_dir(out)  # an unwritable output fails before the work
    models = load_models(checkpoints, device)
    if most_motion:
        history = next(iter(models.values())).config.history
        video, start = most_motion_window(test_dir, history, steps)
    prediction = predict_video(models, test_dir, steps, video, start, seed, device, precision)
    prediction.sources = {name: str(path) for name, path in zip(models, checkpoints, strict=True)}
    return prediction, write_prediction(prediction, out)
