"""Ms. Pac-Man frames and training clips (chapter 01, ``book/01_data.py``).

The paper (Mathieu, Couprie & LeCun 2016, section 4) trains on random 32x32 crops of
(history + 1)-frame windows; the Chainer port this project replaces cut them with its
``process_data.py``. This module holds every data step of the pipeline:

Frames on disk
    ``<root>/images/train/<video>/<frame>.png`` and ``<root>/images/test/...`` (the Chainer
    port's layout). A video is a directory of PNG/JPEG frames in natural order of file names
    (``frame2`` before ``frame10``); hidden files and files without an image extension are
    ignored. :func:`list_videos` and :func:`load_video` read them.

Recording (:func:`record_pacman`)
    The Atari 2600 Ms. Pac-Man ROM ships in the ``ale-py`` wheel. The game draws only some of
    its ghosts in each emulator frame (sprite flicker), so every stored frame merges two
    consecutive emulator frames (:func:`merge_flicker`); the player holds a random action for
    a random number of frames. Episodes are split into train and test by episode, each with
    its own seed derived from one run seed.

Clips (:func:`process_data`)
    Each video is decoded once into a summed-volume table of motion energy, from which the
    motion score of any crop of any window is 8 lookups; crops are then drawn in bulk with
    the Chainer port's rule: up to ``max_tries`` random crops of a random window until one's
    summed squared frame-to-frame difference on [-1, 1] data exceeds the threshold, a
    fraction kept without the check (only the tries actually needed are scored). Clips are
    stored as shards: a ``.npy`` byte array holding an int64 offset table followed by one
    zlib stream per clip (uint8, ``(history+1, 3, crop, crop)``), so :class:`ClipDataset`
    reads any clip at random by memory-mapping the shard. A
    ``manifest.json`` records count, shapes, seed, source and motion statistics.

Every run writes into a hidden temporary directory that is renamed into place at the end, so
an interrupted run never leaves a partial episode, shard or clip set behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import struct
import time
import warnings
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from msgan_lib.config import DataConfig
from msgan_lib.fileio import MsganError, atomic_dir, atomic_path, natural_key, write_text_atomic

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MANIFEST_NAME = "manifest.json"
CLIPS_FORMAT = "msgan-clips-1"
SHARD_SIZE = 4096  # clips per shard: about 1-2 MB compressed, one file per 4096 clips
PNG_LEVEL = 1  # zlib level of recorded frames: Atari frames compress 40x even at level 1
CLIP_LEVEL = 3  # zlib level of each stored clip: measured 30x smaller, faster than level 6
WRITE_AHEAD = 16  # frames queued for the PNG writer thread at most
PIXEL_SCALE = 127.5  # uint8 v <-> [-1, 1] value v / 127.5 - 1


class DataWarning(UserWarning):
    """A skippable problem with the input data (e.g. a video too short for one clip)."""


# ---------------------------------------------------------------------------------------
# Frames on disk


def default_workers() -> int:
    """Number of worker processes when none is given: every core this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _require_dir(path: Path, what: str) -> None:
    if not path.exists():
        raise MsganError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise MsganError(f"{what} {path} is not a directory")


def list_videos(split_dir: str | os.PathLike[str]) -> list[Path]:
    """The video directories of a split (e.g. ``data/images/train``) in natural order.

    Hidden entries (``.DS_Store``, temporary directories of an unfinished run) and plain
    files are ignored. Raises :class:`MsganError` if the directory is missing or holds no
    video directory.
    """
    root = Path(split_dir)
    _require_dir(root, "frames directory")
    videos = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if not videos:
        raise MsganError(
            f"frames directory {root} holds no video directories: expected "
            f"{root}/<video>/<frame>.png (record some with `msgan record-pacman`)"
        )
    return sorted(videos, key=lambda p: natural_key(p.name))


