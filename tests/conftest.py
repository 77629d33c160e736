"""Fixtures shared by the test modules: a small synthetic clip set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msgan_lib.clips import process_data
from msgan_lib.frames import write_video


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-clip set cut from two synthetic videos of a white square moving on colour."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for v in range(2):
        video = root / "images" / "train" / f"video_{v}"
        video.mkdir(parents=True)
        frames = np.zeros((10, 40, 40, 3), np.uint8) + rng.integers(0, 90, 3).astype(np.uint8)
        for t in range(10):
            frames[t, 10 + t : 18 + t, 5 + 2 * t : 13 + 2 * t] = 255
        write_video(frames, video)
    process_data(root / "images" / "train", root / "clips", n_clips=40, workers=1)
    return root / "clips"
