"""The prepared GPU check: what training and prediction cost on one accelerator, in one call.

    PYTHONPATH=. python benchmarks/gpu_check.py --device cuda --preset paper --steps 20 \
        --out gpu_check [--clips data/book/clips]

Runs on the machine's own Python and torch (any 2.x from 2.4 on: nothing newer than torch
2.8 is used) with ``msgan_lib`` on ``PYTHONPATH``; it needs numpy and Pillow besides torch,
and no network, ale-py, tqdm or scikit-image. ``--clips DIR`` reads a clip set carried in
the tree; without it, clips are cut from synthetic videos. It

1. measures the device's matrix-multiply rate in the step's dtype (bf16 on a GPU, float32
   on a CPU without native bf16): the MFU denominator, in this run;
2. trains the preset with bf16 autocast, channels_last and (unless ``--no-compile``)
   ``torch.compile`` at the paper's batch and at each of ``--batches`` until memory runs
   out or throughput stops rising, fed by :class:`msgan_lib.feed.ClipFeed`, timing
   ``--steps`` steps after warm-up: seconds per iteration, clips/s, MFU (model FLOPs of
   :func:`msgan_lib.step.step_flops` per second over the measured matmul rate), peak
   memory, and whether every loss stayed finite;
3. checks that a run interrupted halfway and resumed from its checkpoint logs the same
   losses as a straight one (the trainer's settings, without compile);
4. measures the feed alone (clips/s) and recursive prediction on full 210x160 frames.

Everything lands in ``<out>/gpu_check.json``; the test suite dry-runs this script on the
CPU with the ``tiny`` preset.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import platform
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from msgan_lib.clips import ClipDataset, process_data
from msgan_lib.config import (
    RECIPES,
    DataConfig,
    ModelConfig,
    TrainConfig,
    apply_overrides,
    preset,
)
from msgan_lib.feed import ClipFeed, ClipSampler
from msgan_lib.fileio import write_text_atomic
from msgan_lib.frames import write_video
from msgan_lib.model import Generator
from msgan_lib.predict import Predictor
from msgan_lib.runtime import Process, bf16_supported, resolve_device
from msgan_lib.step import TrainStep, step_flops


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(device: torch.device, size: int, repeats: int, dtype: torch.dtype) -> float:
    """Measured matrix-multiply FLOP/s of ``device`` in ``dtype`` (``size``-square matrices)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    synchronise(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronise(device)
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def synthetic_clips(root: Path, crop: int, n_clips: int) -> Path:
    """A clip set cut (as ``process-data`` does) from synthetic videos of moving squares."""
    rng = np.random.default_rng(0)
    for v in range(2):
        video = root / "images" / f"video_{v}"
        video.mkdir(parents=True)
        frames = np.zeros((24, 96, 96, 3), np.uint8) + rng.integers(0, 90, 3).astype(np.uint8)
        for t in range(24):
            frames[t, 20 + t : 36 + t, 8 + 2 * t : 24 + 2 * t] = 255
        write_video(frames, video)
    data = DataConfig(crop_size=crop)
    process_data(root / "images", root / "clips", n_clips, config=data, workers=1)
    return root / "clips"


@contextlib.contextmanager
def fed(
    dataset: ClipDataset, batch: int, first: int, last: int, device: torch.device
) -> Iterator[ClipFeed]:
    """A :class:`ClipFeed` of steps ``first .. last-1`` at ``batch`` clips per minibatch."""
    sampler = ClipSampler(torch.arange(len(dataset)), 0, batch, 2, Process())
    with ClipFeed(dataset, sampler, first, last, pin=device.type == "cuda") as feed:
        yield feed


def train_steps(
    step: TrainStep, dataset: ClipDataset, batch: int, warmup: int, steps: int
) -> dict[str, Any]:
    """Time ``steps`` training steps after ``warmup``; the scalars stay on the device."""
    device = step.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    finite = True
    with fed(dataset, batch, 0, warmup + steps, device) as feed:
        for s in range(warmup):
            step.run(feed.next(s))
        synchronise(device)
        started = time.perf_counter()
        for s in range(warmup, warmup + steps):
            scalars = step.run(feed.next(s))
            finite = finite and all(bool(torch.isfinite(v)) for v in scalars.values())
        synchronise(device)
        seconds = (time.perf_counter() - started) / steps
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"s_per_iter": seconds, "finite_losses": finite, "peak_mem_gb": peak}


