"""Benchmark: clips per second the training feed delivers per CPU core, against what a
``paper`` training step consumes on a GPU.

The feed (:class:`msgan_lib.feed.ClipFeed`) decodes each step's two minibatches (the
discriminator's and the generator's) on a background thread while the step computes. Per
core means per second of CPU time of the decoding thread (``time.thread_time``), so the
figure does not depend on what else shares the machine. The need is one ``paper`` step
(two minibatches of ``--batch-size``, :func:`msgan_lib.step.step_flops`) at
``--gpu-tflops`` of model FLOPs per second, the stated GPU throughput (default: 40% of an
H100/H200's ~989 dense bf16 TFLOP/s).

    .venv/bin/python benchmarks/bench_feed.py [--clips data/book/clips] [--steps 200]

Without ``--clips`` (or when it does not exist), clips are cut from synthetic videos.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from gpu_check import synthetic_clips  # this folder's GPU check

from msgan_lib.clips import ClipDataset
from msgan_lib.config import preset
from msgan_lib.feed import ClipFeed, ClipSampler, load_clips
from msgan_lib.runtime import Process
from msgan_lib.step import step_flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="data/book/clips", help="clip set to read")
    parser.add_argument("--batch-size", type=int, default=64, help="clips per minibatch (64)")
    parser.add_argument("--steps", type=int, default=200, help="steps fed (200)")
    parser.add_argument("--gpu-tflops", type=float, default=0.4 * 989, help="model TFLOP/s")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(args.clips)
        if not clips.is_dir():
            clips = synthetic_clips(Path(tmp), 32, 8192)
        dataset = ClipDataset(clips)
        sampler = ClipSampler(torch.arange(len(dataset)), 0, args.batch_size, 2, Process())
        clips_fed = 2 * args.batch_size * args.steps

        started = time.thread_time()  # one core: the decoding alone, in this thread
        for step in range(args.steps):
            for indices in sampler.batches(step):
                load_clips(dataset, indices)
        per_core = clips_fed / (time.thread_time() - started)

        started = time.perf_counter()  # the feed as the trainer runs it, end to end
        with ClipFeed(dataset, sampler, 0, args.steps) as feed:
            for step in range(args.steps):
                feed.next(step)
        wall = clips_fed / (time.perf_counter() - started)

    flops = step_flops(preset("paper"), args.batch_size)
    step_seconds = flops / (args.gpu_tflops * 1e12)
    need = 2 * args.batch_size / step_seconds
    print(f"clip set: {clips} ({len(dataset)} clips), batch {args.batch_size}, {args.steps} steps")
    print(f"feed: {per_core:,.0f} clips/s per core (CPU time), {wall:,.0f} clips/s wall")
    print(
        f"paper step: {flops / 1e12:.2f} TFLOP at {args.gpu_tflops:.0f} TFLOP/s = "
        f"{step_seconds * 1e3:.1f} ms, consuming {need:,.0f} clips/s: one core feeds "
        f"{per_core / need:.1f}x that"
    )


if __name__ == "__main__":
    main()