def list_frames(video_dir: str | os.PathLike[str]) -> list[Path]:
    """The frame files of one video in natural order (``frame2`` before ``frame10``).

    Only ``.png``, ``.jpg`` and ``.jpeg`` files (any case) count; hidden files are ignored.
    """
    root = Path(video_dir)
    _require_dir(root, "video directory")
    frames = [
        p
        for p in root.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(frames, key=lambda p: natural_key(p.name))


def _decode_plain_png(data: bytes) -> np.ndarray | None:
    """Decode an 8-bit RGB PNG whose rows are all unfiltered (as :func:`encode_png` writes).

    Returns ``(H, W, 3)`` uint8, or None for any other PNG (or a damaged one): the caller
    then decodes with Pillow, which handles every format and reports errors. Skipping
    Pillow's generic machinery makes reading recorded frames about 2.5x faster, which is
    most of ``process-data``'s fixed cost per frame.
    """
    if data[:8] != PNG_SIGNATURE:
        return None
    position, shape, parts = 8, None, []
    while position + 8 <= len(data):
        length, tag = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length  # length, tag, body, crc
        if tag == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, colour, interlace) != (8, 2, 0):
                return None
            shape = (height, width)
        elif tag == b"IDAT":
            parts.append(body)
        elif tag == b"IEND":
            break
    if shape is None:
        return None
    try:
        raw = zlib.decompress(b"".join(parts))
    except zlib.error:
        return None
    height, width = shape
    if len(raw) != height * (1 + 3 * width):
        return None
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, 1 + 3 * width)
    if rows[:, 0].any():  # a row filter other than "none": leave it to Pillow
        return None
    return rows[:, 1:].reshape(height, width, 3)


def read_frame(path: str | os.PathLike[str]) -> np.ndarray:
    """One frame file as an ``(H, W, 3)`` uint8 RGB array (grayscale and RGBA converted)."""
    return np.ascontiguousarray(_read_rgb(path))


