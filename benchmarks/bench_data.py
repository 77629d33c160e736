"""Benchmark: the Chainer port's per-clip data step against ``msgan process-data``.

Both cut 32x32 crops of 5-frame windows from the same Ms. Pac-Man frames with the same motion
rule. The port's method (its ``process_data.py``, written out below) handles one clip at a
time: list the episodes, list one episode's frames, read the window's five full PNG frames
from disk, try random crops until one moves enough, save one compressed file per clip. Ours
decodes each video once, scores every crop at once and writes compressed shards on all
cores. The port's method is timed on a sample of clips (it runs for hours on 500,000) and
extrapolated; ours runs the full count.

    .venv/bin/python benchmarks/bench_data.py [--frames-dir data/bench] [-n 500000]

Frames are recorded into ``--frames-dir`` first if it holds none (40 episodes, seed 0).
The machine may be shared: compare both figures of one run, and expect noise.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from glob import glob
from pathlib import Path

import numpy as np
from PIL import Image

from msgan_lib.clips import process_data
from msgan_lib.config import DataConfig
from msgan_lib.pacman import record_pacman
from msgan_lib.runtime import default_workers

CONFIG = DataConfig()


def chainer_process_clip(train_dir: str, rng: np.random.Generator) -> np.ndarray:
    """One clip the port's way: a random episode, a random window, five full PNG reads,
    then random crops until the summed squared frame difference exceeds the threshold."""
    history, crop = CONFIG.history, CONFIG.crop_size
    episode = rng.choice(glob(os.path.join(train_dir, "*")))
    frame_paths = sorted(glob(os.path.join(episode, "*")))
    start = rng.integers(len(frame_paths) - history)
    window = [
        np.asarray(Image.open(path).convert("RGB")) / 127.5 - 1.0  # (H, W, 3) in [-1, 1]
        for path in frame_paths[start : start + history + 1]
    ]
    clip = np.concatenate(window, axis=2)  # (H, W, 3*(history+1))
    take_first = rng.random() < CONFIG.keep_without_check
    height, width = clip.shape[:2]
    for _ in range(CONFIG.max_tries):
        y, x = rng.integers(height - crop + 1), rng.integers(width - crop + 1)
        cropped = clip[y : y + crop, x : x + crop]
        diff = sum(
            np.sum(
                np.square(
                    cropped[..., 3 * (i + 1) : 3 * (i + 2)] - cropped[..., 3 * i : 3 * (i + 1)]
                )
            )
            for i in range(history)
        )
        if take_first or diff > CONFIG.motion_threshold:
            break
    return cropped


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished worker processes."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_chainer(train_dir: Path, n_clips: int, out_dir: Path) -> float:
    """Seconds for ``n_clips`` clips the port's way, one ``.npz`` file per clip."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for index in range(n_clips):
        clip = chainer_process_clip(str(train_dir), rng)
        np.savez_compressed(out_dir / f"{index}.npz", clip)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames-dir", default="data/bench", help="root with images/train")
    parser.add_argument("-n", type=int, default=500_000, help="clips for process-data")
    parser.add_argument("--baseline-clips", type=int, default=300, help="clips, port's way")
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()

    root = Path(args.frames_dir)
    train_dir = root / "images" / "train"
    if not train_dir.is_dir():
        print(f"recording 40 Ms. Pac-Man episodes into {train_dir} ...")
        summary = record_pacman(root, 40, 0, seed=0, workers=args.workers)
        print(f"record-pacman: {summary['frames']} frames at {summary['fps']:.0f} frames/s")
    n_frames = sum(1 for _ in train_dir.glob("*/*.png"))
    print(f"frames: {n_frames} in {len(list(train_dir.iterdir()))} videos; {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "chainer").mkdir()
        cpu = cpu_seconds()
        seconds = time_chainer(train_dir, args.baseline_clips, tmp_path / "chainer")
        chainer_cpu = (cpu_seconds() - cpu) / args.baseline_clips  # CPU seconds per clip
        chainer_rate = args.baseline_clips / seconds
        print(
            f"Chainer per-clip method: {args.baseline_clips} clips in {seconds:.1f} s = "
            f"{chainer_rate:.0f} clips/s -> 500,000 clips in {500_000 / chainer_rate / 3600:.1f} h"
        )
        start, cpu = time.perf_counter(), cpu_seconds()
        manifest = process_data(train_dir, tmp_path / "clips", args.n, seed=0, workers=args.workers)
        seconds = time.perf_counter() - start
        ours_cpu = (cpu_seconds() - cpu) / manifest["count"]
        ours_rate = manifest["count"] / seconds
        size = sum(s["bytes"] for s in manifest["shards"]) / 2**20
        print(
            f"process-data ({args.workers} workers): {manifest['count']} clips in {seconds:.1f} s "
            f"= {ours_rate:.0f} clips/s -> 500,000 clips in {500_000 / ours_rate:.0f} s "
            f"({size:.0f} MiB in {len(manifest['shards'])} shards)"
        )
    print(f"speed-up (wall clock): {ours_rate / chainer_rate:.0f}x")
    print(
        f"CPU per clip: Chainer method {chainer_cpu * 1e3:.2f} ms, ours {ours_cpu * 1e3:.3f} ms "
        f"({chainer_cpu / ours_cpu:.0f}x less); on {args.workers} idle cores, 500,000 clips "
        f"would take about {500_000 * ours_cpu / args.workers:.0f} s (a shared machine is slower)"
    )


if __name__ == "__main__":
    main()
