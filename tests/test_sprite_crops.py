"""Ms. Pac-Man's position in recorded videos (``positions.csv``) and the clips that
``process-data --sprite-fraction`` cuts around her (chapter 01)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from msgan_lib import cli, dream
from msgan_lib.clips import ClipDataset, process_data
from msgan_lib.config import DataConfig, RecordConfig
from msgan_lib.fileio import MsganError
from msgan_lib.frames import load_video, write_video
from msgan_lib.motion import SPRITE_TRIES, draw_sprite_crops
from msgan_lib.pacman import (
    POSITIONS_FILE,
    read_positions,
    record_pacman,
    video_positions,
    write_positions,
)

FRAMES = 40  # stored frames of the recorded test episode


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One recorded 40-frame Ms. Pac-Man episode (a train split of one video)."""
    root = tmp_path_factory.mktemp("pacman")
    record_pacman(root, 1, 0, seed=2, config=RecordConfig(frames_per_episode=FRAMES), workers=1)
    return root / "images" / "train" / "episode_00000"


def shows_her(frame: np.ndarray) -> bool:
    """Whether a ``(H, W, 3)`` uint8 frame or crop holds a pixel of her exact colour."""
    return bool((frame == np.array(dream.PACMAN_COLOUR, np.uint8)).all(-1).any())


# --- positions.csv -------------------------------------------------------------------


def test_record_pacman_writes_the_positions_of_pacman_position(
    episode: Path, tmp_path: Path
) -> None:
    lines = (episode / POSITIONS_FILE).read_text().splitlines()
    assert lines[0] == "frame,x,y" and len(lines) == FRAMES + 1
    assert lines[1].startswith("1,") and lines[-1].startswith(f"{FRAMES},")
    frames = load_video(episode)  # (T, H, W, 3): the PNG files as stored
    expected = [dream.pacman_position(frame) for frame in frames]
    assert all(p is not None for p in expected)  # she is in every frame of a short game
    recorded = read_positions(episode)  # (T, 2): (y, x)
    assert recorded is not None
    np.testing.assert_allclose(recorded, np.array(expected), atol=5e-4)
    # A video recorded before positions.csv existed: the same positions from its frames.
    old = tmp_path / "old"
    shutil.copytree(episode, old)
    (old / POSITIONS_FILE).unlink()
    np.testing.assert_allclose(video_positions(old), recorded, atol=5e-4)
    assert not (old / POSITIONS_FILE).exists()  # nothing written into the video


def test_positions_csv_round_trip_and_bad_files(tmp_path: Path) -> None:
    positions = np.array([[10.25, 3.5], [np.nan, np.nan], [0.0, 159.75]])  # (3, 2): (y, x)
    write_positions(tmp_path, positions)
    assert (tmp_path / POSITIONS_FILE).read_text() == (
        "frame,x,y\n1,3.500,10.250\n2,,\n3,159.750,0.000\n"
    )
    np.testing.assert_array_equal(read_positions(tmp_path), positions)
    write_video(np.zeros((2, 8, 8, 3), np.uint8), tmp_path)
    with pytest.raises(MsganError, match="one row per frame \\(2\\), found 3"):
        video_positions(tmp_path)
    (tmp_path / POSITIONS_FILE).write_text("frame,x,y\n1,3.5\n")
    with pytest.raises(MsganError, match="line 2: expected '1,<x>,<y>'"):
        read_positions(tmp_path)
    assert read_positions(tmp_path / "none") is None


# --- sprite crops --------------------------------------------------------------------


