"""Benchmark: one adversarial training iteration (D step + G step) of the ``paper`` preset.

The Chainer port's setting: batch 8 of 32x32 clips, all four scales, both networks at the
paper's sizes. Two implementations of the same iteration (same networks, same losses, same
optimiser, same minibatches) alternate in one run:

- ``reference``: plain eager PyTorch as one would first write it, float32, no tuning. The D
  step computes the fakes with a graph and detaches them, calls D separately on real and
  fake frames, and the G step backpropagates into D's weights too (their gradients are
  discarded at the next D step).
- ``ours``: :class:`msgan_lib.step.TrainStep` with the trainer's defaults: fakes generated
  without a graph, real and fake judged in one D batch, D frozen during the G step, fused
  optimiser updates, bf16 autocast and channels_last where they pay off.

    .venv/bin/python benchmarks/bench_train.py                 # ours vs reference
    .venv/bin/python benchmarks/bench_train.py --settings      # CPU setting trials
    .venv/bin/python benchmarks/bench_train.py --agreement 60  # bf16 vs fp32 loss curves
    .venv/bin/python benchmarks/bench_train.py --unroll 1 2 4 8 --preset small --batch-size 16

``--unroll``: seconds per training step unrolled K recursive predictions deep
(:meth:`msgan_lib.step.TrainStep.run`), with and without the discriminator, against K times
the one-step time measured in the same run (the ratio should be close to 1: each unrolled
step is one more generator forward and backward, and one more D forward and backward with
``--d-judges all``).

Model FLOPs of one iteration count what the method needs (a multiply-add is 2 FLOPs, a
backward pass 2x its forward, D's backward in the G step only to its inputs: 1x):
``B * (4 G + 8 D)`` with ``G``, ``D`` the per-clip forward FLOPs of ``model_summary``.
Measured references on this machine: the Chainer port 20.1 s per iteration, a plain eager
PyTorch version 3.6-3.7 s. The machine is shared with other jobs, so figures are noisy:
compare the two columns of one run, and read the per-iteration spread.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from msgan_lib.clips import ClipDataset
from msgan_lib.config import ModelConfig, TrainConfig, preset
from msgan_lib.losses import d_adversarial_loss, generator_loss, scale_targets
from msgan_lib.model import Discriminator, Generator, model_summary
from msgan_lib.step import TrainStep

CHAINER_S_PER_ITER = 20.1  # measured here: the Chainer port, paper sizes, batch 8
PLAIN_EAGER_S_PER_ITER = (3.6, 3.7)  # measured here before this benchmark existed


class ReferenceStep:
    """The iteration written plainly in eager float32 PyTorch (see the module docstring)."""

    def __init__(self, model_config: ModelConfig, config: TrainConfig) -> None:
        torch.manual_seed(config.seed)
        self.generator = Generator(model_config)
        self.discriminator = Discriminator(model_config)
        self.opt_g = torch.optim.Adam(
            self.generator.parameters(), lr=config.lr_g, betas=config.adam_betas
        )
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=config.lr_d, betas=config.adam_betas
        )
        self.n_scales, self.loss = model_config.n_scales, config.loss

    def run(self, batches: list[torch.Tensor]) -> None:
        history, target = batches[0][:, :-3], batches[0][:, -3:]  # (B, 3T, H, W), (B, 3, H, W)
        fakes = self.generator(history)
        real = scale_targets(target, self.n_scales)
        d_loss = d_adversarial_loss(
            self.discriminator(history, real),
            self.discriminator(history, [f.detach() for f in fakes]),
        )
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()

        history, target = batches[1][:, :-3], batches[1][:, -3:]
        preds = self.generator(history)
        g_loss, _ = generator_loss(
            preds,
            scale_targets(target, self.n_scales),
            self.discriminator(history, preds),
            self.loss,
        )
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()


def iteration_flops(model_config: ModelConfig, batch_size: int) -> float:
    """Model FLOPs one iteration needs: ``B * (4 G + 8 D)`` (see the module docstring)."""
    size = model_config.crop_size
    total = {
        r["network"]: r["flops"]
        for r in model_summary(model_config, size, size)
        if r["scale"] == "total"
    }
    return batch_size * (4 * total["G"] + 8 * total["D"])


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """This machine's measured dense matmul rate (best of ``repeats``)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def random_batches(
    model_config: ModelConfig, batch_size: int, seed: int, future: int = 1
) -> list[torch.Tensor]:
    """D's and G's minibatches of clips ``(B, 3(T+future), S, S)`` in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    shape = (batch_size, 3 * (model_config.history + future), model_config.crop_size) + (
        model_config.crop_size,
    )
    return [torch.rand(shape, generator=generator) * 2 - 1 for _ in range(2)]


def alternate(
    runs: dict[Any, Callable[[], object]], warmup: int, iterations: int
) -> dict[str, list[float]]:
    """Seconds per call of each run, round-robin so load bursts hit every run alike."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(iterations):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def compare(args: argparse.Namespace) -> None:
    model_config = preset(args.preset)
    config = TrainConfig(batch_size=args.batch_size)
    batches = random_batches(model_config, args.batch_size, seed=0)
    ours = TrainStep(model_config, config, torch.device("cpu"))
    reference = ReferenceStep(model_config, config)
    flops = iteration_flops(model_config, args.batch_size)
    print(
        f"{args.preset} preset, batch {args.batch_size}, {model_config.crop_size}x"
        f"{model_config.crop_size} clips, {torch.get_num_threads()} threads; "
        f"{flops / 1e9:.0f} GFLOP of model work per iteration"
    )
    print(
        f"ours: amp (bf16 autocast) {config.amp}, channels_last {config.channels_last}, "
        f"compile {config.compile}"
    )
    fp32, bf16 = matmul_gflops(torch.float32), matmul_gflops(torch.bfloat16)
    runs = {"reference": lambda: reference.run(batches), "ours": lambda: ours.run(batches)}
    if args.compile:
        compiled = TrainStep(
            model_config, dataclasses.replace(config, compile=True), torch.device("cpu")
        )
        start = time.perf_counter()
        compiled.run(batches)
        print(f"ours + compile: first iteration {time.perf_counter() - start:.0f} s (compiling)")
        runs["ours+compile"] = lambda: compiled.run(batches)
    times = alternate(runs, args.warmup, args.iterations)
    print(f"\n{'':12} {'median s/iter':>14} {'best':>7} {'all':>30} {'GFLOP/s':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        spread = " ".join(f"{v:.2f}" for v in values)
        print(
            f"{name:12} {median:14.2f} {min(values):7.2f} {spread:>30} {flops / median / 1e9:8.0f}"
        )
    ratio = statistics.median(times["reference"]) / statistics.median(times["ours"])
    ours_median = statistics.median(times["ours"])
    print(f"\nours is {ratio:.2f}x the plain eager reference (medians)")
    print(
        f"ours vs the Chainer port's {CHAINER_S_PER_ITER} s/iter: "
        f"{CHAINER_S_PER_ITER / ours_median:.1f}x; plain eager measured earlier here: "
        f"{PLAIN_EAGER_S_PER_ITER[0]}-{PLAIN_EAGER_S_PER_ITER[1]} s/iter"
    )
    print(f"machine matmul (2048^2, best of 5): fp32 {fp32:.0f} GFLOP/s, bf16 {bf16:.0f} GFLOP/s")
    print(f"ours achieves {flops / ours_median / 1e9:.0f} GFLOP/s of model work")


def settings(args: argparse.Namespace) -> None:
    """Round-robin trials of the CPU settings the trainer can use (threads interleaved too)."""
    model_config = preset(args.preset)
    batches = random_batches(model_config, args.batch_size, seed=0)
    flops = iteration_flops(model_config, args.batch_size)
    variants: dict[str, TrainConfig] = {
        f"{'bf16' if amp else 'fp32'}, channels_last {cl}": TrainConfig(
            batch_size=args.batch_size, amp=amp, channels_last=cl
        )
        for amp, cl in itertools.product((False, True), (False, True))
    }
    if args.compile:
        variants["bf16, channels_last True, compile"] = TrainConfig(
            batch_size=args.batch_size, compile=True
        )
    steps = {name: TrainStep(model_config, c, torch.device("cpu")) for name, c in variants.items()}
    if args.compile:
        start = time.perf_counter()
        steps["bf16, channels_last True, compile"].run(batches)
        print(
            f"compile: first iteration (compilation included) {time.perf_counter() - start:.0f} s"
        )

    def timed(step: TrainStep, threads: int) -> Callable[[], object]:
        def run() -> object:
            torch.set_num_threads(threads)
            return step.run(batches)

        return run

    runs = {
        f"{threads} thread{'s' * (threads > 1)}, {name}": timed(step, threads)
        for threads in args.threads
        for name, step in steps.items()
    }
    times = alternate(runs, args.warmup, args.iterations)
    print(f"{args.preset} preset, batch {args.batch_size}: median and best s/iter, GFLOP/s")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:48} {median:6.2f} {min(values):6.2f}  {flops / median / 1e9:5.0f} "
            f"{flops / min(values) / 1e9:5.0f}"
        )


