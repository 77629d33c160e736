"""Recursive full-frame prediction and evaluation against the baselines (chapter 05).

Mathieu, Couprie & LeCun (2016), section 4: the generator is trained on 32x32 crops but is
fully convolutional, so it predicts whole frames (210x160 for Ms. Pac-Man). Longer horizons
are predicted recursively: each prediction is appended to the history and the oldest frame
dropped, so errors compound step by step.

- :class:`Predictor` prepares a generator once (device, bf16 or fp32, channels_last) and
  predicts ``steps`` frames recursively. The history lives on the device in one rolling
  tensor ``(B, 3*(T+steps), H, W)``: each step reads a view of its last ``T`` frames and
  writes one new frame; nothing is re-read, re-normalised or re-stacked.
- :func:`predict_video` / :func:`write_prediction` (``msgan predict``) run one or several
  models on one test window and write frames, side-by-side comparisons and a GIF.
- :func:`evaluate_models` / :func:`write_evaluation` (``msgan evaluate``) score models and the
  two baselines of :mod:`msgan_lib.metrics` over many windows of the held-out test videos.

Windows and masks: a window is ``T`` true history frames followed by ``steps`` true frames.
At step ``s`` every model's prediction, ``last_input`` (the last true history frame copied
forward) and ``history_mean`` (mean of the true history) are scored against true frame
``s``; the moving-pixel mask of step ``s`` holds the pixels where true frame ``s`` differs
from the last true history frame. Evaluation skips windows in which nothing moves between
the last history frame and the first true frame (e.g. the game's start-up pause): there a
copy is perfect and its capped 100 dB would swamp every mean. Their number is reported.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from msgan_lib import metrics
from msgan_lib.fileio import MsganError, atomic_path, write_text_atomic

if TYPE_CHECKING:
    from msgan_lib.model import Generator

PIXEL_SCALE = 127.5  # uint8 v <-> [-1, 1] value v / 127.5 - 1 (as msgan_lib.data)
PRECISIONS = ("auto", "fp32", "bf16")
Log = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default log: say nothing."""


# --- frames between disk (uint8) and the model ([-1, 1]) ---


