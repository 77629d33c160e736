"""Training clips: shards on disk, ``process_data`` and :class:`ClipDataset` (chapter 01).

``process_data`` cuts clips of ``history + future`` frames (the paper's 4+1, or 4+K for
training through the recursion, ``DataConfig.future``) from the videos with the motion rule
of :mod:`msgan_lib.motion` (and a ``DataConfig.sprite_fraction`` of them around Ms. Pac-Man,
whose positions come from each video's ``positions.csv`` or its frames) and stores them as
shards: a ``.npy`` byte array holding an int64 offset table followed by one zlib stream per
clip (uint8, ``(history+future, 3, crop, crop)``), so :class:`ClipDataset` reads any clip at
random by memory-mapping the shard. A ``manifest.json`` records count, shapes, seed,
source, content digest and motion statistics. Videos recorded by ``record-pacman`` come
with ``actions.csv``; when every video has one, each shard gets a companion
``shard_NNNNNN.actions.npy``, uint8 ``(N, history+future-1)``: the actions that led from
each clip's first frame to its last, as indices into the manifest's ``actions.names`` (the
model's conditioning, ``ModelConfig.action_names``). Each video draws its clips from its
own seeded stream, so the clips do not depend on the number of workers; the whole set
appears at once when complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from msgan_lib.config import DataConfig, RecordConfig
from msgan_lib.fileio import (
    MsganError,
    atomic_dir,
    atomic_path,
    check_replaceable,
    require_dir,
    write_text_atomic,
)
from msgan_lib.frames import (
    PIXEL_SCALE,
    frame_size,
    list_frames,
    list_videos,
    load_frames,
    release_scratch,
)
from msgan_lib.motion import (
    KEEP_REASONS,
    KEPT_SPRITE_CENTRED,
    KEPT_SPRITE_NOT_VISIBLE,
    SPRITE_TRIES,
    draw_crops_by,
    draw_sprite_crops,
    motion_table,
    table_scores,
)
from msgan_lib.pacman import (
    ACTIONS_FILE,
    PACMAN_COLOUR,
    ale_action_order,
    read_action_set,
    read_actions,
    record_pacman,
    video_positions,
)
from msgan_lib.runtime import default_workers, worker_map

MANIFEST_NAME = "manifest.json"
CLIPS_FORMAT = "msgan-clips-1"
SHARD_SIZE = 4096  # clips per shard: about 1-2 MB compressed, one file per 4096 clips
CLIP_LEVEL = 3  # zlib level of each stored clip (see benchmarks/DESIGN.md)


class DataWarning(UserWarning):
    """A skippable problem with the input data (e.g. a video too short for one clip)."""


def encode_shard(
    frames: np.ndarray, t: np.ndarray, y: np.ndarray, x: np.ndarray, length: int, crop: int
) -> np.ndarray:
    """Cut clips ``frames[t:t+length, :, y:y+crop, x:x+crop]`` and pack them into a shard.

    ``frames`` is the video channel-first, ``(T, 3, H, W)`` uint8, so that each clip's rows
    are copied in runs of ``crop`` bytes. The shard is a uint8 byte array: ``N + 1`` int64
    offsets, then one zlib stream per clip (bytes ``[offsets[i], offsets[i+1])``), each clip
    stored as ``(length, 3, crop, crop)``, so one clip decodes without the rest. Clips
    are cut in order of their window so that neighbouring cuts share frames in the CPU
    cache, and each is compressed straight from the frames, with no array of all clips in
    between.
    """
    blobs: list[bytes] = [b""] * len(t)
    order = np.argsort(t, kind="stable")
    cuts = zip(order.tolist(), t[order].tolist(), y[order].tolist(), x[order].tolist(), strict=True)
    for i, a, b, c in cuts:
        clip = frames[a : a + length, :, b : b + crop, c : c + crop]  # (T+K, 3, crop, crop)
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
    action_names: tuple[str, ...]  # empty: the clip set carries no actions


def _draw_from_video(
    frames: np.ndarray,
    n: int,
    rng: np.random.Generator,
    config: DataConfig,
    positions: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`draw_crops` on channel-first ``frames`` ``(T, 3, H, W)``, scoring only the
    crops tried.

    The motion rule scores every transition of the clip, ``history + future - 1`` of them,
    against the threshold scaled by ``(history + future - 1) / history``: a clip of 4+K
    frames must move as much per transition as the port's 4+1 clips, anywhere in the
    frames the unrolled loss trains on (a sprite that only starts moving after the
    history still counts). For ``future = 1`` this is the port's rule, unchanged.

    With ``config.sprite_fraction > 0``, each clip is then chosen with that probability
    to be cut around Ms. Pac-Man instead (:func:`~msgan_lib.motion.draw_sprite_crops`,
    from her ``positions`` ``(T, 2)``); its score is its crop's. These random numbers are
    drawn after the motion rule's, so every other clip is the one ``sprite_fraction = 0``
    cuts.
    """
    crop, span = config.crop_size, config.clip_frames - 1  # transitions in a clip
    table = motion_table(frames, span, crop)
    n_frames, _, height, width = frames.shape
    shape = (n_frames - span, height - crop + 1, width - crop + 1)
    scaled = dataclasses.replace(
        config, motion_threshold=config.motion_threshold * span / config.history
    )
    t, y, x, reason, score = draw_crops_by(
        lambda t, y, x: table_scores(table, t, y, x, span, crop), shape, n, rng, scaled
    )
    if config.sprite_fraction > 0:
        if positions is None:
            raise ValueError("sprite_fraction > 0 needs Ms. Pac-Man's positions")
        sprite = np.flatnonzero(rng.random(n) < config.sprite_fraction)
        st, sy, sx, found = draw_sprite_crops(positions, len(sprite), rng, config, (height, width))
        centred = sprite[found]
        t[centred], y[centred], x[centred] = st[found], sy[found], sx[found]
        score[centred] = table_scores(table, t[centred], y[centred], x[centred], span, crop)
        reason[centred] = KEPT_SPRITE_CENTRED
        reason[sprite[~found]] = KEPT_SPRITE_NOT_VISIBLE
    return t, y, x, reason, score


