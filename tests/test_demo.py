"""The README's main job (``msgan demo``) with the shipped weights, on a short recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgan_lib.demo import SHIPPED, run_demo
from msgan_lib.evaluate import read_metrics_csv
from msgan_lib.fileio import MsganError


def test_demo_predicts_and_scores_fresh_episodes_with_the_shipped_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_demo(
        str(tmp_path / "data"),
        str(tmp_path / "inference"),
        episodes=1,
        frames_per_episode=60,
        steps=2,
        windows=3,
    )
    assert (out / "prediction.gif").stat().st_size > 0
    assert sorted(p.name for p in out.glob("compare_*.png")) == ["compare_1.png", "compare_2.png"]
    models = {row.model for row in read_metrics_csv(out / "metrics.csv")}
    assert models == {*SHIPPED, "last_input", "history_mean"}
    printed = capsys.readouterr().out
    assert "| pacman-small-adv | 1 |" in printed and f"done: open {out}/" in printed


def test_demo_without_the_shipped_weights_says_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(MsganError, match=r"pacman-small-adv.safetensors is missing: restore"):
        run_demo(str(tmp_path / "data"), str(tmp_path / "out"), weights_dir=tmp_path)
    assert not (tmp_path / "data").exists()  # nothing recorded before the check
