"""The motion rule that picks training clips (chapter 01; the Chainer port's process_data.py).

The paper (Mathieu, Couprie & LeCun 2016, section 4) trains on random 32x32 crops of
(history + 1)-frame windows. The port kept a crop only if it moves:

    score(clip) = sum_{t, pixels, channels} (x_{t+1} - x_t)^2    on [-1, 1] data

must exceed a threshold (100), drawing up to ``max_tries`` random crops of a random window
and keeping the last try after that many misses; a fraction of clips skips the check, so
static content is still seen (:func:`draw_crops`).

Ours, beyond the port: a fraction of clips (``DataConfig.sprite_fraction``) is cut around
Ms. Pac-Man instead (:func:`draw_sprite_crops`), so that the frames the model learns from
show the player's sprite, which a random crop of the maze mostly misses.

Three ways to the same score, exact in integer arithmetic: :func:`motion_score` for one clip
(the definition), :func:`motion_score_map` for every crop of every window of a video
(summed-area tables over the per-pixel energy), and :func:`motion_table` /
:func:`table_scores`, a summed-volume table from which any crop of any window costs 8
lookups, so ``process-data`` scores only the crops it actually tries.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from msgan_lib.config import DataConfig
from msgan_lib.frames import PIXEL_SCALE, scratch


def motion_score(clip: np.ndarray) -> float:
    """Summed squared frame-to-frame difference of a clip on [-1, 1] data (Chainer port).

    ``clip`` is ``(T, H, W, 3)`` or ``(T, 3, H, W)`` uint8, frames along axis 0.
    """
    diff = np.diff(clip.astype(np.int32), axis=0)
    return float((diff * diff).sum()) / PIXEL_SCALE**2


def _motion_energy_map(frames: np.ndarray, history: int, crop: int) -> np.ndarray:
    """Integer motion energy of every crop of every window: ``(T-history, H-crop+1, W-crop+1)``.

    Entry ``[t, y, x]`` is the summed squared uint8 difference over the ``history``
    frame-to-frame steps of window ``frames[t : t+history+1]`` inside the crop at ``(y, x)``;
    divided by 127.5^2 it is :func:`motion_score` of that clip. Built from per-pixel
    energies with summed-area tables, so all crops cost about as much as one pass over the
    video. Sums wrap around in uint32 (or uint64 for huge crops) and differences of wrapped
    cumulative sums are still exact because every crop's total fits the type.
    """
    n_frames, height, width, _ = frames.shape
    n_windows = n_frames - history
    wide = 3 * 255**2 * history * crop * crop >= 2**32
    dtype = np.uint64 if wide else np.uint32
    out = np.empty((n_windows, height - crop + 1, width - crop + 1), dtype=dtype)
    chunk = 32
    for start in range(0, n_windows, chunk):
        stop = min(start + chunk, n_windows)
        block = frames[start : stop + history]  # (w+h, H, W, 3)
        diff = block[1:].astype(np.int16) - block[:-1]
        square = diff.astype(np.int32)
        square *= square
        pixel = square[..., 0] + square[..., 1] + square[..., 2]  # (w+h-1, H, W): each step
        window = pixel[: stop - start].copy()
        for step in range(1, history):
            window += pixel[step : step + stop - start]  # (w, H, W): energy of each window
        rows = np.zeros((stop - start, height + 1, width), dtype=dtype)
        np.cumsum(window, axis=1, dtype=dtype, out=rows[:, 1:])
        band = rows[:, crop:] - rows[:, :-crop]  # (w, H-crop+1, W): sums over crop rows
        cols = np.zeros((stop - start, height - crop + 1, width + 1), dtype=dtype)
        np.cumsum(band, axis=2, dtype=dtype, out=cols[:, :, 1:])
        out[start:stop] = cols[:, :, crop:] - cols[:, :, :-crop]  # (w, H-crop+1, W-crop+1)
    return out


def motion_score_map(frames: np.ndarray, history: int = 4, crop_size: int = 32) -> np.ndarray:
    """:func:`motion_score` of every possible clip of a video, as float32.

    ``frames`` is ``(T, H, W, 3)`` uint8; the result is ``(T-history, H-crop+1, W-crop+1)``
    with entry ``[t, y, x]`` the score of ``frames[t:t+history+1, y:y+crop, x:x+crop]``.
    """
    scores = _motion_energy_map(frames, history, crop_size).astype(np.float32)
    scores *= np.float32(1 / PIXEL_SCALE**2)
    return scores


KEPT_PASSED, KEPT_WITHOUT_CHECK, KEPT_AFTER_MAX_TRIES = 0, 1, 2
# A sprite clip (draw_sprite_crops) that shows her; one whose tries never found her keeps
# the motion rule's crop, counted apart.
KEPT_SPRITE_CENTRED, KEPT_SPRITE_NOT_VISIBLE = 3, 4

KEEP_REASONS = (  # the manifest's names of the codes above, in order (new ones go last)
    "passed",
    "kept_without_check",
    "kept_after_max_tries",
    "sprite_centred",
    "sprite_not_visible",
)
SPRITE_TRIES = 10  # ours: random windows tried for a sprite clip before the motion rule's


def motion_table(frames: np.ndarray, history: int, crop: int) -> np.ndarray:
    """Summed-volume table of per-pixel motion energy of channel-first ``(T, 3, H, W)`` frames.

    Returns ``(T, H+1, W+1)``: entry ``[k, y, x]`` sums the squared uint8 frame-to-frame
    differences of steps ``< k`` over rows ``< y`` and columns ``< x``, so the energy of any
    crop of any window is 8 lookups (:func:`table_scores`). Cheaper than
    :func:`_motion_energy_map` when only the crops actually tried are needed
    (``process-data``). Squared differences are computed in uint8/uint16 arithmetic; sums
    wrap around in uint32 (uint64 for huge crops), and differences stay exact
    because every crop's total fits the type. The table is built a few steps at a time, with
    small temporaries and prefix sums along time and rows as whole-row adds.
    """
    n_frames, _, height, width = frames.shape
    wide = 3 * 255**2 * history * crop * crop >= 2**32
    shape = (n_frames, height + 1, width + 1)
    table = scratch("motion_table", shape, np.uint64 if wide else np.uint32)
    table[0], table[:, 0], table[:, :, 0] = 0, 0, 0  # empty sums; the rest is written below
    chunk = 32  # steps at a time: temporaries stay small, few numpy calls per row
    for start in range(0, n_frames - 1, chunk):
        stop = min(start + chunk, n_frames - 1)
        later, earlier = frames[start + 1 : stop + 1], frames[start:stop]  # (s, 3, H, W)
        diff = np.maximum(later, earlier)
        diff -= np.minimum(later, earlier)  # |difference|, still uint8
        square = np.square(diff, dtype=np.uint16)  # at most 255^2: fits
        block = table[start + 1 : stop + 1]  # (s, H+1, W+1)
        energy = block[:, 1:, 1:]  # (s, H, W): energy of each step
        np.add(square[:, 0], square[:, 1], out=energy, dtype=table.dtype)
        energy += square[:, 2]
        np.cumsum(block, axis=2, dtype=table.dtype, out=block)
        for y in range(2, height + 1):
            block[:, y] += block[:, y - 1]
        for k in range(start + 1, stop + 1):
            table[k] += table[k - 1]
    return table


def table_scores(
    table: np.ndarray, t: np.ndarray, y: np.ndarray, x: np.ndarray, history: int, crop: int
) -> np.ndarray:
    """float32 :func:`motion_score` of the clips at window ``t``, crop ``(y, x)`` from a
    :func:`motion_table`; equal to :func:`motion_score_map` at those entries."""
    _, rows, cols = table.shape
    flat = table.reshape(-1)
    corner = y * cols + x
    energy = np.zeros(len(t), dtype=table.dtype)
    for frame, sign in ((t + history, 1), (t, -1)):
        base = frame * (rows * cols) + corner
        area = flat[base + crop * cols + crop] - flat[base + crop] - flat[base + crop * cols]
        area += flat[base]
        if sign > 0:
            energy += area
        else:
            energy -= area
    scores = energy.astype(np.float32)
    scores *= np.float32(1 / PIXEL_SCALE**2)
    return scores


def draw_crops(
    scores: np.ndarray, n: int, rng: np.random.Generator, config: DataConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` clips from one video with the Chainer port's rule, all at once.

    For each clip: a random window; with probability ``config.keep_without_check`` its first
    random crop is kept as is; otherwise up to ``config.max_tries`` random crops are tried
    and the first whose motion score exceeds ``config.motion_threshold`` is kept (after
    ``max_tries`` misses the last try is kept, as in the port). ``scores`` comes from
    :func:`motion_score_map`. Returns ``t, y, x, reason, score`` arrays of length ``n``.
    """
    return draw_crops_by(lambda t, y, x: scores[t, y, x], scores.shape, n, rng, config)


