"""Tests of msgan_lib.predict and msgan_lib.evaluate, and the predict/evaluate CLI: recursion,
files, evaluation, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from msgan_lib import checkpoint as ckpt
from msgan_lib import evaluate, metrics, predict, runtime
from msgan_lib.cli import main
from msgan_lib.config import TrainConfig, preset
from msgan_lib.fileio import MsganError
from msgan_lib.frames import frames_to_model
from msgan_lib.model import Generator

HEIGHT, WIDTH = 36, 44  # not multiples of 8: the generator pads and crops back


def _frames(count: int, static: int = 0) -> np.ndarray:
    """A video: a striped background and a 6x6 square moving 2 px right per frame.

    The first ``static`` frames repeat the first position (nothing moves).
    """
    video = np.zeros((count, HEIGHT, WIDTH, 3), dtype=np.uint8)
    video[:, ::4] = (0, 28, 136)
    for t in range(count):
        x = 2 * max(0, t - static)
        video[t, 10:16, x : x + 6] = (200, 72, 72)
    return video


def _write_video(folder: Path, frames: np.ndarray) -> None:
    folder.mkdir(parents=True)
    for index, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(folder / f"frame{index}.png")  # natural order: 2 < 10


@pytest.fixture(scope="module")
def test_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("frames") / "test"
    _write_video(root / "moving", _frames(14))
    _write_video(root / "starts_static", _frames(13, static=5))
    _write_video(root / "short", _frames(5))
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A shipped-weights file and a run directory holding one training checkpoint."""
    folder = tmp_path_factory.mktemp("weights")
    config = preset("tiny")
    torch.manual_seed(0)
    shipped = ckpt.save_generator_weights(
        Generator(config), folder / "pacman-tiny-adv.safetensors", "adv"
    )
    state = {
        "generator": Generator(config).state_dict(),
        "discriminator": {},
        "step": 10,
        "model_config": config.to_dict(),
        "train_config": TrainConfig(adversarial=False).to_dict(),
    }
    run = folder / "l2run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(state, run / "checkpoints" / "step_0000010.pt")
    return {"shipped": shipped, "run": run}


def _naive_recursion(generator: Generator, history: torch.Tensor, steps: int) -> torch.Tensor:
    """Reference: re-stack the last T frames for every step, fp32, no rolling buffer."""
    frames = list(history.split(3, dim=1))  # T tensors (B, 3, H, W)
    out = []
    with torch.no_grad():
        for _ in range(steps):
            window = torch.cat(frames[-generator.config.history :], dim=1)  # (B, 3T, H, W)
            frames.append(generator(window)[-1])
            out.append(frames[-1])
    return torch.stack(out, dim=1)  # (B, steps, 3, H, W)


def test_recursion_matches_naive_restacking_and_leaves_generator_alone() -> None:
    torch.manual_seed(1)
    generator = Generator(preset("tiny")).eval()
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    history = torch.rand(2, 12, HEIGHT, WIDTH) * 2 - 1
    predicted = predict.predict_recursive(generator, history, 3, precision="fp32")
    assert predicted.shape == (2, 3, 3, HEIGHT, WIDTH) and predicted.dtype == torch.float32
    torch.testing.assert_close(
        predicted, _naive_recursion(generator, history, 3), atol=1e-5, rtol=0
    )
    # Step 2 really reads step 1's prediction: it differs from predicting on the true history.
    assert not torch.allclose(predicted[:, 1], predicted[:, 0])
    after = generator.state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].dtype == torch.float32 for k in before)


@pytest.mark.skipif(
    not runtime.bf16_supported(torch.device("cpu")), reason="CPU without native bf16"
)
def test_bf16_predictions_stay_close_to_fp32() -> None:
    torch.manual_seed(2)
    generator = Generator(preset("tiny")).eval()
    history = torch.rand(1, 12, HEIGHT, WIDTH) * 2 - 1
    fp32 = predict.predict_recursive(generator, history, 2, precision="fp32")
    bf16 = predict.predict_recursive(generator, history, 2, precision="bf16")
    assert predict.Predictor(generator, precision="bf16").dtype == torch.bfloat16
    assert (bf16 - fp32).abs().max() < 0.05


def test_model_names(weights: dict[str, Path], tmp_path: Path) -> None:
    assert ckpt.model_name(weights["shipped"]) == "pacman-tiny-adv"
    assert ckpt.model_name(weights["run"]) == "l2run"
    step_file = weights["run"] / "checkpoints" / "step_0000010.pt"
    assert ckpt.model_name(step_file) == "l2run-step10"
    assert ckpt.model_name(tmp_path / "my model.pt") == "my_model"
    models = ckpt.load_models([weights["shipped"], weights["shipped"], step_file])
    assert list(models) == ["pacman-tiny-adv", "pacman-tiny-adv-2", "l2run-step10"]


