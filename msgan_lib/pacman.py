"""The Ms. Pac-Man recorder: seeded Atari episodes as frame directories (chapter 01).

The Atari 2600 Ms. Pac-Man ROM ships in the ``ale-py`` wheel, so nothing is downloaded.
The game draws only some of its ghosts in each emulator frame (sprite flicker), so every
stored frame merges consecutive emulator frames (:func:`merge_flicker`); the player holds a
random action for a random number of stored frames, so Ms. Pac-Man runs along corridors
instead of jittering, and each video gets ``actions.csv`` (the action behind every stored
frame), ``emulator.json`` (what replays it in the emulator, :func:`restore_emulator`) and
``positions.csv`` (where Ms. Pac-Man is in every stored frame, :func:`pacman_position`: the
position chapters 05 and 06 measure in predictions, and that ``process-data`` centres
crops on, ``DataConfig.sprite_fraction``). Episodes are split into train and test by
episode, each with its own seed derived from one run seed, so the same arguments always
give identical PNG files. How the game is played and sampled is
:class:`~msgan_lib.config.RecordConfig`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from msgan_lib.config import RecordConfig
from msgan_lib.fileio import MsganError, atomic_dir, check_replaceable, write_text_atomic
from msgan_lib.frames import list_frames, load_video, write_video
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


# --- Ms. Pac-Man's position ---

# RGB of Ms. Pac-Man's sprite, read from recorded frames. In the maze no other sprite, wall,
# dot or ghost (frightened ones included) has it; below the maze, the lives (187, 187, 53)
# and the score (195, 144, 61) come close, so only the maze rows are searched.
PACMAN_COLOUR = (210, 164, 74)
MAZE_ROWS = 172  # rows 0..171 of a 210-row frame: the maze; below: lives, fruit, score
# A pixel counts as her colour with weight 1 - distance / tolerance (RGB distance). The
# nearest maze colour is the orange ghost's (180, 122, 48), 58 away; the nearest blend of
# two maze colours that blur can make is orange ghost and wall (41% wall), 48 away, except
# orange ghost and a flashing frightened ghost's white (214, 214, 214), 33 away, which are
# rarely side by side.
COLOUR_TOLERANCE = 40.0
# Her sprite covers 24 to 100 pixels of a recorded frame (more where a stored frame merges
# her at two positions): less total weight than this is "not visible".
MIN_WEIGHT = 8.0


def pacman_weights(frame: np.ndarray) -> np.ndarray:
    """How much each maze pixel of ``frame`` looks like Ms. Pac-Man, ``(MAZE_ROWS, W)``.

    ``frame``: ``(H, W, 3)`` uint8. Weight ``max(0, 1 - d / COLOUR_TOLERANCE)`` with ``d``
    the RGB distance to :data:`PACMAN_COLOUR`: 1 on her exact colour, 0 on every other
    colour of the game, in between on the blended colours of a blurry prediction.
    """
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3):
        shape = getattr(frame, "shape", type(frame).__name__)
        raise MsganError(f"pacman_position: expected an (H, W, 3) frame, got {shape}")
    maze = frame[:MAZE_ROWS].astype(np.float32)  # (rows, W, 3)
    distance = np.linalg.norm(maze - np.array(PACMAN_COLOUR, np.float32), axis=-1)
    return np.clip(1.0 - distance / COLOUR_TOLERANCE, 0.0, None)  # (rows, W)


def pacman_position(frame: np.ndarray) -> tuple[float, float] | None:
    """Ms. Pac-Man's position ``(y, x)`` in pixels in ``frame`` ``(H, W, 3)`` uint8, or
    ``None`` when she is not visible.

    The centroid of :func:`pacman_weights`: on a true frame the mean position of her
    sprite's pixels; on a predicted, blurry frame pixels count by how close their colour
    is to hers, so a faded Ms. Pac-Man still has a position as long as enough of her
    colour survives (total weight at least :data:`MIN_WEIGHT` pixels), and a dream that
    lost her gives ``None``. The maze wraps through its side tunnels, so ``x`` is a
    circular mean over the frame's width (she can be split across both edges); ``y`` is a
    plain weighted mean.
    """
    weights = pacman_weights(frame)  # (rows, W)
    total = float(weights.sum())
    if total < MIN_WEIGHT:
        return None
    rows, width = weights.shape
    y = float(weights.sum(axis=1) @ np.arange(rows)) / total
    angle = 2.0 * np.pi * np.arange(width) / width  # column x at angle 2 pi x / W
    columns = weights.sum(axis=0)  # (W,)
    mean_angle = math.atan2(float(columns @ np.sin(angle)), float(columns @ np.cos(angle)))
    x = (mean_angle * width / (2.0 * np.pi)) % width
    return y, x


def pacman_positions(frames: Iterable[np.ndarray]) -> np.ndarray:
    """:func:`pacman_position` of every ``(H, W, 3)`` frame, as float64 ``(N, 2)`` rows
    ``(y, x)``, NaN where she is not visible."""
    found = [pacman_position(frame) or (math.nan, math.nan) for frame in frames]
    return np.array(found, dtype=np.float64).reshape(-1, 2)  # (N, 2)


def episode_seed(seed: int, split: str, episode: int) -> np.random.SeedSequence:
    """The seed stream of one episode: distinct for every (run seed, split, episode)."""
    return np.random.SeedSequence(seed, spawn_key=(("train", "test").index(split), episode))


ACTIONS_FILE = "actions.csv"  # per video: which action produced each stored frame
EMULATOR_FILE = "emulator.json"  # per video: what restores the emulator at any stored frame
EMULATOR_FORMAT = "msgan-emulator-1"
POSITIONS_FILE = "positions.csv"  # per video: where Ms. Pac-Man is in each stored frame


def ale_action_order(name: str) -> tuple[int, str]:
    """Sort key of an action name: the ALE's own order (``NOOP``, ``FIRE``, ``UP``, ...),
    names the ALE does not know last, alphabetically."""
    from ale_py import Action

    known = list(Action.__members__)
    return (known.index(name), "") if name in known else (len(known), name)


class PacmanEmulator:
    """Ms. Pac-Man in the Atari emulator, stepped one stored (merged) frame at a time.

    ``random_seed`` seeds the emulator; with no sticky actions the same seed and the same
    actions always give the same frames, which is how :func:`restore_emulator` puts the
    game back at any recorded frame. ``step(name)`` holds the action for ``merge``
    emulator frames and returns their flicker-free merge (:func:`merge_flicker`), so the
    action can only change on stored-frame boundaries.
    """

    def __init__(self, random_seed: int, merge: int = 2) -> None:
        from ale_py import ALEInterface, LoggerMode, roms

        ALEInterface.setLoggerMode(LoggerMode.Error)
        self.ale = ALEInterface()
        self.ale.setInt("random_seed", int(random_seed) & 0x7FFFFFFF)
        self.ale.setInt("frame_skip", 1)  # every emulator frame, merged in step()
        self.ale.setFloat("repeat_action_probability", 0.0)  # no sticky actions
        self.ale.loadROM(roms.get_rom_path("ms_pacman"))
        self.merge = merge
        self.actions = {action.name: action for action in self.ale.getMinimalActionSet()}
        height, width = self.ale.getScreenDims()
        self._rgb = np.empty((merge, height, width, 3), dtype=np.uint8)  # (K, H, W, 3)
        self._palette = np.empty((merge, height, width), dtype=np.uint8)  # (K, H, W) indices

    @property
    def action_names(self) -> tuple[str, ...]:
        """The game's minimal action set, in the ALE's order (``NOOP``, ``UP``, ...)."""
        return tuple(self.actions)

    def _action(self, name: str) -> Any:
        if name not in self.actions:
            raise MsganError(
                f"unknown Ms. Pac-Man action {name!r}; use one of {', '.join(self.actions)}"
            )
        return self.actions[name]

    def act(self, name: str, frames: int = 1) -> None:
        """Play ``frames`` emulator frames under action ``name`` without storing them."""
        action = self._action(name)
        for _ in range(frames):
            self.ale.act(action)

    def step(self, name: str) -> np.ndarray:
        """Hold ``name`` for one stored frame; return it merged, ``(210, 160, 3)`` uint8."""
        action = self._action(name)
        for k in range(self.merge):
            self.ale.act(action)
            self.ale.getScreenRGB(self._rgb[k])
            self.ale.getScreen(self._palette[k])
        return _merge_by_key(self._rgb, self._palette)

    def game_over(self) -> bool:
        return bool(self.ale.game_over())


class PacmanEpisode:
    """One seeded Ms. Pac-Man episode: iterate for merged ``(210, 160, 3)`` uint8 frames.

    The game's start tune (the same in every game, input ignored) is skipped, then a random
    number of played frames, so no two episodes share their first frames: that prelude is
    played one emulator frame at a time and logged in ``prelude`` (run-length encoded
    ``[name, frames]`` pairs). Then the player holds a random action for a random number
    of *stored* frames (``hold_min .. hold_max``), so Ms. Pac-Man runs along corridors and
    every action change falls on a stored-frame boundary; ``produced_by[i]`` is the action
    held while stored frame ``i`` was made. The episode ends at game over or after
    ``config.frames_per_episode`` frames. The same seed always gives the same frames.
    """

    def __init__(self, seed: np.random.SeedSequence, config: RecordConfig | None = None) -> None:
        self.config = config or RecordConfig()
        ale_seed, policy_seed = seed.generate_state(2)
        self.random_seed = int(ale_seed) & 0x7FFFFFFF
        self._rng = np.random.default_rng(policy_seed)
        self.prelude: list[list[Any]] = []  # [[name, emulator frames], ...]
        self.produced_by: list[str] = []
        self.action_set: tuple[str, ...] = ()  # the game's actions, known once it plays

    def _draw(self, names: tuple[str, ...]) -> tuple[str, int]:
        """A random action and for how many stored frames to hold it."""
        name = names[self._rng.integers(len(names))]
        return name, int(self._rng.integers(self.config.hold_min, self.config.hold_max + 1))

    def __iter__(self) -> Iterator[np.ndarray]:
        config = self.config
        emulator = PacmanEmulator(self.random_seed, config.merge)
        names = self.action_set = emulator.action_names
        name, hold = names[0], 0
        for _ in range(config.skip_intro + int(self._rng.integers(config.start_jitter))):
            if hold == 0:
                name, hold = self._draw(names)
                hold *= config.merge  # the prelude counts emulator frames
            hold -= 1
            emulator.act(name)
            if self.prelude and self.prelude[-1][0] == name:
                self.prelude[-1][1] += 1
            else:
                self.prelude.append([name, 1])
        hold = 0  # the recorded play starts a fresh hold on a stored-frame boundary
        for _ in range(config.frames_per_episode):
            if hold == 0:
                name, hold = self._draw(names)
            hold -= 1
            self.produced_by.append(name)
            yield emulator.step(name)
            if emulator.game_over():
                return


def play_pacman(
    seed: np.random.SeedSequence, config: RecordConfig | None = None
) -> Iterator[np.ndarray]:
    """The frames of one seeded episode (:class:`PacmanEpisode`), without its action log."""
    return iter(PacmanEpisode(seed, config))


def write_action_log(video_dir: Path, episode: PacmanEpisode) -> None:
    """Write ``actions.csv`` and ``emulator.json`` for a recorded episode.

    ``actions.csv``: header ``frame,action``, one row per transition between stored frames;
    ``frame`` is the number in the frame's file name (``frame_000001.png`` is 1) and
    ``action`` the ALE name of the action held while the emulator produced frame
    ``frame + 1`` from it. ``emulator.json`` holds the emulator seed and settings, the
    prelude and the action that produced frame 1, which with ``actions.csv`` replay the
    episode exactly (:func:`restore_emulator`).
    """
    rows = [f"{i},{name}" for i, name in enumerate(episode.produced_by[1:], start=1)]
    write_text_atomic(video_dir / ACTIONS_FILE, "\n".join(["frame,action", *rows]) + "\n")
    state = {
        "format": EMULATOR_FORMAT,
        "game": "ms_pacman",
        "random_seed": episode.random_seed,
        "merge": episode.config.merge,
        "action_set": list(episode.action_set),
        "prelude": episode.prelude,
        "first_action": episode.produced_by[0],
    }
    write_text_atomic(video_dir / EMULATOR_FILE, json.dumps(state) + "\n")


def write_positions(video_dir: Path, positions: np.ndarray) -> None:
    """Write ``positions.csv``: Ms. Pac-Man's position in every stored frame of a video.

    Header ``frame,x,y``, one row per stored frame (``frame`` as in ``actions.csv``: 1 is
    ``frame_000001.png``); ``x`` the column from the left and ``y`` the row from the top,
    in pixels with 3 decimals (:func:`pacman_position`), both empty (``12,,``) in a frame
    where she is not visible. ``positions`` is ``(N, 2)`` ``(y, x)``, NaN where not visible.
    """
    rows = [
        f"{i},," if math.isnan(y) else f"{i},{x:.3f},{y:.3f}"
        for i, (y, x) in enumerate(positions.tolist(), start=1)
    ]
    write_text_atomic(video_dir / POSITIONS_FILE, "\n".join(["frame,x,y", *rows]) + "\n")


def read_positions(video_dir: str | os.PathLike[str]) -> np.ndarray | None:
    """The ``positions.csv`` of a video as float64 ``(N, 2)`` rows ``(y, x)`` (row ``i``:
    stored frame ``i + 1``), NaN where she is not visible; ``None`` when it has none."""
    path = Path(video_dir) / POSITIONS_FILE
    if not path.is_file():
        return None
    lines = path.read_text().splitlines()
    if not lines or lines[0].strip() != "frame,x,y":
        raise MsganError(f"{path} must start with the header 'frame,x,y'")
    positions = np.full((len(lines) - 1, 2), np.nan)  # (N, 2): (y, x)
    for number, line in enumerate(lines[1:], start=1):
        fields = [field.strip() for field in line.split(",")]
        try:
            if len(fields) != 3 or fields[0] != str(number):
                raise ValueError
            if fields[1:] != ["", ""]:
                positions[number - 1] = float(fields[2]), float(fields[1])
        except ValueError:
            raise MsganError(
                f"{path}, line {number + 1}: expected '{number},<x>,<y>' or '{number},,', "
                f"got {line!r}"
            ) from None
    return positions


def video_positions(
    video_dir: str | os.PathLike[str], frames: np.ndarray | None = None
) -> np.ndarray:
    """Ms. Pac-Man's position in every frame of a video: float64 ``(T, 2)`` ``(y, x)``, NaN
    where she is not visible.

    From ``positions.csv`` when the video has one (``record-pacman`` writes it), otherwise
    computed from the frames with :func:`pacman_position`, so videos recorded before
    ``positions.csv`` existed, and imported ones, work too; nothing is written into
    ``video_dir``. ``frames`` ``(T, H, W, 3)`` uint8: the video's frames when the caller
    has them loaded (a channel-first video as ``frames.transpose(0, 2, 3, 1)``).

    The position comes from the frames, not from the emulator's RAM: it is exactly the
    position the evaluation and the dream measure in predictions (chapters 05, 06), and it
    exists for any video. RAM bytes 10 and 16 (x = byte 10 - 8, y = byte 16 + 6 pixels)
    agree with it to a median of 0.45 and 0.17 pixels, but not everywhere: 95th percentile
    1.6 and 2.2 pixels, at worst 32 and 36 (600 stored frames of one episode).
    """
    video_dir = Path(video_dir)
    n_frames = len(frames) if frames is not None else len(list_frames(video_dir))
    recorded = read_positions(video_dir)
    if recorded is not None:
        if len(recorded) != n_frames:
            raise MsganError(
                f"{video_dir / POSITIONS_FILE} must hold one row per frame ({n_frames}), "
                f"found {len(recorded)}; re-record the video"
            )
        return recorded
    return pacman_positions(load_video(video_dir) if frames is None else frames)


def read_actions(video_dir: str | os.PathLike[str]) -> list[str] | None:
    """The ``actions.csv`` of a video as a list (entry ``i``: the action that turned stored
    frame ``i`` into ``i + 1``, 0-based), or ``None`` when the video has none."""
    path = Path(video_dir) / ACTIONS_FILE
    if not path.is_file():
        return None
    lines = path.read_text().splitlines()
    if not lines or lines[0].strip() != "frame,action":
        raise MsganError(f"{path} must start with the header 'frame,action'")
    actions = []
    for number, line in enumerate(lines[1:], start=1):
        frame, _, name = line.partition(",")
        if frame.strip() != str(number) or not name.strip():
            raise MsganError(
                f"{path}, line {number + 1}: expected '{number},<ACTION>', got {line!r}"
            )
        actions.append(name.strip())
    return actions


def read_action_set(video_dir: str | os.PathLike[str]) -> tuple[str, ...]:
    """The game's action set from a video's ``emulator.json`` (empty when it has none)."""
    path = Path(video_dir) / EMULATOR_FILE
    try:
        return tuple(json.loads(path.read_text()).get("action_set", ()))
    except FileNotFoundError:
        return ()
    except (OSError, ValueError, AttributeError) as error:
        raise MsganError(f"cannot read {path}: {error}; re-record the video") from None


def restore_emulator(video_dir: str | os.PathLike[str], frame: int) -> PacmanEmulator:
    """The emulator as it was right after stored frame ``frame`` (1-based, as in the file
    names) of a video recorded by ``record-pacman``, replayed from ``emulator.json`` and
    ``actions.csv``; the next :meth:`PacmanEmulator.step` makes frame ``frame + 1``."""
    video_dir = Path(video_dir)
    path = video_dir / EMULATOR_FILE
    actions = read_actions(video_dir)
    if not path.is_file() or actions is None:
        raise MsganError(
            f"{video_dir} has no {EMULATOR_FILE} and {ACTIONS_FILE}: only videos recorded by "
            "`msgan record-pacman` can be replayed in the emulator"
        )
    try:
        state = json.loads(path.read_text())
        if state.get("format") != EMULATOR_FORMAT:
            raise ValueError(f"format is not {EMULATOR_FORMAT}")
        emulator = PacmanEmulator(state["random_seed"], state["merge"])
        prelude, first = state["prelude"], state["first_action"]
    except (ValueError, KeyError, TypeError) as error:
        raise MsganError(f"cannot read {path}: {error}; re-record the video") from None
    if not 1 <= frame <= len(actions) + 1:
        raise MsganError(f"{video_dir} has frames 1 to {len(actions) + 1}; frame {frame} is not")
    for name, count in prelude:
        emulator.act(name, count)
    emulator.step(first)
    for name in actions[: frame - 1]:
        emulator.step(name)
    return emulator


TAP_DIRECTIONS = ("UP", "RIGHT", "LEFT", "DOWN")


def tap_delay(
    video_dir: str | os.PathLike[str], frame: int, direction: str, horizon: int
) -> int | None:
    """Stored frames after ``frame`` until a one-frame tap changes the picture.

    From stored frame ``frame`` (1-based) of a recorded video, two branches play in the
    emulator: a *tap* (``direction`` for one stored frame, then NOOP) and NOOP throughout.
    Returns the first frame at which they differ (1: the very next one), or ``None`` if
    they agree for ``horizon`` frames. A delay of k means an action k - 1 frames in the
    past still changed the frame: how many past actions an action model must read
    (``benchmarks/action_memory.py``, chapter 06).
    """
    emulator = restore_emulator(video_dir, frame)
    start = emulator.ale.cloneState()
    base = [emulator.step("NOOP") for _ in range(horizon)]
    emulator.ale.restoreState(start)
    for k in range(1, horizon + 1):
        if not np.array_equal(emulator.step(direction if k == 1 else "NOOP"), base[k - 1]):
            return k
    return None


def _record_episode(task: tuple[int, str, int, Path, RecordConfig]) -> int:
    seed, split, episode_index, video_dir, config = task
    video_dir.mkdir()
    episode = PacmanEpisode(episode_seed(seed, split, episode_index), config)
    positions: list[np.ndarray] = []  # (1, 2) per stored frame

    def located() -> Iterator[np.ndarray]:  # each frame as stored (PNG is lossless)
        for frame in episode:
            positions.append(pacman_positions([frame]))
            yield frame

    count = write_video(located(), video_dir)
    write_action_log(video_dir, episode)
    write_positions(video_dir, np.concatenate(positions))  # (count, 2)
    return count


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
    the same arguments always give identical PNG files. Each video also gets
    ``actions.csv``, ``emulator.json`` (:func:`write_action_log`) and ``positions.csv``
    (:func:`write_positions`). A split with 0 episodes is left
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
