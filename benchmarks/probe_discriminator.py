"""Can a discriminator see what a frozen generator gets wrong? Train D alone and measure.

The adversarial term can only sharpen the generator if the discriminator separates real
next frames from predicted ones. This probe freezes a trained generator (e.g. the shipped
``weights/pacman-small-l2.safetensors``), trains only the discriminator of a chosen design
on its predictions with the trainer's own discriminator step, and prints D's accuracy per
scale on held-out clips (0.5 = chance), for each design asked for, in one run::

    python benchmarks/probe_discriminator.py -p weights/pacman-small-l2.safetensors \\
        -d data/pacman/clips --designs paper patch patch+change --steps 600

Designs: ``paper`` (the paper's valid convolutions and fully connected layers, at the
generator's preset widths), ``paper-wide`` (the paper's own widths), ``patch`` (ours, a
fully convolutional patch network per scale), each with ``+change`` for D also reading the
candidate minus the last input frame. ``--moving-only`` keeps only clips whose next frame
differs from the last input frame (for training and for the held-out accuracy).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from msgan_lib.checkpoint import load_generator_info
from msgan_lib.clips import ClipDataset
from msgan_lib.config import ModelConfig, TrainConfig, preset
from msgan_lib.step import TrainStep


def design_config(base: ModelConfig, design: str, patch_width: int) -> ModelConfig:
    """``base`` with the discriminator that ``design`` names (generator fields unchanged)."""
    name, _, extra = design.partition("+")
    if extra not in ("", "change") or name not in ("paper", "paper-wide", "patch"):
        raise SystemExit(f"unknown design {design!r}: paper, paper-wide or patch, +change")
    config = dataclasses.replace(base, d_sees_change=extra == "change")
    if name == "patch":
        return dataclasses.replace(config, d_design="patch", d_patch_width=patch_width)
    if name == "paper-wide":
        paper = preset("paper")
        d_fields = ("d_conv_maps", "d_kernels", "d_fc_sizes")
        return dataclasses.replace(config, **{f: getattr(paper, f) for f in d_fields})
    return config


def moving(clips: torch.Tensor) -> torch.Tensor:
    """``(N,)`` True where the next frame differs from the last input frame somewhere."""
    return (clips[:, -3:] != clips[:, -6:-3]).flatten(1).any(dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--weights", required=True, help="frozen generator weights")
    parser.add_argument("-d", "--data", required=True, help="clips directory")
    parser.add_argument("--designs", nargs="+", default=["paper", "patch", "patch+change"])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr-d", type=float, default=5e-4)
    parser.add_argument("--patch-width", type=int, default=32)
    parser.add_argument("--pool", type=int, default=30_000, help="clips drawn for training")
    parser.add_argument("--held-out", type=int, default=1024, help="clips for the accuracy")
    parser.add_argument("--moving-only", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    generator, info = load_generator_info(args.weights)
    dataset = ClipDataset(args.data)
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(args.seed))
    wanted = args.pool + args.held_out
    clips = torch.stack([dataset[int(i)] for i in order[: wanted * 2]])  # (N, 3(T+1), S, S)
    if args.moving_only:
        clips = clips[moving(clips)]
    clips = clips[:wanted]
    train_clips, held_out = clips[: -args.held_out], clips[-args.held_out :]
    print(
        f"generator {info['path']} ({info['kind']}); {len(train_clips)} training and "
        f"{len(held_out)} held-out clips{' (moving only)' if args.moving_only else ''}; "
        f"{args.steps} D steps at batch {args.batch_size}, Adam lr {args.lr_d}"
    )
    print("| design | D parameters | held-out accuracy per scale (coarsest first) | s |")
    print("|---|--:|---|--:|")
    for design in args.designs:
        model_config = design_config(info["model_config"], design, args.patch_width)
        config = TrainConfig(batch_size=args.batch_size, lr_d=args.lr_d, seed=args.seed)
        step = TrainStep(model_config, config, torch.device("cpu"))
        step.generator.load_state_dict(generator.state_dict())
        step.generator.eval()
        draw = torch.Generator().manual_seed(args.seed + 1)
        began = time.perf_counter()
        for _ in range(args.steps):
            batch = train_clips[torch.randint(len(train_clips), (args.batch_size,), generator=draw)]
            step.discriminator_step(batch)
        seconds = time.perf_counter() - began
        accuracy = [0.0] * model_config.n_scales
        for chunk in held_out.split(256):
            for k, value in enumerate(step.discriminator_accuracy(chunk)):
                accuracy[k] += value * len(chunk) / len(held_out)
        params = sum(p.numel() for p in step.discriminator.parameters())
        shown = " ".join(f"{a:.2f}" for a in accuracy)
        print(f"| {design} | {params:,} | {shown} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
