"""Ms. Pac-Man's position in recursive predictions against the emulator (issue 14 targets).

For windows of recorded test episodes (every ``--every`` frames where she is visible in
the last input frame), each model predicts ``--steps`` frames recursively; an action model
reads the recorded actions, so the emulator's frames under the same actions are the video.
Printed per model: the median distance in pixels between her position
(:func:`msgan_lib.dream.pacman_position`) in the prediction and in the true frame, per
step, and how often the prediction lost her. Then, from the same windows, the LEFT/RIGHT
check: the action model dreams ``--steps`` frames under LEFT and under RIGHT, the emulator
plays both, and the script prints how often the sign of the predicted horizontal shift
(RIGHT minus LEFT) matches the emulator's, where the emulator's shift is over 2 pixels.

    python benchmarks/action_positions.py -p weights/pacman-small-action.safetensors \\
        weights/pacman-small-l2.safetensors --test-dir data/final-test/images/test
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from msgan_lib.checkpoint import load_models
from msgan_lib.dream import emulator_rollout, pacman_position, position_error, x_shift
from msgan_lib.frames import frames_to_model, list_videos, load_frames
from msgan_lib.pacman import read_actions
from msgan_lib.predict import Predictor, encode_actions, model_to_frames


def forecast(
    predictor: Predictor, history: torch.Tensor, steps: int, actions: list[str] | None
) -> np.ndarray:
    """``(steps, H, W, 3)`` uint8 frames predicted after ``history`` ``(1, 3T, H, W)``,
    under ``actions`` (the window's ``T-1`` and one per step) for an action model."""
    codes = None if actions is None else encode_actions([actions], predictor.config, "window")
    return model_to_frames(predictor(history, steps, codes)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--models", nargs="+", required=True)
    parser.add_argument("--test-dir", required=True)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--every", type=int, default=40, help="frames between windows")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = load_models(args.models)
    history = next(iter(models.values())).config.history
    predictors = {name: Predictor(g, precision="fp32") for name, g in models.items()}
    errors: dict[str, list[list[float]]] = {name: [] for name in models}
    shifts: list[tuple[float, float]] = []  # (emulator RIGHT-LEFT dx, dream RIGHT-LEFT dx)
    for video in list_videos(args.test_dir):
        frames = load_frames(video, channels_first=False)  # (L, H, W, 3)
        recorded = read_actions(video)
        width = frames.shape[2]
        for t in range(0, len(frames) - history - args.steps, args.every):
            if pacman_position(frames[t + history - 1]) is None:
                continue
            past = frames_to_model(frames[t : t + history]).reshape(1, -1, *frames.shape[1:3])
            truth = frames[t + history : t + history + args.steps]
            for name, predictor in predictors.items():
                action_model = bool(predictor.config.action_names)
                recorded_future = recorded[t : t + history - 1 + args.steps]
                dreamed = forecast(
                    predictor, past, args.steps, recorded_future if action_model else None
                )
                errors[name].append(
                    [
                        position_error(pacman_position(d), pacman_position(f), width)
                        for d, f in zip(dreamed, truth, strict=True)
                    ]
                )
                if not action_model:
                    continue
                ends = {}  # direction -> (the emulator's last frame, the dream's)
                for direction in ("LEFT", "RIGHT"):
                    steered = recorded[t : t + history - 1] + [direction] * args.steps
                    true_last = emulator_rollout(video, t + history - 1, [direction] * args.steps)
                    ends[direction] = (
                        pacman_position(true_last[-1]),
                        pacman_position(forecast(predictor, past, args.steps, steered)[-1]),
                    )
                if all(p is not None for pair in ends.values() for p in pair):
                    (true_right, dream_right), (true_left, dream_left) = (
                        ends["RIGHT"],
                        ends["LEFT"],
                    )
                    shifts.append(
                        (
                            x_shift(true_right, true_left, width),
                            x_shift(dream_right, dream_left, width),
                        )
                    )
    print(f"{len(next(iter(errors.values())))} windows, {args.steps} steps")
    print(
        "| model | "
        + " | ".join(f"step {s + 1}" for s in range(args.steps))
        + " | lost at last step |"
    )
    print("|---|" + "--:|" * (args.steps + 1))
    for name, rows in errors.items():
        e = np.array(rows)  # (windows, steps), NaN where lost
        medians = [
            np.nanmedian(e[:, s]) if np.isfinite(e[:, s]).any() else math.nan
            for s in range(args.steps)
        ]
        lost = np.mean(~np.isfinite(e[:, -1]))
        print(f"| {name} | " + " | ".join(f"{m:.1f}" for m in medians) + f" | {lost:.0%} |")
    if shifts:
        s = np.array(shifts)
        moved = np.abs(s[:, 0]) > 2
        agree = np.mean(np.sign(s[moved, 0]) == np.sign(s[moved, 1])) if moved.any() else math.nan
        print(
            f"LEFT vs RIGHT: {moved.sum()} of {len(s)} windows where the emulator's positions "
            f"differ by over 2 px; the dream's shift has the emulator's sign in {agree:.0%}; "
            f"median shift emulator {np.median(s[moved, 0]):+.1f} px, dream "
            f"{np.median(s[moved, 1]):+.1f} px"
        )


if __name__ == "__main__":
    main()
