"""The command line as a whole: flags built from the config fields, recipes, one-line errors
for every output that cannot be written, and imports that stay light."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from msgan_lib import cli
from msgan_lib.config import RECIPES, TrainConfig, preset
from msgan_lib.train import resolve_run


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_train_flags_and_defaults_come_from_the_config_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help("train", capsys)
    for name, recipe in RECIPES.items():
        assert name in text and recipe.about.split(":")[0] in text
    assert f"--steps STEPS total steps of the run, resumed or not (default: {10_000})" in text
    assert "--keep KEEP_CHECKPOINTS latest checkpoints kept (default: 3)" in text
    assert (
        "--lp {1,2}" in text and "--no-adversarial" in text and "--d-design {paper,patch}" in text
    )
    assert "global batch is N x --batch-size" in text
    args = cli.build_parser().parse_args(
        ["train", "--lambda-gdl", "0.1", "--no-amp", "--keep", "5"]
    )
    assert cli.given(args, args.config_fields) == {
        "lambda_gdl": 0.1,
        "amp": False,
        "keep_checkpoints": 5,
    }


def test_recipes_set_the_paper_schedule_and_flags_still_override(tmp_path: Path) -> None:
    setup = resolve_run(tmp_path, recipe_name="paper")
    assert setup.model_config == preset("paper") and setup.state is None
    config = setup.config
    assert (config.optimizer, config.lr_g, config.lr_g_final, config.lr_d) == (
        "sgd",
        0.04,
        0.005,
        0.02,
    )
    assert (config.batch_size, config.loss.lambda_adv, config.loss.lambda_gdl) == (8, 0.05, 1.0)
    mine = resolve_run(
        tmp_path, recipe_name="shipped-l2", overrides={"lr_d": 1e-4, "optimizer": "sgd"}
    )
    assert mine.model_config == dataclasses.replace(preset("small"), residual_on_last_input=True)
    # Another optimiser brings its rates, except those given.
    assert (mine.config.lr_g, mine.config.lr_d, mine.config.loss.lambda_gdl) == (0.04, 1e-4, 0.1)
    assert TrainConfig().milestone_every == 25_000


def test_bad_config_values_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["train", "--out", str(tmp_path), "--steps", "0", "-d", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "msgan train: error: train config: steps = 0 must be an integer >= 1"


@pytest.mark.parametrize(
    "argv",
    [
        ["record-pacman", "--train-episodes", "1", "--test-episodes", "0", "--out", "{file}"],
        ["import-video", "{file}", "--out", "{file}/frames"],
        ["process-data", "--train-dir", "{clips}/..", "--clips-dir", "{file}", "-n", "4"],
        ["train", "-d", "{clips}", "--preset", "tiny", "--steps", "1", "--out", "{file}"],
        ["export", "{weights}", "{file}/mine.safetensors"],
        ["predict", "-p", "{weights}", "--test-dir", "{clips}/../images/train", "--out", "{file}"],
        ["evaluate", "-p", "{weights}", "--test-dir", "{clips}/../images/train", "--out", "{file}"],
        ["demo", "--data", "{file}"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_output_path_that_is_a_file_is_a_one_line_error(
    argv: list[str], clips: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "taken"
    file.write_text("not a directory")
    weights = Path(__file__).resolve().parents[1] / "weights" / "pacman-small-l2.safetensors"
    paths = {"file": str(file), "clips": str(clips), "weights": str(weights)}
    assert cli.main([arg.format(**paths) for arg in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(file) in err, err
    assert file.read_text() == "not a directory"


def test_training_and_data_modules_do_not_import_matplotlib() -> None:
    code = (
        "import sys, msgan_lib.train, msgan_lib.clips, msgan_lib.pacman, msgan_lib.predict; "
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