def resume_check(
    model_config: ModelConfig,
    config: TrainConfig,
    dataset: ClipDataset,
    device: torch.device,
    steps: int,
    out: Path,
) -> dict[str, Any]:
    """Losses of ``steps`` straight steps against ``steps // 2``, a checkpoint, and the rest."""
    half = steps // 2

    def run(step: TrainStep, first: int, last: int) -> list[list[float]]:
        with fed(dataset, config.batch_size, first, last, device) as feed:
            return [[v.item() for v in step.run(feed.next(s)).values()] for s in range(first, last)]

    straight = run(TrainStep(model_config, config, device), 0, steps)
    first = TrainStep(model_config, config, device)
    losses = run(first, 0, half)
    path = out / "resume_check.pt"
    torch.save(first.state(half, {}), path)
    second = TrainStep(model_config, config, device)
    second.load_state(torch.load(path, map_location=device, weights_only=True))
    losses += run(second, half, steps)
    path.unlink()
    gap = max(
        abs(a - b) for x, y in zip(straight, losses, strict=True) for a, b in zip(x, y, strict=True)
    )
    return {"resume_exact": straight == losses, "resume_max_abs_diff": gap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (cuda)")
    parser.add_argument("--preset", default="paper", help="model preset (paper)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per batch (20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (5)")
    parser.add_argument("--out", required=True, help="directory for gpu_check.json")
    parser.add_argument("--clips", help="clip set to train on (default: synthetic clips)")
    parser.add_argument(
        "--batches",
        type=int,
        nargs="+",
        default=[16, 32, 64, 128, 256, 512],
        help="batch sizes tried besides the paper's, in order",
    )
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    device = resolve_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    paper = RECIPES["paper"]
    model_config, config = apply_overrides(preset(args.preset), TrainConfig(), paper.values)
    config = dataclasses.replace(config, compile=args.compile, amp=True, channels_last=True)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "preset": args.preset,
        "compile": args.compile,
        "recipe": "paper (SGD, bf16 autocast, channels_last)",
    }
    size = 8192 if device.type == "cuda" else 512
    # The MFU denominator is the matmul rate in the dtype the step computes in: bf16 where
    # the device runs it natively (a GPU), float32 where autocast is off (a CPU dry run).
    dtype = torch.bfloat16 if bf16_supported(device) else torch.float32
    report["matmul_dtype"] = str(dtype).removeprefix("torch.")
    report["matmul_tflops"] = matmul_rate(device, size, 20, dtype) / 1e12
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(args.clips) if args.clips else None
        if clips is None:
            clips = synthetic_clips(Path(tmp), model_config.crop_size, 2048)
        dataset = ClipDataset(clips)
        report["clips"] = str(args.clips or "synthetic")

        runs, best = [], None
        step = TrainStep(model_config, config, device)
        for batch in dict.fromkeys([config.batch_size, *args.batches]):
            try:
                timing = train_steps(step, dataset, batch, args.warmup, args.steps)
            except torch.cuda.OutOfMemoryError:
                runs.append({"batch_size": batch, "out_of_memory": True})
                break
            flops = step_flops(model_config, batch)
            timing.update(
                batch_size=batch,
                samples_per_s=2 * batch / timing["s_per_iter"],
                mfu=flops / timing["s_per_iter"] / (report["matmul_tflops"] * 1e12),
                model_tflops_per_step=flops / 1e12,
            )
            runs.append(timing)
            print(json.dumps(timing), flush=True)
            if best is not None and timing["samples_per_s"] < 1.02 * best["samples_per_s"]:
                break
            if best is None or timing["samples_per_s"] > best["samples_per_s"]:
                best = timing
        del step
        report["runs"] = runs
        report["paper_batch"] = runs[0]
        report["best"] = best
        for key in ("s_per_iter", "samples_per_s", "mfu", "peak_mem_gb"):
            report[key] = best[key] if best else None
        report["finite_losses"] = all(r.get("finite_losses", True) for r in runs)

        plain = dataclasses.replace(config, compile=False)
        report.update(resume_check(model_config, plain, dataset, device, 4, out))

        with fed(dataset, plain.batch_size, 0, 100, device) as feed:
            started = time.perf_counter()
            for s in range(100):
                feed.next(s)
            report["feed_clips_per_s"] = (
                2 * plain.batch_size * 100 / (time.perf_counter() - started)
            )

    predictor = Predictor(Generator(model_config), device, "auto")
    history = torch.rand(1, 3 * model_config.history, 210, 160) * 2 - 1
    predictor(history, 2)
    synchronise(device)
    started = time.perf_counter()
    predictor(history, 8)
    synchronise(device)
    report["predict_fps_full_frame"] = 8 / (time.perf_counter() - started)
    write_text_atomic(out / "gpu_check.json", json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
