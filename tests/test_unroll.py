"""Training through the recursion: 4+K clips, the unrolled loss, D on unrolled steps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from msgan_lib import cli
from msgan_lib import train as training
from msgan_lib.clips import ClipDataset, process_data
from msgan_lib.config import DataConfig, LossConfig, TrainConfig, parse_unroll_schedule, preset
from msgan_lib.fileio import MsganError
from msgan_lib.frames import load_frames
from msgan_lib.losses import generator_loss, moving_weights, scale_targets
from msgan_lib.metrics import moving_mask, to_unit
from msgan_lib.model import Discriminator
from msgan_lib.step import TrainStep

TINY = preset("tiny")


def _step(**changes: Any) -> TrainStep:
    config = TrainConfig(batch_size=2, amp=False, lr_g=1e-3, lr_d=1e-3, **changes)
    return TrainStep(TINY, config, torch.device("cpu"))


def _clips(batch: int = 2, future: int = 3) -> torch.Tensor:
    """Random clips in [-1, 1]: ``(B, 3(4+future), 32, 32)``."""
    return torch.rand(batch, 3 * (4 + future), 32, 32, generator=torch.Generator().manual_seed(0))


def test_future_clips_hold_consecutive_frames_and_their_actions_span(
    future_clips: Path, square_videos: Path
) -> None:
    dataset = ClipDataset(future_clips)
    assert dataset.future == 3 and dataset.history == 4
    assert dataset.clip_shape == (7, 3, 32, 32)
    manifest = json.loads((future_clips / "manifest.json").read_text())
    assert manifest["future"] == 3 and manifest["motion"]["transitions_scored"] == 6
    assert dataset[0].shape == (21, 32, 32)
    # Every clip is 7 consecutive frames of one video at one crop.
    videos = [load_frames(v, True).copy() for v in sorted(square_videos.iterdir())]  # scratch
    for index in range(0, len(dataset), 7):
        clip = dataset.clip(index)  # (7, 3, 32, 32)
        assert any(
            np.array_equal(clip, frames[t : t + 7, :, y : y + 32, x : x + 32])
            for frames in videos
            for t in range(len(frames) - 6)
            for y in range(9)
            for x in range(9)
        )


def test_a_set_of_four_plus_one_clips_is_unchanged_by_the_future_field(
    clips: Path, square_videos: Path, tmp_path: Path
) -> None:
    again = process_data(square_videos, tmp_path / "c", 40, config=DataConfig(future=1), workers=1)
    original = json.loads((clips / "manifest.json").read_text())
    assert again["content_sha256"] == original["content_sha256"]
    assert ClipDataset(clips).future == 1


def test_bad_future_values_are_refused_in_one_line(square_videos: Path, tmp_path: Path) -> None:
    with pytest.raises(MsganError, match="future = 0 must be an integer >= 1"):
        DataConfig(future=0)
    with pytest.raises(MsganError, match="fewer than 11 frames.*smaller --future"):
        process_data(square_videos, tmp_path / "c", 10, config=DataConfig(future=7), workers=1)
    assert not (tmp_path / "c").exists()  # nothing half-written


@pytest.mark.parametrize(
    ("text", "pairs"),
    [("", []), ("4:0", [(4, 0)]), ("1:0, 2:2000,4:6000", [(1, 0), (2, 2000), (4, 6000)])],
)
def test_unroll_schedule_parses(text: str, pairs: list[tuple[int, int]]) -> None:
    assert parse_unroll_schedule(text) == pairs


@pytest.mark.parametrize("text", ["2:5", "1:0,2:0", "0:0", "1:0,x:3", "1-0", "1:0,2:-3"])
def test_bad_unroll_schedules_are_refused(text: str) -> None:
    with pytest.raises(MsganError, match="unroll_schedule"):
        TrainConfig(unroll_schedule=text)


def test_unroll_depth_follows_the_schedule() -> None:
    config = TrainConfig(unroll_schedule="1:0,2:10,4:30")
    assert [config.unroll_at(s) for s in (0, 9, 10, 29, 30, 10_000)] == [1, 1, 2, 2, 4, 4]
    assert config.max_unroll == 4
    assert TrainConfig(unroll=3).unroll_at(7) == 3 == TrainConfig(unroll=3).max_unroll
    with pytest.raises(MsganError, match="unroll = 0 must be an integer >= 1"):
        TrainConfig(unroll=0)
    with pytest.raises(MsganError, match="both set"):
        TrainConfig(unroll=2, unroll_schedule="1:0,2:5")


def test_unrolled_loss_is_the_mean_over_recursive_predictions() -> None:
    step = _step(adversarial=False)
    clips = _clips()
    history, futures, _ = step.split_unrolled(clips, 3)
    total, terms = step.unrolled_loss(history, futures, None)
    # By hand: predict, clamp, feed back as the newest history frame.
    window, losses = history, []
    for k in range(3):
        preds = step.generator(window)
        targets = scale_targets(futures[:, k], 4)
        losses.append(generator_loss(preds, targets, None, step.config.loss))
        window = torch.cat([window[:, 3:], preds[-1].clamp(-1, 1)], dim=1)
    torch.testing.assert_close(total, sum(loss for loss, _ in losses) / 3)
    torch.testing.assert_close(terms["lp"], sum(t["lp"] for _, t in losses) / 3)
    # Depth 1 is the paper's one-step objective.
    one, _ = step.unrolled_loss(history, futures[:, :1], None)
    torch.testing.assert_close(one, losses[0][0])


def test_moving_weight_weighs_each_unrolled_step_against_its_true_previous_frame() -> None:
    step = _step(adversarial=False, loss=LossConfig(lambda_gdl=0.0, moving_weight=10.0))
    clips = _clips().reshape(2, 7, 3, 32, 32)
    clips[:, 4:] = clips[:, 3:4].clone()  # the futures repeat the last frame ...
    clips[:, 4:, :, :8, :8] = torch.rand(2, 3, 3, 8, 8)  # ... but for a corner that changes
    history, futures, _ = step.split_unrolled(clips.flatten(1, 2), 2)
    total, _ = step.unrolled_loss(history, futures, None)
    window, expected = history, 0.0
    for k, previous in enumerate([history[:, -3:], futures[:, 0]]):
        preds = step.generator(window)
        moving = moving_mask(to_unit(previous), to_unit(futures[:, k]))  # (B, H, W)
        weights = moving_weights(moving, 4, 10.0)
        targets = scale_targets(futures[:, k], 4)
        expected += generator_loss(preds, targets, None, step.config.loss, weights)[0] / 2
        window = torch.cat([window[:, 3:], preds[-1].clamp(-1, 1)], dim=1)
    torch.testing.assert_close(total, expected)
    plain = _step(adversarial=False, loss=LossConfig(lambda_gdl=0.0))
    plain.generator.load_state_dict(step.generator.state_dict())
    assert not torch.allclose(plain.unrolled_loss(history, futures, None)[0], total)


def _gradient(step: TrainStep, clips: torch.Tensor, depth: int) -> list[torch.Tensor]:
    history, futures, _ = step.split_unrolled(clips, depth)
    step.generator.zero_grad(set_to_none=True)
    step.unrolled_loss(history, futures, None)[0].backward()
    return [p.grad.clone() for p in step.generator.parameters()]


def test_the_gradient_flows_through_the_recursion_unless_stopped() -> None:
    clips = _clips()
    full, stopped = _step(adversarial=False), _step(adversarial=False, unroll_stop_gradient=True)
    stopped.generator.load_state_dict(full.generator.state_dict())
    g_full, g_stopped = _gradient(full, clips, 2), _gradient(stopped, clips, 2)
    # The same loss value, another gradient: step 2's loss also trains step 1 through its input.
    assert not all(torch.allclose(a, b) for a, b in zip(g_full, g_stopped, strict=True))
    # Stopped: step 2 learns only to continue from the (constant) first prediction.
    history, futures, _ = stopped.split_unrolled(clips, 2)
    stopped.generator.zero_grad(set_to_none=True)
    loss = stopped.config.loss
    first = stopped.generator(history)
    second_input = torch.cat([history[:, 3:], first[-1].detach().clamp(-1, 1)], dim=1)
    second = stopped.generator(second_input)
    manual = generator_loss(first, scale_targets(futures[:, 0], 4), None, loss)[0]
    manual = manual + generator_loss(second, scale_targets(futures[:, 1], 4), None, loss)[0]
    (manual / 2).backward()
    for a, p in zip(g_stopped, stopped.generator.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)


def _record_d_inputs(step: TrainStep, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    forward = Discriminator.forward

    def spy(self: Discriminator, history: torch.Tensor, frames: Any, actions: Any = None) -> Any:
        seen.append((history.detach().clone(), [f.detach().clone() for f in frames]))
        return forward(self, history, frames, actions)

    monkeypatch.setattr(Discriminator, "forward", spy)
    return seen


@pytest.mark.parametrize(("judges", "judged"), [("all", 3), ("one", 1)])
def test_d_judges_unrolled_fakes_with_their_history_and_reals_with_the_true_one(
    monkeypatch: pytest.MonkeyPatch, judges: str, judged: int
) -> None:
    step = _step(d_judges=judges)
    clips = _clips(batch=2, future=3)
    seen = _record_d_inputs(step, monkeypatch)
    step.discriminator_step(clips, 3)
    history, frames = seen[-1]
    batch = 2
    assert history.shape[0] == 2 * batch * judged  # reals, then fakes
    true = torch.cat([clips[:, 3 * k : 3 * k + 12] for k in range(3)])  # (3B, 12, 32, 32)
    truth_next = torch.cat([clips[:, 12 + 3 * k : 15 + 3 * k] for k in range(3)])
    reals, real_frames = history[: batch * judged], frames[-1][: batch * judged]
    for window, frame in zip(reals, real_frames, strict=True):  # a true window, its true frame
        match = [i for i in range(len(true)) if torch.equal(true[i], window)]
        assert match and torch.equal(truth_next[match[0]], frame)
    fakes = history[batch * judged :]
    if judges == "all":  # step 1's fake history is the true one, later ones hold predictions
        assert torch.equal(fakes[:batch], clips[:, :12])
        assert not torch.equal(fakes[batch:], true[batch:])


def test_gradient_clipping_bounds_the_generators_update_and_logs_the_norm() -> None:
    step = _step(adversarial=False, grad_clip=1e-3)
    _, terms = step.generator_step(_clips(), 3)
    assert terms["g_grad_norm"] > 1e-3  # the norm before clipping
    norms = torch.stack([p.grad.norm() for p in step.generator.parameters()])
    norm = torch.linalg.vector_norm(norms)
    assert norm <= 1e-3 * 1.0001


def test_unroll_deeper_than_the_clips_is_refused(
    clips: Path, future_clips: Path, tmp_path: Path
) -> None:
    config = TrainConfig(steps=2, batch_size=2, unroll=4, sample_every=0)
    with pytest.raises(MsganError, match="--unroll 4 needs clips with 4 future frames.*holds 3"):
        training.train(future_clips, tmp_path / "a", TINY, config, progress=False)
    schedule = dataclasses.replace(config, unroll=1, unroll_schedule="1:0,2:1")
    with pytest.raises(MsganError, match="--unroll 2 needs clips with 2 future frames.*holds 1"):
        training.train(clips, tmp_path / "b", TINY, schedule, progress=False)
    assert not list((tmp_path / "a").glob("checkpoints/*"))


def test_cli_trains_unrolled_and_refuses_bad_unrolls(
    future_clips: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["train", "--recipe", "tiny", "-d", str(future_clips), "--out", str(out), "--steps"]
    args += ["2", "--batch-size", "2", "--log-every", "1", "--no-progress", "--sample-every", "0"]
    cli.main([*args, "--unroll-schedule", "1:0,3:1", "--grad-clip", "5", "--d-judges", "one"])
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["unroll"] for r in records] == [1, 3]
    saved = torch.load(next((out / "checkpoints").iterdir()), weights_only=True)["train_config"]
    assert saved["unroll_schedule"] == "1:0,3:1" and saved["grad_clip"] == 5.0
    capsys.readouterr()
    for bad, message in [("0", "unroll = 0 must be"), ("-2", "unroll = -2 must be")]:
        assert cli.main([*args, "--unroll", bad, "--out", str(tmp_path / "x")]) == 1
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and message in error[0]
        assert not (tmp_path / "x").exists()
