"""Fixtures shared by the test modules: a small synthetic clip set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msgan_lib.clips import process_data
from msgan_lib.config import DataConfig
from msgan_lib.frames import write_video


@pytest.fixture(scope="session")
def square_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic 10-frame videos of a white square moving on colour."""
    root = tmp_path_factory.mktemp("data") / "images" / "train"
    rng = np.random.default_rng(0)
    for v in range(2):
        video = root / f"video_{v}"
        video.mkdir(parents=True)
        frames = np.zeros((10, 40, 40, 3), np.uint8) + rng.integers(0, 90, 3).astype(np.uint8)
        for t in range(10):
            frames[t, 10 + t : 18 + t, 5 + 2 * t : 13 + 2 * t] = 255
        write_video(frames, video)
    return root


@pytest.fixture(scope="session")
def clips(square_videos: Path) -> Path:
    """A 40-clip set of 4+1 frames cut from :func:`square_videos`."""
    process_data(square_videos, square_videos.parent.parent / "clips", n_clips=40, workers=1)
    return square_videos.parent.parent / "clips"


@pytest.fixture(scope="session")
def future_clips(square_videos: Path) -> Path:
    """A 40-clip set of 4+3 frames (``--future 3``) cut from :func:`square_videos`."""
    out = square_videos.parent.parent / "clips-future3"
    process_data(square_videos, out, n_clips=40, config=DataConfig(future=3), workers=1)
    return out
