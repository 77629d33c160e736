"""Where the work runs: devices, processes, CPU threads, precision and worker pools.

Shared by training (:mod:`msgan_lib.train`) and prediction (:mod:`msgan_lib.predict`),
which do not import each other. A device is named as torch names it (``"cpu"``,
``"cuda"``, ``"cuda:1"``) or ``"auto"`` (the first GPU when there is one); the Chainer
port's ``-g N`` flag maps onto the same names (:func:`device_from_gpu_flag`).

bf16 is used only where the hardware runs it natively (CUDA, or a CPU with AVX512-BF16 /
AMX): emulated bf16 is slower than float32. Under torchrun each process is one
:class:`Process` of a DistributedDataParallel run and takes its share of the cores.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from msgan_lib.fileio import MsganError

PRECISIONS = ("auto", "fp32", "bf16")


# --- devices ---


def default_device() -> torch.device:
    """The first GPU when there is one, else the CPU (what the book uses)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(name: str | torch.device) -> torch.device:
    """A torch device from ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, checked here.

    A CUDA device this PyTorch cannot see is one clear error instead of a failure deep
    inside the first forward pass.
    """
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return default_device()
    else:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise MsganError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise MsganError(
                f"device {name} asks for CUDA but this PyTorch sees no GPU; use cpu or auto"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise MsganError(
                f"device {name}: there are only {count} CUDA devices (0 .. {count - 1})"
            )
    elif device.type != "cpu":
        raise MsganError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N")
    return device


def device_from_gpu_flag(gpu: int) -> torch.device:
    """The Chainer port's ``-g``: a CUDA device index, or -1 for the CPU."""
    if gpu < 0:
        return torch.device("cpu")
    try:
        return resolve_device(f"cuda:{gpu}")
    except MsganError as error:
        raise MsganError(f"-g {gpu}: {error}; -g -1 (the default) uses the CPU") from None


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 convolutions natively (CUDA, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def inference_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The weights' dtype for ``precision``: ``"auto"`` is bf16 where native, else fp32."""
    if precision not in PRECISIONS:
        raise MsganError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp32" or (precision == "auto" and not bf16_supported(device)):
        return torch.float32
    return torch.bfloat16


# --- processes and threads ---


@dataclass(frozen=True)
class Process:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and shows progress."""
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> Process:
        """Rank and world size as torchrun sets them (a plain launch is rank 0 of 1)."""
        return cls(
            rank=int(os.environ.get("RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )


def cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def core_share(process: Process) -> int:
    """This process's share of the cores when a run has several processes on this machine."""
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", process.world_size))
    return max(1, cores() // max(1, local_world))


def cpu_threads(process: Process | None = None) -> int:
    """CPU threads for training: this process's share of the cores, minus the busy ones.

    Cores that other programs keep busy (the 1-minute load average) are left to them: a
    multi-threaded step waits at every parallel region for a descheduled thread, which
    makes it slower than one with fewer threads. The thread count can change the last bits
    of some results (oneDNN splits work by thread), so a resumed run keeps its
    checkpoint's count (:func:`msgan_lib.train.train`).
    """
    busy = int(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(core_share(process or Process()), cores() - busy))


# --- worker pools ---


def default_workers() -> int:
    """Number of worker processes when none is given: every core this process may use."""
    return cores()


def worker_map(function: Callable[[Any], Any], tasks: Sequence[Any], workers: int) -> list[Any]:
    """``[function(t) for t in tasks]`` on ``workers`` processes (in order; 1 = in-process).

    Results never depend on which process ran a task: every task carries its own seed.
    """
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        return [function(task) for task in tasks]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        return pool.map(function, tasks, chunksize=1)