def test_predict_writes_frames_comparisons_gif(
    test_dir: Path, weights: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "inference"
    prediction, files = predict.run_predict(
        [weights["shipped"], weights["run"]], test_dir, steps=4, seed=3, out=out
    )
    assert prediction.video.parent == test_dir and prediction.video.name != "short"
    assert prediction.inputs.shape == (4, HEIGHT, WIDTH, 3)
    assert prediction.truth.shape == (4, HEIGHT, WIDTH, 3)
    frames = predict.choose_window(test_dir, 4, 4, prediction.video.name, prediction.start)[2]
    assert np.array_equal(prediction.truth, frames[4:])
    # The random window shows motion between the last input and the first true frame.
    assert (prediction.inputs[-1] != prediction.truth[0]).any()
    names = ["pacman-tiny-adv", "l2run"]
    for pattern, count in (("input_*.png", 4), ("truth_*.png", 4), ("compare_*.png", 4)):
        assert len(list(out.glob(pattern))) == count
    for name in names:
        assert sorted(p.name for p in (out / name).iterdir()) == [
            f"pred_{i}.png" for i in (1, 2, 3, 4)
        ]
        saved = np.asarray(Image.open(out / name / "pred_2.png"))
        assert np.array_equal(saved, prediction.predictions[name][1])
    with Image.open(files["gif"][0]) as gif:
        assert gif.n_frames == 4 + 4  # the history, then one frame per step
        assert gif.size[0] > 3 * 2 * WIDTH  # ground truth | two models, enlarged 2x
    info = json.loads((out / "prediction.json").read_text())
    assert info["start"] == prediction.start and list(info["models"]) == names
    assert not list(out.rglob("*.tmp*")), "temporary files left behind"
    # A shorter run into the same folder leaves no stale numbered files behind.
    predict.run_predict([weights["shipped"]], test_dir, steps=2, seed=3, out=out)
    assert sorted(p.name for p in out.glob("truth_*.png")) == ["truth_1.png", "truth_2.png"]
    assert sorted(p.name for p in (out / "pacman-tiny-adv").iterdir()) == [
        "pred_1.png",
        "pred_2.png",
    ]


def test_chosen_video_and_start(test_dir: Path, weights: dict[str, Path]) -> None:
    models = ckpt.load_models([weights["shipped"]])
    prediction = predict.predict_video(models, test_dir, steps=3, video="moving", start=5)
    assert prediction.video == test_dir / "moving" and prediction.start == 5
    assert np.array_equal(prediction.inputs, _frames(14)[5:9])
    assert prediction.seed is None


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_evaluate_tables_and_baselines(
    test_dir: Path, weights: dict[str, Path], tmp_path: Path
) -> None:
    steps = 3
    models = ckpt.load_models([weights["shipped"]])
    evaluation = evaluate.evaluate_models(
        models, test_dir, steps=steps, max_windows=None, stride=1, batch_size=3
    )
    paths = evaluate.write_evaluation(evaluation, tmp_path)
    rows = _read_csv(paths["csv"])
    assert list(rows[0]) == ["model", "step", "metric", "region", "mean", "std", "n"]
    assert {r["model"] for r in rows} == {"pacman-tiny-adv", "last_input", "history_mean"}
    assert {r["step"] for r in rows} == {"1", "2", "3"}
    assert {r["metric"] for r in rows} == {"psnr", "ssim", "sharp_diff"}
    assert {r["region"] for r in rows} == {"full", "moving"}
    assert len(rows) == 3 * steps * 3 * 2
    # Windows (4 history + 3 steps = 7 frames): 8 in "moving"; in "starts_static" 7 starts,
    # of which starts 0 and 1 show no motion at step 1; "short" has 5 frames.
    assert (evaluation.windows, evaluation.static_skipped, evaluation.short_videos) == (13, 2, 1)
    assert all(int(r["n"]) == 13 for r in rows)
    # last_input scores exactly what copying the last true frame scores, at every step.
    expected: dict[int, list[float]] = {s: [] for s in range(1, steps + 1)}
    for video, starts in (("moving", range(8)), ("starts_static", range(2, 7))):
        frames = frames_to_model(_frames(14) if video == "moving" else _frames(13, static=5))
        for start in starts:
            last = metrics.to_unit(frames[start + 3 : start + 4])
            for s in range(1, steps + 1):
                truth = metrics.to_unit(frames[start + 3 + s : start + 4 + s])
                expected[s].append(metrics.psnr(last, truth).item())
    by_key = {(r.model, r.step, r.metric, r.region): r for r in evaluation.rows}
    for s in range(1, steps + 1):
        row = by_key["last_input", s, "psnr", "full"]
        assert row.mean == pytest.approx(np.mean(expected[s]), abs=1e-9)
    # On moving pixels the copy is wrong everywhere, the model on some: ordering is plain.
    assert (
        by_key["last_input", 1, "psnr", "moving"].mean
        < by_key["last_input", 1, "psnr", "full"].mean
    )
    markdown = paths["md"].read_text()
    assert "| last_input | 1 |" in markdown and "| pacman-tiny-adv | 3 |" in markdown
    assert evaluate.read_metrics_csv(paths["csv"])[0].model == "pacman-tiny-adv"
    assert paths["png"].stat().st_size > 0


def test_evaluation_windows_grid_cap_and_seed() -> None:
    moving = {Path("a"): np.arange(10), Path("b"): np.array([0, 3, 6, 7])}
    grid = evaluate.evaluation_windows(moving, None, stride=3, seed=0)
    assert grid == [(Path("a"), 0), (Path("a"), 3), (Path("a"), 6), (Path("a"), 9)] + [
        (Path("b"), 0),
        (Path("b"), 3),
        (Path("b"), 6),
    ]
    capped = evaluate.evaluation_windows(moving, 4, stride=3, seed=1)
    assert len(capped) == 4 and set(capped) <= set(grid)
    assert capped == evaluate.evaluation_windows(moving, 4, stride=3, seed=1)


def test_cli_predict_and_evaluate(
    test_dir: Path, weights: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    common = ["--test-dir", str(test_dir), "--out", str(out), "--threads", "1"]
    assert main(["predict", "-p", str(weights["shipped"]), "-n", "2", "--seed", "0", *common]) == 0
    assert "GIF:" in capsys.readouterr().out
    assert (out / "prediction.gif").exists()
    assert (
        main(["predict", "-p", str(weights["shipped"]), "-n", "2", "--most-motion", *common]) == 0
    )
    video, start = predict.most_motion_window(test_dir, history=4, steps=2)
    assert f"from {video} starting at frame {start} (the window with the most motion)" in (
        capsys.readouterr().out
    )
    args = ["evaluate", "-p", str(weights["run"]), "--steps", "2", "--windows", "3", *common]
    assert main(args) == 0
    assert "| l2run | 2 |" in capsys.readouterr().out
    assert len(_read_csv(out / "metrics.csv")) == 3 * 2 * 3 * 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-n", "2", "--video", "short", "--start", "0"], "has 5 frames"),
        (["-n", "11", "--video", "moving"], "need 15"),
        (["-n", "2", "--video", "moving", "--start", "9"], "out of range"),
        (["-n", "2", "--video", "nope"], "neither a directory nor a video"),
    ],
)
def test_cli_bad_windows_give_one_line_errors(
    test_dir: Path,
    weights: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    args = ["predict", "-p", str(weights["shipped"]), "--test-dir", str(test_dir)]
    assert main([*args, "--out", str(tmp_path), *extra]) == 1
    error = capsys.readouterr().err.strip()
    assert message in error and error.startswith("msgan predict: error:")
    assert len(error.splitlines()) == 1


def test_bad_checkpoints_are_refused(tmp_path: Path, test_dir: Path) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(b"\x10\x00\x00")
    for path in (corrupt, plain, truncated, tmp_path / "missing.pt", tmp_path):
        with pytest.raises(MsganError):
            predict.run_predict([path], test_dir, steps=1, out=tmp_path / "out")


def test_frames_too_small_for_the_coarsest_scale(tmp_path: Path, weights: dict[str, Path]) -> None:
    tiny_frames = np.zeros((8, 6, 20, 3), dtype=np.uint8)
    tiny_frames[::2, 2:4, 5:7] = 255
    _write_video(tmp_path / "test" / "small", tiny_frames)
    models = ckpt.load_models([weights["shipped"]])
    with pytest.raises(MsganError, match="at least 8 pixels"):
        predict.predict_video(models, tmp_path / "test", steps=2, seed=0)
    with pytest.raises(MsganError, match="at least 8 pixels"):
        evaluate.evaluate_models(models, tmp_path / "test", steps=2)


def test_bad_history_and_steps() -> None:
    predictor = predict.Predictor(Generator(preset("tiny")), precision="fp32")
    with pytest.raises(MsganError, match="channels"):
        predictor(torch.zeros(1, 9, 16, 16), 2)
    with pytest.raises(MsganError, match="steps"):
        predictor(torch.zeros(1, 12, 16, 16), 0)
