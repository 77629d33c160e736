"""The showcase rule: the test window whose true future changes the most pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msgan_lib.fileio import MsganError
from msgan_lib.frames import write_video
from msgan_lib.predict import most_motion_window


def _video(root: Path, name: str, moving_from: int, length: int, size: int) -> None:
    """A still video in which a ``size``-pixel square jumps every frame from ``moving_from``."""
    frames = np.zeros((length, 16, 16, 3), dtype=np.uint8)
    for t in range(moving_from, length):
        frames[t, :size, (t % 2) * 8 : (t % 2) * 8 + size] = 255  # (size, size) square
    (root / name).mkdir(parents=True)
    write_video(frames, root / name)


def test_the_window_with_the_most_changing_pixels_wins(tmp_path: Path) -> None:
    _video(tmp_path, "a_small", moving_from=0, length=20, size=2)
    _video(tmp_path, "b_big_late", moving_from=12, length=24, size=4)
    video, start = most_motion_window(tmp_path, history=4, steps=3)
    assert video.name == "b_big_late"
    # Frames 12.. move; the 3 predicted frames must change from frame start+3 on, so the
    # first window whose transitions all move starts at 12 - 3 = 9 (the first of equals).
    assert start == 9


def test_no_long_enough_video_is_a_clear_error(tmp_path: Path) -> None:
    _video(tmp_path, "short", moving_from=0, length=5, size=2)
    with pytest.raises(MsganError, match="the 12 frames needed"):
        most_motion_window(tmp_path, history=4, steps=8)
