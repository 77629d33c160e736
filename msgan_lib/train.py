"""Adversarial training of the multi-scale generator, resumable and multi-GPU ready (chapter 04).

Mathieu, Couprie & LeCun, "Deep Multi-Scale Video Prediction Beyond Mean Square Error"
(ICLR 2016, arXiv:1511.05440), sections 2.2 and 3. One training step is

1. a discriminator step on one minibatch: the generator predicts every scale without
   building a graph (the fake frames are constants for D: the Chainer port backpropagated
   this step through the generator and threw away ~38% of each iteration's work), and D
   sees the real and the predicted frames of all four scales in one batch, minimising
   ``d_adversarial_loss``;
2. a generator step on a *separate* minibatch (as in the paper): the generator objective
   ``lambda_adv L_adv + lambda_lp L_p + lambda_gdl L_gdl`` summed over the scales, with the
   adversarial gradient flowing through D into G while D's own weights are frozen (their
   gradients would be discarded anyway).

Without ``adversarial`` only the generator step runs, on Lp + GDL (the paper's baselines).

Optimisers: Adam by default (the ports' rate, 4e-5, for both networks, with the usual GAN
momentum ``betas = (0.5, 0.999)``), because it trains stably across model sizes without a
hand-tuned schedule (chapter 04 shows the curves); ``optimizer="sgd"`` gives the paper's
plain SGD with G's rate decaying geometrically from 0.04 to 0.005 over the run and D at
0.02 (:meth:`TrainConfig.with_optimizer`).

Devices: CPU or CUDA, bf16 autocast (``amp``; the losses are computed in float32),
channels_last memory layout and optional ``torch.compile``. Launched by
``torchrun --nproc_per_node N -m msgan_lib train ...`` the trainer runs
DistributedDataParallel (NCCL on GPUs, gloo on CPUs): each rank draws different clips, the
gradients are averaged, and only rank 0 writes files.

Reproducibility: the minibatch indices are a pure function of ``(seed, step, rank)``
(:class:`ClipSampler`), and a checkpoint holds weights, optimiser and scheduler states and
RNG states, so on a CPU an interrupted and resumed run logs exactly the losses of an
uninterrupted one. A non-finite loss stops training at once, naming the step, and leaves
the last good checkpoint in place.

A run directory holds ``checkpoints/step_NNNNNNN.pt``, ``metrics.jsonl`` (one record every
``log_every`` steps), ``losses.png``, ``samples/step_NNNNNNN.png`` (predictions on held-out
clips) and, when the ``tensorboard`` package is installed, ``tensorboard/`` event files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from msgan_lib import checkpoint as ckpt
from msgan_lib import viz
from msgan_lib.config import ModelConfig, TrainConfig, preset
from msgan_lib.fileio import MsganError, write_text_atomic
from msgan_lib.losses import d_adversarial_loss, generator_loss, scale_targets
from msgan_lib.model import Discriminator, Generator

METRICS_FILE = "metrics.jsonl"
LOSS_PLOT = "losses.png"
SAMPLES_DIR = "samples"
# The scalars of one step, in the order of TrainStep.run's returned tensor.
STEP_KEYS = ("g_loss", "lp", "gdl", "adv", "d_loss", "d_real", "d_fake")


# --- devices and processes ---


def default_device() -> torch.device:
    """The first GPU when there is one, else the CPU (what the book uses)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_from_gpu_flag(gpu: int) -> torch.device:
    """The Chainer port's ``-g``: a CUDA device index, or -1 for the CPU."""
    if gpu < 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise MsganError(
            f"-g {gpu} asks for CUDA device {gpu} but this PyTorch sees no GPU; "
            "use -g -1 (the default) to train on the CPU"
        )
    if gpu >= torch.cuda.device_count():
        raise MsganError(
            f"-g {gpu}: there are only {torch.cuda.device_count()} CUDA devices (0 .. "
            f"{torch.cuda.device_count() - 1})"
        )
    return torch.device("cuda", gpu)


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