def _read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """:func:`read_frame`, possibly as a strided view (saves a copy in :func:`load_video`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise MsganError(f"cannot read frame {path}: {error}; replace or delete it") from None
    frame = _decode_plain_png(data)
    if frame is not None:
        return frame
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        raise MsganError(f"cannot decode frame {path}: {error}; replace or delete it") from None


def frame_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(height, width)`` of a frame file, read from its header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        raise MsganError(f"cannot decode frame {path}: {error}; replace or delete it") from None
    return height, width


def load_video(video_dir: str | os.PathLike[str]) -> np.ndarray:
    """All frames of one video as a ``(T, H, W, 3)`` uint8 array, in natural file order.

    Raises :class:`MsganError` naming the file if a frame does not decode or if its size
    differs from the first frame's, and if the directory holds no frame at all.
    """
    return _load_frames(video_dir, channels_first=False)


def _load_frames(video_dir: str | os.PathLike[str], channels_first: bool) -> np.ndarray:
    """:func:`load_video`, or with ``channels_first`` the same frames as ``(T, 3, H, W)``
    (the layout ``process-data`` cuts from), decoded straight into it with no extra copy,
    into a :func:`_scratch` buffer valid until the next call."""
    files = list_frames(video_dir)
    if not files:
        raise MsganError(f"video directory {video_dir} holds no PNG or JPEG frames")
    first = _read_rgb(files[0])
    height, width, _ = first.shape
    shape = (len(files), 3, height, width) if channels_first else (len(files), *first.shape)
    video = _scratch("frames", shape, np.uint8) if channels_first else np.empty(shape, np.uint8)
    target = video.transpose(0, 2, 3, 1) if channels_first else video  # (T, H, W, 3) view
    target[0] = first
    for index, path in enumerate(files[1:], start=1):
        frame = _read_rgb(path)
        if frame.shape != first.shape:
            raise MsganError(
                f"frame {path} is {frame.shape[0]}x{frame.shape[1]} but {files[0].name} is "
                f"{first.shape[0]}x{first.shape[1]}: all frames of a video must share one size"
            )
        target[index] = frame
    return video


def encode_png(frame: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """A ``(H, W, 3)`` uint8 frame as PNG bytes (no row filter, zlib ``level``).

    A valid 8-bit RGB PNG like Pillow's, written about 4x faster: Pillow spends most of its
    time choosing a row filter, which flat Atari frames do not need (measured: 3,000 vs 800
    frames/s per core). This is what lets ``record-pacman`` write > 1,000 frames/s.
    """
    height, width, _ = frame.shape
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # filter byte 0, then RGB
    rows[:, 1:] = frame.reshape(height, 3 * width)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + chunk(b"IEND", b"")
    )


def write_video(frames: Iterable[np.ndarray], video_dir: Path) -> int:
    """Write frames as ``frame_000001.png``, ... into an existing, empty ``video_dir``.

    PNG encoding and file writes run on a helper thread (zlib and file I/O release the GIL)
    while the caller produces the next frames, e.g. emulates the game: a recording worker
    then keeps more than one core busy, which also evens out workers that finish at
    different times. Callers write into a temporary directory renamed into place afterwards,
    which makes the whole video appear at once. Returns the number of frames written.
    """

    def save(index: int, frame: np.ndarray) -> None:
        (video_dir / f"frame_{index:06d}.png").write_bytes(encode_png(frame))

    count = 0
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: deque[Future[None]] = deque()
        for count, frame in enumerate(frames, start=1):
            pending.append(writer.submit(save, count, frame))
            while len(pending) > WRITE_AHEAD:
                pending.popleft().result()  # bounded memory; re-raises a failed write
        for done in pending:
            done.result()
    return count


def _check_replaceable(path: Path, overwrite: bool, is_ours: Callable[[Path], bool], hint: str):
    """Refuse to write into a non-empty ``path`` unless ``overwrite`` and it is ours."""
    if not path.exists():
        return
    if not path.is_dir():
        raise MsganError(f"{path} exists and is not a directory; choose another output path")
    if not any(path.iterdir()):
        return
    if not is_ours(path):
        raise MsganError(
            f"{path} is not empty and was not written by msgan {hint}; not touching it"
        )
    if not overwrite:
        raise MsganError(
            f"{path} already holds data from msgan {hint}; pass --overwrite to replace it"
        )


def _worker_map(function: Callable[[Any], Any], tasks: Sequence[Any], workers: int) -> list[Any]:
    """``[function(t) for t in tasks]`` on ``workers`` processes (in order; 1 = in-process).

    Results never depend on which process ran a task: every task carries its own seed.
    """
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        return [function(task) for task in tasks]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        return pool.map(function, tasks, chunksize=1)


# ---------------------------------------------------------------------------------------
# Recording Ms. Pac-Man


@dataclass(frozen=True)
class RecordConfig:
    """How ``record-pacman`` plays and samples the game (choices of ours, see chapter 01)."""

    frames_per_episode: int = 1000  # stored frames; a random player's game lasts ~650-1,100
    hold_min: int = 4  # a random action is held for hold_min..hold_max stored frames,
    hold_max: int = 16  # so Ms. Pac-Man runs along corridors instead of jittering
    merge: int = 2  # emulator frames merged into each stored frame (flicker, see merge_flicker)
    skip_intro: int = 264  # emulator frames not recorded: the start tune, the same every game
    start_jitter: int = 64  # plus 0..start_jitter-1 played frames, so episodes start apart


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
    seed: np.random.SeedSequence, config: RecordConfig = RecordConfig()
) -> Iterator[np.ndarray]:
    """Play one seeded Ms. Pac-Man episode, yielding merged ``(210, 160, 3)`` uint8 frames.

    The game's start tune (the same in every game, input ignored) is skipped, then a random
    number of played frames, so no two episodes share their first frames. The episode ends
    at game over or after ``config.frames_per_episode`` frames (a shorter game simply gives
    a shorter video). The same seed always gives the same frames.
    """
    from ale_py import ALEInterface, LoggerMode, roms

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
    config: RecordConfig = RecordConfig(),
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
    if train_episodes < 0 or test_episodes < 0:
        raise MsganError("episode counts must be 0 or more")
    if train_episodes + test_episodes == 0:
        raise MsganError("nothing to record: --train-episodes and --test-episodes are both 0")
    if config.frames_per_episode < 1:
        raise MsganError(f"frames per episode must be at least 1, got {config.frames_per_episode}")
    images = Path(out) / "images"
    counts = {"train": train_episodes, "test": test_episodes}
    splits = [split for split in ("train", "test") if counts[split] > 0]
    for split in splits:
        _check_replaceable(images / split, overwrite, _is_recording, "record-pacman")
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        tmp = {split: stack.enter_context(atomic_dir(images / split)) for split in splits}
        tasks = [
            (seed, split, i, tmp[split] / f"episode_{i:05d}", config)
            for split in splits
            for i in range(counts[split])
        ]
        frames = _worker_map(_record_episode, tasks, workers or default_workers())
    seconds = time.perf_counter() - start
    summary: dict[str, Any] = {split: {} for split in splits}
    for (_, split, _, video_dir, _), n in zip(tasks, frames, strict=True):
        summary[split][video_dir.name] = n
    total = sum(frames)
    return {"videos": summary, "frames": total, "seconds": seconds, "fps": total / seconds}


# ---------------------------------------------------------------------------------------
# Importing a video file


def import_video(
    video_file: str | os.PathLike[str], out_dir: str | os.PathLike[str], overwrite: bool = False
) -> int:
    """Decode a video file (mp4, gif, ...) into a frame directory ``out_dir`` (one video).

    Frames become ``frame_000001.png``, ... in RGB. Returns the number of frames.
    """
    import imageio.v3 as iio

    source, out = Path(video_file), Path(out_dir)
    if not source.exists():
        raise MsganError(f"video file {source} does not exist")
    if not source.is_file():
        raise MsganError(f"video file {source} is not a file")
    _check_replaceable(out, overwrite, lambda p: bool(list_frames(p)), "import-video")

    def rgb_frames() -> Iterator[np.ndarray]:
        for frame in iio.imiter(source):
            frame = np.asarray(frame)
            if frame.dtype != np.uint8:
                raise MsganError(f"video file {source} has {frame.dtype} pixels; need 8-bit")
            if frame.ndim == 2:
                frame = np.repeat(frame[:, :, None], 3, axis=2)  # gray -> (H, W, 3)
            elif frame.shape[2] == 1:
                frame = np.repeat(frame, 3, axis=2)
            yield np.ascontiguousarray(frame[:, :, :3])  # drop alpha

    with atomic_dir(out) as tmp:
        try:
            count = write_video(rgb_frames(), tmp)
        except MsganError:
            raise
        except Exception as error:  # the decoder's many failure types: one clear line
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise MsganError(f"cannot read video file {source}: {reason}") from None
        if count == 0:
            raise MsganError(f"video file {source} holds no frames")
    return count


# ---------------------------------------------------------------------------------------
# Motion rule


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
KEEP_REASONS = ("passed", "kept_without_check", "kept_after_max_tries")


_SCRATCH: dict[str, np.ndarray] = {}  # process-data's big buffers, reused from video to video


def _scratch(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An uninitialised array for ``process-data``, reusing the memory of the last video's.

    A fresh 100+ MB array per video costs a page fault per 4 KiB page (measured: 5x slower
    to fill than reused memory, about 5% of all the CPU time of ``process-data``). The
    buffers live in :data:`_SCRATCH` until :func:`process_data` returns.
    """
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffer = _SCRATCH.get(name)
    if buffer is None or buffer.nbytes < size:
        _SCRATCH.pop(name, None)
        buffer = _SCRATCH[name] = np.empty(size, dtype=np.uint8)
    return buffer[:size].view(dtype).reshape(shape)