def _sprite_positions(video_dir: Path, frames: np.ndarray, config: DataConfig) -> np.ndarray:
    """Ms. Pac-Man's positions ``(T, 2)`` in a video (channel-first ``frames``), refused
    with one line when no frame that ends a clip's history shows her."""
    positions = video_positions(video_dir, frames.transpose(0, 2, 3, 1))  # (T, 2)
    last_history = positions[config.history - 1 : len(frames) - config.future]  # (windows, 2)
    if np.isnan(last_history[:, 0]).all():
        raise MsganError(
            f"--sprite-fraction {config.sprite_fraction} cuts crops around Ms. Pac-Man, but "
            f"{video_dir} never shows her colour {PACMAN_COLOUR}; use --sprite-fraction 0"
        )
    return positions


def _clips_from_video(job: _VideoJob) -> list[dict[str, Any]]:
    """Cut one video's clips and write its shards; returns per-shard statistics."""
    frames = load_frames(job.video_dir, channels_first=True)  # (T, 3, H, W)
    crop, length = job.config.crop_size, job.config.clip_frames
    rng = np.random.default_rng(np.random.SeedSequence(job.seed, spawn_key=(job.video_index,)))
    positions = (
        _sprite_positions(job.video_dir, frames, job.config)
        if job.config.sprite_fraction > 0
        else None
    )
    t, y, x, reason, score = _draw_from_video(frames, job.n_clips, rng, job.config, positions)
    transitions = _video_actions(job.video_dir, len(frames), job.action_names)  # (T-1,) or None
    results, start = [], 0
    for name, count in job.shards:
        part = slice(start, start + count)
        start += count
        data = encode_shard(frames, t[part], y[part], x[part], length, crop)
        with atomic_path(job.out_dir / name) as tmp:
            np.save(tmp, data)
        result = {
            "file": name,
            "count": count,
            "bytes": int(data.nbytes),
            "sha256": hashlib.sha256(data.tobytes()).hexdigest(),
            "video": job.video_dir.name,
            "scores": score[part],
            "reasons": reason[part],
        }
        if transitions is not None:
            # (count, length - 1): the actions from each clip's first frame to its last
            windows = transitions[t[part, None] + np.arange(length - 1)]
            with atomic_path(job.out_dir / actions_file(name)) as tmp:
                np.save(tmp, windows)
            result["actions_sha256"] = hashlib.sha256(windows.tobytes()).hexdigest()
        results.append(result)
    return results


def actions_file(shard_file: str) -> str:
    """The file of a shard's actions: ``shard_000000.npy`` -> ``shard_000000.actions.npy``."""
    return shard_file.removesuffix(".npy") + ".actions.npy"


def _video_actions(video_dir: Path, n_frames: int, names: tuple[str, ...]) -> np.ndarray | None:
    """A video's ``actions.csv`` as indices into ``names``, ``(n_frames - 1,)`` uint8."""
    if not names:
        return None
    actions = read_actions(video_dir)
    if actions is None or len(actions) != n_frames - 1:
        found = "none" if actions is None else f"{len(actions)} rows"
        raise MsganError(
            f"{video_dir / ACTIONS_FILE} must hold one row per frame transition "
            f"({n_frames - 1}), found {found}; re-record the video"
        )
    return np.array([names.index(a) for a in actions], dtype=np.uint8)


