"""Tests of action-conditioned prediction and msgan_lib.dream: action sequences, the
predictor's actions, recorded actions in predict and evaluate, Ms. Pac-Man's position on
real frames, and ``msgan dream`` against the emulator."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from msgan_lib import checkpoint as ckpt
from msgan_lib import dream, evaluate, metrics, predict
from msgan_lib.cli import main
from msgan_lib.config import RecordConfig, preset
from msgan_lib.fileio import MsganError
from msgan_lib.frames import frames_to_model, load_video, write_video
from msgan_lib.model import Generator
from msgan_lib.pacman import GHOST_COLOURS, PacmanEmulator, read_actions, record_pacman

FRAMES = 60  # frames of the recorded test episode
# Frame 40 (0-based) of the episode recorded with seed 1: Ms. Pac-Man in a horizontal
# corridor, free to run both ways (read from the recording).
CORRIDOR_FRAME = 40


@pytest.fixture(scope="module")
def names() -> tuple[str, ...]:
    """The game's actions, as a model trained on record-pacman videos knows them."""
    return PacmanEmulator(0).action_names


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test split of one recorded Ms. Pac-Man episode (frames, actions.csv, emulator.json)."""
    root = tmp_path_factory.mktemp("pacman")
    config = RecordConfig(frames_per_episode=FRAMES)
    record_pacman(root, train_episodes=0, test_episodes=1, seed=1, config=config, workers=1)
    return root / "images" / "test"


@pytest.fixture(scope="module")
def video(recorded: Path) -> Path:
    return recorded / "episode_00000"


def _action_model(names: tuple[str, ...], seed: int = 0) -> Generator:
    """A tiny action model whose actions matter: a new model's action weights start at
    zero (the same function as an unconditioned one), so every all-zero weight is drawn."""
    torch.manual_seed(seed)
    generator = Generator(dataclasses.replace(preset("tiny"), action_names=names)).eval()
    with torch.no_grad():
        for weight in generator.parameters():
            if not weight.any():
                weight.normal_(0.0, 0.5)
    return generator


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory, names: tuple[str, ...]) -> dict[str, Path]:
    """Shipped weights of a tiny action model and of a tiny unconditioned one."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(1)
    plain = Generator(preset("tiny"))
    return {
        "action": ckpt.save_generator_weights(
            _action_model(names), folder / "tiny-action.safetensors", "adv"
        ),
        "plain": ckpt.save_generator_weights(plain, folder / "tiny-plain.safetensors", "adv"),
    }


# --- action sequences ---


def test_parse_actions_repeats_and_any_case(names: tuple[str, ...]) -> None:
    parsed = dream.parse_actions("left*3, UP,noop * 2,DownRight", names)
    assert parsed == ["LEFT"] * 3 + ["UP", "NOOP", "NOOP", "DOWNRIGHT"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("LEFT,JUMP", "cannot read 'JUMP'"), ("LEFT*0", "repeats 0 times"), ("UP*x", "'UP\\*x'")],
)
def test_parse_actions_refuses_bad_sequences(
    names: tuple[str, ...], text: str, message: str
) -> None:
    with pytest.raises(MsganError, match=message) as error:
        dream.parse_actions(text, names)
    assert "NAME*K repeats" in str(error.value) and "DOWNLEFT" in str(error.value)


# --- the predictor with actions ---


def _naive_recursion(
    generator: Generator, history: torch.Tensor, steps: int, actions: torch.Tensor
) -> torch.Tensor:
    """Reference: re-stack the last T frames and their T actions for every step."""
    count = generator.config.history
    frames = list(history.split(3, dim=1))  # T tensors (B, 3, H, W)
    with torch.no_grad():
        for step in range(steps):
            window = torch.cat(frames[-count:], dim=1)  # (B, 3T, H, W)
            frames.append(generator(window, actions[:, step : step + count])[-1])
    return torch.stack(frames[count:], dim=1)  # (B, steps, 3, H, W)


