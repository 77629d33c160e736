"""The training feed: which clips each step trains on, decoded ahead of the step (chapter 04).

One training step of the paper (Mathieu, Couprie & LeCun 2016, section 3) takes two
minibatches, the discriminator's and the generator's. :class:`ClipSampler` makes the clip
indices of every step a pure function of ``(seed, step, rank)``, so nothing needs saving to
resume exactly and every rank of a DistributedDataParallel run draws different clips. A
few clips are held out of training: the sample grids' (:func:`held_out_indices`) and the
probe that measures the discriminator's accuracy (:func:`probe_indices`).

:class:`ClipFeed` decodes and batches the clips of the coming steps on a background thread
while the current step computes (zlib releases the GIL), as uint8 (a quarter of float32's
bytes to copy), into pinned memory when the device is CUDA so the copy to the GPU is
asynchronous; the step converts to [-1, 1] on the device.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from typing import Any

import torch

from msgan_lib.clips import ClipDataset
from msgan_lib.fileio import MsganError
from msgan_lib.runtime import Process


def manifest_identity(manifest: dict[str, Any]) -> dict[str, Any]:
    """What identifies a clip set: its count, clip shape, seed and content digest.

    Stored in every checkpoint; resuming on a different clip set is refused, because the
    data order (and so the exact continuation) depends on it. Where the manifest carries no
    content digest, a digest of the whole manifest stands in.
    """
    identity = {key: manifest[key] for key in ("count", "clip_shape", "seed") if key in manifest}
    text = json.dumps(manifest, sort_keys=True, default=str)
    identity["content_sha256"] = manifest.get(
        "content_sha256", hashlib.sha256(text.encode()).hexdigest()
    )
    return identity


class ClipSampler:
    """Minibatch indices as a pure function of ``(seed, step, rank)``.

    Clips are visited in epochs, each a fresh permutation of the training pool seeded by
    ``(seed, epoch)``; the clip stream is cut into consecutive minibatches, ``per_step`` of
    them per step (the discriminator's and the generator's) for each of ``world_size``
    ranks. Nothing needs saving to resume: step ``s`` always gets the same clips.
    """

    def __init__(
        self,
        pool: torch.Tensor,
        seed: int,
        batch_size: int,
        per_step: int,
        process: Process,
    ) -> None:
        if len(pool) == 0:
            raise MsganError("no training clips left after holding out the sample clips")
        self.pool, self.seed, self.batch_size = pool, seed, batch_size
        self.per_step, self.process = per_step, process
        self._epochs: dict[int, torch.Tensor] = {}

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._epochs:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            if len(self._epochs) > 2:  # steps only move forward: keep a couple of epochs
                self._epochs.pop(min(self._epochs))
            self._epochs[epoch] = self.pool[torch.randperm(len(self.pool), generator=generator)]
        return self._epochs[epoch]

    def batches(self, step: int) -> list[torch.Tensor]:
        """The ``per_step`` index tensors this rank trains on at ``step`` (0-based)."""
        size, world = self.batch_size, self.process.world_size
        out = []
        for role in range(self.per_step):
            start = ((step * self.per_step + role) * world + self.process.rank) * size
            positions = torch.arange(start, start + size)
            epochs, offsets = positions // len(self.pool), positions % len(self.pool)
            out.append(
                torch.stack(
                    [self._permutation(int(e))[o] for e, o in zip(epochs, offsets, strict=True)]
                )
            )
        return out


def held_out_indices(count: int, n_samples: int, seed: int) -> torch.Tensor:
    """The clip indices kept out of training for the sample grids (at most half the set)."""
    n = min(n_samples, count // 2)
    generator = torch.Generator().manual_seed(seed + 7919)
    return torch.randperm(count, generator=generator)[:n].sort().values


def probe_indices(
    count: int, n_probe: int, seed: int, exclude: torch.Tensor, salt: int = 104_729
) -> torch.Tensor:
    """Clip indices kept out of training to measure D's accuracy (at most a quarter of the set).

    Drawn from the clips that are not in ``exclude`` (the sample clips), with their own seed,
    so the sample grids show the same clips with or without a probe. Another ``salt`` draws
    another held-out set the same way (the held-out loss's clips).
    """
    free = torch.ones(count, dtype=torch.bool)
    free[exclude] = False
    candidates = torch.nonzero(free).flatten()
    n = min(n_probe, count // 4)
    generator = torch.Generator().manual_seed(seed + salt)
    return candidates[torch.randperm(len(candidates), generator=generator)[:n]].sort().values


def load_clips(
    dataset: ClipDataset, indices: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Clips ``indices`` as uint8 ``(B, 3*(T+1), H, W)``, oldest frame first.

    ``out``: a ``(B, T+1, 3, H, W)`` uint8 CPU tensor to decode into (pinned memory, say);
    a new one by default. ``x / 127.5 - 1`` gives the values of ``dataset[i]``. For a
    dataset opened ``with_actions``, the pair ``(clips, actions)`` with the clips' actions
    ``(B, T)`` int64 (:meth:`ClipDataset.actions`): the batch an action model trains on.
    """
    shape = (len(indices), *dataset.clip_shape)  # (B, T+1, 3, H, W)
    batch = torch.empty(shape, dtype=torch.uint8) if out is None else out
    dataset.read_into(indices.tolist(), batch.numpy())
    clips = batch.flatten(1, 2)  # (B, 3*(T+1), H, W)
    if dataset.with_actions:
        return clips, torch.from_numpy(dataset.actions(indices.tolist()))  # (B, T) int64
    return clips


class ClipFeed:
    """The minibatches of steps ``start .. stop-1``, decoded ``depth`` steps ahead.

    A background thread runs :meth:`ClipSampler.batches` and :func:`load_clips` for the
    coming steps and queues them; :meth:`next` hands over the next step's batches in step
    order, so the training sees exactly what it would without the thread. With ``pin``
    (CUDA) the batches are decoded into a ring of pinned buffers, reused ``depth + 2``
    steps later: by then the step that read one has finished (every step synchronises
    with the host once), so no buffer is overwritten while it is being copied. Use it as
    a context manager: leaving stops the thread.
    """

    def __init__(
        self,
        dataset: ClipDataset,
        sampler: ClipSampler,
        start: int,
        stop: int,
        *,
        pin: bool = False,
        depth: int = 2,
    ) -> None:
        self.dataset, self.sampler, self.start, self.stop = dataset, sampler, start, stop
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._halt = threading.Event()
        shape = (sampler.batch_size, *dataset.clip_shape)  # (B, T+1, 3, H, W)
        self._ring = (
            [
                [torch.empty(shape, dtype=torch.uint8, pin_memory=True) for _ in range(2)]
                for _ in range(depth + 2)
            ]
            if pin
            else None
        )
        self._thread = threading.Thread(target=self._produce, name="msgan-feed", daemon=True)

    def __enter__(self) -> ClipFeed:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        while self._thread.is_alive():  # unblock a producer waiting for room, then wait
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def _produce(self) -> None:
        try:
            for step in range(self.start, self.stop):
                buffers = self._ring[step % len(self._ring)] if self._ring else None
                batches = [
                    load_clips(self.dataset, indices, buffers[role] if buffers else None)
                    for role, indices in enumerate(self.sampler.batches(step))
                ]
                if not self._put((step, batches)):
                    return
        except BaseException as error:  # handed to the training thread, raised there
            self._put((None, error))

    def _put(self, item: tuple[int | None, Any]) -> bool:
        """Queue ``item`` unless the feed is stopped; returns whether it was queued."""
        while not self._halt.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def next(self, step: int) -> list[Any]:
        """The batches of ``step`` (the steps must be asked for in order)."""
        produced, batches = self._queue.get()
        if produced is None:
            raise batches
        if produced != step:
            raise RuntimeError(f"the clip feed is at step {produced}, not {step}")
        return batches
