"""Table 1's L1 row: its learning rate, schedule and budget, scored on the validation episodes.

Run where ``scripts/table1_seed.sh 2`` ran, after these runs from its 500-step warm-up
(each ``msgan train`` line of that script's ``l1`` stage, with ``--out`` changed and):

    --lr-g 1e-4 --lr-g-final 1e-4 --steps 1000   -> runs/l1lever/lr1e-4
    --lr-g 3e-3 --lr-g-final 1e-4 --steps 1000   -> runs/l1lever/lr3e-3
    --lr-g 1e-3 --lr-g-final 1e-4 --steps 3000   -> runs/l1lever/steps3000

Writes ``l1-levers.csv`` (moving-pixel PSNR at steps 1 and 2 of 16 windows of the seed-5
validation episodes, and the copy's) and ``l1-objective.csv`` (one-step L1 and L2 errors,
full frames and moving pixels, on 24 random starts per validation episode) into ``--out``.
The test episodes (seed 11) are kept for Table 1 itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from msgan_lib.checkpoint import load_generator_info
from msgan_lib.evaluate import evaluate_models
from msgan_lib.fileio import write_text_atomic
from msgan_lib.frames import frames_to_model, list_videos, load_video
from msgan_lib.metrics import moving_mask
from msgan_lib.model import Generator

SEED2 = Path("runs/table1/seed2")
LEVERS = Path("runs/l1lever")
# name -> (loss, first rate, final rate, schedule steps, checkpoint scored)
RUNS: dict[str, tuple[str, float, float, int, Path, int]] = {
    "warm": ("l2 warm-up", 1e-3, 1e-3, 500, SEED2 / "warm", 500),
    "l1-at-200": ("l1", 1e-3, 1e-4, 1000, SEED2 / "l1", 200),
    "l1": ("l1", 1e-3, 1e-4, 1000, SEED2 / "l1", 1000),
    "l1-lr1e-4": ("l1", 1e-4, 1e-4, 1000, LEVERS / "lr1e-4", 1000),
    "l1-lr3e-3": ("l1", 3e-3, 1e-4, 1000, LEVERS / "lr3e-3", 1000),
    "l1-3000-at-1000": ("l1", 1e-3, 1e-4, 3000, LEVERS / "steps3000", 1000),
    "l1-3000-at-2000": ("l1", 1e-3, 1e-4, 3000, LEVERS / "steps3000", 2000),
    "l1-3000": ("l1", 1e-3, 1e-4, 3000, LEVERS / "steps3000", 3000),
    "l2": ("l2", 1e-3, 1e-4, 1000, SEED2 / "l2", 1000),
}
OBJECTIVE = ("l2", "l1", "l1-3000", "warm")


def load(name: str) -> Generator:
    run, step = RUNS[name][4], RUNS[name][5]
    return load_generator_info(run / "checkpoints" / f"step_{step:07d}.pt")[0]


def lever_csv(test_dir: str) -> str:
    """Moving-pixel PSNR of every run at steps 1 and 2 beside the copy's."""
    evaluation = evaluate_models({n: load(n) for n in RUNS}, test_dir, steps=2, max_windows=16)
    psnr = {
        (r.model, r.step): r.mean
        for r in evaluation.rows
        if r.metric == "psnr" and r.region == "moving"
    }
    lines = [
        "loss,lr_first,lr_final,schedule_steps,step,psnr_moving_1,psnr_moving_2,"
        "copy_psnr_moving_1,copy_psnr_moving_2"
    ]
    for name, (loss, first, final, steps, _, step) in RUNS.items():
        values = [psnr[name, 1], psnr[name, 2], psnr["last_input", 1], psnr["last_input", 2]]
        lines.append(
            f"{loss},{first:g},{final:g},{steps},{step}," + ",".join(f"{v:.2f}" for v in values)
        )
    return "\n".join(lines) + "\n"


def objective_csv(test_dir: str, starts_per_video: int = 24) -> str:
    """Mean one-step |error| and error^2 of each model and the copy, full frames and moving
    pixels (any channel changes from the last input): is the L1 row a good fit of L1?"""
    models = {name: load(name) for name in OBJECTIVE}
    rng = np.random.default_rng(0)
    sums: dict[tuple[str, str], list[float]] = {}
    for video in list_videos(test_dir):
        frames = load_video(video)
        starts = rng.choice(len(frames) - 5, starts_per_video, replace=False)
        clip = torch.stack([frames_to_model(frames[s : s + 5]) for s in starts])  # (B, 5, 3, H, W)
        history, last, truth = clip[:, :4].flatten(1, 2), clip[:, 3], clip[:, 4]
        moving = moving_mask((last + 1) / 2, (truth + 1) / 2)[:, None].expand_as(truth)
        with torch.no_grad():
            guesses = {name: g(history)[-1].clamp(-1, 1) for name, g in models.items()}
        guesses["copy"] = last
        for name, guess in guesses.items():
            error = guess - truth  # (B, 3, H, W)
            for region, mask in (("full", torch.ones_like(moving)), ("moving", moving)):
                total = sums.setdefault((name, region), [0.0, 0.0, 0.0])
                total[0] += error.abs()[mask].sum().item()
                total[1] += (error**2)[mask].sum().item()
                total[2] += mask.sum().item()
    lines = ["model,l1_full,l2_full,l1_moving,l2_moving"]
    for name in [*OBJECTIVE, "copy"]:
        full, moved = sums[name, "full"], sums[name, "moving"]
        lines.append(
            f"{name},{full[0] / full[2]:.5f},{full[1] / full[2]:.5f},"
            f"{moved[0] / moved[2]:.4f},{moved[1] / moved[2]:.4f}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val-dir", default="data/val/images/test")
    parser.add_argument("--out", type=Path, default=Path("table1"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    write_text_atomic(args.out / "l1-levers.csv", lever_csv(args.val_dir))
    write_text_atomic(args.out / "l1-objective.csv", objective_csv(args.val_dir))
    print((args.out / "l1-levers.csv").read_text(), (args.out / "l1-objective.csv").read_text())


if __name__ == "__main__":
    main()