def _motion_table(frames: np.ndarray, history: int, crop: int) -> np.ndarray:
    """Summed-volume table of per-pixel motion energy of channel-first ``(T, 3, H, W)`` frames.

    Returns ``(T, H+1, W+1)``: entry ``[k, y, x]`` sums the squared uint8 frame-to-frame
    differences of steps ``< k`` over rows ``< y`` and columns ``< x``, so the energy of any
    crop of any window is 8 lookups (:func:`_table_scores`). Cheaper than
    :func:`_motion_energy_map` when only the crops actually tried are needed
    (``process-data``). Squared differences are computed in uint8/uint16 arithmetic; sums
    wrap around in uint32 (uint64 for huge crops), and differences stay exact
    because every crop's total fits the type. The table is built a few steps at a time, with
    small temporaries and prefix sums along time and rows as whole-row adds, which
    numpy does far faster than ``cumsum`` along those axes.
    """
    n_frames, _, height, width = frames.shape
    wide = 3 * 255**2 * history * crop * crop >= 2**32
    shape = (n_frames, height + 1, width + 1)
    table = _scratch("motion_table", shape, np.uint64 if wide else np.uint32)
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


def _table_scores(
    table: np.ndarray, t: np.ndarray, y: np.ndarray, x: np.ndarray, history: int, crop: int
) -> np.ndarray:
    """float32 :func:`motion_score` of the clips at window ``t``, crop ``(y, x)`` from a
    :func:`_motion_table`; equal to :func:`motion_score_map` at those entries."""
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
    return _draw_crops(lambda t, y, x: scores[t, y, x], scores.shape, n, rng, config)