def collect_action_names(videos: Sequence[Path]) -> tuple[tuple[str, ...], str | None]:
    """The action names of the videos, in the ALE's order: every name in their
    ``actions.csv`` and the game's whole action set from ``emulator.json`` (so that a
    rarely drawn action still has its one-hot plane).

    Returns ``(names, missing)``: ``names`` empty and ``missing`` the first video without
    an ``actions.csv`` (imported videos have none) when any lacks one.
    """
    names: set[str] = set()
    for video in videos:
        actions = read_actions(video)
        if actions is None:
            return (), video.name
        names.update(actions, read_action_set(video))
    return tuple(sorted(names, key=ale_action_order)), None


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
    depend on ``workers``. Videos shorter than ``history + future`` frames are skipped with a
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
    clips_path, history, crop = Path(clips_dir), config.history, config.crop_size
    length = config.clip_frames  # history + future frames per clip
    check_replaceable(clips_path, overwrite, _is_clip_set, "process-data")

    videos, lengths, short = [], [], []
    for video in list_videos(train_dir):
        files = list_frames(video)
        if len(files) < length:
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
            f"skipped {len(short)} video(s) with fewer than {length} frames "
            f"(history {history} + future {config.future}), e.g. {short[0]}"
        )
        if not videos:
            hint = "; choose a smaller --future" if config.future > 1 else ""
            raise MsganError(f"no usable video in {train_dir}: {message}{hint}")
        warnings.warn(message, DataWarning, stacklevel=2)

    action_names, without_actions = collect_action_names(videos)
    start = time.perf_counter()
    per_video = _split_counts(n_clips, [n - length + 1 for n in lengths])
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
                    index,
                    video,
                    count,
                    tuple(zip(names, sizes, strict=True)),
                    tmp,
                    seed,
                    config,
                    action_names,
                )
            )
        jobs_by_work = sorted(jobs, key=lambda job: -job.n_clips)  # longest first: balance
        try:
            results = worker_map(_clips_from_video, jobs_by_work, workers or default_workers())
        finally:
            release_scratch()  # with one worker the buffers were this process's
        shards = sorted((s for r in results for s in r), key=lambda s: s["file"])
        manifest = _manifest(shards, config, seed, train_dir, videos, lengths, short)
        manifest["actions"] = (
            {
                "names": list(action_names),
                "sha256": hashlib.sha256(
                    "".join(s["actions_sha256"] for s in shards).encode()
                ).hexdigest(),
            }
            if action_names
            else {"names": [], "video_without_actions": without_actions}
        )
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
        "clip_shape": [config.clip_frames, 3, config.crop_size, config.crop_size],
        "dtype": "uint8",
        "history": config.history,
        "future": config.future,
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
            # the rule scores all history + future - 1 transitions of a clip against the
            # threshold scaled by (history + future - 1) / history (see _draw_from_video)
            "transitions_scored": config.clip_frames - 1,
            "keep_without_check": config.keep_without_check,
            "max_tries": config.max_tries,
            # ours: clips cut around Ms. Pac-Man (her centre in the middle half of the crop,
            # last history frame); "sprite_not_visible" ones kept the motion rule's crop
            "sprite_fraction": config.sprite_fraction,
            "sprite_tries": SPRITE_TRIES,
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
    require_dir(root, "clips directory")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise MsganError(f"{root} holds no {MANIFEST_NAME}: build clips with `msgan process-data`")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise MsganError(f"cannot read {path}: {error}; re-run process-data") from None
    if not isinstance(manifest, dict) or manifest.get("format") != CLIPS_FORMAT:
        raise MsganError(f"{path} is not a msgan clip manifest ({CLIPS_FORMAT})")
    with_actions = bool((manifest.get("actions") or {}).get("names"))
    for shard in manifest["shards"]:
        files = [shard["file"], actions_file(shard["file"])] if with_actions else [shard["file"]]
        for name in files:
            if not (root / name).is_file():
                raise MsganError(f"clip file {root / name} is missing; re-run process-data")
    return manifest


