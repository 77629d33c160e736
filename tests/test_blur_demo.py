"""Tests of msgan_lib.blur_demo: the toy junction world, the commitment measure, the 1-D
risk, and the small fit loop (a few steps only)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from msgan_lib import blur_demo
from msgan_lib.blur_demo import (
    ADVERSARIAL,
    CONTROL,
    FLOOR,
    OBJECTIVES,
    SPRITE,
    JunctionWorld,
    ToySchedule,
    bimodal_risk,
    evaluate,
    fit_objectives,
    fit_predictor,
    future_shares,
    junction_batch,
    load_or_fit,
)
from msgan_lib.config import LossConfig
from msgan_lib.fileio import MsganError
from msgan_lib.metrics import MAX_DB

WORLD = JunctionWorld()


def sprite_cells(frame: torch.Tensor, cell: int) -> list[tuple[int, int]]:
    """(row, col) of the maze cells showing the sprite in a (3, H, W) frame."""
    is_sprite = (frame - torch.tensor(SPRITE)[:, None, None]).abs().sum(0) < 1e-6  # (H, W)
    rows, cols = torch.nonzero(is_sprite[::cell, ::cell], as_tuple=True)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


def test_junction_batch_shapes_range_and_reproducibility() -> None:
    batch = junction_batch(5, WORLD, torch.Generator().manual_seed(3))
    size, T = WORLD.size, WORLD.history
    assert batch.history.shape == (5, 3 * T, size, size)
    assert batch.futures.shape == (5, 2, 3, size, size)
    assert batch.target.shape == (5, 3, size, size)
    assert batch.history.abs().max() < 1 and batch.futures.abs().max() < 1  # tanh can reach
    again = junction_batch(5, WORLD, torch.Generator().manual_seed(3))
    assert torch.equal(batch.history, again.history) and torch.equal(batch.choice, again.choice)
    for i in range(5):
        assert torch.equal(batch.target[i], batch.futures[i, batch.choice[i]])


def test_the_sprite_moves_right_then_continues_or_turns_down() -> None:
    batch = junction_batch(8, WORLD, torch.Generator().manual_seed(0))
    T, cell = WORLD.history, WORLD.cell
    for i in range(8):
        path = [sprite_cells(batch.history[i, 3 * t : 3 * t + 3], cell) for t in range(T)]
        assert all(len(cells) == 1 for cells in path)
        (row, col) = path[-1][0]
        assert [cells[0] for cells in path] == [(row, col - T + 1 + t) for t in range(T)]
        assert sprite_cells(batch.futures[i, 0], cell) == [(row, col + 1)]
        assert sprite_cells(batch.futures[i, 1], cell) == [(row + 1, col)]
        # The maze is static: the futures differ from each other only in those two cells.
        differing = (batch.futures[i, 0] - batch.futures[i, 1]).abs().sum(0) > 0
        assert int(differing.sum()) == 2 * cell * cell


def test_both_exits_of_the_junction_are_free_of_walls() -> None:
    batch = junction_batch(32, JunctionWorld(wall_probability=0.9), torch.Generator())
    floor = torch.tensor(FLOOR)[:, None, None]
    last = batch.history[:, -3:]  # (B, 3, H, W)
    for i in range(32):
        for j in range(2):
            # Where future j draws the sprite, the last frame shows floor (no wall).
            (row, col) = sprite_cells(batch.futures[i, j], WORLD.cell)[0]
            c = WORLD.cell
            patch = last[i, :, row * c : (row + 1) * c, col * c : (col + 1) * c]
            assert torch.allclose(patch, floor.expand_as(patch))


def test_future_shares_are_one_zero_for_a_future_and_half_for_the_mean() -> None:
    futures = junction_batch(4, WORLD, torch.Generator().manual_seed(1)).futures
    assert torch.allclose(future_shares(futures[:, 0], futures), torch.tensor([[1.0, 0.0]] * 4))
    assert torch.allclose(future_shares(futures[:, 1], futures), torch.tensor([[0.0, 1.0]] * 4))
    mean = futures.mean(dim=1)
    assert torch.allclose(future_shares(mean, futures), torch.full((4, 2), 0.5))


def test_evaluate_scores_a_committed_prediction_above_the_average() -> None:
    clips = junction_batch(6, WORLD, torch.Generator().manual_seed(2))
    futures = clips.futures
    committed, average = evaluate(futures[:, 0], clips), evaluate(futures.mean(1), clips)
    assert committed["psnr_nearest"] == pytest.approx(MAX_DB)
    assert committed["share_committed"] == pytest.approx(1.0)
    assert committed["share_other"] == pytest.approx(0.0, abs=1e-6)
    assert average["share_committed"] == pytest.approx(0.5)
    # The average is never exactly right: a finite PSNR against either future.
    assert average["psnr_nearest"] < 40
    assert committed["sharp_diff"] > average["sharp_diff"]
    assert committed["sharp_diff_junction"] > average["sharp_diff_junction"]
    # On the junction (few pixels, all uncertain) the average scores far below full frame.
    assert average["psnr_junction"] < average["psnr"]


def test_psnr_of_mean_mse_is_the_log_of_the_mean_error() -> None:
    clips = junction_batch(6, WORLD, torch.Generator().manual_seed(2))
    futures = clips.futures
    committed, average = evaluate(futures[:, 0], clips), evaluate(futures.mean(1), clips)
    # The average errs equally on every clip and future: both orders of mean and log agree.
    assert average["psnr_of_mean_mse"] == pytest.approx(average["psnr"], abs=1e-6)
    # The committed guess is exact against one future (capped at MAX_DB) and wrong by two
    # sprite cells against the other: log of the mean is 10 log10(2 / mse_wrong).
    wrong = ((futures[:, 0] - futures[:, 1]) / 2).square().mean((1, 2, 3))  # on [0, 1]
    expected = -10 * math.log10(float(wrong.mean()) / 2)
    assert committed["psnr_of_mean_mse"] == pytest.approx(expected, abs=1e-4)
    assert committed["psnr"] > committed["psnr_of_mean_mse"] + 20


def test_toy_schedule_refuses_what_cannot_train() -> None:
    with pytest.raises(MsganError, match="finetune_steps = -1"):
        ToySchedule(finetune_steps=-1)
    with pytest.raises(MsganError, match="batch_size = 0"):
        ToySchedule(batch_size=0)
    with pytest.raises(MsganError, match="finetune_lr = 0"):
        ToySchedule(finetune_lr=0.0)


def test_control_differs_from_the_adversarial_model_only_in_the_adversarial_term(
    tmp_path: Path,
) -> None:
    """With lambda_adv = 0 the adversarial run (which still trains its discriminator on
    minibatches of its own) must leave exactly the control's generator."""
    torch.set_num_threads(1)
    schedule = ToySchedule(steps=3, finetune_steps=3, batch_size=4)
    muted = dict(OBJECTIVES)
    muted[ADVERSARIAL] = dataclasses.replace(OBJECTIVES[ADVERSARIAL], lambda_adv=0.0)
    fitted = fit_objectives(tmp_path, WORLD, schedule, 5, (CONTROL, ADVERSARIAL), muted)
    assert list(fitted) == ["L2", CONTROL, ADVERSARIAL]  # L2 is fitted as their start
    control, adversarial = fitted[CONTROL], fitted[ADVERSARIAL]
    same = ("steps", "init", "batch_size", "lr", "lr_d", "betas", "seed")
    assert {k: control.settings[k] for k in same} == {k: adversarial.settings[k] for k in same}
    assert control.settings["init"] == fitted["L2"].settings
    assert adversarial.settings["adversarial"] and not control.settings["adversarial"]
    for a, b in zip(
        control.generator.parameters(), adversarial.generator.parameters(), strict=True
    ):
        assert torch.equal(a, b)
    # With the paper's weight the adversarial term changes the generator.
    real = fit_objectives(tmp_path / "real", WORLD, schedule, 5, (ADVERSARIAL,))
    assert any(
        not torch.equal(a, b)
        for a, b in zip(
            control.generator.parameters(), real[ADVERSARIAL].generator.parameters(), strict=True
        )
    )
    # A second call loads every model instead of training it.
    again = fit_objectives(tmp_path, WORLD, schedule, 5, (CONTROL, ADVERSARIAL), muted)
    assert all(model.loaded for model in again.values())
    with pytest.raises(MsganError, match="no objective"):
        fit_objectives(tmp_path, WORLD, schedule, 5, ("L3",))


