"""Is the action model a world model? Issue 20's targets on held-out recorded episodes.

From ``--starts`` windows of the test episodes where Ms. Pac-Man is visible in the last
input frame (``msgan_lib.dream.visible_starts``), with her position by
``dream.pacman_position`` against the emulator:

(a) under the recorded actions, the action model and its unconditioned control dream
    ``--steps`` frames; per step, the median distance to her true position (a dream that
    lost her counts as infinitely far) and the share of dreams that still show her
    (``recorded_dreams``); "stays put" is her position in the last input frame;
(b) LEFT*N against RIGHT*N (and UP*N against DOWN*N) from the same starts, N =
    ``--steer-steps``: the dreams' separation against the emulator's, over the starts where
    the emulator separates her by 6 px or more (``steer``, ``separation``);
(c) random actions (uniform, seeded) and shuffled ones instead of the recorded ones: the
    rise of the one-step squared error on moving pixels over ``--windows`` windows
    (``action_effect``);
(d) moving-pixel PSNR at steps 4-8 of the action model minus the control's
    (``msgan_lib.evaluate.evaluate_models`` on ``--eval-windows`` windows).

Then the targets as a table, target | measured | met/missed; ``--out FILE`` also writes the
report as Markdown (or, for a ``.csv`` name, the targets as CSV).

    python benchmarks/world_model.py -p weights/pacman-small-action.safetensors \\
        --control weights/pacman-small-l2.safetensors \\
        --test-dir data/final-test/images/test --out runs/world_model.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from msgan_lib import dream
from msgan_lib.checkpoint import load_models
from msgan_lib.evaluate import evaluate_models
from msgan_lib.fileio import write_text_atomic


def _px(value: float) -> str:
    return "lost" if np.isinf(value) else "n/a" if np.isnan(value) else f"{value:.1f}"


def _pixels(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.1f} px"


def _median(values: np.ndarray) -> float:
    """The median of the values that are not NaN; NaN if none is."""
    kept = values[~np.isnan(values)]
    return float(np.median(kept)) if len(kept) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--path", required=True, help="the action model's weights")
    parser.add_argument("--control", required=True, help="its unconditioned control's weights")
    parser.add_argument("--test-dir", required=True, help="recorded test episodes (with actions)")
    parser.add_argument("--starts", type=int, default=16, help="starts for (a) and (b)")
    parser.add_argument("--steps", type=int, default=16, help="dream length under (a)")
    parser.add_argument("--steer-steps", type=int, default=8, help="LEFT*N etc. under (b)")
    parser.add_argument("--windows", type=int, default=64, help="one-step windows for (c)")
    parser.add_argument("--eval-windows", type=int, default=32, help="PSNR windows for (d)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="also write the report (.md) or the targets (.csv)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started, cpu_started = time.perf_counter(), time.process_time()
    models = load_models([args.path, args.control])
    model, control = list(models)
    action_model = models[model]
    history = action_model.config.history
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    length = max(args.steps, args.steer_steps)
    starts = dream.visible_starts(args.test_dir, history, length, args.starts, seed=args.seed)
    videos = len({v for v, _ in starts})
    say(f"# {model} against {control} on {args.test_dir}")
    say()
    say(f"{len(starts)} starts in {videos} videos where Ms. Pac-Man is visible in the last input")

    dreams = dream.recorded_dreams(models, starts, args.steps)
    say()
    say("## (a) Under the recorded actions: position error by step against the emulator")
    say()
    say("Median px, a dream that lost her counting as far (median px where found; share found)")
    say()
    names = list(dreams.positions)
    say("| step | " + " | ".join(names) + " |")
    say("|--:|" + "--:|" * len(names))
    medians = {name: dreams.median_error(name) for name in names}
    seen = {name: dreams.median_error(name, lost_counts=False) for name in names}
    found = {name: dreams.found_share(name) for name in names}
    for s in range(args.steps):
        cells = [f"{_px(medians[n][s])} ({_px(seen[n][s])}; {found[n][s]:.0%})" for n in names]
        say(f"| {s + 1} | " + " | ".join(cells) + " |")

    steering = dream.steer(action_model, starts, args.steer_steps)
    say()
    say(f"## (b) Opposite directions held for {args.steer_steps} steps, against the emulator")
    say()
    separations = {pair: dream.separation(steering, pair) for pair in dream.OPPOSITES}
    for (first, second), apart in separations.items():
        used = int(apart.used.sum())
        seen = apart.used & ~np.isnan(apart.dream)
        if not used:
            say(
                f"- {second} minus {first}: the emulator never separates her by {apart.min_px:g} px"
            )
            continue
        say(
            f"- {second} minus {first}: the emulator separates her by {apart.min_px:g} px or "
            f"more at {used} of {len(starts)} starts (median "
            f"{_pixels(_median(np.abs(apart.emulator[apart.used])))}); the dreams reach "
            f"{apart.ratio:.0%} of its separation (median per start {apart.median_ratio:.0%}), "
            f"the right way at {apart.agree}, lost at {apart.lost}; where she is seen in both, "
            f"median dream separation {_pixels(_median(np.abs(apart.dream[seen])))}"
        )
    errors = steering.errors()[:, :, -1]  # (N, D) at the last step
    per_direction = ", ".join(
        f"{d} {_pixels(_median(errors[:, k]))}" for k, d in enumerate(steering.directions)
    )
    say(f"- median position error at step {args.steer_steps} where found: {per_direction}")

    windows = dream.visible_starts(args.test_dir, history, 1, args.windows, seed=args.seed)
    effect = dream.action_effect(action_model, windows, seed=args.seed)
    say()
    say(f"## (c) One-step squared error on moving pixels, {len(windows)} windows")
    say()
    for variant in dream.ACTION_VARIANTS:
        rise = "" if variant == "recorded" else f" ({effect.rise(variant):+.2%})"
        say(f"- {variant} actions: {effect.mean(variant):.6f}{rise}")

    steps = dream.TARGET_PSNR_STEPS
    evaluation = evaluate_models(
        models, args.test_dir, steps=steps[-1], max_windows=args.eval_windows, seed=args.seed
    )
    gain = dream.moving_psnr_gain(evaluation, model, control, steps)
    say()
    say(f"## (d) Moving-pixel PSNR, {evaluation.windows} windows, recorded actions")
    say()
    table = {
        (r.model, r.step): r.mean
        for r in evaluation.rows
        if (r.metric, r.region) == ("psnr", "moving")
    }
    say("| step | " + " | ".join(str(s) for s in range(1, steps[-1] + 1)) + " |")
    say("|---|" + "--:|" * steps[-1])
    for name in (model, control, "last_input"):
        row = " | ".join(f"{table[name, s]:.2f}" for s in range(1, steps[-1] + 1))
        say(f"| {name} | {row} |")
    say(f"\n{model} minus {control} at steps {steps[0]}-{steps[-1]}: {gain:+.2f} dB")

    targets = dream.world_model_targets(
        dreams, model, control, separations["LEFT", "RIGHT"], effect, gain
    )
    say()
    say("## Targets (issue 20)")
    say()
    say(dream.targets_markdown(targets).rstrip())
    say()
    cpu = time.process_time() - cpu_started
    say(f"{time.perf_counter() - started:.0f} s, {cpu:.0f} s of CPU, {args.threads} thread(s)")
    if args.out:
        out = Path(args.out)
        text = dream.targets_csv(targets) if out.suffix == ".csv" else "\n".join(lines) + "\n"
        write_text_atomic(out, text)


if __name__ == "__main__":
    main()
