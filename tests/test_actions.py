"""Actions (issue 14): recorded with the frames, replayed in the emulator, carried by the
clips and read by action-conditioned networks."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from msgan_lib.checkpoint import load_generator_info
from msgan_lib.cli import main
from msgan_lib.clips import ClipDataset, process_data
from msgan_lib.config import RecordConfig, preset
from msgan_lib.fileio import MsganError
from msgan_lib.frames import load_frames, write_video
from msgan_lib.model import Discriminator, Generator, add_action_inputs
from msgan_lib.pacman import (
    PacmanEpisode,
    episode_seed,
    read_actions,
    record_pacman,
    restore_emulator,
)

NAMES = ("NOOP", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 120-frame training and one test episode with actions, and their clips."""
    root = tmp_path_factory.mktemp("pacman")
    config = RecordConfig(frames_per_episode=120)
    record_pacman(root, train_episodes=1, test_episodes=1, seed=2, config=config, workers=1)
    process_data(root / "images" / "train", root / "clips", n_clips=64, workers=1)
    return root


def test_actions_change_only_on_stored_frame_boundaries_and_are_held() -> None:
    config = RecordConfig(frames_per_episode=150, start_jitter=7)
    episode = PacmanEpisode(episode_seed(0, "train", 3), config)
    frames = list(episode)
    assert len(episode.produced_by) == len(frames) == 150
    assert set(episode.produced_by) <= set(NAMES)
    runs = np.diff(np.flatnonzero(np.diff([NAMES.index(a) for a in episode.produced_by]) != 0))
    assert runs.min() >= 1 and np.median(runs) >= config.hold_min  # held for several frames
    prelude = sum(count for _, count in episode.prelude)
    assert config.skip_intro <= prelude < config.skip_intro + config.start_jitter


def test_actions_csv_has_one_row_per_transition_and_replays_exactly(recorded: Path) -> None:
    video = recorded / "images" / "test" / "episode_00000"
    lines = (video / "actions.csv").read_text().splitlines()
    frames = load_frames(video, channels_first=False)  # (T, H, W, 3)
    assert lines[0] == "frame,action" and lines[1].startswith("1,")
    assert len(lines) - 1 == len(frames) - 1
    actions = read_actions(video)
    assert actions is not None and len(actions) == len(frames) - 1
    for start in (1, 40, len(frames) - 10):  # 1-based frame numbers, as in the file names
        emulator = restore_emulator(video, start)
        replayed = [emulator.step(name) for name in actions[start - 1 : start + 9]]
        assert all(np.array_equal(r, frames[start + i]) for i, r in enumerate(replayed))


def test_restore_emulator_errors_name_the_video(recorded: Path, tmp_path: Path) -> None:
    video = recorded / "images" / "test" / "episode_00000"
    with pytest.raises(MsganError, match="frame 999"):
        restore_emulator(video, 999)
    imported = tmp_path / "imported"
    shutil.copytree(video, imported)
    (imported / "emulator.json").unlink()
    with pytest.raises(MsganError, match=f"{imported}.*record-pacman"):
        restore_emulator(imported, 1)
    (imported / "actions.csv").write_text("frame,action\n1,LEFT\n3,UP\n")
    with pytest.raises(MsganError, match="line 3"):
        read_actions(imported)


def test_clips_carry_the_actions_of_their_window(tmp_path: Path) -> None:
    # Frame t of each video is filled with the value 4t, so a clip's first pixel gives its
    # window; the actions cycle through three names, so each window's actions are known.
    cycle = ("LEFT", "UP", "RIGHT")  # stored as indices into the names in the ALE's order
    for v in range(2):
        video = tmp_path / "images" / "train" / f"video_{v}"
        video.mkdir(parents=True)
        write_video(
            np.arange(40, dtype=np.uint8)[:, None, None, None]
            .repeat(36, 1)
            .repeat(36, 2)
            .repeat(3, 3)
            * 4,
            video,
        )
        rows = [f"{k},{cycle[(k + v) % 3]}" for k in range(1, 40)]
        (video / "actions.csv").write_text("\n".join(["frame,action", *rows]) + "\n")
    process_data(tmp_path / "images" / "train", tmp_path / "clips", n_clips=50, workers=1)
    dataset = ClipDataset(tmp_path / "clips", with_actions=True)
    assert dataset.action_names == ("UP", "RIGHT", "LEFT")  # seen names, the ALE's order
    got = dataset.actions(range(len(dataset)))  # (N, history)
    videos = [shard["video"] for shard in dataset.manifest["shards"]]
    starts = np.cumsum([0, *(shard["count"] for shard in dataset.manifest["shards"])])
    for i in range(len(dataset)):
        t = int(dataset.clip(i)[0, 0, 0, 0]) // 4  # the window's first frame (0-based)
        v = int(videos[int(np.searchsorted(starts, i, side="right")) - 1][-1])
        expected = [dataset.action_names.index(cycle[(t + j + 1 + v) % 3]) for j in range(4)]
        assert got[i].tolist() == expected