def test_bimodal_risk_minimisers_are_the_mean_and_the_median() -> None:
    candidates = np.linspace(-1, 1, 2001)
    modes = (-1.0, 1.0)
    l2 = bimodal_risk(candidates, modes, 0.7, 2)
    assert candidates[l2.argmin()] == pytest.approx(0.7 * -1 + 0.3 * 1, abs=1e-3)
    l1 = bimodal_risk(candidates, modes, 0.7, 1)
    assert candidates[l1.argmin()] == pytest.approx(-1.0)  # the likelier mode
    flat = bimodal_risk(candidates, modes, 0.5, 1)
    assert np.ptp(flat) == pytest.approx(0.0, abs=1e-12)  # every value between is a median
    with pytest.raises(MsganError, match="weight = 1.5"):
        bimodal_risk(candidates, modes, 1.5, 2)


def test_fit_predictor_lowers_the_loss_and_logs_every_term() -> None:
    torch.set_num_threads(1)
    config = LossConfig(p=2, lambda_gdl=0.0)
    generator, log = fit_predictor(config, WORLD, 25, batch_size=8, seed=0)
    assert len(log) == 25 and set(log[0]) == {"lp", "gdl"}
    assert np.mean([e["lp"] for e in log[-5:]]) < 0.5 * log[0]["lp"]
    assert not generator.training