def _process_from_environment() -> Process:
    """Rank and world size as torchrun sets them (a plain launch is rank 0 of 1)."""
    return Process(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def cpu_threads(process: Process | None = None) -> int:
    """CPU threads for training: this process's share of the cores, minus the busy ones.

    Several processes of one run (torchrun) split the cores. Cores that other programs keep
    busy (the 1-minute load average) are left to them: when another process holds a core,
    a 2-thread step waits at every parallel region for its descheduled thread, and measured
    here (``benchmarks/bench_train.py --settings``, paper preset, bf16) it ran at 5-7 s per
    iteration against 4.0 s with 1 thread; on an idle machine 2 threads take 2.0 s. The
    thread count can change the last bits of some results (oneDNN splits work by thread:
    the tiny preset's Adam steps differ by ~1e-5 between 1 and 2 threads), so a resumed run
    keeps its checkpoint's thread count (see :func:`train`).
    """
    cores = _cores()
    busy = int(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(_core_share(process or Process()), cores - busy))


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _core_share(process: Process) -> int:
    """This process's share of the cores when a run has several processes on this machine."""
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", process.world_size))
    return max(1, _cores() // max(1, local_world))


# --- data ---


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


def probe_indices(count: int, n_probe: int, seed: int, exclude: torch.Tensor) -> torch.Tensor:
    """Clip indices kept out of training to measure D's accuracy (at most a quarter of the set).

    Drawn from the clips that are not in ``exclude`` (the sample clips), with their own seed,
    so the sample grids show the same clips with or without a probe.
    """
    free = torch.ones(count, dtype=torch.bool)
    free[exclude] = False
    candidates = torch.nonzero(free).flatten()
    n = min(n_probe, count // 4)
    generator = torch.Generator().manual_seed(seed + 104_729)
    return candidates[torch.randperm(len(candidates), generator=generator)[:n]].sort().values


def _load_batch(dataset: Any, indices: torch.Tensor) -> torch.Tensor:
    """Stack clips ``(B, 3*(T+1), H, W)`` in [-1, 1], oldest frame first."""
    return torch.stack([dataset[int(i)] for i in indices])  # (B, 3*(T+1), H, W)


# --- one training step ---


class TrainStep:
    """The models, optimisers and schedules of a run, and one training step.

    ``generator`` and ``discriminator`` are the plain modules (saved in checkpoints);
    the step runs their DDP-wrapped and/or compiled forms where those are enabled.
    """

    def __init__(
        self,
        model_config: ModelConfig,
        config: TrainConfig,
        device: torch.device,
        process: Process | None = None,
    ) -> None:
        from msgan_lib.predict import bf16_supported

        self.model_config, self.config, self.device = model_config, config, device
        self.process = process or Process()
        # bf16 only where the hardware runs it natively: emulated bf16 is slower than fp32.
        self.amp = config.amp and bf16_supported(device)
        self.memory_format = (
            torch.channels_last if config.channels_last else torch.contiguous_format
        )
        torch.manual_seed(config.seed)
        self.generator = Generator(model_config).to(device, memory_format=self.memory_format)
        self.discriminator = (
            Discriminator(model_config).to(device, memory_format=self.memory_format)
            if config.adversarial
            else None
        )
        self.optimizers = {"g": self._optimizer(self.generator, config.lr_g)}
        if self.discriminator is not None:
            self.optimizers["d"] = self._optimizer(self.discriminator, config.lr_d)
        decay = config.lr_g_final / config.lr_g
        total = config.steps
        self.schedulers = {
            # Geometric decay from lr_g to lr_g_final over the run (constant when equal).
            "g": torch.optim.lr_scheduler.LambdaLR(
                self.optimizers["g"], lambda step: decay ** (min(step, total) / total)
            )
        }
        if "d" in self.optimizers:
            self.schedulers["d"] = torch.optim.lr_scheduler.LambdaLR(
                self.optimizers["d"], lambda step: 1.0
            )
        self._g_train = self._wrap(self.generator)
        self._d_train = self._wrap(self.discriminator) if self.discriminator is not None else None
        # The generator for the D step and the discriminator for the G step need no DDP:
        # neither one's weights get gradients there.
        self._g_frozen = torch.compile(self.generator) if config.compile else self.generator
        self._d_frozen = (
            torch.compile(self.discriminator)
            if config.compile and self.discriminator is not None
            else self.discriminator
        )

    def _optimizer(self, module: nn.Module, lr: float) -> torch.optim.Optimizer:
        # Fused kernels update every weight in one pass over memory; the per-tensor loop
        # reads and writes the Adam state several times (paper preset, 47 M weights, on this
        # CPU: 120 ms against 17 ms per step, about 5% of a 2 s training step).
        if self.config.optimizer == "sgd":
            return torch.optim.SGD(module.parameters(), lr=lr, fused=True)  # paper: plain SGD
        return torch.optim.Adam(
            module.parameters(), lr=lr, betas=self.config.adam_betas, fused=True
        )

    def _wrap(self, module: nn.Module) -> nn.Module:
        if self.process.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = DistributedDataParallel(module, device_ids=ids)
        return torch.compile(module) if self.config.compile else module

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast when ``amp`` is on and native here (a no-op otherwise)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def split(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split clips ``(B, 3(T+1), H, W)`` into history and next frame, on the device."""
        clips = clips.to(self.device, non_blocking=True)
        history = clips[:, :-3].contiguous(memory_format=self.memory_format)  # (B, 3T, H, W)
        target = clips[:, -3:].contiguous(memory_format=self.memory_format)  # (B, 3, H, W)
        return history, target

    def discriminator_step(self, clips: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One D update; returns (d_loss, mean sigmoid D(real), mean sigmoid D(fake))."""
        assert self._d_train is not None
        history, target = self.split(clips)
        n = self.model_config.n_scales
        with torch.no_grad(), self.autocast():
            fakes = self._g_frozen(history)  # constants for D: no graph through G
        real = scale_targets(target, n)
        with self.autocast():
            # Real and fake in one batch: (2B, 3T, H, W) history and (2B, 3, h_k, w_k) frames.
            logits = self._d_train(
                torch.cat([history, history]),
                [torch.cat([r, f.to(r.dtype)]) for r, f in zip(real, fakes, strict=True)],
            )
        batch = history.shape[0]
        real_logits = [z[:batch].float() for z in logits]  # (B, 1) per scale
        fake_logits = [z[batch:].float() for z in logits]
        d_loss = d_adversarial_loss(real_logits, fake_logits)
        self.optimizers["d"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["d"].step()
        with torch.no_grad():
            d_real = torch.cat(real_logits).sigmoid().mean()
            d_fake = torch.cat(fake_logits).sigmoid().mean()
        return d_loss.detach(), d_real, d_fake

    @torch.no_grad()
    def discriminator_accuracy(self, clips: torch.Tensor) -> list[float]:
        """D's accuracy per scale on held-out ``clips``, coarsest first (0.5 is chance).

        The mean of the fraction of real next frames D calls real (logit > 0) and the
        fraction of the generator's predictions it calls fake: whether D has learnt to see
        what the generator gets wrong, on clips neither network trained on.
        """
        assert self.discriminator is not None
        history, target = self.split(clips)
        with self.autocast():
            fakes = self.generator(history)
            logits = self.discriminator(
                torch.cat([history, history]),
                [
                    torch.cat([r, f.to(r.dtype)])
                    for r, f in zip(
                        scale_targets(target, self.model_config.n_scales), fakes, strict=True
                    )
                ],
            )
        batch = history.shape[0]
        return [
            0.5 * ((z[:batch] > 0).float().mean() + (z[batch:] <= 0).float().mean()).item()
            for z in logits  # (2B, 1) per scale: real, then fake
        ]

    def generator_step(self, clips: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One G update; returns the objective and its unweighted terms."""
        history, target = self.split(clips)
        targets = scale_targets(target, self.model_config.n_scales)
        with self.autocast():
            preds = self._g_train(history)
        fake_logits = None
        if self._d_frozen is not None:
            self.discriminator.requires_grad_(False)  # type: ignore[union-attr]
            with self.autocast():
                fake_logits = [z.float() for z in self._d_frozen(history, preds)]
        total, terms = generator_loss(
            [p.float() for p in preds], targets, fake_logits, self.config.loss
        )
        self.optimizers["g"].zero_grad(set_to_none=True)
        total.backward()
        self.optimizers["g"].step()
        if self.discriminator is not None:
            self.discriminator.requires_grad_(True)
        return total.detach(), terms

    def run(self, batches: Sequence[torch.Tensor]) -> torch.Tensor:
        """One training step on ``batches`` (D's then G's; G's only without adversarial).

        Returns the step's scalars in :data:`STEP_KEYS` order as one float32 tensor
        (NaN for the terms a non-adversarial run does not have).
        """
        nan = torch.tensor(float("nan"), device=self.device)
        d_loss = d_real = d_fake = nan
        if self.discriminator is not None:
            d_loss, d_real, d_fake = self.discriminator_step(batches[0])
        g_loss, terms = self.generator_step(batches[-1])
        for scheduler in self.schedulers.values():
            scheduler.step()
        adv = terms.get("adv", nan)
        return torch.stack([g_loss, terms["lp"], terms["gdl"], adv, d_loss, d_real, d_fake]).float()

    def learning_rates(self) -> dict[str, float]:
        return {f"lr_{k}": opt.param_groups[0]["lr"] for k, opt in self.optimizers.items()}

    def state(self, step: int, data_manifest: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint dict (plain data only: loadable with ``weights_only=True``)."""
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict() if self.discriminator else {},
            "step": step,
            "model_config": self.model_config.to_dict(),
            "train_config": self.config.to_dict(),
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rng": ckpt.capture_rng_state(),
            "data_manifest": data_manifest,
            "cpu_threads": torch.get_num_threads(),  # a resumed CPU run keeps it (exactness)
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint: weights, optimisers, schedules and RNG states."""
        self.load_weights(state)
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        for key, scheduler in self.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][key])
        ckpt.restore_rng_state(state["rng"])

    def load_weights(self, state: dict[str, Any]) -> None:
        """Copy the generator's (and, when both have one, the discriminator's) weights."""
        self.generator.load_state_dict(state["generator"])
        if self.discriminator is not None and state.get("discriminator"):
            self.discriminator.load_state_dict(state["discriminator"])


# --- configuration of a new or resumed run ---


def resolve_configs(
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    load: str | os.PathLike[str] | None = None,
    preset_name: str | None = None,
    optimizer: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs a run will use (what ``msgan train`` builds from flags).

    A resumed run starts from the checkpoint's configs and applies only what was given;
    :func:`train` then refuses a change of model or method with a clear error. A new run
    uses ``preset_name`` (default ``paper``; with ``load``, the loaded run's model),
    ``optimizer``'s learning rates (:meth:`TrainConfig.with_optimizer`) and ``overrides``.
    """
    overrides = dict(overrides or {})
    source = _resume_source(out_dir, load) if resume else None
    if source is not None:
        state = ckpt.load_checkpoint(source)
        model_config = ModelConfig.from_dict(state["model_config"])
        saved = TrainConfig.from_dict(state["train_config"]).to_dict()
        if optimizer is not None and optimizer != saved["optimizer"]:
            overrides = {**TrainConfig.OPTIMIZER_RATES[optimizer], **overrides}
            overrides["optimizer"] = optimizer
        config = TrainConfig.from_dict({**saved, **overrides})
        if preset_name is not None:
            model_config = preset(preset_name)
        return model_config, config
    if preset_name is None and load is not None:
        model_config = ckpt.load_generator_info(load)[1]["model_config"]
    else:
        model_config = preset(preset_name or "paper")
    return model_config, TrainConfig.with_optimizer(optimizer or "adam", **overrides)


def _resume_source(
    out_dir: str | os.PathLike[str], load: str | os.PathLike[str] | None
) -> Path | None:
    """The checkpoint a resumed run continues from: ``load`` if given, else the run's latest."""
    if load is not None:
        return ckpt.resolve_checkpoint(load)
    return ckpt.latest_checkpoint(out_dir)


def _check_same_run(
    state: dict[str, Any], model_config: ModelConfig, config: TrainConfig, source: Path
) -> None:
    """Refuse to resume with another model or another training method."""
    saved_model = ModelConfig.from_dict(state["model_config"])
    if saved_model != model_config:
        fields = [
            key
            for key, value in model_config.to_dict().items()
            if saved_model.to_dict().get(key) != value
        ]
        raise MsganError(
            f"{source} was trained with another model (differs in {', '.join(fields)}): resume "
            "without --preset (or with the run's own preset), or start a new run with another --out"
        )
    saved = TrainConfig.from_dict(state["train_config"]).to_dict()
    mine = config.to_dict()
    changed = [key for key in TrainConfig.METHOD_FIELDS if saved.get(key) != mine.get(key)]
    if changed:
        detail = ", ".join(f"{key} {saved.get(key)!r} -> {mine.get(key)!r}" for key in changed)
        raise MsganError(
            f"{source} was trained with other settings ({detail}); a resumed run must keep "
            "them: drop those flags, or start a new run with another --out"
        )


# --- the run ---


@dataclass
class TrainResult:
    """What :func:`train` leaves behind."""

    run_dir: Path
    step: int  # completed steps
    checkpoint: Path | None  # the last checkpoint written or resumed from
    interrupted: bool  # stopped early by SIGINT/SIGTERM (a checkpoint was saved)
    generator: Generator
    discriminator: Discriminator | None
    records: list[dict[str, Any]] = field(default_factory=list)


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of ``<run_dir>/metrics.jsonl`` (an empty list when there is none yet)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise MsganError(f"{path}, line {number}: not valid JSON") from None
    return records


class _StopRequests:
    """SIGINT/SIGTERM set a flag that the loop checks after each step (a second one aborts)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        _say(f"{signal.Signals(signum).name}: saving a checkpoint after this step, then stopping")

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _say(message: str) -> None:
    """A status line that does not break the progress bar."""
    tqdm.write(f"msgan train: {message}", file=sys.stderr)


class _RunFiles:
    """The metrics log, loss plot, sample grids and TensorBoard events of a run directory.

    Every process keeps the records (the result returns them); only rank 0 writes. The
    metrics log is rewritten atomically at each checkpoint and sample grid, at the end, and
    at most every 30 s in between, so a resumed run can cut it back to its checkpoint.
    """

    def __init__(self, run_dir: Path, process: Process, records: list[dict[str, Any]]) -> None:
        self.dir, self.process, self.records = run_dir, process, records
        self._flushed_at = time.monotonic()
        self._tensorboard = None
        if process.is_main:
            with contextlib.suppress(ImportError):  # tensorboard is an optional dependency
                from torch.utils.tensorboard import SummaryWriter

                self._tensorboard = SummaryWriter(str(run_dir / "tensorboard"))

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self._tensorboard is not None:
            for key, value in record.items():
                if key != "step":
                    self._tensorboard.add_scalar(key, value, record["step"])
        if time.monotonic() - self._flushed_at > 30:
            self.flush()

    def flush(self) -> None:
        if not self.process.is_main:
            return
        text = "".join(json.dumps(r) + "\n" for r in self.records)
        write_text_atomic(self.dir / METRICS_FILE, text)
        self._flushed_at = time.monotonic()
        if self._tensorboard is not None:
            self._tensorboard.flush()

    def write_figures(self, step_state: TrainStep, samples: torch.Tensor | None, step: int) -> None:
        """``samples/step_NNNNNNN.png`` (predictions on the held-out clips) and ``losses.png``."""
        if not self.process.is_main:
            return
        if samples is not None:
            history, target = step_state.split(samples)
            step_state.generator.eval()
            with torch.no_grad(), step_state.autocast():
                prediction = step_state.generator(history)[-1].float()  # (B, 3, H, W)
            step_state.generator.train()
            fig = viz.sample_grid(history, prediction, target, title=f"step {step}")
            viz.save_figure(fig, self.dir / SAMPLES_DIR / f"step_{step:07d}.png")
        if self.records:
            n_scales = step_state.model_config.n_scales
            viz.save_figure(viz.training_curves(self.records, n_scales), self.dir / LOSS_PLOT)
        self.flush()

    def close(self) -> None:
        self.flush()
        if self._tensorboard is not None:
            self._tensorboard.close()


class _MetricWindow:
    """Averages the step scalars between two metrics records, and the clips/s they ran at."""

    def __init__(self, clips_per_step: int) -> None:
        self.clips_per_step = clips_per_step
        self._sums = torch.zeros(len(STEP_KEYS), dtype=torch.float64)
        self._steps, self._seconds = 0, 0.0

    def add(self, values: torch.Tensor, seconds: float) -> None:
        self._sums += values
        self._steps += 1
        self._seconds += seconds

    def record(self, step: int, learning_rates: dict[str, float]) -> dict[str, Any]:
        """The mean of each scalar since the last record (then starts a new window)."""
        record: dict[str, Any] = {"step": step}
        for key, total in zip(STEP_KEYS, self._sums.tolist(), strict=True):
            if math.isfinite(total):  # a non-adversarial run has no adv or D terms
                record[key] = total / self._steps
        record.update(learning_rates)
        record["clips_per_s"] = self.clips_per_step * self._steps / max(self._seconds, 1e-9)
        self._sums.zero_()
        self._steps, self._seconds = 0, 0.0
        return record


def _synchronise(
    values: torch.Tensor, stop_requested: bool, process: Process, adversarial: bool
) -> tuple[torch.Tensor, bool, bool]:
    """The step's scalars on the CPU (averaged over ranks), whether any loss is non-finite,
    and whether any rank was asked to stop: all ranks must agree to stop at the same step.
    """
    losses = values[:5] if adversarial else values[:3]  # D(real)/D(fake) are not losses
    flags = torch.stack(
        [
            (~torch.isfinite(losses)).any().float(),
            torch.tensor(float(stop_requested), device=values.device),
        ]
    )
    if process.distributed:
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        dist.all_reduce(values)
        values = values / process.world_size
    bad, stop = flags.tolist()  # the one host-device synchronisation of a step
    return values.cpu().double(), bool(bad), bool(stop)


def _non_finite_error(step: int, values: torch.Tensor, out_dir: Path) -> MsganError:
    last = ckpt.latest_checkpoint(out_dir)
    advice = (
        f"the last good checkpoint is {last}: resume from it (-r)"
        if last
        else "no checkpoint was written yet: start again"
    )
    named = ", ".join(f"{k}={v:.4g}" for k, v in zip(STEP_KEYS, values.tolist(), strict=True))
    return MsganError(
        f"non-finite loss at step {step} ({named}); training stopped without saving this "
        f"step; {advice} with a lower learning rate, or without --amp"
    )


def train(
    clips_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model_config: ModelConfig,
    config: TrainConfig,
    *,
    device: str | torch.device | None = None,
    resume: bool = False,
    load: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train on the clips in ``clips_dir`` until ``config.steps`` steps, writing into ``out_dir``.

    ``resume``: continue from ``load`` (a checkpoint file or run directory) or else from the
    latest checkpoint in ``out_dir``; a run that already reached ``config.steps`` just loads
    (load-or-train), and a run directory without checkpoints starts fresh. Without
    ``resume``, ``load`` only initialises the weights (fine-tuning; step 0), and an
    ``out_dir`` that already holds checkpoints is refused rather than overwritten.

    ``device`` defaults to the CPU (``default_device()`` picks a GPU when present); under
    torchrun every rank uses its local GPU. ``threads`` sets CPU threads; by default a
    resumed run keeps its checkpoint's count (results can depend on it in the last bits)
    and a new run takes the cores other processes leave free (:func:`cpu_threads`).
    Returns a :class:`TrainResult`; the models are in eval mode.
    """
    from msgan_lib.data import ClipDataset

    process = _process_from_environment()
    device = torch.device(device) if device is not None else torch.device("cpu")
    if process.distributed and device.type == "cuda":
        device = torch.device("cuda", process.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out_dir = Path(out_dir)

    dataset = ClipDataset(clips_dir)
    _check_dataset(dataset, model_config, clips_dir)
    identity = manifest_identity(dataset.manifest)

    source: Path | None = None
    if resume:
        source = _resume_source(out_dir, load)
    elif ckpt.latest_checkpoint(out_dir) is not None:
        raise MsganError(
            f"{out_dir} already holds checkpoints: pass -r/--resume to continue that run, "
            "or choose another --out"
        )

    state = ckpt.load_checkpoint(source, map_location=device) if source is not None else None
    if device.type == "cpu":
        _set_cpu_threads(threads, state, process)

    initialized = False
    if process.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        initialized = True
    try:
        return _train(
            dataset,
            identity,
            out_dir,
            model_config,
            config,
            device,
            process,
            source,
            state,
            load,
            progress,
        )
    finally:
        if initialized:
            dist.destroy_process_group()


def _set_cpu_threads(threads: int | None, state: dict[str, Any] | None, process: Process) -> None:
    """``threads`` if given; a resumed run's own count (exact continuation); else the free cores."""
    if threads is None and state is not None and state.get("cpu_threads"):
        threads = int(state["cpu_threads"])
        if process.is_main:
            _say(f"keeping the run's {threads} CPU thread(s) for an exact continuation")
    elif threads is None:
        threads = cpu_threads(process)
        if threads < _core_share(process) and process.is_main:
            _say(f"other processes keep the CPU busy: training with {threads} thread(s)")
    torch.set_num_threads(threads)


def _check_dataset(dataset: Any, model_config: ModelConfig, clips_dir: Any) -> None:
    """The clips must have the model's history length and crop size."""
    channels = 3 * (model_config.history + 1)
    if len(dataset) < 2:
        raise MsganError(f"{clips_dir} holds {len(dataset)} clip(s): training needs at least 2")
    shape = tuple(dataset[0].shape)
    expected = (channels, model_config.crop_size, model_config.crop_size)
    if shape != expected:
        raise MsganError(
            f"clips in {clips_dir} are shaped {shape} but the model takes {expected} "
            f"({model_config.history} history frames + 1, {model_config.crop_size}x"
            f"{model_config.crop_size} crops): re-run process-data with matching "
            "--history/--crop-size or pick a matching preset"
        )


def _train(
    dataset: Any,
    identity: dict[str, Any],
    out_dir: Path,
    model_config: ModelConfig,
    config: TrainConfig,
    device: torch.device,
    process: Process,
    source: Path | None,
    state: dict[str, Any] | None,
    load: str | os.PathLike[str] | None,
    progress: bool,
) -> TrainResult:
    step_state = TrainStep(model_config, config, device, process)
    start, records = 0, []
    if source is not None and state is not None:
        start = _continue_from(step_state, state, source, identity, process)
        records = [r for r in read_metrics(out_dir) if r["step"] <= start]
    elif load is not None:
        _initialise_from(step_state, load)
    files = _RunFiles(out_dir, process, records)

    held_out = held_out_indices(len(dataset), config.sample_clips, config.seed)
    probe = (
        probe_indices(len(dataset), config.probe_clips, config.seed, held_out)
        if config.adversarial
        else held_out[:0]
    )
    training = torch.ones(len(dataset), dtype=torch.bool)
    training[held_out] = False
    training[probe] = False
    per_step = 2 if config.adversarial else 1  # D's minibatch, then G's
    sampler = ClipSampler(
        torch.nonzero(training).flatten(), config.seed, config.batch_size, per_step, process
    )
    samples = _load_batch(dataset, held_out) if len(held_out) else None
    probe_clips = _load_batch(dataset, probe) if len(probe) else None
    window = _MetricWindow(per_step * config.batch_size * process.world_size)

    step, interrupted = start, False
    checkpoint = source if process.is_main else None  # only rank 0 has checkpoints to name
    bar = tqdm(
        total=config.steps,
        initial=start,
        disable=not (progress and process.is_main),
        unit="step",
        dynamic_ncols=True,
        mininterval=1.0,
    )
    try:
        with _StopRequests() as stop:
            while step < config.steps:
                began = time.perf_counter()
                batches = [_load_batch(dataset, indices) for indices in sampler.batches(step)]
                values, bad, stop_now = _synchronise(
                    step_state.run(batches), stop.requested, process, config.adversarial
                )
                step += 1
                if bad:
                    raise _non_finite_error(step, values, out_dir)
                window.add(values, time.perf_counter() - began)
                bar.update(1)
                shown = {k: f"{v:.3g}" for k, v in zip(STEP_KEYS, values.tolist(), strict=True)}
                bar.set_postfix(
                    {k: shown[k] for k in ("lp", "gdl", "adv", "d_loss")}, refresh=False
                )

                last = step == config.steps or stop_now
                if step % config.log_every == 0 or last:
                    record = window.record(step, step_state.learning_rates())
                    if probe_clips is not None:
                        accuracy = step_state.discriminator_accuracy(probe_clips)
                        record.update({f"d_acc_{k}": a for k, a in enumerate(accuracy)})
                    files.add(record)
                if (config.sample_every and step % config.sample_every == 0) or last:
                    files.write_figures(step_state, samples, step)
                if (config.checkpoint_every and step % config.checkpoint_every == 0) or last:
                    if process.is_main:
                        state = step_state.state(step, identity)
                        checkpoint = ckpt.save_checkpoint(state, out_dir, config.keep_checkpoints)
                    files.flush()
                if stop_now:
                    interrupted = step < config.steps
                    break
    finally:
        bar.close()
        files.close()
    step_state.generator.eval()
    if step_state.discriminator is not None:
        step_state.discriminator.eval()
    return TrainResult(
        out_dir,
        step,
        checkpoint,
        interrupted,
        step_state.generator,
        step_state.discriminator,
        files.records,
    )


def _continue_from(
    step_state: TrainStep,
    state: dict[str, Any],
    source: Path,
    identity: dict[str, Any],
    process: Process,
) -> int:
    """Continue from a checkpoint's state, after checking it is this run; returns its step."""
    _check_same_run(state, step_state.model_config, step_state.config, source)
    if state["data_manifest"] != identity:
        raise MsganError(
            f"{source} was trained on another clip set ({state['data_manifest']}) than the "
            f"one given now ({identity}): resume with the run's own -d/--data"
        )
    step_state.load_state(state)
    step = int(state["step"])
    if process.is_main:
        todo = step_state.config.steps - step
        _say(
            f"resuming from {source} at step {step}: {todo} steps to go"
            if todo > 0
            else f"{source} is at step {step}, already at --steps {step_state.config.steps}: "
            "loaded, nothing to train"
        )
    return step


def _initialise_from(step_state: TrainStep, load: str | os.PathLike[str]) -> None:
    """Start a new run from another run's weights (a checkpoint, run dir or safetensors)."""
    generator, info = ckpt.load_generator_info(load)
    if not info["model_config"].same_generator(step_state.model_config):
        raise MsganError(
            f"{info['path']} holds another generator than the one configured: drop --preset "
            "(and --single-scale) to use the loaded model's sizes"
        )
    step_state.generator.load_state_dict(generator.state_dict())
    same_d = info["model_config"].same_discriminator(step_state.model_config)
    if step_state.discriminator is not None and same_d and info["path"].suffix != ".safetensors":
        discriminator = ckpt.load_checkpoint(info["path"])["discriminator"]
        if discriminator:
            step_state.discriminator.load_state_dict(discriminator)