def agreement(args: argparse.Namespace) -> None:
    """Train the same model from the same start in bf16 and in fp32; compare the curves.

    Adversarial training amplifies any rounding difference, so two runs drift apart even
    in fp32. A third run, fp32 with the other memory layout (different convolution
    kernels, so different rounding), measures that drift: bf16 agrees with fp32 when its
    difference is of the same size.
    """
    model_config = preset(args.agreement_preset)
    config = TrainConfig(batch_size=args.batch_size)  # the trainer's defaults (Adam 4e-5)
    variants = {
        "bf16": dataclasses.replace(config, amp=True),
        "fp32": dataclasses.replace(config, amp=False),
        "fp32 NCHW": dataclasses.replace(config, amp=False, channels_last=False),
    }
    runs = {name: TrainStep(model_config, c, torch.device("cpu")) for name, c in variants.items()}
    curves: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
    dataset = ClipDataset(args.clips) if Path(args.clips).is_dir() else None
    for step in range(args.agreement):
        if dataset is not None:  # consecutive minibatches of real clips
            start = 2 * args.batch_size * step % (len(dataset) - 2 * args.batch_size)
            clips = torch.stack([dataset[start + i] for i in range(2 * args.batch_size)])
            batches = [clips[: args.batch_size], clips[args.batch_size :]]
        else:  # synthetic clips: a bright square moving right, so the losses can fall
            batches = random_batches(model_config, args.batch_size, seed=1000 + step)
            for batch in batches:
                batch.mul_(0.1)
                for t in range(model_config.history + 1):
                    x = 4 + 2 * t + step % 8
                    batch[:, 3 * t : 3 * t + 3, 12:20, x : x + 8] = 1.0
        for name, run in runs.items():
            curves[name].append({k: v.item() for k, v in run.run(batches).items()})
    keys = ("lp", "gdl", "adv", "d_loss")
    source = f"clips from {args.clips}" if dataset is not None else "synthetic clips"
    print(
        f"{args.agreement_preset} preset, batch {args.batch_size}, {args.agreement} steps, "
        f"Adam {config.lr_g:g}, same initial weights and minibatches of {source}"
    )
    print(f"{'step':>5} " + " ".join(f"{k + ' bf16':>11} {k + ' fp32':>11}" for k in keys))
    every = max(1, args.agreement // 12)
    for step in [*range(0, args.agreement, every), args.agreement - 1]:
        cells = " ".join(
            f"{curves['bf16'][step][c]:11.4f} {curves['fp32'][step][c]:11.4f}" for c in keys
        )
        print(f"{step + 1:5} {cells}")
    window = max(1, args.agreement // 10)  # compare smoothed curves: 10% moving windows

    def max_relative(a: str, b: str, c: str, smooth: bool) -> float:
        x, y = (torch.tensor([row[c] for row in curves[name]]) for name in (a, b))
        if smooth:
            x, y = x.unfold(0, window, 1).mean(1), y.unfold(0, window, 1).mean(1)
        return ((x - y).abs() / y.abs()).max().item()

    print(
        f"max relative difference, per step and over {window}-step means: bf16 vs fp32, and "
        "fp32 vs fp32 NCHW (the drift rounding alone causes)"
    )
    for key in keys:
        fp32 = torch.tensor([row[key] for row in curves["fp32"]]).unfold(0, window, 1).mean(1)
        print(
            f"  {key:7} bf16 {max_relative('bf16', 'fp32', key, False):6.3f} "
            f"{max_relative('bf16', 'fp32', key, True):6.3f}   fp32 NCHW "
            f"{max_relative('fp32 NCHW', 'fp32', key, False):6.3f} "
            f"{max_relative('fp32 NCHW', 'fp32', key, True):6.3f}   "
            f"(fp32 curve: {fp32[0]:.4f} -> {fp32[-1]:.4f})"
        )


def unroll_timing(args: argparse.Namespace) -> None:
    """Seconds per step at each unroll depth, and the ratio to depth x the one-step time."""
    depths = sorted(set(args.unroll) | {1})
    model_config = dataclasses.replace(preset(args.preset), residual_on_last_input=True)
    model_config = dataclasses.replace(model_config, d_design="patch", d_sees_change=True)
    batches = random_batches(model_config, args.batch_size, seed=0, future=max(depths))
    print(
        f"{args.preset} preset, batch {args.batch_size}, {torch.get_num_threads()} thread(s); "
        f"median of {args.iterations} interleaved steps"
    )
    print("| discriminator | unroll K | s / step | ratio to K x (K = 1) |")
    print("|---|--:|--:|--:|")
    for adversarial in (False, True):
        config = TrainConfig(batch_size=args.batch_size, adversarial=adversarial)
        step = TrainStep(model_config, config, torch.device("cpu"))
        runs = {k: functools.partial(step.run, batches, k) for k in depths}
        times = alternate(runs, args.warmup, args.iterations)
        one = statistics.median(times[1])
        for k in depths:
            median = statistics.median(times[k])
            print(
                f"| {'patch' if adversarial else 'none'} | {k} | {median:.3f} | "
                f"{median / (k * one):.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()])
    parser.add_argument("--settings", action="store_true", help="trial the CPU settings")
    parser.add_argument("--compile", action="store_true", help="also time ours with compile")
    parser.add_argument("--agreement", type=int, default=0, metavar="STEPS")
    parser.add_argument(
        "--unroll", type=int, nargs="+", default=[], metavar="K", help="time unroll depths"
    )
    parser.add_argument("--agreement-preset", default="small")
    parser.add_argument(
        "--clips", default="data/book/clips", help="clips for --agreement (else synthetic)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads[0])
    if args.unroll:
        unroll_timing(args)
    elif args.agreement:
        agreement(args)
    elif args.settings:
        settings(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