def test_draw_sprite_crops_finds_her_and_keeps_her_in_the_middle_half() -> None:
    config = DataConfig(crop_size=32, future=2, sprite_fraction=1.0)
    positions = np.full((50, 2), np.nan)  # (T, 2): visible only in every 4th frame
    positions[::4] = np.stack([np.linspace(5, 165, 13), np.linspace(0, 159, 13)], axis=1)
    rng = np.random.default_rng(0)
    t, y, x, found = draw_sprite_crops(positions, 2000, rng, config, (210, 160))
    assert 0.9 < found.mean() < 1.0  # 1 - (3/4)^10 of the clips find her
    last = positions[t[found] + config.history - 1]  # (n, 2): her centre, last history frame
    assert not np.isnan(last).any() and t.max() <= 50 - config.clip_frames
    assert (y >= 0).all() and (y <= 210 - 32).all() and (x >= 0).all() and (x <= 160 - 32).all()
    inside = last - np.stack([y[found], x[found]], axis=1)  # (n, 2): her centre in the crop
    assert (inside >= 0).all() and (inside < 32).all()  # in the crop, at the borders too
    free = (last[:, 0] > 30) & (last[:, 0] < 170) & (last[:, 1] > 30) & (last[:, 1] < 130)
    assert ((inside[free] >= 8 - 0.5) & (inside[free] <= 24 + 0.5)).all()  # the middle half
    assert inside[free].std(axis=0).min() > 3  # not always dead centre
    none = draw_sprite_crops(np.full((50, 2), np.nan), 5, rng, config, (210, 160))[3]
    assert not none.any() and SPRITE_TRIES >= 1


@pytest.mark.parametrize("crop", [32, 48, 64])
def test_sprite_clips_show_her_and_the_rest_are_unchanged(
    episode: Path, tmp_path: Path, crop: int
) -> None:
    split, n = episode.parent, 120
    base = DataConfig(crop_size=crop, future=2)
    plain = process_data(split, tmp_path / "plain", n, base, seed=3, workers=1)
    config = DataConfig(crop_size=crop, future=2, sprite_fraction=0.5)
    sprite = process_data(split, tmp_path / "sprite", n, config, seed=3, workers=1)
    counts = sprite["motion"]["counts"]
    assert plain["motion"]["counts"]["sprite_centred"] == 0
    assert 40 <= counts["sprite_centred"] <= 80 and counts["sprite_not_visible"] == 0
    assert sum(counts.values()) == n and sprite["motion"]["sprite_fraction"] == 0.5
    a, b = ClipDataset(tmp_path / "plain"), ClipDataset(tmp_path / "sprite")
    changed = [i for i in range(n) if not np.array_equal(a.clip(i), b.clip(i))]
    # Every clip not cut around her is the motion rule's clip of sprite_fraction = 0; each
    # one cut around her shows her in the last history frame, (T+K, 3, crop, crop).
    assert counts["sprite_centred"] - 3 <= len(changed) <= counts["sprite_centred"]
    last = config.history - 1
    assert all(shows_her(b.clip(i)[last].transpose(1, 2, 0)) for i in changed)
    shown = [
        np.mean([shows_her(c.clip(i)[last].transpose(1, 2, 0)) for i in range(n)]) for c in (a, b)
    ]
    assert shown[1] > shown[0] + 0.15  # the motion rule alone shows her in 30-46% of clips


def test_sprite_fraction_refuses_videos_without_her(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "train" / "imported"
    video.mkdir(parents=True)
    frames = np.zeros((8, 40, 40, 3), np.uint8)  # (T, H, W, 3): a square, not the game
    for t in range(8):
        frames[t, 5:13, 2 + 3 * t : 10 + 3 * t] = 255
    write_video(frames, video)
    config = DataConfig(crop_size=16, sprite_fraction=0.5)
    with pytest.raises(MsganError, match=f"{video} never shows her colour"):
        process_data(tmp_path / "train", tmp_path / "clips", 10, config, workers=1)
    assert not (tmp_path / "clips").exists()
    argv = ["process-data", "--train-dir", str(tmp_path / "train"), "-n", "10"]
    status = cli.main([*argv, "--clips-dir", str(tmp_path / "c"), "--sprite-fraction", "0.5"])
    err = capsys.readouterr().err
    assert status != 0 and "never shows her colour" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True])
def test_bad_sprite_fractions_are_refused(value: float) -> None:
    with pytest.raises(MsganError, match="sprite_fraction .* must be in \\[0, 1\\]"):
        DataConfig(sprite_fraction=value)


def test_bad_sprite_fraction_flag_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["process-data", "--train-dir", str(tmp_path), "--sprite-fraction", "2"])
    err = capsys.readouterr().err
    assert status != 0 and "sprite_fraction = 2.0 must be in [0, 1]" in err