def test_adversarial_fit_trains_a_discriminator_and_starts_from_init() -> None:
    torch.set_num_threads(1)
    base, _ = fit_predictor(LossConfig(p=2), WORLD, 0, seed=1)
    tuned, log = fit_predictor(
        blur_demo.OBJECTIVES[blur_demo.ADVERSARIAL],
        WORLD,
        2,
        adversarial=True,
        init=base,
        batch_size=4,
        lr=0.0,
        seed=2,
    )
    assert set(log[0]) == {"lp", "gdl", "adv", "d_loss"}
    # lr = 0: the generator keeps the initial weights exactly.
    for a, b in zip(base.parameters(), tuned.parameters(), strict=True):
        assert torch.equal(a, b)


def test_load_or_fit_loads_same_settings_and_retrains_changed_ones(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    path = tmp_path / "l2.pt"
    config = LossConfig(p=2, lambda_gdl=0.0)
    first = load_or_fit(path, config, WORLD, 2, batch_size=4, seed=0)
    second = load_or_fit(path, config, WORLD, 2, batch_size=4, seed=0)
    assert not first.loaded and second.loaded and path.exists()
    for a, b in zip(first.generator.parameters(), second.generator.parameters(), strict=True):
        assert torch.equal(a, b)
    changed = load_or_fit(path, config, WORLD, 3, batch_size=4, seed=0)
    assert not changed.loaded and changed.settings["steps"] == 3


def test_bad_world_sizes_are_refused() -> None:
    with pytest.raises(MsganError, match="multiple of cell 5 and of 8"):
        JunctionWorld(size=24, cell=5)
    with pytest.raises(MsganError, match="cannot hold a history"):
        JunctionWorld(size=16, cell=4)
    with pytest.raises(MsganError, match="wall_probability"):
        JunctionWorld(wall_probability=1.0)