def _draw_crops(
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


# ---------------------------------------------------------------------------------------
# Clip shards


def encode_shard(
    frames: np.ndarray, t: np.ndarray, y: np.ndarray, x: np.ndarray, history: int, crop: int
) -> np.ndarray:
    """Cut clips ``frames[t:t+history+1, :, y:y+crop, x:x+crop]`` and pack them into a shard.

    ``frames`` is the video channel-first, ``(T, 3, H, W)`` uint8, so that each clip's rows
    are copied in runs of ``crop`` bytes. The shard is a uint8 byte array: ``N + 1`` int64
    offsets, then one zlib stream per clip (bytes ``[offsets[i], offsets[i+1])``), each clip
    stored as ``(history+1, 3, crop, crop)``, so one clip decodes without the rest. Clips
    are cut in order of their window so that neighbouring cuts share frames in the CPU
    cache (about 8x faster than cutting in random order), and each is compressed straight
    from the frames, with no array of all clips in between.
    """
    blobs: list[bytes] = [b""] * len(t)
    order = np.argsort(t, kind="stable")
    cuts = zip(order.tolist(), t[order].tolist(), y[order].tolist(), x[order].tolist(), strict=True)
    for i, a, b, c in cuts:
        clip = frames[a : a + history + 1, :, b : b + crop, c : c + crop]  # (T+1, 3, crop, crop)
        blobs[i] = zlib.compress(clip.tobytes(), CLIP_LEVEL)
    table = 8 * (len(blobs) + 1)
    offsets = np.cumsum([table, *map(len, blobs)], dtype="<i8")  # (N+1,)
    return np.frombuffer(offsets.tobytes() + b"".join(blobs), dtype=np.uint8)


def _decode_clip(shard: np.ndarray, index: int, count: int, shape: tuple[int, ...]) -> np.ndarray:
    offsets = np.frombuffer(shard[8 * index : 8 * (index + 2)], dtype="<i8")
    if not 8 * (count + 1) <= offsets[0] <= offsets[1] <= len(shard):
        raise MsganError(f"clip shard is corrupt near clip {index}; re-run process-data")
    raw = zlib.decompress(shard[offsets[0] : offsets[1]])
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


@dataclass(frozen=True)
class _VideoJob:
    video_index: int
    video_dir: Path
    n_clips: int
    shards: tuple[tuple[str, int], ...]  # (file name, clip count) in order
    out_dir: Path
    seed: int
    config: DataConfig


def _draw_from_video(
    frames: np.ndarray, n: int, rng: np.random.Generator, config: DataConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`draw_crops` on channel-first ``frames`` ``(T, 3, H, W)``, scoring only the
    crops tried."""
    history, crop = config.history, config.crop_size
    table = _motion_table(frames, history, crop)
    n_frames, _, height, width = frames.shape
    shape = (n_frames - history, height - crop + 1, width - crop + 1)
    return _draw_crops(
        lambda t, y, x: _table_scores(table, t, y, x, history, crop), shape, n, rng, config
    )


def _clips_from_video(job: _VideoJob) -> list[dict[str, Any]]:
    """Cut one video's clips and write its shards; returns per-shard statistics."""
    frames = _load_frames(job.video_dir, channels_first=True)  # (T, 3, H, W)
    crop, history = job.config.crop_size, job.config.history
    rng = np.random.default_rng(np.random.SeedSequence(job.seed, spawn_key=(job.video_index,)))
    t, y, x, reason, score = _draw_from_video(frames, job.n_clips, rng, job.config)
    results, start = [], 0
    for name, count in job.shards:
        part = slice(start, start + count)
        start += count
        data = encode_shard(frames, t[part], y[part], x[part], history, crop)
        with atomic_path(job.out_dir / name) as tmp:
            np.save(tmp, data)
        results.append(
            {
                "file": name,
                "count": count,
                "bytes": int(data.nbytes),
                "sha256": hashlib.sha256(data.tobytes()).hexdigest(),
                "video": job.video_dir.name,
                "scores": score[part],
                "reasons": reason[part],
            }
        )
    return results


def _split_counts(n: int, weights: Sequence[int]) -> list[int]:
    """``n`` split in proportion to ``weights`` (largest remainders; deterministic)."""
    weights_array = np.asarray(weights, dtype=np.float64)
    exact = n * weights_array / weights_array.sum()
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts.tolist()


def _is_clip_set(path: Path) -> bool:
    manifest = path / MANIFEST_NAME
    if not manifest.is_file():
        return False
    try:
        return json.loads(manifest.read_text()).get("format") == CLIPS_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _check_config(config: DataConfig) -> None:
    if config.history < 1:
        raise MsganError(f"history must be at least 1 frame, got {config.history}")
    if config.crop_size < 1:
        raise MsganError(f"crop size must be at least 1 pixel, got {config.crop_size}")
    if not 0.0 <= config.keep_without_check <= 1.0:
        raise MsganError(f"keep fraction must be in [0, 1], got {config.keep_without_check}")
    if config.motion_threshold < 0:
        raise MsganError(f"motion threshold must be 0 or more, got {config.motion_threshold}")
    if config.max_tries < 1:
        raise MsganError(f"max tries must be at least 1, got {config.max_tries}")


def process_data(
    train_dir: str | os.PathLike[str] = "data/images/train",
    clips_dir: str | os.PathLike[str] = "data/clips",
    n_clips: int = 500_000,
    config: DataConfig | None = None,
    seed: int = 0,
    workers: int | None = None,
    overwrite: bool = False,
    shard_size: int = SHARD_SIZE,
) -> dict[str, Any]:
    """Cut ``n_clips`` training clips from the videos in ``train_dir`` into ``clips_dir``.

    Clips are split across videos in proportion to their number of windows, so each window
    is equally likely (the port drew a video uniformly first, favouring short videos). Each
    video gets its own random stream from ``(seed, video index)``, so the clips do not
    depend on ``workers``. Videos shorter than ``history + 1`` frames are skipped with a
    :class:`DataWarning`. An existing clip set is replaced only with ``overwrite`` (no
    silent appending: a second run with the same seed would add duplicates); the new set
    appears at once when complete. ``config`` defaults to :class:`DataConfig` (the paper's
    4 frames of history, 32x32 crops, the port's motion rule). Returns the manifest.
    """
    if n_clips < 1:
        raise MsganError(f"number of clips must be a positive integer, got {n_clips}")
    if shard_size < 1:
        raise MsganError(f"shard size must be at least 1, got {shard_size}")
    config = config or DataConfig()
    _check_config(config)
    clips_path, history, crop = Path(clips_dir), config.history, config.crop_size
    _check_replaceable(clips_path, overwrite, _is_clip_set, "process-data")

    videos, lengths, short = [], [], []
    for video in list_videos(train_dir):
        files = list_frames(video)
        if len(files) < history + 1:
            short.append(video)
            continue
        height, width = frame_size(files[0])
        if crop > height or crop > width:
            raise MsganError(
                f"crop size {crop} is larger than the {height}x{width} frames of {video}; "
                f"choose --crop-size {min(height, width)} or less"
            )
        videos.append(video)
        lengths.append(len(files))
    if short:
        message = (
            f"skipped {len(short)} video(s) with fewer than {history + 1} frames "
            f"(history {history} + 1), e.g. {short[0]}"
        )
        if not videos:
            raise MsganError(f"no usable video in {train_dir}: {message}")
        warnings.warn(message, DataWarning, stacklevel=2)

    start = time.perf_counter()
    per_video = _split_counts(n_clips, [n - history for n in lengths])
    jobs, shard_index = [], 0
    with atomic_dir(clips_path) as tmp:
        for index, (video, count) in enumerate(zip(videos, per_video, strict=True)):
            if count == 0:
                continue
            sizes = [min(shard_size, count - s) for s in range(0, count, shard_size)]
            names = [f"shard_{shard_index + k:06d}.npy" for k in range(len(sizes))]
            shard_index += len(sizes)
            jobs.append(
                _VideoJob(
                    index, video, count, tuple(zip(names, sizes, strict=True)), tmp, seed, config
                )
            )
        jobs_by_work = sorted(jobs, key=lambda job: -job.n_clips)  # longest first: balance
        try:
            results = _worker_map(_clips_from_video, jobs_by_work, workers or default_workers())
        finally:
            _SCRATCH.clear()  # with one worker the buffers were this process's
        shards = sorted((s for r in results for s in r), key=lambda s: s["file"])
        manifest = _manifest(shards, config, seed, train_dir, videos, lengths, short)
        manifest["seconds"] = round(time.perf_counter() - start, 3)
        write_text_atomic(tmp / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")
    return manifest


def _manifest(
    shards: list[dict[str, Any]],
    config: DataConfig,
    seed: int,
    train_dir: str | os.PathLike[str],
    videos: list[Path],
    lengths: list[int],
    short: list[Path],
) -> dict[str, Any]:
    scores = np.concatenate([s["scores"] for s in shards])
    reasons = np.concatenate([s["reasons"] for s in shards])
    content = hashlib.sha256("".join(s["sha256"] for s in shards).encode()).hexdigest()
    edges = np.concatenate([[0.0], np.logspace(-1, 4, 26)])  # score histogram, log bins
    histogram, _ = np.histogram(np.clip(scores, 0, edges[-1]), bins=edges)
    return {
        "format": CLIPS_FORMAT,
        "count": int(len(scores)),
        "clip_shape": [config.history + 1, 3, config.crop_size, config.crop_size],
        "dtype": "uint8",
        "history": config.history,
        "crop_size": config.crop_size,
        "seed": seed,
        "content_sha256": content,
        "source": {
            "train_dir": str(Path(train_dir).resolve()),
            "videos": [{"name": v.name, "frames": n} for v, n in zip(videos, lengths, strict=True)],
            "skipped_short_videos": [v.name for v in short],
        },
        "motion": {
            "threshold": config.motion_threshold,
            "keep_without_check": config.keep_without_check,
            "max_tries": config.max_tries,
            "counts": {
                name: int((reasons == code).sum()) for code, name in enumerate(KEEP_REASONS)
            },
            "score_mean": float(scores.mean()),
            "score_quantiles": {
                str(q): float(np.quantile(scores, q)) for q in (0.0, 0.05, 0.25, 0.5, 0.75, 0.95)
            },
            "score_max": float(scores.max()),
            "histogram_edges": [round(float(e), 4) for e in edges],
            "histogram_counts": histogram.tolist(),
        },
        "shards": [
            {k: s[k] for k in ("file", "count", "bytes", "sha256", "video")} for s in shards
        ],
    }


def read_manifest(clips_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``manifest.json`` of a clip set, checked; raises :class:`MsganError` if unusable."""
    root = Path(clips_dir)
    _require_dir(root, "clips directory")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise MsganError(f"{root} holds no {MANIFEST_NAME}: build clips with `msgan process-data`")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise MsganError(f"cannot read {path}: {error}; re-run process-data") from None
    if not isinstance(manifest, dict) or manifest.get("format") != CLIPS_FORMAT:
        raise MsganError(f"{path} is not a msgan clip manifest ({CLIPS_FORMAT})")
    for shard in manifest["shards"]:
        if not (root / shard["file"]).is_file():
            raise MsganError(f"clip shard {root / shard['file']} is missing; re-run process-data")
    return manifest


class ClipDataset(Dataset[torch.Tensor]):
    """Training clips of ``msgan process-data``, read at random from memory-mapped shards.

    Item ``i`` is a float tensor in [-1, 1] shaped ``(3*(history+1), crop, crop)``: the
    frames' RGB channels stacked oldest frame first, the last 3 channels being the frame to
    predict. Shards are opened lazily in each process (DataLoader workers included) and
    shared through the page cache, so memory stays small whatever the clip count.
    """

    def __init__(self, clips_dir: str | os.PathLike[str]) -> None:
        self.root = Path(clips_dir)
        self.manifest: dict[str, Any] = read_manifest(self.root)
        self.clip_shape: tuple[int, ...] = tuple(self.manifest["clip_shape"])
        counts = [shard["count"] for shard in self.manifest["shards"]]
        self._counts = counts
        self._starts = np.cumsum([0, *counts])  # (n_shards+1,): first index of each shard
        self._open: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open"] = {}  # memory maps are reopened in the receiving process
        return state

    def _shard(self, index: int) -> np.ndarray:
        if index not in self._open:
            path = self.root / self.manifest["shards"][index]["file"]
            try:
                self._open[index] = np.load(path, mmap_mode="r")
            except (OSError, ValueError) as error:
                raise MsganError(f"cannot read clip shard {path}: {error}") from None
        return self._open[index]

    def clip(self, index: int) -> np.ndarray:
        """Clip ``index`` as stored: uint8 ``(history+1, 3, crop, crop)``."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"clip index {index} out of range for {n} clips")
        index %= n
        shard = int(np.searchsorted(self._starts, index, side="right")) - 1
        local = index - int(self._starts[shard])
        return _decode_clip(self._shard(shard), local, self._counts[shard], self.clip_shape)

    def __getitem__(self, index: int) -> torch.Tensor:
        clip = torch.from_numpy(self.clip(index).copy())  # (T+1, 3, crop, crop) uint8
        clip = clip.reshape(-1, *clip.shape[2:])  # (3*(T+1), crop, crop), oldest first
        return clip.float() / PIXEL_SCALE - 1.0


def ensure_sample_data(
    root: str | os.PathLike[str],
    seed: int = 0,
    train_episodes: int = 3,
    test_episodes: int = 2,
    frames_per_episode: int = 300,
    n_clips: int = 4000,
) -> dict[str, Path]:
    """Make whatever is missing of a small data set under ``root``; return its paths.

    The book's chapters share the data chapter 01 records with its FAST sizes (the defaults
    here); a chapter run on its own calls this to record the missing splits and cut the
    clips. Returns ``{"train": ..., "test": ..., "clips": ...}``.
    """
    root = Path(root)
    paths = {"train": root / "images" / "train", "test": root / "images" / "test"}
    paths["clips"] = root / "clips"
    missing = {split: not path.is_dir() for split, path in paths.items() if split != "clips"}
    if any(missing.values()):
        record_pacman(
            root,
            train_episodes=train_episodes if missing["train"] else 0,
            test_episodes=test_episodes if missing["test"] else 0,
            seed=seed,
            config=RecordConfig(frames_per_episode=frames_per_episode),
        )
    if not (paths["clips"] / "manifest.json").is_file():
        process_data(paths["train"], paths["clips"], n_clips, seed=seed, overwrite=True)
    return paths
