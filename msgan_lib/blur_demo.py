"""The controlled blur experiment of chapter 03: why L2 blurs and what the adversarial term does.

The paper's argument (Mathieu, Couprie & LeCun 2016, section 2.2 and figure 1): when the
future is uncertain, the frame that minimises the expected L2 error is the *average* of the
possible futures, a blurry superposition; the expected L1 error is minimised by their
per-pixel median; an adversarial term rewards frames that look like one real future, so a
model trained with it commits to one of them.

To see that on a CPU in seconds, the real game is replaced by a toy world with exactly two
futures. A yellow sprite moves right along a corridor of a random blue maze, one cell per
frame, and reaches a junction: in the next frame it either continues right or turns down,
with equal probability, whatever the history shows. Nothing in the input can tell the two
apart, so any deterministic predictor must choose what to draw for the uncertain cells.

The predictors are the library's own multi-scale :class:`~msgan_lib.model.Generator` and
conditional :class:`~msgan_lib.model.Discriminator` with the ``tiny`` preset, built for the
toy's frame size, and the losses of :mod:`msgan_lib.losses`. The adversarial model starts
from the L2 model (our choice, as for the shipped Pac-Man models; the paper's "fine-tuned"
model is fine-tuned on larger patches instead). Its **control** starts from the same L2
model and trains for the same steps, with the same optimiser, seed and generator
minibatches, on L2 + GDL without the discriminator: the two differ only in the adversarial
term, so a difference between them is the adversarial term's doing.

Colours stay inside (-1, 1) (in the models' range) so that the generator's ``tanh`` never has
to saturate to draw them: with a background of exactly -1 the pre-activations run off to
-infinity and the tiny model stops learning.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from msgan_lib.config import LossConfig, ModelConfig, preset
from msgan_lib.fileio import MsganError, atomic_path
from msgan_lib.losses import d_adversarial_loss, generator_loss, scale_targets
from msgan_lib.metrics import moving_mask, psnr, sharp_diff, to_unit
from msgan_lib.model import Discriminator, Generator

# Colours in the models' range [-1, 1] (RGB), all strictly inside it (see the module docstring).
FLOOR = (-0.8, -0.8, -0.4)  # dark blue corridor floor
WALL = (-0.6, -0.6, 0.6)  # blue maze walls
SPRITE = (0.8, 0.8, -0.8)  # yellow sprite

FUTURE_NAMES = ("continue right", "turn down")

# The objectives of the chapter (weights as in the paper where they apply).
OBJECTIVES: dict[str, LossConfig] = {
    "L2": LossConfig(p=2, lambda_gdl=0.0),
    "L1": LossConfig(p=1, lambda_gdl=0.0),
    "L1+GDL": LossConfig(p=1, lambda_gdl=1.0),
    "L2+GDL": LossConfig(p=2, lambda_gdl=1.0),
    "L2+GDL+adv": LossConfig(p=2, lambda_gdl=1.0, lambda_adv=0.05),
}
FROM_SCRATCH = ("L2", "L1", "L1+GDL")  # trained from random weights
CONTROL = "L2+GDL"  # fine-tuned from L2 like the adversarial model, without a discriminator
ADVERSARIAL = "L2+GDL+adv"  # fine-tuned from L2 with the conditional discriminator
FINE_TUNED = (CONTROL, ADVERSARIAL)


@dataclass(frozen=True)
class ToySchedule:
    """How the chapter's toy predictors are trained (all with Adam; choices of ours).

    The ``FROM_SCRATCH`` models train ``steps`` steps at ``lr``. The ``FINE_TUNED`` ones
    (control and adversarial) start from the L2 model and train ``finetune_steps`` more at
    ``finetune_lr`` with ``finetune_betas`` (the usual GAN betas; the discriminator uses the
    same rate), so that the control differs from the adversarial model only in its loss.
    """

    steps: int = 300
    finetune_steps: int = 400
    batch_size: int = 16
    lr: float = 1e-3
    finetune_lr: float = 3e-4
    finetune_betas: tuple[float, float] = (0.5, 0.999)

    def __post_init__(self) -> None:
        """Refuse schedules that cannot train (one line each)."""
        if self.steps < 0 or self.finetune_steps < 0:
            raise MsganError(
                f"toy schedule: steps = {self.steps} and finetune_steps = "
                f"{self.finetune_steps} must be 0 or more"
            )
        if self.batch_size < 1:
            raise MsganError(f"toy schedule: batch_size = {self.batch_size} must be at least 1")
        if not (self.lr > 0 and self.finetune_lr > 0):
            raise MsganError(
                f"toy schedule: lr = {self.lr} and finetune_lr = {self.finetune_lr} must be > 0"
            )


@dataclass(frozen=True)
class JunctionWorld:
    """Sizes of the toy world: a square maze of ``size // cell`` cells on each side.

    The sprite is one cell and moves one cell per frame, so the two futures differ in two
    cells. ``size`` must be a multiple of ``cell`` and of 8 (the generator's 4-scale pyramid).
    """

    size: int = 24  # pixels per side: 8 x 8 cells of 3 px
    cell: int = 3  # pixels per maze cell (= sprite size = distance moved per frame)
    history: int = 4  # paper: 4 input frames
    wall_probability: float = 0.4  # share of cells (off the sprite's path) that are walls

    def __post_init__(self) -> None:
        """Refuse sizes the maze or the pyramid cannot use."""
        if self.cell < 1 or self.size % self.cell or self.size % 8:
            raise MsganError(
                f"junction world: size {self.size} must be a multiple of cell {self.cell} "
                "and of 8 (the generator's four scales)"
            )
        if self.size // self.cell < self.history + 1:
            raise MsganError(
                f"junction world: {self.size // self.cell} cells per row cannot hold a "
                f"history of {self.history} moves plus the next one"
            )
        if not 0.0 <= self.wall_probability < 1.0:
            raise MsganError(
                f"junction world: wall_probability = {self.wall_probability} must be in [0, 1)"
            )

    @property
    def cells(self) -> int:
        """Maze cells per side."""
        return self.size // self.cell


@dataclass(frozen=True)
class JunctionBatch:
    """A batch of toy clips with both possible futures of each.

    ``history``: ``(B, 3*T, H, W)`` in [-1, 1], oldest frame first (the generator's input).
    ``futures``: ``(B, 2, 3, H, W)``: index 0 continues right, index 1 turns down.
    ``choice``: ``(B,)`` which future happened (each with probability 1/2).
    """

    history: torch.Tensor
    futures: torch.Tensor
    choice: torch.Tensor

    @property
    def target(self) -> torch.Tensor:
        """The future that happened, ``(B, 3, H, W)``: what the predictor is trained on."""
        return self.futures[torch.arange(len(self.choice)), self.choice]


def junction_batch(n: int, world: JunctionWorld, generator: torch.Generator) -> JunctionBatch:
    """``n`` random clips: a random maze, a corridor, a sprite reaching a junction.

    The sprite occupies cells ``(r, x0) ... (r, x0 + T - 1)`` of the history; those cells,
    the next one to the right and the one below the last position are kept free of walls,
    so both futures are possible. Reproducible from ``generator``.
    """
    if n < 1:
        raise MsganError(f"junction_batch: n = {n} must be at least 1")
    cells, T = world.cells, world.history
    rows = torch.randint(0, cells - 1, (n,), generator=generator)  # room to turn down
    starts = torch.randint(0, cells - T, (n,), generator=generator)  # room to continue
    walls = torch.rand(n, cells, cells, generator=generator) < world.wall_probability
    batch = torch.arange(n)
    for t in range(T + 1):
        walls[batch, rows, starts + t] = False  # the corridor and the cell straight ahead
    walls[batch, rows + 1, starts + T - 1] = False  # the cell below the junction

    floor, wall, sprite = (torch.tensor(c)[None, :, None, None] for c in (FLOOR, WALL, SPRITE))
    maze = torch.where(walls[:, None], wall, floor)  # (B, 3, cells, cells)

    def frame(row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        """The maze with the sprite at cell (row, col), upsampled to pixels."""
        cells_rgb = maze.clone()
        cells_rgb[batch, :, row, col] = sprite[0, :, 0, 0]
        return cells_rgb.repeat_interleave(world.cell, 2).repeat_interleave(world.cell, 3)

    history = torch.cat([frame(rows, starts + t) for t in range(T)], dim=1)  # (B, 3T, H, W)
    last = starts + T - 1
    futures = torch.stack([frame(rows, last + 1), frame(rows + 1, last)], dim=1)  # (B,2,3,H,W)
    choice = torch.randint(0, 2, (n,), generator=generator)
    return JunctionBatch(history, futures, choice)


def toy_model_config(world: JunctionWorld) -> ModelConfig:
    """The library's ``tiny`` preset, with its discriminator built for the toy's frame size."""
    return dataclasses.replace(preset("tiny"), crop_size=world.size, history=world.history)


def fit_predictor(
    loss_config: LossConfig,
    world: JunctionWorld,
    steps: int,
    *,
    adversarial: bool = False,
    init: Generator | None = None,
    batch_size: int = 16,
    lr: float = 3e-3,
    lr_d: float = 3e-4,
    betas: tuple[float, float] = (0.9, 0.999),
    seed: int = 0,
) -> tuple[Generator, list[dict[str, float]]]:
    """Train a toy predictor for ``steps`` steps with Adam; returns it and a per-step log.

    Without ``adversarial`` each step minimises ``generator_loss(...)`` with no
    discriminator (the Lp / GDL baselines). With it, each step first updates a conditional
    discriminator on one minibatch (real futures against the generator's detached
    predictions, ``d_adversarial_loss``), then the generator on a separate minibatch with the
    full objective, as in the paper. ``init`` starts from a copy of another generator's
    weights (the adversarial model and its control start from the L2 model). The
    discriminator's minibatches come from their own random stream, so a run with and one
    without the discriminator (same ``seed``) train the generator on the same minibatches.
    The log holds the unweighted terms (``lp``, ``gdl``, ``adv``) and, when adversarial,
    ``d_loss``.
    """
    if steps < 0:
        raise MsganError(f"fit_predictor: steps = {steps} must be 0 or more")
    torch.manual_seed(seed)
    data_rng = torch.Generator().manual_seed(seed + 1)  # the generator's minibatches
    d_data_rng = torch.Generator().manual_seed(seed + 2)  # the discriminator's
    config = toy_model_config(world)
    generator = Generator(config)
    if init is not None:
        generator.load_state_dict(init.state_dict())
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    discriminator = Discriminator(config) if adversarial else None
    optimizer_d = (
        torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=betas)
        if discriminator is not None
        else None
    )
    n = config.n_scales
    log: list[dict[str, float]] = []
    for _ in range(steps):
        entry: dict[str, float] = {}
        if discriminator is not None and optimizer_d is not None:
            clips = junction_batch(batch_size, world, d_data_rng)
            with torch.no_grad():
                fake = generator(clips.history)  # detached: D's step stops at its input
            d_loss = d_adversarial_loss(
                discriminator(clips.history, scale_targets(clips.target, n)),
                discriminator(clips.history, fake),
            )
            optimizer_d.zero_grad(set_to_none=True)
            d_loss.backward()
            optimizer_d.step()
            entry["d_loss"] = d_loss.item()
        clips = junction_batch(batch_size, world, data_rng)
        preds = generator(clips.history)
        fake_logits = discriminator(clips.history, preds) if discriminator is not None else None
        loss, terms = generator_loss(
            preds, scale_targets(clips.target, n), fake_logits, loss_config
        )
        optimizer_g.zero_grad(set_to_none=True)
        loss.backward()
        optimizer_g.step()
        entry.update({name: value.item() for name, value in terms.items()})
        log.append(entry)
    generator.eval()
    return generator, log


@dataclass(frozen=True)
class FittedPredictor:
    """A trained toy generator, the settings that produced it, and its training time."""

    generator: Generator
    settings: dict[str, Any]
    seconds: float  # training time (measured when it was trained, also when loaded)
    loaded: bool  # True when read from disk instead of trained in this call


def load_or_fit(
    path: str | Path,
    loss_config: LossConfig,
    world: JunctionWorld,
    steps: int,
    *,
    init: FittedPredictor | None = None,
    **options: Any,
) -> FittedPredictor:
    """The predictor saved at ``path`` if it was trained with the same settings, else train it.

    The settings (the objective, the world, ``steps``, every option of
    :func:`fit_predictor`, and the settings of ``init``) are stored beside the weights and
    compared on load, so changed parameters retrain instead of loading a stale model.
    Weights are written atomically (temporary file + rename).
    """
    settings = {
        "loss": dataclasses.asdict(loss_config),
        "world": dataclasses.asdict(world),
        "steps": steps,
        "init": None if init is None else init.settings,
        **options,
    }
    path = Path(path)
    if path.exists():
        saved = torch.load(path, weights_only=True)
        if saved.get("settings") == settings:
            generator = Generator(toy_model_config(world))
            generator.load_state_dict(saved["generator"])
            return FittedPredictor(generator.eval(), settings, saved["seconds"], loaded=True)
    start = time.perf_counter()
    generator, _ = fit_predictor(
        loss_config, world, steps, init=None if init is None else init.generator, **options
    )
    seconds = time.perf_counter() - start
    with atomic_path(path) as tmp:
        torch.save(
            {"settings": settings, "generator": generator.state_dict(), "seconds": seconds}, tmp
        )
    return FittedPredictor(generator, settings, seconds, loaded=False)


def fit_objectives(
    run_dir: str | Path,
    world: JunctionWorld,
    schedule: ToySchedule,
    seed: int,
    names: tuple[str, ...] = (*FROM_SCRATCH, *FINE_TUNED),
    objectives: dict[str, LossConfig] | None = None,
) -> dict[str, FittedPredictor]:
    """Train (or load, see :func:`load_or_fit`) the chapter's predictors for one ``seed``.

    ``names`` picks among the keys of :data:`OBJECTIVES`; a fine-tuned one (control or
    adversarial) also fits the L2 model it starts from, which is then returned too.
    ``objectives`` replaces the loss weights of :data:`OBJECTIVES` (the chapter's
    exercises change ``lambda_gdl`` and ``lambda_adv``). Every model of a seed sees the
    same generator minibatches (the same ``seed``); weights are saved under ``run_dir`` as
    ``<name>.pt`` (``+`` written ``_``), so a re-run with the same settings loads instead of
    training. Returns the models in ``OBJECTIVES`` order.
    """
    losses = OBJECTIVES if objectives is None else objectives
    wanted = set(names) | ({"L2"} if set(names) & set(FINE_TUNED) else set())
    unknown = sorted(name for name in wanted if name not in OBJECTIVES or name not in losses)
    if unknown:
        raise MsganError(
            f"fit_objectives: no objective {unknown}: use {[n for n in OBJECTIVES if n in losses]}"
        )
    run_dir = Path(run_dir)
    fitted: dict[str, FittedPredictor] = {}
    for name in OBJECTIVES:  # "L2" comes before the models fine-tuned from it
        if name not in wanted:
            continue
        path = run_dir / f"{name.replace('+', '_')}.pt"
        if name in FINE_TUNED:
            fitted[name] = load_or_fit(
                path,
                losses[name],
                world,
                schedule.finetune_steps,
                init=fitted["L2"],
                adversarial=name == ADVERSARIAL,
                batch_size=schedule.batch_size,
                lr=schedule.finetune_lr,
                lr_d=schedule.finetune_lr,
                betas=schedule.finetune_betas,
                seed=seed,
            )
        else:
            fitted[name] = load_or_fit(
                path,
                losses[name],
                world,
                schedule.steps,
                batch_size=schedule.batch_size,
                lr=schedule.lr,
                seed=seed,
            )
    return fitted


def predict_next(generator: Generator, history: torch.Tensor) -> torch.Tensor:
    """The generator's full-size prediction ``(B, 3, H, W)`` in [-1, 1], without gradients."""
    with torch.no_grad():
        return generator(history)[-1]


def future_shares(pred: torch.Tensor, futures: torch.Tensor) -> torch.Tensor:
    """How much of each future's sprite the prediction draws: ``(B, 2)``.

    For future j, over the pixels where the two futures differ and future j shows the
    sprite, the prediction is projected on the line from the other future (0: draws the
    other future's content, the maze floor) to future j (1: draws the sprite fully):

        share_j = sum (Y_hat - Y_other)·(Y_j - Y_other) / sum |Y_j - Y_other|^2

    The L2 minimiser draws (1/2, 1/2); a model that commits draws (1, 0) or (0, 1).
    """
    shares = []
    for j in range(2):
        mine, other = futures[:, j], futures[:, 1 - j]  # (B, 3, H, W)
        region = ((mine - other).abs().sum(1, keepdim=True) > 1e-3) & (
            (mine - torch.tensor(SPRITE)[None, :, None, None]).abs().sum(1, keepdim=True) < 1e-3
        )  # (B, 1, H, W): where future j has the sprite and the other does not
        direction = (mine - other) * region
        shares.append(
            ((pred - other) * direction).sum((1, 2, 3)) / direction.square().sum((1, 2, 3))
        )
    return torch.stack(shares, dim=1)  # (B, 2)


def evaluate(pred: torch.Tensor, clips: JunctionBatch) -> dict[str, float]:
    """Scores of predictions ``(B, 3, H, W)`` in [-1, 1] against both possible futures.

    Both futures are equally likely, so PSNR and the sharpness difference (the paper's
    metrics, from :mod:`msgan_lib.metrics`, on [0, 1] images) are averaged over the two: the
    expected score against the frame that will happen. Each is computed on the full frame
    and on the junction (``_junction``): the pixels that move in either future (the
    paper scores moving pixels only; :func:`msgan_lib.metrics.moving_mask` stands in for its
    optical flow). ``psnr_nearest`` scores against the closer of the two futures (high when
    the prediction is one of them); ``share_committed`` / ``share_other`` are the larger
    and smaller of :func:`future_shares`. All are means over the batch.

    PSNR is a logarithm, so its mean over frames is not the PSNR of the mean squared error:
    ``psnr_of_mean_mse`` (and ``psnr_junction_of_mean_mse``) is ``10 log10(1 / E[MSE])``
    over the same frames and futures, the score of the expected squared error that L2
    training minimises; ``psnr`` is ``E[10 log10(1 / MSE)]``, which a prediction that is
    exactly right half of the time can raise above it.
    """
    unit = to_unit(pred)
    futures = [to_unit(clips.futures[:, j]) for j in range(2)]
    last = to_unit(clips.history[:, -3:])  # (B, 3, H, W): the last input frame
    junction = moving_mask(last, futures[0]) | moving_mask(last, futures[1])  # (B, H, W)
    scores: dict[str, torch.Tensor] = {}
    for name, metric in (("psnr", psnr), ("sharp_diff", sharp_diff)):
        scores[name] = torch.stack([metric(unit, y) for y in futures], dim=1)  # (B, 2)
        scores[f"{name}_junction"] = torch.stack(
            [metric(unit, y, junction) for y in futures], dim=1
        )
    shares = future_shares(pred.float(), clips.futures)
    of_mean_mse = {
        f"{name}_of_mean_mse": -10.0 * math.log10((10.0 ** (-scores[name] / 10.0)).mean().item())
        for name in ("psnr", "psnr_junction")
    }  # per-frame MSE recovered from each (B, 2) PSNR, then averaged before the logarithm
    return {
        **{name: values.mean().item() for name, values in scores.items()},
        **of_mean_mse,
        "psnr_nearest": scores["psnr"].max(dim=1).values.mean().item(),
        "share_committed": shares.max(dim=1).values.mean().item(),
        "share_other": shares.min(dim=1).values.mean().item(),
    }


def bimodal_risk(
    candidates: np.ndarray, modes: tuple[float, float], weight: float, p: float
) -> np.ndarray:
    """Expected Lp error of predicting each candidate value for a two-valued pixel.

        R_p(c) = w |a - c|^p + (1 - w) |b - c|^p,   y = a with probability w, else b

    For p = 2 the minimiser is the mean w a + (1 - w) b, between the modes; for p = 1 it is
    the median: the likelier mode, or (at w = 1/2) any value between the two.
    """
    if not 0.0 <= weight <= 1.0:
        raise MsganError(f"bimodal_risk: weight = {weight} must be a probability in [0, 1]")
    a, b = modes
    return weight * np.abs(a - candidates) ** p + (1.0 - weight) * np.abs(b - candidates) ** p