def frames_to_model(frames: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 frames -> ``(N, 3, H, W)`` float32 in [-1, 1] on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return tensor.permute(0, 3, 1, 2).float() / PIXEL_SCALE - 1.0  # (N, 3, H, W)


def model_to_frames(frames: torch.Tensor) -> np.ndarray:
    """``(..., 3, H, W)`` in [-1, 1] -> ``(..., H, W, 3)`` uint8 (rounded, clamped)."""
    unit = metrics.to_unit(frames.detach()).cpu()
    return (unit * 255.0).round().to(torch.uint8).movedim(-3, -1).numpy()  # (..., H, W, 3)


def check_frame_size(generator: Generator, height: int, width: int, where: str) -> None:
    """Raise MsganError if ``height x width`` frames are too small for the model's scales."""
    multiple = 2 ** (generator.config.n_scales - 1)
    if height < multiple or width < multiple:
        raise MsganError(
            f"{where}: frames are {height}x{width} but this model's coarsest scale is "
            f"1/{multiple} of the frame, so both sides need at least {multiple} pixels"
        )


# --- recursive prediction ---


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 convolutions natively (CUDA, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def inference_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The weights' dtype for ``precision``: ``"auto"`` is bf16 where native, else fp32."""
    if precision not in PRECISIONS:
        raise MsganError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp32" or (precision == "auto" and not bf16_supported(device)):
        return torch.float32
    return torch.bfloat16


class Predictor:
    """A generator prepared for inference: recursive prediction of whole frames.

    The generator is copied once to ``device`` in the inference dtype (bf16 weights where
    the hardware runs bf16 natively, measured fastest in ``benchmarks/bench_predict.py``)
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
        self._generator = generator

    @torch.inference_mode()
    def __call__(self, history: torch.Tensor, steps: int) -> torch.Tensor:
        """Predict ``steps`` frames after ``history`` recursively.

        ``history``: ``(B, 3*T, H, W)`` in [-1, 1], oldest frame first (any device).
        Returns ``(B, steps, 3, H, W)`` float32 in [-1, 1] on the predictor's device.
        """
        channels = 3 * self.history
        if not isinstance(history, torch.Tensor) or history.dim() != 4:
            shape = tuple(history.shape) if isinstance(history, torch.Tensor) else type(history)
            raise MsganError(f"history must be a (B, {channels}, H, W) tensor, got {shape}")
        if history.shape[1] != channels:
            raise MsganError(
                f"history has {history.shape[1]} channels; this model reads {self.history} "
                f"frames ({channels} channels)"
            )
        if steps < 1:
            raise MsganError(f"steps must be at least 1, got {steps}")
        batch, _, height, width = history.shape
        check_frame_size(self._generator, height, width, "predict")
        # The rolling history: T true frames, then each prediction as it is made.
        sequence = torch.empty(
            batch, 3 * (self.history + steps), height, width, device=self.device, dtype=self.dtype
        )  # (B, 3*(T+steps), H, W)
        sequence[:, :channels] = history
        for step in range(steps):
            window = sequence[:, 3 * step : 3 * step + channels]  # (B, 3T, H, W), a view
            window = window.contiguous(memory_format=torch.channels_last)
            # (B, 3, H, W), the finest scale; clamped, since a model predicting the change from
            # the last frame (residual_on_last_input) can step slightly outside [-1, 1].
            frame = self.model(window)[-1].clamp(-1.0, 1.0)
            sequence[:, channels + 3 * step : channels + 3 * step + 3] = frame
        predicted = sequence[:, channels:].float()  # (B, 3*steps, H, W)
        return predicted.reshape(batch, steps, 3, height, width)  # (B, steps, 3, H, W)


def predict_recursive(
    generator: Generator,
    history: torch.Tensor,
    steps: int,
    device: str | torch.device = "cpu",
    precision: str = "auto",
) -> torch.Tensor:
    """One-off :class:`Predictor` call: ``(B, 3*T, H, W)`` -> ``(B, steps, 3, H, W)``."""
    return Predictor(generator, device, precision)(history, steps)


# --- models by path ---


def model_name(path: str | os.PathLike[str]) -> str:
    """A short name for the weights at ``path``, used in tables, folders and legends.

    ``weights/pacman-small-adv.safetensors`` -> ``pacman-small-adv``; a run directory ->
    its name; ``<run>/checkpoints/step_0001000.pt`` -> ``<run>-step1000``; another file ->
    its stem. Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``.
    """
    path = Path(path)
    match = re.fullmatch(r"step_(\d+)\.pt", path.name)
    if path.is_dir():
        name = path.resolve().name
    elif match and path.parent.name == "checkpoints":
        name = f"{path.parent.parent.resolve().name}-step{int(match.group(1))}"
    else:
        name = path.stem
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "model"


def load_models(
    paths: Sequence[str | os.PathLike[str]], device: str | torch.device = "cpu"
) -> dict[str, Generator]:
    """Generators by name from checkpoint files, run directories or shipped weights.

    Names come from :func:`model_name`; repeated names get ``-2``, ``-3``, ... and may not
    be a baseline's name. Every model must read the same number of history frames.
    """
    from msgan_lib.checkpoint import load_generator

    if not paths:
        raise MsganError("no model given: pass at least one checkpoint, run directory or weights")
    models: dict[str, Generator] = {}
    for path in paths:
        name = base = model_name(path)
        if name in metrics.BASELINES:
            name = base = f"{base}-model"
        suffix = 2
        while name in models:
            name, suffix = f"{base}-{suffix}", suffix + 1
        models[name] = load_generator(path, device)
    histories = {name: g.config.history for name, g in models.items()}
    if len(set(histories.values())) > 1:
        raise MsganError(
            f"the models read different numbers of history frames {histories}; "
            "compare models with the same history"
        )
    return models


# --- choosing test windows ---


def _video_lengths(test_dir: str | os.PathLike[str]) -> dict[Path, int]:
    from msgan_lib.data import list_frames, list_videos

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
    from msgan_lib.data import load_video

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
        video_dir = Path(video)
        if not video_dir.is_dir():
            video_dir = Path(test_dir) / video
        if not video_dir.is_dir():
            raise MsganError(
                f"video {video} is neither a directory nor a video in {test_dir}; "
                "pass a name listed there or a frame directory"
            )
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
    history. Returns a :class:`Prediction` (nothing is written: see :func:`write_prediction`).
    """
    if not models:
        raise MsganError("no model given")
    history = next(iter(models.values())).config.history
    video_dir, start, frames = choose_window(test_dir, history, steps, video, start, seed)
    height, width = frames.shape[1:3]
    inputs = frames_to_model(frames[:history], device)  # (T, 3, H, W)
    inputs = inputs.reshape(1, 3 * history, height, width)  # (1, 3T, H, W), oldest first
    predictions = {}
    for name, generator in models.items():
        check_frame_size(generator, height, width, f"test video {video_dir}")
        predicted = Predictor(generator, device, precision)(inputs, steps)  # (1, S, 3, H, W)
        predictions[name] = model_to_frames(predicted[0])  # (S, H, W, 3)
    chosen_by_seed = video is None or start is None
    return Prediction(
        video=video_dir,
        start=start,
        seed=seed if chosen_by_seed else None,
        inputs=frames[:history],
        truth=frames[history:],
        predictions=predictions,
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
    ``prediction.json`` (video, start, seed, models). Numbered files left by an earlier run
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
) -> tuple[Prediction, dict[str, list[Path]]]:
    """``msgan predict``: load the models, predict one test window, write ``out``."""
    models = load_models(checkpoints, device)
    prediction = predict_video(models, test_dir, steps, video, start, seed, device, precision)
    prediction.sources = {name: str(path) for name, path in zip(models, checkpoints, strict=True)}
    return prediction, write_prediction(prediction, out)


# --- evaluation over many windows ---


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
    model, bf16 moved the means by at most 0.03 dB).
    """
    from msgan_lib.data import list_videos, load_video

    if not models:
        raise MsganError("no model given")
    if steps < 1 or batch_size < 1:
        raise MsganError(f"steps ({steps}) and batch size ({batch_size}) must be at least 1")
    history = next(iter(models.values())).config.history
    stride = stride or history + steps
    if stride < 1:
        raise MsganError(f"stride must be at least 1, got {stride}")
    predictors = {name: Predictor(g, device, precision) for name, g in models.items()}

    moving, short, grid_starts = {}, 0, 0
    for video in list_videos(test_dir):
        frames = load_video(video)  # pass 1: where can windows start?
        if len(frames) < history + steps:
            short += 1
            continue
        for name, generator in models.items():
            check_frame_size(generator, *frames.shape[1:3], f"test video {video} ({name})")
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
            batch = np.stack(
                [frames[s : s + history + steps] for s in starts[first : first + batch_size]]
            )  # (B, T+S, H, W, 3)
            size, _, height, width, _ = batch.shape
            clip = frames_to_model(batch.reshape(-1, height, width, 3), device)  # (B*(T+S),3,H,W)
            clip = clip.reshape(size, history + steps, 3, height, width)
            true_history = clip[:, :history].reshape(size, 3 * history, height, width)
            truth = metrics.to_unit(clip[:, history:])  # (B, S, 3, H, W) in [0, 1]
            guesses = {
                name: metrics.to_unit(predictor(true_history, steps))  # (B, S, 3, H, W)
                for name, predictor in predictors.items()
            }
            for name, baseline in metrics.BASELINES.items():
                guess = metrics.to_unit(baseline(true_history))  # (B, 3, H, W)
                guesses[name] = guess[:, None].expand(-1, steps, -1, -1, -1)
            last_true = metrics.to_unit(true_history[:, -3:])  # (B, 3, H, W)
            for step in range(steps):
                mask = metrics.moving_mask(last_true, truth[:, step])  # (B, H, W)
                for name in names:
                    pred = guesses[name][:, step].cpu()
                    scores = metrics.frame_metrics(pred, truth[:, step].cpu(), mask.cpu())
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
        for metric in metrics.METRICS
        for region in metrics.REGIONS
    ]
    dtype = next(iter(predictors.values())).dtype
    return Evaluation(
        rows=rows,
        test_dir=str(test_dir),
        windows=len(windows),
        static_skipped=static,
        short_videos=short,
        steps=steps,
        precision="bf16" if dtype == torch.bfloat16 else "fp32",
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
        "paper's optical-flow mask); n counts windows with at least one.",
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
    models = load_models(checkpoints, device)
    evaluation = evaluate_models(
        models, test_dir, steps, max_windows, stride, seed, device, precision, batch_size, log
    )
    return evaluation, write_evaluation(evaluation, out)


def headline(rows: Sequence[MetricRow], step: int = 1) -> dict[str, dict[str, float]]:
    """``{model: {"psnr full": mean, ...}}`` at one step: the numbers a summary quotes."""
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.step == step:
            table.setdefault(row.model, {})[f"{row.metric} {row.region}"] = row.mean
    return table