def draw_crops_by(
    score_at: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    shape: tuple[int, ...],
    n: int,
    rng: np.random.Generator,
    config: DataConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`draw_crops` with scores looked up by ``score_at(t, y, x)`` for ``shape``.

    All random numbers are drawn up front (so the result does not depend on how scores are
    found), but only the tries still needed are scored: try ``j`` only for clips whose
    tries ``< j`` all failed, which is a few tries per clip on average instead of 100.
    """
    n_windows, n_y, n_x = shape
    t = rng.integers(n_windows, size=n)
    without_check = rng.random(n) < config.keep_without_check
    ys = rng.integers(n_y, size=(n, config.max_tries))
    xs = rng.integers(n_x, size=(n, config.max_tries))
    choice = np.full(n, config.max_tries - 1)
    choice[without_check] = 0
    reason = np.full(n, KEPT_AFTER_MAX_TRIES)
    reason[without_check] = KEPT_WITHOUT_CHECK
    score = score_at(t, ys[:, 0], xs[:, 0])
    active = np.flatnonzero(~without_check)  # clips whose tries so far all failed
    for j in range(config.max_tries):
        if j > 0:
            score[active] = score_at(t[active], ys[active, j], xs[active, j])
        passed = score[active] > config.motion_threshold
        choice[active[passed]] = j
        reason[active[passed]] = KEPT_PASSED
        active = active[~passed]
        if active.size == 0:
            break
    rows = np.arange(n)
    return t, ys[rows, choice], xs[rows, choice], reason, score


def draw_sprite_crops(
    positions: np.ndarray,
    n: int,
    rng: np.random.Generator,
    config: DataConfig,
    frame_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` clips whose crop shows Ms. Pac-Man in the clip's last history frame.

    ``positions`` ``(T, 2)`` holds her ``(y, x)`` in every frame of the video, NaN where she
    is not visible (:func:`msgan_lib.pacman.video_positions`); ``frame_size`` is ``(H, W)``.
    For each clip up to :data:`SPRITE_TRIES` random windows are tried and the first whose
    frame ``history - 1`` shows her is kept. Her centre then lies at a uniformly random
    offset within the middle half of the crop (``crop / 4`` to ``3 crop / 4`` from its top
    and left), so she is not always in the middle and the next frames' moves stay in view;
    a crop past the frame's border is shifted back inside, which keeps her in it.

    Returns ``t, y, x, found``, arrays of length ``n``: window and crop corner of each
    clip, and whether a try showed her (where not, the caller keeps the motion rule's
    crop). All random numbers are drawn up front, as in :func:`draw_crops_by`.
    """
    crop, height, width = config.crop_size, *frame_size
    n_windows = len(positions) - (config.clip_frames - 1)
    tries = rng.integers(n_windows, size=(n, SPRITE_TRIES))  # (n, tries): windows
    offset = rng.uniform(crop / 4, 3 * crop / 4, size=(n, 2))  # (n, 2): her (y, x) in crop
    seen = positions[tries + config.history - 1]  # (n, tries, 2): in the last history frame
    visible = ~np.isnan(seen[..., 0])  # (n, tries)
    found = visible.any(axis=1)
    first = visible.argmax(axis=1)  # the first try that shows her (0 where none does)
    rows = np.arange(n)
    t = tries[rows, first]
    centre = np.where(found[:, None], seen[rows, first], crop / 2)  # (n, 2)
    corner = np.rint(centre - offset).astype(np.int64)  # (n, 2): top-left (y, x)
    y = np.clip(corner[:, 0], 0, height - crop)
    x = np.clip(corner[:, 1], 0, width - crop)
    return t, y, x, found
