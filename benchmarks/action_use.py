"""Does an action model use its actions? One-step error with true and shuffled actions.

On ``--clips`` training clips spread over the set, an action-conditioned generator
predicts the next frame once with the clips' own actions and once with actions shuffled
across clips (all four, only the last, only the first three). If shuffling barely moves
the error, the model has not learnt to read its actions; weights/README.md quotes these
figures for the shipped action model.

    python benchmarks/action_use.py -p weights/pacman-small-action.safetensors \\
        -d data/pacman/clips
"""

from __future__ import annotations

import argparse

import torch

from msgan_lib.checkpoint import load_generator_info
from msgan_lib.clips import ClipDataset
from msgan_lib.dream import require_action_model
from msgan_lib.feed import load_clips
from msgan_lib.frames import PIXEL_SCALE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--path", required=True, help="an action model's weights")
    parser.add_argument("-d", "--data", required=True, help="clips with actions")
    parser.add_argument("--clips", type=int, default=768)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generator, _ = load_generator_info(args.path)
    require_action_model(generator)
    dataset = ClipDataset(args.data, with_actions=True)
    indices = torch.arange(0, len(dataset), max(1, len(dataset) // args.clips))[: args.clips]
    clips, actions = load_clips(dataset, indices)  # (B, 3(T+1), H, W) uint8, (B, T)
    frames = clips.float() / PIXEL_SCALE - 1.0
    history, target = frames[:, :-3], frames[:, -3:]  # (B, 3T, H, W), (B, 3, H, W)
    rng = torch.Generator().manual_seed(args.seed)

    def shuffled(columns: slice) -> torch.Tensor:
        out = actions.clone()
        out[:, columns] = actions[torch.randperm(len(actions), generator=rng)][:, columns]
        return out

    variants = {
        "true actions": actions,
        "all shuffled": shuffled(slice(None)),
        "last shuffled": shuffled(slice(-1, None)),
        "first 3 shuffled": shuffled(slice(None, -1)),
    }
    base = None
    with torch.no_grad():
        for name, chosen in variants.items():
            errors = [
                (
                    (generator(history[i : i + 128], chosen[i : i + 128])[-1] - target[i : i + 128])
                    ** 2
                ).mean()
                * len(history[i : i + 128])
                for i in range(0, len(history), 128)
            ]
            mse = float(sum(errors)) / len(history)
            base = base or mse
            print(f"{name:17s} one-step MSE {mse:.6f} ({100 * (mse / base - 1):+.2f}%)")


if __name__ == "__main__":
    main()