def test_predictor_plays_one_action_window_per_step(names: tuple[str, ...]) -> None:
    generator = _action_model(names)
    history = torch.rand(2, 12, 36, 44) * 2 - 1
    actions = torch.randint(len(names), (2, 3 + 4))  # (B, T-1+steps)
    predicted = predict.predict_recursive(generator, history, 4, precision="fp32", actions=actions)
    assert predicted.shape == (2, 4, 3, 36, 44)
    reference = _naive_recursion(generator, history, 4, actions)
    torch.testing.assert_close(predicted, reference, atol=1e-5, rtol=0)
    # The last step's action changes the last frame only.
    other = actions.clone()
    other[:, -1] = (other[:, -1] + 1) % len(names)
    changed = predict.Predictor(generator, precision="fp32")(history, 4, other)
    torch.testing.assert_close(changed[:, :3], predicted[:, :3])
    assert not torch.allclose(changed[:, 3], predicted[:, 3])


def test_predictor_refuses_missing_extra_and_misshapen_actions(names: tuple[str, ...]) -> None:
    history = torch.zeros(1, 12, 16, 16)
    conditioned = predict.Predictor(_action_model(names), precision="fp32")
    with pytest.raises(MsganError, match="action-conditioned .* pass the actions"):
        conditioned(history, 2)
    with pytest.raises(MsganError, match=r"\(B, T-1\+steps\) = \(1, 5\)"):
        conditioned(history, 2, torch.zeros(1, 4, dtype=torch.int64))
    with pytest.raises(MsganError, match="integer tensor"):
        conditioned(history, 2, torch.zeros(1, 5))
    with pytest.raises(MsganError, match="indices in 0 .. 8"):
        conditioned(history, 2, torch.full((1, 5), 9))
    plain = predict.Predictor(Generator(preset("tiny")), precision="fp32")
    with pytest.raises(MsganError, match="not action-conditioned"):
        plain(history, 2, torch.zeros(1, 5, dtype=torch.int64))


def test_prediction_windows_take_the_recorded_actions(
    recorded: Path, video: Path, weights: dict[str, Path], tmp_path: Path
) -> None:
    models = ckpt.load_models([weights["action"], weights["plain"]])
    prediction, files = predict.run_predict(
        [weights["action"], weights["plain"]],
        recorded,
        steps=2,
        video=video.name,
        start=7,
        out=tmp_path / "out",
    )
    expected = read_actions(video)[7 : 7 + 3 + 2]
    assert prediction.actions == expected
    assert json.loads(files["info"][0].read_text())["actions"] == expected
    # The action model's frames are the Predictor's under exactly these actions.
    history = frames_to_model(prediction.inputs).reshape(1, 12, 210, 160)
    encoded = predict.encode_actions([expected], models["tiny-action"].config, "test")
    direct = predict.Predictor(models["tiny-action"])(history, 2, encoded)
    assert np.array_equal(prediction.predictions["tiny-action"], predict.model_to_frames(direct[0]))
    # A video without actions.csv cannot feed an action model: the error names it.
    bare = tmp_path / "test" / "imported"
    bare.mkdir(parents=True)
    for frame in sorted(video.glob("frame_*.png"))[:10]:
        shutil.copy(frame, bare)
    with pytest.raises(MsganError) as error:
        predict.predict_video(models, tmp_path / "test", steps=2, video="imported", start=0)
    assert str(error.value) == (
        f"an action-conditioned model needs the actions of {bare}, which has no actions.csv; "
        "record with msgan record-pacman"
    )
    with pytest.raises(MsganError, match=f"actions of {bare}"):
        evaluate.evaluate_models(models, tmp_path / "test", steps=2)


