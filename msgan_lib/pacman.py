"""The Ms. Pac-Man recorder: seeded Atari episodes as frame directories (chapter 01).

The Atari 2600 Ms. Pac-Man ROM ships in the ``ale-py`` wheel, so nothing is downloaded.
The game draws only some of its ghosts in each emulator frame (sprite flicker), so every
stored frame merges consecutive emulator frames (:func:`merge_flicker`); the player holds a
random action for a random number of frames, so Ms. Pac-Man runs along corridors instead of
jittering. Episodes are split into train and test by episode, each with its own seed
derived from one run seed, so the same arguments always give identical PNG files. How the
game is played and sampled is :class:`~msgan_lib.config.RecordConfig`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from msgan_lib.config import RecordConfig
from msgan_lib.fileio import MsganError, atomic_dir, check_replaceable
from msgan_lib.frames import write_video
from msgan_lib.runtime import default_workers, worker_map


def merge_flicker(frames: np.ndarray) -> np.ndarray:
    """Merge consecutive emulator frames ``(K, H, W, 3)`` into one frame without flicker.

    The Atari draws only some ghosts in each frame and alternates which. Atari agents take a
    pixelwise maximum of two frames; on RGB that tints a ghost drawn in only one frame with
    the maze colour (max((200, 72, 72), (0, 28, 136)) is purple). Here the last frame is kept
    and each of its background pixels (the frame's most common colour) takes the colour of
    the latest earlier frame that has a sprite there, so every ghost keeps its true colour.
    """
    rgba = np.zeros((*frames.shape[:-1], 4), dtype=np.uint8)  # (K, H, W, 4)
    rgba[..., :3] = frames
    return _merge_by_key(frames, rgba.view(np.uint32)[..., 0])  # (K, H, W): one int per colour


def _merge_by_key(frames: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """:func:`merge_flicker` given ``keys`` ``(K, H, W)``: one integer per pixel colour.

    ``play_pacman`` passes the emulator's palette indices (one byte per pixel, read at no
    cost), which avoids packing RGB into integers; any one-to-one colour key gives the same
    merge. Only the few filled pixels are copied (gathered by index, not by a full mask).
    """
    sample = keys[-1].ravel()[::7]
    colours, counts = np.unique(sample, return_counts=True)
    background = colours[np.argmax(counts)]
    merged, merged_keys = frames[-1].copy(), keys[-1].copy()
    for earlier, earlier_keys in zip(frames[-2::-1], keys[-2::-1], strict=True):
        ys, xs = np.nonzero((merged_keys == background) & (earlier_keys != background))
        merged[ys, xs] = earlier[ys, xs]
        merged_keys[ys, xs] = earlier_keys[ys, xs]
    return merged


GHOST_COLOURS = {  # RGB of the four ghosts in the Atari game, read from its frames
    "red": (200, 72, 72),
    "pink": (198, 89, 179),
    "cyan": (84, 184, 153),
    "orange": (180, 122, 48),
}


def visible_ghosts(frames: np.ndarray) -> np.ndarray:
    """Which of the four ghosts (:data:`GHOST_COLOURS`) each ``(N, H, W, 3)`` frame shows.

    Returns ``(N, 4)`` booleans, a measure of flicker for chapter 01 (a ghost overlapped by
    another is missed, so not every frame shows all 4 even without flicker).
    """
    present = [
        (frames == np.array(c, dtype=np.uint8)).all(-1).any((1, 2)) for c in GHOST_COLOURS.values()
    ]
    return np.stack(present, axis=1)  # (N, 4)


def episode_seed(seed: int, split: str, episode: int) -> np.random.SeedSequence:
    """The seed stream of one episode: distinct for every (run seed, split, episode)."""
    return np.random.SeedSequence(seed, spawn_key=(("train", "test").index(split), episode))


def play_pacman(
    seed: np.random.SeedSequence, config: RecordConfig | None = None
) -> Iterator[np.ndarray]:
    """Play one seeded Ms. Pac-Man episode, yielding merged ``(210, 160, 3)`` uint8 frames.

    The game's start tune (the same in every game, input ignored) is skipped, then a random
    number of played frames, so no two episodes share their first frames. The episode ends
    at game over or after ``config.frames_per_episode`` frames (a shorter game simply gives
    a shorter video). The same seed always gives the same frames.
    """
    from ale_py import ALEInterface, LoggerMode, roms

    config = config or RecordConfig()
    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale_seed, policy_seed = seed.generate_state(2)
    ale.setInt("random_seed", int(ale_seed) & 0x7FFFFFFF)
    ale.setInt("frame_skip", 1)  # every emulator frame, merged below
    ale.setFloat("repeat_action_probability", 0.0)  # no sticky actions: the policy decides
    ale.loadROM(roms.get_rom_path("ms_pacman"))
    actions = ale.getMinimalActionSet()
    rng = np.random.default_rng(policy_seed)
    height, width = ale.getScreenDims()
    buffer = np.empty((config.merge, height, width, 3), dtype=np.uint8)  # (K, H, W, 3)
    palette = np.empty((config.merge, height, width), dtype=np.uint8)  # (K, H, W) indices
    action, hold = actions[0], 0

    def next_action() -> Any:
        nonlocal action, hold
        if hold == 0:
            action = actions[rng.integers(len(actions))]
            hold = int(rng.integers(config.hold_min, config.hold_max + 1)) * config.merge
        hold -= 1
        return action

    for _ in range(config.skip_intro + int(rng.integers(config.start_jitter))):
        ale.act(next_action())
    for _ in range(config.frames_per_episode):
        for k in range(config.merge):
            ale.act(next_action())
            ale.getScreenRGB(buffer[k])
            ale.getScreen(palette[k])
        yield _merge_by_key(buffer, palette)
        if ale.game_over():
            return


def _record_episode(task: tuple[int, str, int, Path, RecordConfig]) -> int:
    seed, split, episode, video_dir, config = task
    video_dir.mkdir()
    return write_video(play_pacman(episode_seed(seed, split, episode), config), video_dir)


def _is_recording(path: Path) -> bool:
    return all(p.is_dir() and p.name.startswith("episode_") for p in path.iterdir())


def record_pacman(
    out: str | os.PathLike[str] = "data",
    train_episodes: int = 50,
    test_episodes: int = 5,
    seed: int = 0,
    config: RecordConfig | None = None,
    workers: int | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Record Ms. Pac-Man episodes into ``<out>/images/{train,test}/episode_NNNNN/``.

    Train and test hold different episodes, each seeded from ``(seed, split, index)``, so
    the same arguments always give identical PNG files. A split with 0 episodes is left
    untouched. An existing split directory is replaced only with ``overwrite`` and only if
    it holds nothing but ``episode_*`` directories; each split appears at once when done.
    Returns a summary: frames per video, seconds and frames per second.
    """
    config = config or RecordConfig()
    if train_episodes < 0 or test_episodes < 0:
        raise MsganError("episode counts must be 0 or more")
    if train_episodes + test_episodes == 0:
        raise MsganError("nothing to record: --train-episodes and --test-episodes are both 0")
    images = Path(out) / "images"
    counts = {"train": train_episodes, "test": test_episodes}
    splits = [split for split in ("train", "test") if counts[split] > 0]
    for split in splits:
        check_replaceable(images / split, overwrite, _is_recording, "record-pacman")
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        tmp = {split: stack.enter_context(atomic_dir(images / split)) for split in splits}
        tasks = [
            (seed, split, i, tmp[split] / f"episode_{i:05d}", config)
            for split in splits
            for i in range(counts[split])
        ]
        frames = worker_map(_record_episode, tasks, workers or default_workers())
    seconds = time.perf_counter() - start
    summary: dict[str, Any] = {split: {} for split in splits}
    for (_, split, _, video_dir, _), n in zip(tasks, frames, strict=True):
        summary[split][video_dir.name] = n
    total = sum(frames)
    return {"videos": summary, "frames": total, "seconds": seconds, "fps": total / seconds}
