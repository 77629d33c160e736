"""How many past actions shape Ms. Pac-Man's next frame: measured in the emulator.

An action-conditioned generator reads the actions of its history window (``T`` of them,
the last one making the predicted frame). If the game applied every joystick input at
once, only the last action would matter; if it remembers an input until it can be obeyed
(Ms. Pac-Man turns at the next junction of the maze), older actions matter too. This
script measures it with :func:`msgan_lib.pacman.tap_delay`: from random stored frames of
recorded episodes it plays two branches in the emulator, a *tap* (one direction for one
stored frame, then NOOP) and a *baseline* (NOOP throughout), and records the first stored
frame at which the branches differ.
A difference at frame 1 means the action acted at once; at frame k > 1, an action k - 1
frames in the past still changed the frame, so a model needs at least k actions to
predict it.

    python benchmarks/action_memory.py --test-dir data/val/images/test --points 200

prints the distribution of that delay and the share of taps a window of 1, 2, 4 and 8
actions would cover.
"""

from __future__ import annotations

import argparse

import numpy as np

from msgan_lib.fileio import MsganError
from msgan_lib.frames import list_frames, list_videos
from msgan_lib.pacman import TAP_DIRECTIONS, tap_delay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test-dir", required=True, help="videos recorded by record-pacman")
    parser.add_argument("--points", type=int, default=200, help="start frames to try")
    parser.add_argument("--horizon", type=int, default=16, help="stored frames to watch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    videos = [(str(v), len(list_frames(v))) for v in list_videos(args.test_dir)]
    if not videos:
        raise MsganError(f"no videos in {args.test_dir}")
    rng = np.random.default_rng(args.seed)
    delays: list[float] = []
    for _ in range(args.points):
        video, length = videos[rng.integers(len(videos))]
        frame = int(rng.integers(1, length - args.horizon))
        direction = TAP_DIRECTIONS[rng.integers(len(TAP_DIRECTIONS))]
        delay = tap_delay(video, frame, direction, args.horizon)
        delays.append(np.inf if delay is None else delay)
    delay_array = np.array(delays)
    seen = np.isfinite(delay_array)
    print(f"{args.points} one-frame taps from {len(videos)} videos, watched {args.horizon} frames")
    print(f"no visible effect within {args.horizon} frames: {np.mean(~seen):.1%}")
    print("| first frame that differs | share of taps with an effect |")
    print("|--:|--:|")
    for k, count in zip(*np.unique(delay_array[seen], return_counts=True), strict=True):
        print(f"| {int(k)} | {count / seen.sum():.1%} |")
    for window in (1, 2, 4, 8):
        share = np.mean(delay_array[seen] <= window)
        print(f"a window of {window} action(s) covers {share:.1%} of the taps that had an effect")


if __name__ == "__main__":
    main()