def test_evaluate_scores_an_action_model_beside_an_unconditioned_one(
    recorded: Path, video: Path, weights: dict[str, Path], tmp_path: Path
) -> None:
    steps = 3
    models = ckpt.load_models([weights["action"], weights["plain"]])
    evaluation = evaluate.evaluate_models(
        models, recorded, steps=steps, max_windows=None, stride=FRAMES
    )
    assert evaluation.windows == 1 and evaluation.action_models == ("tiny-action",)
    paths = evaluate.write_evaluation(evaluation, tmp_path)
    rows = evaluate.read_metrics_csv(paths["csv"])
    assert {r.model for r in rows} == {"tiny-action", "tiny-plain", *metrics.BASELINES}
    # 3 metrics x 2 regions, and on Ms. Pac-Man's frames found/error for her, per step
    assert len(rows) == 4 * steps * (3 * 2 + 2)
    sprite = [r for r in rows if r.region == evaluate.SPRITE_REGION]
    assert {r.metric for r in sprite} == set(evaluate.SPRITE_METRICS)
    found = {r.model: r.mean for r in sprite if r.metric == "pacman_found" and r.step == 1}
    assert found["last_input"] == 1.0  # the copy of a true frame always shows her
    assert "tiny-action) played the recorded actions" in paths["md"].read_text()
    # The one window starts at frame 0: the action model's step-1 PSNR is its prediction
    # under the recorded actions, and would differ under other actions.
    frames = frames_to_model(load_video(video)[: 4 + 1])  # (5, 3, H, W)
    history, truth = frames[:4].reshape(1, 12, 210, 160), metrics.to_unit(frames[4:])
    config = models["tiny-action"].config
    predictor = predict.Predictor(models["tiny-action"], precision="fp32")

    def psnr_under(actions: list[str]) -> float:
        guess = predictor(history, 1, predict.encode_actions([actions], config, "test"))[:, 0]
        return metrics.psnr(metrics.to_unit(guess), truth).item()

    row = next(
        r
        for r in rows
        if (r.model, r.step, r.metric, r.region) == ("tiny-action", 1, "psnr", "full")
    )
    recorded_psnr = psnr_under(read_actions(video)[:4])
    assert row.mean == pytest.approx(recorded_psnr, abs=1e-4)
    assert psnr_under(["NOOP"] * 4) != pytest.approx(recorded_psnr, abs=1e-3)


# --- Ms. Pac-Man's position ---


def test_her_colour_is_hers_alone_in_the_maze(video: Path) -> None:
    colour = np.array(dream.PACMAN_COLOUR)
    for ghost in GHOST_COLOURS.values():
        assert np.linalg.norm(colour - ghost) > dream.COLOUR_TOLERANCE
    for frame in load_video(video):
        ys, xs = np.nonzero(dream.pacman_weights(frame))
        # Her sprite is all that has her colour in any frame: at most 12 x 10 pixels, her
        # 10 x 8 sprite at two positions up to 2 pixels apart where a stored frame merges
        # two emulator frames.
        assert len(ys) >= 30 and np.ptp(ys) < 12 and np.ptp(xs) < 10


