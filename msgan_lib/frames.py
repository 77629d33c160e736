"""Frames on disk and video import (chapter 01, ``book/01_data.py``).

A video is a directory of PNG/JPEG frames, ``<root>/images/train/<video>/<frame>.png`` and
``<root>/images/test/...`` (the Chainer port's layout), read in natural order of file
names (``frame2`` before ``frame10``: the port's plain string sort made its clips jump
between distant frames). Hidden files and files without an image extension are ignored.

The models see frames as float tensors in [-1, 1]: a uint8 value ``v`` becomes
``v / PIXEL_SCALE - 1`` (:func:`frames_to_model`), channel-first and oldest frame first.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from msgan_lib.fileio import MsganError, atomic_dir, check_replaceable, natural_key, require_dir

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_LEVEL = 1  # zlib level of recorded frames: Atari frames compress 40x even at level 1
WRITE_AHEAD = 16  # frames queued for the PNG writer thread at most
PIXEL_SCALE = 127.5  # uint8 v <-> [-1, 1] value v / 127.5 - 1


def list_videos(split_dir: str | os.PathLike[str]) -> list[Path]:
    """The video directories of a split (e.g. ``data/images/train``) in natural order.

    Hidden entries (``.DS_Store``, temporary directories of an unfinished run) and plain
    files are ignored. Raises :class:`MsganError` if the directory is missing or holds no
    video directory.
    """
    root = Path(split_dir)
    require_dir(root, "frames directory")
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
    require_dir(root, "video directory")
    frames = [
        p
        for p in root.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(frames, key=lambda p: natural_key(p.name))


def _decode_plain_png(data: bytes) -> np.ndarray | None:
    """Decode an 8-bit RGB PNG whose rows are all unfiltered (as :func:`encode_png` writes).

    Returns ``(H, W, 3)`` uint8, or None for any other PNG (or a damaged one): the caller
    then decodes with Pillow, which handles every format and reports errors.
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
    return load_frames(video_dir, channels_first=False)


def load_frames(video_dir: str | os.PathLike[str], channels_first: bool) -> np.ndarray:
    """:func:`load_video`, or with ``channels_first`` the same frames as ``(T, 3, H, W)``
    (the layout ``process-data`` cuts from), decoded straight into it with no extra copy,
    into a :func:`scratch` buffer valid until the next call."""
    files = list_frames(video_dir)
    if not files:
        raise MsganError(f"video directory {video_dir} holds no PNG or JPEG frames")
    first = _read_rgb(files[0])
    height, width, _ = first.shape
    shape = (len(files), 3, height, width) if channels_first else (len(files), *first.shape)
    video = scratch("frames", shape, np.uint8) if channels_first else np.empty(shape, np.uint8)
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


_SCRATCH: dict[str, np.ndarray] = {}  # process-data's big buffers, reused from video to video


def scratch(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An uninitialised array named ``name``, reusing the memory of the last one so named.

    ``process-data`` decodes one video after another into buffers of about the same size;
    reusing them avoids a page fault per 4 KiB page of every new one. They live until
    :func:`release_scratch`.
    """
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffer = _SCRATCH.get(name)
    if buffer is None or buffer.nbytes < size:
        _SCRATCH.pop(name, None)
        buffer = _SCRATCH[name] = np.empty(size, dtype=np.uint8)
    return buffer[:size].view(dtype).reshape(shape)


def release_scratch() -> None:
    """Free the buffers of :func:`scratch` (``process-data`` calls it when done)."""
    _SCRATCH.clear()


def encode_png(frame: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """A ``(H, W, 3)`` uint8 frame as PNG bytes (no row filter, zlib ``level``).

    A valid 8-bit RGB PNG like Pillow's, without the per-row filter search that flat Atari
    frames do not need (see ``benchmarks/DESIGN.md``).
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
    check_replaceable(out, overwrite, lambda p: bool(list_frames(p)), "import-video")

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


def frames_to_model(frames: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 frames -> ``(N, 3, H, W)`` float32 in [-1, 1] on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return tensor.permute(0, 3, 1, 2).float() / PIXEL_SCALE - 1.0  # (N, 3, H, W)