class ClipDataset(Dataset[torch.Tensor]):
    """Training clips of ``msgan process-data``, read at random from memory-mapped shards.

    Item ``i`` is a float tensor in [-1, 1] shaped ``(3*(history+future), crop, crop)``: the
    frames' RGB channels stacked oldest frame first, the first ``3*history`` the input and
    the ``future`` frames after them the frames to predict (one for the paper's 4+1 sets,
    whose manifests, made before ``future`` existed, still load). Shards are opened lazily
    in each process (DataLoader workers included) and shared through the page cache, so
    memory stays small whatever the clip count.
    ``with_actions``: the clips' actions are wanted too (:meth:`actions`; the training feed
    then delivers them); a clip set cut from videos without ``actions.csv`` is refused.
    """

    def __init__(self, clips_dir: str | os.PathLike[str], with_actions: bool = False) -> None:
        self.root = Path(clips_dir)
        self.manifest: dict[str, Any] = read_manifest(self.root)
        self.clip_shape: tuple[int, ...] = tuple(self.manifest["clip_shape"])
        # Sets made before clips could hold several future frames are 4+1.
        self.future: int = int(self.manifest.get("future", 1))
        self.history: int = self.clip_shape[0] - self.future
        self.with_actions = with_actions
        actions = self.manifest.get("actions") or {}
        self.action_names: tuple[str, ...] = tuple(actions.get("names", ()))
        if with_actions and not self.action_names:
            video = actions.get("video_without_actions")
            reason = (
                f"its video {video} has no {ACTIONS_FILE}"
                if video
                else "it was made before clips carried actions"
            )
            raise MsganError(
                f"{self.root} holds clips without actions ({reason}): action-conditioned "
                "training needs videos recorded by `msgan record-pacman`, cut again with "
                "`msgan process-data`"
            )
        self._actions: dict[int, np.ndarray] = {}
        counts = [shard["count"] for shard in self.manifest["shards"]]
        self._counts = counts
        self._starts = np.cumsum([0, *counts])  # (n_shards+1,): first index of each shard
        self._open: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open"] = {}  # memory maps are reopened in the receiving process
        state["_actions"] = {}
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
        """Clip ``index`` as stored: uint8 ``(history+future, 3, crop, crop)``."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"clip index {index} out of range for {n} clips")
        index %= n
        shard = int(np.searchsorted(self._starts, index, side="right")) - 1
        local = index - int(self._starts[shard])
        return _decode_clip(self._shard(shard), local, self._counts[shard], self.clip_shape)

    def read_into(self, indices: Sequence[int], out: np.ndarray) -> np.ndarray:
        """Decode clips ``indices`` into ``out``, uint8 ``(len(indices), history+future, 3, crop,
        crop)`` (e.g. a view of pinned memory), and return it: the training feed's batch read.
        """
        n = len(self)
        positions = np.asarray(indices, dtype=np.int64)
        if positions.size and not (-n <= positions.min() and positions.max() < n):
            raise IndexError(f"clip indices out of range for {n} clips")
        positions %= max(n, 1)
        shards = np.searchsorted(self._starts, positions, side="right") - 1
        local = positions - self._starts[shards]
        for row, (shard, index) in enumerate(zip(shards.tolist(), local.tolist(), strict=True)):
            out[row] = _decode_clip(self._shard(shard), index, self._counts[shard], self.clip_shape)
        return out

    def _shard_actions(self, index: int) -> np.ndarray:
        if index not in self._actions:
            path = self.root / actions_file(self.manifest["shards"][index]["file"])
            try:
                self._actions[index] = np.load(path)  # (count, history) uint8
            except (OSError, ValueError) as error:
                raise MsganError(f"cannot read clip actions {path}: {error}") from None
        return self._actions[index]

    def actions(self, indices: Sequence[int]) -> np.ndarray:
        """The actions of clips ``indices``, int64 ``(len(indices), history+future-1)``:
        entry ``j`` is the action (an index into ``action_names``) held while frame ``j`` of
        the clip became frame ``j + 1``; predicting frame ``history + k`` reads entries
        ``k .. k+history-1``."""
        if not self.action_names:
            raise MsganError(f"{self.root} holds clips without actions")
        n = len(self)
        positions = np.asarray(indices, dtype=np.int64) % max(n, 1)
        shards = np.searchsorted(self._starts, positions, side="right") - 1
        local = positions - self._starts[shards]
        out = np.empty((len(positions), self.clip_shape[0] - 1), dtype=np.int64)
        for row, (shard, index) in enumerate(zip(shards.tolist(), local.tolist(), strict=True)):
            out[row] = self._shard_actions(shard)[index]
        return out

    def __getitem__(self, index: int) -> torch.Tensor:
        clip = torch.from_numpy(self.clip(index).copy())  # (T+K, 3, crop, crop) uint8
        clip = clip.reshape(-1, *clip.shape[2:])  # (3*(T+K), crop, crop), oldest first
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
    if not (paths["clips"] / MANIFEST_NAME).is_file():
        process_data(paths["train"], paths["clips"], n_clips, seed=seed, overwrite=True)
    return paths