def test_clips_without_actions_refuse_action_training(clips: Path) -> None:
    assert ClipDataset(clips).action_names == ()
    with pytest.raises(MsganError, match=r"video_0 has no actions.csv.*record-pacman"):
        ClipDataset(clips, with_actions=True)


def test_action_model_reads_actions_and_extends_an_unconditioned_one() -> None:
    base = dataclasses.replace(preset("tiny"), residual_on_last_input=True, d_design="patch")
    config = dataclasses.replace(base, action_names=NAMES)
    torch.manual_seed(0)
    plain, model = Generator(base), Generator(config)
    model.load_unconditioned(plain.state_dict())
    history = torch.rand(2, 12, 32, 32) * 2 - 1  # (B, 3T, H, W)
    actions = torch.tensor([[1, 1, 3, 3], [2, 2, 2, 4]])  # (B, T)
    pairs = zip(plain(history), model(history, actions), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)  # zero action weights: the same function
    with torch.no_grad():
        for weight in model.action_biases.parameters():
            weight.normal_()
    other = actions.clone()
    other[:, -1] = 0
    assert not torch.allclose(model(history, actions)[-1], model(history, other)[-1])
    plain_d, action_d = Discriminator(base), Discriminator(config)
    action_d.load_state_dict(add_action_inputs(plain_d.state_dict(), config))
    frames = plain(history)
    pairs = zip(plain_d(history, frames), action_d(history, frames, actions), strict=True)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in pairs)
    with pytest.raises(MsganError, match="action-conditioned.*pass the actions"):
        model(history)
    with pytest.raises(MsganError, match="not action-conditioned"):
        plain(history, actions)
    with pytest.raises(MsganError, match=r"shaped \(B, 4\)"):
        model(history, actions[:, :3])
    with pytest.raises(MsganError, match="indices in 0 .. 8"):
        model(history, actions + 8)


def test_train_action_conditional_from_an_unconditioned_run(recorded: Path, tmp_path: Path) -> None:
    common = ["train", "-d", str(recorded / "clips"), "--preset", "tiny", "--batch-size", "4"]
    common += ["--no-progress", "--threads", "1", "--steps", "3"]
    plain, out, weights = tmp_path / "plain", tmp_path / "action", tmp_path / "action.safetensors"
    assert main([*common, "--no-adversarial", "--out", str(plain)]) in (None, 0)
    action_run = [*common, "--adversarial", "--action-conditional", "--out", str(out)]
    assert main([*action_run, "-l", str(plain)]) in (None, 0)
    generator, info = load_generator_info(out)
    assert info["model_config"].action_names == NAMES and info["step"] == 3
    moved = [w.abs().max().item() for w in generator.action_biases.parameters()]
    assert min(moved) > 0  # the action weights left zero, at their own rate
    state = torch.load(out / "checkpoints" / "step_0000003.pt", weights_only=True)
    assert [g["lr"] for g in state["optimizers"]["g"]["param_groups"]] == [4e-5, 1e-3]
    assert main(["export", str(out), str(weights)]) in (None, 0)
    generator, info = load_generator_info(weights)
    assert info["model_config"].action_names == NAMES
    with pytest.raises(MsganError, match="pass the actions"):
        generator(torch.zeros(1, 12, 32, 32))


