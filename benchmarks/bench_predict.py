"""Benchmark: full-frame (210x160) recursive prediction, frames per second, batch 1.

Compares, in one run and on the same random-weight generators (speed does not depend on
the weights):

- ``naive``: what a direct port of the Chainer port's ``testmodel.py`` does. The history is a
  list of uint8 numpy frames; every step re-normalises and re-stacks the last four into a
  fresh fp32 tensor, runs the fp32 generator under ``no_grad`` and turns the prediction back
  into a numpy frame for the next step.
- ``ours``: :class:`msgan_lib.predict.Predictor`: the history stays on the device in one
  rolling tensor, ``inference_mode``, channels_last, and bf16 weights where the hardware runs
  bf16 natively (``precision="auto"``), with the CPU thread count as a setting.

    .venv/bin/python benchmarks/bench_predict.py [--presets small paper] [--repeats 3]

Each configuration is run ``--repeats`` times, round-robin (so a burst of load from other
processes hits all of them), and the best run is reported with the median beside it. The
machine may be shared with other jobs: compare figures of one run only, and expect noise.
With a GPU, the same is measured on ``cuda`` too.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from msgan_lib.config import preset
from msgan_lib.model import Generator
from msgan_lib.predict import Predictor

HEIGHT, WIDTH = 210, 160  # a Ms. Pac-Man frame
STEPS = {"small": 7, "paper": 2}  # recursive steps per timed run (paper: ~0.6 TFLOP a frame)


def naive_recursion(generator: Generator, frames: list[np.ndarray], steps: int) -> np.ndarray:
    """The straightforward loop: re-stack numpy frames into an fp32 tensor at every step."""
    history = generator.config.history
    frames = list(frames)
    device = next(generator.parameters()).device
    with torch.no_grad():
        for _ in range(steps):
            window = np.concatenate(
                [f.astype(np.float32) / 127.5 - 1.0 for f in frames[-history:]], axis=2
            )  # (H, W, 3T)
            x = torch.from_numpy(window).permute(2, 0, 1)[None].to(device)  # (1, 3T, H, W)
            y = generator(x)[-1][0].permute(1, 2, 0).cpu().numpy()  # (H, W, 3) in [-1, 1]
            frames.append(((y + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8))
    return frames[-1]


def time_once(run: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def bench_preset(name: str, device: torch.device, repeats: int, thread_options: list[int]) -> None:
    steps = STEPS[name]
    torch.manual_seed(0)
    generator = Generator(preset(name)).eval().to(device)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(4)]
    history = torch.from_numpy(np.concatenate(frames, axis=2)).permute(2, 0, 1)[None]
    history = (history.float() / 127.5 - 1.0).to(device)  # (1, 12, H, W), made once

    configs: dict[str, tuple[Callable[[], object], int | None]] = {}
    cpu = device.type == "cpu"
    default_threads = torch.get_num_threads()
    for threads in thread_options if cpu else [None]:
        label = f", {threads} thread{'s' * (threads != 1)}" if cpu else ""
        configs[f"naive fp32{label}"] = (lambda: naive_recursion(generator, frames, steps), threads)
        for precision in ("fp32", "auto"):
            predictor = Predictor(generator, device, precision)
            dtype = "bf16" if predictor.dtype == torch.bfloat16 else "fp32"
            key = f"ours {dtype} channels_last{label}"

            def run(predictor: Predictor = predictor) -> object:
                return predictor(history, steps)

            configs[key] = (run, threads)

    times: dict[str, list[float]] = {key: [] for key in configs}
    for run, threads in configs.values():  # warm-up (oneDNN kernels, allocator)
        torch.set_num_threads(threads or default_threads)
        run()
    for _ in range(repeats):
        for key, (run, threads) in configs.items():
            torch.set_num_threads(threads or default_threads)
            times[key].append(time_once(run, device) / steps)
    torch.set_num_threads(default_threads)

    print(f"\n{name} preset, {HEIGHT}x{WIDTH}, batch 1, {steps} recursive steps, on {device}")
    print(f"{'configuration':42s} {'best fps':>9s} {'median fps':>11s}")
    best = {key: 1.0 / min(values) for key, values in times.items()}
    for key, values in times.items():
        print(f"{key:42s} {best[key]:9.2f} {1.0 / statistics.median(values):11.2f}")
    naive = max(v for k, v in best.items() if k.startswith("naive"))
    ours_key = max((k for k in best if k.startswith("ours")), key=best.get)
    print(
        f"fastest: {ours_key}: {best[ours_key]:.2f} frames/s; best naive: {naive:.2f} "
        f"frames/s; ratio {best[ours_key] / naive:.2f}x"
    )
    if name == "small" and cpu:
        verdict = "met" if best[ours_key] >= 5.0 else "NOT met"
        print(f"target small >= 5 frames/s on this CPU: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["small", "paper"], choices=list(STEPS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=None, help="CPU thread counts (default: 1, all)"
    )
    args = parser.parse_args()
    all_threads = torch.get_num_threads()
    thread_options = args.threads or sorted({1, all_threads})
    print(f"torch {torch.__version__}, {all_threads} CPU threads available")
    print("the machine may be shared with other jobs: figures are noisy; compare within a run")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        for name in args.presets:
            bench_preset(name, device, args.repeats, thread_options)


if __name__ == "__main__":
    main()