def test_pacman_position_on_real_and_blurred_frames(video: Path) -> None:
    frames = load_video(video)
    for frame in frames:
        ys, xs = np.nonzero((frame[: dream.MAZE_ROWS] == dream.PACMAN_COLOUR).all(-1))
        position = dream.pacman_position(frame)
        assert position == pytest.approx((ys.mean(), xs.mean()), abs=0.01)
    frame = frames[CORRIDOR_FRAME]
    y, x = dream.pacman_position(frame)
    # Half of a 1-pixel shift blended in: her exact colour survives where she overlaps
    # herself, so the position moves by half a pixel.
    ghosted = ((frame.astype(np.uint16) + np.roll(frame, 1, axis=1)) // 2).astype(np.uint8)
    assert dream.pacman_position(ghosted) == pytest.approx((y, x + 0.5), abs=0.3)
    # Painted over with the corridor's colour, she is gone.
    hidden = frame.copy()
    hidden[(hidden == dream.PACMAN_COLOUR).all(-1)] = (0, 28, 136)
    assert dream.pacman_position(hidden) is None
    # Split across the side tunnels, her x stays at the edge, not in the middle.
    wrapped = np.roll(frame, -int(round(x)), axis=1)
    assert dream.position_error(dream.pacman_position(wrapped), (y, 0.0), 160) < 0.6


def test_left_and_right_move_her_left_and_right(video: Path) -> None:
    y, x = dream.pacman_position(load_video(video)[CORRIDOR_FRAME])
    left = dream.emulator_rollout(video, CORRIDOR_FRAME, ["LEFT"] * 6)
    right = dream.emulator_rollout(video, CORRIDOR_FRAME, ["RIGHT"] * 6)
    assert dream.pacman_position(left[-1])[1] < x - 3
    assert dream.pacman_position(right[-1])[1] > x + 3


# --- msgan dream ---


def test_cli_dream_with_the_emulator(
    recorded: Path,
    video: Path,
    weights: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "dreams" / "one"
    args = ["dream", "-p", str(weights["action"]), "--test-dir", str(recorded), "--out", str(out)]
    played = ["--actions", "LEFT*3,right*3", "--steps", "5", "--start", "30", "--emulator"]
    assert main([*args, *played, "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "median position error" in printed and "step 1:" in printed
    assert f"{video}, frames 30 to 33" in printed
    actions = ["LEFT"] * 3 + ["RIGHT"] * 2
    dreamed, true = load_video(out / "dream"), load_video(out / "emulator")
    assert dreamed.shape == true.shape == (5, 210, 160, 3)
    # The emulator's frames replay: the same actions from frame 33 give them again, and the
    # recorded actions give the recorded frames.
    assert np.array_equal(true, dream.emulator_rollout(video, 33, actions))
    recorded_frames = dream.emulator_rollout(video, 33, read_actions(video)[33:38])
    assert np.array_equal(recorded_frames, load_video(video)[34:39])
    with (out / "dream.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["action"] for r in rows] == actions and len(rows) == 5
    assert tuple(rows[0]) == dream.CSV_COLUMNS
    for row, frame in zip(rows, true, strict=True):
        assert (float(row["emulator_y"]), float(row["emulator_x"])) == pytest.approx(
            dream.pacman_position(frame), abs=1e-3
        )
    with Image.open(out / "dream.gif") as gif:
        assert gif.n_frames == 4 + 5 and gif.size[0] > 2 * 2 * 160  # dream | emulator, 2x
    info = json.loads((out / "dream.json").read_text())
    assert info["history_actions"] == read_actions(video)[30:33] and info["actions"] == actions
    assert sorted(p.name for p in out.parent.iterdir()) == ["one"], "temporary files left"
    # An earlier dream is replaced only on request.
    assert main([*args, *played]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--actions", "UP*2", "--overwrite"]) == 0
    assert len(load_video(out / "dream")) == 2 and not (out / "emulator").exists()


def test_cli_dream_errors_are_one_line(
    recorded: Path,
    video: Path,
    weights: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = tmp_path / "test" / "copied"  # frames and actions, but no emulator.json
    copy.mkdir(parents=True)
    write_video(load_video(video)[:8], copy)
    shutil.copy(video / "actions.csv", copy)
    cases = [
        (weights["action"], recorded, ["--actions", "LEFT*2", "--steps", "3"], "2 actions for 3"),
        (weights["action"], recorded, ["--actions", "JUMP"], "cannot read 'JUMP'"),
        (weights["plain"], recorded, ["--actions", "LEFT"], "not action-conditioned"),
        (weights["action"], recorded, ["--actions", "UP", "--start", "57"], "out of range"),
        (weights["action"], copy.parent, ["--actions", "UP", "--emulator"], "no emulator.json"),
    ]
    for index, (path, test_dir, extra, message) in enumerate(cases):
        out = tmp_path / f"out{index}"
        argv = ["dream", "-p", str(path), "--test-dir", str(test_dir), "--out", str(out), *extra]
        assert main(argv) == 1
        error = capsys.readouterr().err.strip()
        assert message in error and error.startswith("msgan dream: error:"), error
        assert len(error.splitlines()) == 1 and not out.exists()
    taken = tmp_path / "taken"
    taken.write_text("not a directory")
    argv = ["dream", "-p", str(weights["action"]), "--test-dir", str(recorded)]
    assert main([*argv, "--out", str(taken), "--actions", "UP"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(taken) in error
    assert taken.read_text() == "not a directory"


def test_dream_api_without_the_emulator(video: Path, names: tuple[str, ...]) -> None:
    result = dream.dream(_action_model(names), video, ["UP"] * 4, steps=3, start=5)
    assert result.frames.shape == (3, 210, 160, 3) and result.actions == ["UP"] * 3
    assert result.positions.shape == (3, 2) and result.emulator is None
    assert np.array_equal(result.history, load_video(video)[5:9])
    assert "Ms. Pac-Man visible in" in dream.dream_summary(result)
    rows = dream.dream_csv(result).splitlines()
    assert len(rows) == 4 and rows[1].endswith(",,,,")  # no emulator columns


# --- an action model in either precision (issue 20) ---


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_action_model_predicts_evaluates_and_dreams_in_either_precision(
    precision: str,
    recorded: Path,
    video: Path,
    weights: dict[str, Path],
    tmp_path: Path,
) -> None:
    # bf16 casts the action weights with the rest of the model (emulated on a CPU without
    # native bf16: same code, slower). Every entry point gives the Predictor's frames in
    # the precision asked for, on the window at frame 0 under the recorded actions.
    model = ckpt.load_models([weights["action"]])["tiny-action"]
    predictors = {p: predict.Predictor(model, precision=p) for p in ("fp32", precision)}
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    assert {w.dtype for w in predictors[precision].model.parameters()} == {dtype}
    steps, recorded_actions = 2, read_actions(video)
    frames = frames_to_model(load_video(video)[: 4 + steps])  # (T+S, 3, H, W)
    history, truth = frames[:4].reshape(1, 12, 210, 160), metrics.to_unit(frames[4:])
    encoded = predict.encode_actions([recorded_actions[: 3 + steps]], model.config, "test")
    raw = {p: predictor(history, steps, encoded)[0] for p, predictor in predictors.items()}
    expected = predict.model_to_frames(raw[precision])  # (S, H, W, 3)
    # bf16 stays within about a grey level of fp32 on average.
    assert np.abs(expected.astype(int) - predict.model_to_frames(raw["fp32"])).mean() < 1.0

    common = ["-p", str(weights["action"]), "--test-dir", str(recorded), "--threads", "1"]
    common += ["--precision", precision]
    out = tmp_path / "predict"
    argv = ["predict", *common, "--video", video.name, "--start", "0", "-n", str(steps)]
    assert main([*argv, "--out", str(out)]) == 0
    written = [np.asarray(Image.open(out / "tiny-action" / f"pred_{s}.png")) for s in (1, 2)]
    assert np.array_equal(np.stack(written), expected)

    evaluation = evaluate.evaluate_models(
        {"tiny-action": model}, recorded, steps=steps, stride=FRAMES, precision=precision
    )
    assert evaluation.windows == 1 and evaluation.precision == precision
    psnr = metrics.psnr(metrics.to_unit(raw[precision]), truth)  # (S,): one per step
    scored = [
        r
        for r in evaluation.rows
        if (r.model, r.metric, r.region) == ("tiny-action", "psnr", "full")
    ]
    assert [r.step for r in scored] == [1, 2]
    assert [r.mean for r in scored] == pytest.approx(psnr.tolist(), abs=1e-4)

    out = tmp_path / "dream"
    played = ",".join(recorded_actions[3 : 3 + steps])
    assert main(["dream", *common, "--actions", played, "--out", str(out)]) == 0
    assert np.array_equal(load_video(out / "dream"), expected)


# --- measuring a world model (issue 20) ---


def test_visible_starts_show_her_in_the_last_input_frame(recorded: Path, video: Path) -> None:
    frames = load_video(video)
    starts = dream.visible_starts(recorded, history=4, steps=3, count=None, stride=5)
    assert starts and all(v == video and s % 5 == 0 for v, s in starts)
    for _, start in starts:
        assert dream.pacman_position(frames[start + 3]) is not None
        assert start + 4 + 3 <= FRAMES  # room for the recorded frames after the window
    hidden = [s for s in range(0, FRAMES - 6, 5) if dream.pacman_position(frames[s + 3]) is None]
    assert len(starts) == len(range(0, FRAMES - 6, 5)) - len(hidden)
    some = dream.visible_starts(recorded, 4, 3, count=3, stride=5, seed=1)
    assert len(some) == 3 and set(some) <= set(starts) and some == sorted(some)
    with pytest.raises(MsganError, match="no window of 4 \\+ 60 frames"):
        dream.visible_starts(recorded, 4, FRAMES)


def test_recorded_dreams_follow_the_recording(
    video: Path, names: tuple[str, ...], recorded: Path
) -> None:
    models = {"action": _action_model(names), "plain": Generator(preset("tiny")).eval()}
    starts = [(video, 30), (video, 5)]
    result = dream.recorded_dreams(models, starts, steps=3, batch_size=1, keep_frames=True)
    frames = load_video(video)
    assert set(result.positions) == {"action", "plain", dream.STAYS_PUT}
    for row, (_, start) in enumerate(starts):
        truth = dream.pacman_positions(frames[start + 4 : start + 7])
        np.testing.assert_allclose(result.truth[row], truth, atol=1e-3)  # positions.csv
        still = dream.pacman_positions(frames[start + 3 : start + 4])  # (1, 2), held
        np.testing.assert_allclose(
            result.positions[dream.STAYS_PUT][row], np.repeat(still, 3, 0), atol=1e-3
        )
    # The action model's dream is dream() under the recorded actions from that start.
    single = dream.dream(models["action"], video, read_actions(video)[33:], 3, start=30)
    assert np.array_equal(result.frames["action"][0], single.frames)
    np.testing.assert_array_equal(result.positions["action"][0], single.positions)
    errors = result.errors(dream.STAYS_PUT)
    assert errors.shape == (2, 3) and np.all(np.isfinite(errors) | np.isnan(result.truth[..., 0]))
    with pytest.raises(MsganError, match="no 3 recorded frames"):
        dream.recorded_dreams(models, [(video, FRAMES - 5)], steps=3)


def test_errors_found_and_medians_count_a_lost_dream_as_far() -> None:
    nan = np.nan
    truth = np.array([[[10.0, 5.0]], [[10.0, 5.0]], [[10.0, 5.0]], [[nan, nan]]])  # (4, 1, 2)
    dreamt = np.array([[[10.0, 8.0]], [[14.0, 5.0]], [[nan, nan]], [[1.0, 1.0]]])
    result = dream.RecordedDreams(
        starts=[], steps=1, width=160, truth=truth, positions={"m": dreamt}
    )
    np.testing.assert_array_equal(result.errors("m")[:, 0], [3.0, 4.0, nan, nan])
    np.testing.assert_array_equal(result.found("m")[:, 0], [1.0, 1.0, 0.0, nan])
    assert result.found_share("m")[0] == pytest.approx(2 / 3)
    assert result.median_error("m")[0] == 4.0  # median of 3, 4 and a lost (inf)
    assert result.median_error("m", lost_counts=False)[0] == 3.5
    # Around the tunnels: x 1 and x 159 are 2 pixels apart in a 160-wide maze.
    edge = dream.position_errors(np.array([[0.0, 1.0]]), np.array([[0.0, 159.0]]), 160)
    assert edge[0] == pytest.approx(2.0)


def test_emulator_branches_replay_each_branch_from_one_restore(video: Path) -> None:
    branches = [["LEFT"] * 3, ["RIGHT"] * 3, ["UP", "NOOP"]]
    rollouts = dream.emulator_branches(video, CORRIDOR_FRAME, branches)
    for actions, frames in zip(branches, rollouts, strict=True):
        assert np.array_equal(frames, dream.emulator_rollout(video, CORRIDOR_FRAME, actions))
    assert not np.array_equal(rollouts[0][-1], rollouts[1][-1])


def test_steer_dreams_and_plays_each_direction(video: Path, names: tuple[str, ...]) -> None:
    model = _action_model(names)
    start = CORRIDOR_FRAME - 3  # the last input frame is the corridor frame
    steering = dream.steer(model, [(video, start)], steps=6)
    assert steering.directions == dream.STEERING
    assert steering.dream.shape == steering.emulator.shape == (1, 4, 6, 2)
    assert steering.dream_frames.shape == (1, 4, 210, 160, 3)
    # Each direction is dream() and the emulator under it held (checked for one: RIGHT);
    # the four directions go through the model as one batch, so within a grey level.
    single = dream.dream(model, video, ["RIGHT"] * 6, 6, start=start, emulator=True)
    np.testing.assert_allclose(steering.dream[0, 1], single.positions, atol=0.05)
    np.testing.assert_array_equal(steering.emulator[0, 1], single.emulator_positions)
    assert np.array_equal(steering.emulator_frames[0, 1], single.emulator[-1])
    gap = np.abs(steering.dream_frames[0, 1].astype(int) - single.frames[-1].astype(int))
    assert gap.max() <= 1
    # In the corridor the emulator moves her apart: RIGHT ends right of LEFT.
    apart = dream.separation(steering, ("LEFT", "RIGHT"))
    assert apart.step == 6 and apart.used.tolist() == [True] and apart.emulator[0] > 6
    with pytest.raises(MsganError, match="did not play UP"):
        dream.separation(dream.steer(model, [(video, start)], 1, ("LEFT", "RIGHT")), ("UP", "DOWN"))


def test_separation_ratio_along_the_emulators_sign() -> None:
    nan = np.nan
    # Three starts, LEFT then RIGHT, one step: the emulator separates her by +10, -8, +2 px;
    # the dreams by +5, +8 and (lost under RIGHT) nothing.
    emulator = np.array(
        [[[[0, 50.0]], [[0, 60.0]]], [[[0, 50.0]], [[0, 42.0]]], [[[0, 50.0]], [[0, 52.0]]]]
    )
    dreamt = np.array(
        [[[[0, 50.0]], [[0, 55.0]]], [[[0, 50.0]], [[0, 58.0]]], [[[0, 50.0]], [[nan, nan]]]]
    )
    steering = dream.Steering(
        starts=[],
        directions=("LEFT", "RIGHT"),
        steps=1,
        width=160,
        start_positions=np.zeros((3, 2)),
        dream=dreamt,
        emulator=emulator,
        dream_frames=np.zeros((3, 2, 1, 1, 3), np.uint8),
        emulator_frames=np.zeros((3, 2, 1, 1, 3), np.uint8),
    )
    apart = dream.separation(steering)
    assert apart.used.tolist() == [True, True, False]  # +2 px is under MIN_SEPARATION_PX
    assert apart.ratio == pytest.approx((5 - 8) / (10 + 8))
    assert apart.median_ratio == pytest.approx((0.5 - 1.0) / 2)
    assert (apart.agree, apart.lost) == (1, 0)
    lost = dream.separation(steering, min_px=1.0)  # now the lost dream counts, as 0
    assert lost.lost == 1 and lost.ratio == pytest.approx((5 - 8 + 0) / 20)
    # Around the tunnels: 155 to 3 is 8 pixels to the right.
    emulator[0, 1, 0, 1], emulator[0, 0, 0, 1] = 3.0, 155.0
    assert dream.separation(steering).emulator[0] == pytest.approx(8.0)


def test_action_effect_is_zero_for_a_model_that_ignores_actions(
    video: Path, names: tuple[str, ...]
) -> None:
    starts = [(video, s) for s in (10, 20, 30, 40)]
    torch.manual_seed(0)
    ignoring = Generator(dataclasses.replace(preset("tiny"), action_names=names)).eval()
    flat = dream.action_effect(ignoring, starts, seed=0)  # its action weights are all zero
    assert set(flat.errors) == set(dream.ACTION_VARIANTS)
    assert np.isfinite(flat.errors["recorded"]).all()
    assert flat.rise("random") == 0.0 and flat.rise("shuffled") == 0.0
    reading = dream.action_effect(_action_model(names), starts, seed=0, batch_size=3)
    assert reading.rise("random") != 0.0
    # The recorded variant is the model's one-step moving-pixel error, computed directly.
    frames = frames_to_model(load_video(video)[10:15])  # (5, 3, H, W)
    history, truth = frames[:4].reshape(1, 12, 210, 160), metrics.to_unit(frames[4:])
    config = _action_model(names).config
    guess = predict.Predictor(_action_model(names), precision="fp32")(
        history, 1, predict.encode_actions([read_actions(video)[10:14]], config, "test")
    )
    moving = metrics.moving_mask(metrics.to_unit(frames[3:4]), truth)
    expected = 10 ** (-metrics.psnr(metrics.to_unit(guess[:, 0]), truth, moving).item() / 10)
    assert reading.errors["recorded"][0] == pytest.approx(expected, rel=1e-4)


def test_targets_say_met_or_missed() -> None:
    rows = [
        evaluate.MetricRow(model, step, "psnr", "moving", value, 0.0, 4)
        for model, value in (("a", 12.0), ("c", 10.5))
        for step in range(1, 9)
    ]
    evaluation = evaluate.Evaluation(rows, "x", 4, 0, 0, 8, "fp32")
    assert dream.moving_psnr_gain(evaluation, "a", "c") == pytest.approx(1.5)
    truth = np.tile([50.0, 80.0], (4, 16, 1))  # (N, S, 2): she stands still
    near = truth + [0.0, 3.0]
    lost = near.copy()
    lost[0, 15] = np.nan  # one of four dreams lost her at step 16: 75% found
    dreams = dream.RecordedDreams([], 16, 160, truth, {"a": lost, "c": near})
    effect = dream.ActionEffect(
        [], {"recorded": np.ones(3), "shuffled": np.ones(3), "random": np.full(3, 1.2)}
    )
    steering = dream.Steering(
        [],
        ("LEFT", "RIGHT"),
        1,
        160,
        np.zeros((1, 2)),
        dream=np.array([[[[0, 50.0]], [[0, 57.0]]]]),
        emulator=np.array([[[[0, 50.0]], [[0, 60.0]]]]),
        dream_frames=np.zeros((1, 2, 1, 1, 3), np.uint8),
        emulator_frames=np.zeros((1, 2, 1, 1, 3), np.uint8),
    )
    targets = dream.world_model_targets(
        dreams,
        "a",
        "c",
        dream.separation(steering),
        effect,
        dream.moving_psnr_gain(evaluation, "a", "c"),
    )
    assert [t.met for t in targets] == [True, False, True, True, True]
    assert "3.0 px" in targets[0].measured and "75% of 4" in targets[1].measured
    assert "70%" in targets[2].measured and "+20.0%" in targets[3].measured
    table = dream.targets_markdown(targets).splitlines()
    assert table[0] == "| target | measured | |" and len(table) == 2 + 5
    assert table[3].endswith("| **missed** |") and table[2].endswith("| met |")
    parsed = list(csv.DictReader(dream.targets_csv(targets).splitlines()))
    assert [r["met"] for r in parsed] == ["met", "missed", "met", "met", "met"]


def test_player_plays_what_dream_dreams(video: Path, names: tuple[str, ...]) -> None:
    model = _action_model(names)
    actions = ["LEFT", "LEFT", "UP", "RIGHT"]
    player = dream.Player(model, video, start=20)
    made = [player.play(action) for action in actions]
    reference = dream.dream(model, video, actions, 4, start=20, emulator=True)
    for (dreamt, true), frame, emulated in zip(
        made, reference.frames, reference.emulator, strict=True
    ):
        assert np.abs(dreamt.astype(int) - frame.astype(int)).max() <= 1
        assert np.array_equal(true, emulated)
    player.restart()
    assert player.made == [] and player.actions == read_actions(video)[20:23]
    again, true = player.play("LEFT")
    assert np.array_equal(true, reference.emulator[0])
    assert np.abs(again.astype(int) - reference.frames[0].astype(int)).max() <= 1