@pytest.mark.parametrize("autocast", [False, True], ids=["bf16-weights", "bf16-autocast"])
def test_action_model_runs_in_bf16_and_extends_an_unconditioned_one(autocast: bool) -> None:
    # Prediction casts the whole model to bf16 (the action weights too) and runs it without
    # autocast; training keeps float32 weights under autocast. Either way the one-hot code
    # meets the action weights in their dtype, and zero action weights still change nothing.
    base = dataclasses.replace(preset("tiny"), residual_on_last_input=True, d_design="patch")
    config = dataclasses.replace(base, action_names=NAMES)
    torch.manual_seed(0)
    plain, model = Generator(base), Generator(config)
    model.load_unconditioned(plain.state_dict())
    plain_d, action_d = Discriminator(base), Discriminator(config)
    action_d.load_state_dict(add_action_inputs(plain_d.state_dict(), config))
    history = torch.rand(2, 12, 32, 32) * 2 - 1  # (B, 3T, H, W)
    actions = torch.tensor([[1, 1, 3, 3], [2, 2, 2, 4]])  # (B, T)
    if not autocast:
        for net in (plain, model, plain_d, action_d):
            net.to(torch.bfloat16)
        history = history.to(torch.bfloat16)

    def run(net: torch.nn.Module, *inputs: Any) -> list[torch.Tensor]:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            return net(*inputs)

    frames = run(plain, history)
    assert all(torch.equal(a, b) for a, b in zip(frames, run(model, history, actions), strict=True))
    pairs = zip(run(plain_d, history, frames), run(action_d, history, frames, actions), strict=True)
    for a, b in pairs:
        torch.testing.assert_close(a, b)  # bf16 tolerances: the zero planes add nothing
    with torch.no_grad():
        for weight in model.action_biases.parameters():
            weight.normal_()
    other = actions.clone()
    other[:, -1] = 0
    assert not torch.equal(run(model, history, actions)[-1], run(model, history, other)[-1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_action_gains_start_as_the_model_they_load_and_scale_only_firing_maps(
    dtype: torch.dtype,
) -> None:
    base = dataclasses.replace(preset("tiny"), residual_on_last_input=True, action_names=NAMES)
    torch.manual_seed(0)
    plain, gained = Generator(base), Generator(dataclasses.replace(base, action_gains=True))
    assert not plain.action_gains and len(gained.action_gains) == base.n_scales
    gained.load_unconditioned(plain.state_dict())  # an action model without gains
    for net in (plain, gained):
        net.to(dtype)
    history = (torch.rand(2, 12, 32, 32) * 2 - 1).to(dtype)  # (B, 3T, H, W)
    actions = torch.tensor([[1, 1, 3, 3], [2, 2, 2, 4]])  # (B, T)
    with torch.no_grad():
        pairs = zip(plain(history, actions), gained(history, actions), strict=True)
        assert all(torch.equal(a, b) for a, b in pairs)  # zero gains: the same function
        for weight in gained.action_gains.parameters():
            weight.normal_()
        moved = gained(history, actions)[-1]
        assert moved.dtype == dtype and not torch.allclose(moved, plain(history, actions)[-1])
        # A gain multiplies: where no map fires (zero input, zero conv biases) it adds nothing.
        for net in (plain, gained):
            for layer in net.scales[0]:
                if isinstance(layer, torch.nn.Conv2d):
                    layer.bias.zero_()
        zero = torch.zeros_like(history)
        assert torch.equal(plain(zero, actions)[0], gained(zero, actions)[0])


def test_train_action_gains_from_an_action_model_without_them(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["train", "-d", str(recorded / "clips"), "--preset", "tiny", "--batch-size", "4"]
    common += ["--no-progress", "--threads", "1", "--steps", "2", "--no-adversarial"]
    action, gained = tmp_path / "action", tmp_path / "gained"
    assert main([*common, "--action-conditional", "--out", str(action)]) in (None, 0)
    assert main(
        [*common, "--action-conditional", "--action-gains", "-l", str(action), "--out", str(gained)]
    ) in (None, 0)
    generator, info = load_generator_info(gained)
    assert info["model_config"].action_gains
    assert min(w.abs().max().item() for w in generator.action_gains.parameters()) > 0
    assert main([*common, "--action-gains", "--out", str(tmp_path / "plain")]) == 1
    assert "add --action-conditional" in capsys.readouterr().err
