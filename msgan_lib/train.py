"""The training run: configuration resolved once, the loop, exact resume (chapter 04).

Mathieu, Couprie & LeCun, "Deep Multi-Scale Video Prediction Beyond Mean Square Error"
(ICLR 2016, arXiv:1511.05440), section 3: the generator and the discriminators are trained
together, one :class:`~msgan_lib.step.TrainStep` (a D update, then a G update on another
minibatch) after the other, for ``config.steps`` steps in all.

- :func:`resolve_run` builds a run's configuration in one place from a preset, a named
  recipe (:data:`msgan_lib.config.RECIPES`), the checkpoint a resumed run continues and
  any overrides (the flags of ``msgan train``), loading that checkpoint once.
- :func:`train` runs the loop: clips from :class:`~msgan_lib.feed.ClipFeed`, one step,
  the step's scalars averaged across processes, a record every ``log_every`` steps
  (:mod:`msgan_lib.runlog`), figures every ``sample_every`` and a checkpoint every
  ``checkpoint_every`` steps (:mod:`msgan_lib.checkpoint`, the last ``keep_checkpoints``
  plus milestones kept).

Reproducibility: the minibatches are a pure function of ``(seed, step, rank)`` and a
checkpoint holds weights, optimiser and scheduler states and RNG states, so on a CPU an
interrupted and resumed run logs exactly the losses of an uninterrupted one. A non-finite
loss stops training at once, naming the step, and leaves the last good checkpoint in place.
Launched by ``torchrun --nproc_per_node N -m msgan_lib train ...`` the trainer runs
DistributedDataParallel (NCCL on GPUs, gloo on CPUs): each rank draws different clips
(the global batch is N x ``batch_size``), the gradients are averaged, and only rank 0
writes files.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from msgan_lib import checkpoint as ckpt
from msgan_lib.clips import ClipDataset
from msgan_lib.config import ModelConfig, TrainConfig, apply_overrides, preset, recipe
from msgan_lib.feed import (
    ClipFeed,
    ClipSampler,
    held_out_indices,
    load_clips,
    manifest_identity,
    probe_indices,
)
from msgan_lib.fileio import MsganError, ensure_dir
from msgan_lib.model import Discriminator, Generator, add_action_inputs
from msgan_lib.runlog import MetricWindow, RunLog, read_metrics
from msgan_lib.runtime import Process, core_share, cpu_threads, resolve_device
from msgan_lib.step import TrainStep

# --- configuration of a new or resumed run, resolved once ---


@dataclass
class RunSetup:
    """What a run trains and where it starts: the result of :func:`resolve_run`."""

    model_config: ModelConfig
    config: TrainConfig
    resume_from: Path | None = None  # the checkpoint a resumed run continues
    state: dict[str, Any] | None = None  # its contents, loaded once
    init_from: str | os.PathLike[str] | None = None  # weights a new run starts from


def resolve_run(
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    load: str | os.PathLike[str] | None = None,
    preset_name: str | None = None,
    recipe_name: str | None = None,
    overrides: dict[str, Any] | None = None,
    single_scale: bool = False,
    action_names: tuple[str, ...] | None = None,
    model_config: ModelConfig | None = None,
    config: TrainConfig | None = None,
) -> RunSetup:
    """A run's model and training configs, and the checkpoint it resumes (loaded once).

    Resumed (``resume``: from ``load``, else the latest checkpoint in ``out_dir``; a run
    directory without one starts fresh): the checkpoint's configs. New: ``model_config``
    if given, else ``preset_name``, else the model of ``load`` (fine-tuning), else the
    recipe's preset, else ``paper``; ``config`` if given, else the defaults. Then the
    recipe's values and ``overrides`` (fields of any config, by name) are applied, and
    ``single_scale`` keeps only the finest scale, and ``action_names`` (the clips'
    actions, ``msgan train --action-conditional``) conditions the model on them. A resumed
    run must keep its model and method (:data:`TrainConfig.METHOD_FIELDS`): a change is
    refused with one clear line.
    Without ``resume``, an ``out_dir`` that already holds checkpoints is refused.
    """
    chosen = recipe(recipe_name) if recipe_name is not None else None
    source = _resume_source(out_dir, load) if resume else None
    if not resume and ckpt.latest_checkpoint(out_dir) is not None:
        raise MsganError(
            f"{out_dir} already holds checkpoints: pass -r/--resume to continue that run, "
            "or choose another --out"
        )
    state = ckpt.load_checkpoint(source) if source is not None else None
    if state is not None:
        saved_model = ModelConfig.from_dict(state["model_config"])
        saved = TrainConfig.from_dict(state["train_config"])
    if model_config is None:
        if preset_name is not None:
            model_config = preset(preset_name)
        elif state is not None:
            model_config = saved_model
        elif load is not None:
            model_config = ckpt.load_generator_info(load)[1]["model_config"]
        else:
            model_config = preset(chosen.preset if chosen else "paper")
    if config is None:
        config = saved if state is not None else TrainConfig()
    # The recipe first, then the flags: another optimiser given as a flag brings its own
    # rates over the recipe's (unless rates are given too).
    for values in (chosen.values if chosen else {}, overrides or {}):
        model_config, config = apply_overrides(model_config, config, values)
    if single_scale and model_config.n_scales > 1:
        model_config = model_config.finest_scale_only()
    if action_names is not None:
        model_config = dataclasses.replace(model_config, action_names=tuple(action_names))
    if model_config.action_gains and not model_config.action_count:
        raise MsganError("--action-gains scales an action model's maps: add --action-conditional")
    if state is not None and source is not None:
        _check_same_run(saved_model, saved, model_config, config, source)
    return RunSetup(model_config, config, source, state, None if resume else load)


def _resume_source(
    out_dir: str | os.PathLike[str], load: str | os.PathLike[str] | None
) -> Path | None:
    """The checkpoint a resumed run continues from: ``load`` if given, else the run's latest."""
    if load is not None:
        return ckpt.resolve_checkpoint(load)
    return ckpt.latest_checkpoint(out_dir)


def _check_same_run(
    saved_model: ModelConfig,
    saved: TrainConfig,
    model_config: ModelConfig,
    config: TrainConfig,
    source: Path,
) -> None:
    """Refuse to resume with another model or another training method."""
    if saved_model != model_config:
        old, new = saved_model.to_dict(), model_config.to_dict()
        fields = [key for key, value in new.items() if old.get(key) != value]
        raise MsganError(
            f"{source} was trained with another model (differs in {', '.join(fields)}): resume "
            "without --preset (or with the run's own preset), or start a new run with another --out"
        )
    old, new = saved.to_dict(), config.to_dict()
    changed = [key for key in TrainConfig.METHOD_FIELDS if old.get(key) != new.get(key)]
    if changed:
        detail = ", ".join(f"{key} {old.get(key)!r} -> {new.get(key)!r}" for key in changed)
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


def train(
    clips_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model_config: ModelConfig | None = None,
    config: TrainConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    resume: bool = False,
    load: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    progress: bool = True,
    setup: RunSetup | None = None,
) -> TrainResult:
    """Train on the clips in ``clips_dir`` until ``config.steps`` steps, writing into ``out_dir``.

    ``resume``: continue from ``load`` (a checkpoint file or run directory) or else from the
    latest checkpoint in ``out_dir``; a run that already reached ``config.steps`` just loads
    (load-or-train), and a run directory without checkpoints starts fresh. Without
    ``resume``, ``load`` only initialises the weights (fine-tuning; step 0), and an
    ``out_dir`` that already holds checkpoints is refused rather than overwritten. The
    configs and checkpoint go through :func:`resolve_run`, or come resolved as ``setup``
    (what ``msgan train`` does), in which case ``model_config``, ``config``, ``resume``
    and ``load`` are not given.

    ``device``: ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"`` or ``"auto"``; under torchrun
    every rank uses its local GPU. ``threads`` sets CPU threads; by default a resumed run
    keeps its checkpoint's count (results can depend on it in the last bits) and a new run
    takes the cores other processes leave free (:func:`~msgan_lib.runtime.cpu_threads`).
    Returns a :class:`TrainResult`; the models are in eval mode.
    """
    if setup is None:
        setup = resolve_run(
            out_dir, resume=resume, load=load, model_config=model_config, config=config
        )
    process = Process.from_environment()
    device = resolve_device(device)
    if process.distributed and device.type == "cuda":
        device = torch.device("cuda", process.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out_dir = Path(out_dir)
    if process.is_main:
        ensure_dir(out_dir)  # an unwritable --out fails now, not at the first checkpoint

    dataset = ClipDataset(clips_dir, with_actions=bool(setup.model_config.action_count))
    _check_dataset(dataset, setup.model_config, setup.config, clips_dir)
    if device.type == "cpu":
        _set_cpu_threads(threads, setup.state, process)

    initialized = False
    if process.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        initialized = True
    try:
        return _run(dataset, out_dir, setup, device, process, progress)
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
        if threads < core_share(process) and process.is_main:
            _say(f"other processes keep the CPU busy: training with {threads} thread(s)")
    torch.set_num_threads(threads)


def _check_dataset(
    dataset: ClipDataset, model_config: ModelConfig, config: TrainConfig, clips_dir: Any
) -> None:
    """The clips must have the model's history length and crop size, and at least as many
    future frames as the deepest unroll."""
    if len(dataset) < 2:
        raise MsganError(f"{clips_dir} holds {len(dataset)} clip(s): training needs at least 2")
    shape = tuple(dataset.clip_shape)
    size = model_config.crop_size
    expected = (model_config.history + dataset.future, 3, size, size)
    if dataset.history != model_config.history or shape != expected:
        raise MsganError(
            f"clips in {clips_dir} hold {dataset.history} history frames of "
            f"{shape[-2]}x{shape[-1]} but the model takes {model_config.history} history "
            f"frames of {size}x{size} crops: re-run process-data with matching "
            "--history/--crop-size or pick a matching preset"
        )
    if config.max_unroll > dataset.future:
        raise MsganError(
            f"--unroll {config.max_unroll} needs clips with {config.max_unroll} future frames "
            f"but {clips_dir} holds {dataset.future}: cut clips with `msgan process-data "
            f"--future {config.max_unroll}` or lower --unroll"
        )
    if dataset.with_actions and dataset.action_names != model_config.action_names:
        raise MsganError(
            f"the clips in {clips_dir} carry the actions {', '.join(dataset.action_names)} but "
            f"the model is conditioned on {', '.join(model_config.action_names)}: train on "
            "clips of the same game"
        )


def _run(
    dataset: ClipDataset,
    out_dir: Path,
    setup: RunSetup,
    device: torch.device,
    process: Process,
    progress: bool,
) -> TrainResult:
    """The training loop of :func:`train`, once devices and processes are set up."""
    config = setup.config
    identity = manifest_identity(dataset.manifest)
    step_state = TrainStep(setup.model_config, config, device, process)
    start, records = 0, []
    if setup.state is not None and setup.resume_from is not None:
        start = _continue_from(step_state, setup.state, setup.resume_from, identity, process)
        records = [r for r in read_metrics(out_dir) if r["step"] <= start]
    elif setup.init_from is not None:
        _initialise_from(step_state, setup.init_from)
    log = RunLog(out_dir, process, records)

    held_out = held_out_indices(len(dataset), config.sample_clips, config.seed)
    probe = (
        probe_indices(len(dataset), config.probe_clips, config.seed, held_out)
        if config.adversarial
        else held_out[:0]
    )
    validation = (
        probe_indices(
            len(dataset), config.val_clips, config.seed, torch.cat([held_out, probe]), salt=65_537
        )
        if config.val_clips
        else held_out[:0]
    )
    training = torch.ones(len(dataset), dtype=torch.bool)
    training[held_out] = False
    training[probe] = False
    training[validation] = False
    per_step = 2 if config.adversarial else 1  # D's minibatch, then G's
    sampler = ClipSampler(
        torch.nonzero(training).flatten(), config.seed, config.batch_size, per_step, process
    )
    samples = load_clips(dataset, held_out) if len(held_out) else None
    probe_clips = load_clips(dataset, probe) if len(probe) else None
    val_clips = load_clips(dataset, validation) if len(validation) else None
    window = MetricWindow(per_step * config.batch_size * process.world_size)
    feed = ClipFeed(dataset, sampler, start, config.steps, pin=device.type == "cuda")

    step, interrupted = start, False
    checkpoint = setup.resume_from if process.is_main else None  # only rank 0 names files
    bar = tqdm(
        total=config.steps,
        initial=start,
        disable=not (progress and process.is_main),
        unit="step",
        dynamic_ncols=True,
        mininterval=1.0,
    )
    try:
        with feed, _StopRequests() as stop:
            while step < config.steps:
                began = time.perf_counter()
                scalars = step_state.run(feed.next(step), config.unroll_at(step))
                values, stop_now = _synchronise(scalars, stop.requested, process)
                step += 1
                if not all(math.isfinite(value) for value in values.values()):
                    raise _non_finite_error(step, values, out_dir)
                window.add(values, time.perf_counter() - began)
                bar.update(1)
                shown = ("lp", "gdl", "adv", "d_loss")
                bar.set_postfix({k: f"{values[k]:.3g}" for k in shown if k in values}, False)

                last = step == config.steps or stop_now
                validate = val_clips is not None and (step % config.val_every == 0 or last)
                if step % config.log_every == 0 or last or validate:
                    record = window.record(step, step_state.learning_rates())
                    if probe_clips is not None:
                        accuracy = step_state.discriminator_accuracy(probe_clips)
                        record.update({f"d_acc_{k}": a for k, a in enumerate(accuracy)})
                    if validate:
                        record.update(step_state.held_out_loss(val_clips))
                    log.add(record)
                if (config.sample_every and step % config.sample_every == 0) or last:
                    log.write_figures(step_state, samples, step)
                if (config.checkpoint_every and step % config.checkpoint_every == 0) or last:
                    if process.is_main:
                        state = step_state.state(step, identity)
                        checkpoint = ckpt.save_checkpoint(
                            state, out_dir, config.keep_checkpoints, config.milestone_every
                        )
                    log.flush()
                if stop_now:
                    interrupted = step < config.steps
                    break
    finally:
        bar.close()
        log.close()
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
        log.records,
    )


def _synchronise(
    scalars: dict[str, torch.Tensor], stop_requested: bool, process: Process
) -> tuple[dict[str, float], bool]:
    """The step's scalars by name on the host (averaged over ranks), and whether any rank
    was asked to stop: all ranks must agree to stop at the same step."""
    names = list(scalars)
    device = scalars[names[0]].device
    packed = torch.stack([scalars[name].float() for name in names])  # (K,) in a fixed order
    stop = torch.tensor([float(stop_requested)], device=device)
    if process.distributed:
        dist.all_reduce(stop, op=dist.ReduceOp.MAX)
        dist.all_reduce(packed)
        packed = packed / process.world_size
    host = torch.cat([packed, stop]).cpu().double().tolist()  # the one host synchronisation
    return dict(zip(names, host[:-1], strict=True)), bool(host[-1])


def _non_finite_error(step: int, values: dict[str, float], out_dir: Path) -> MsganError:
    last = ckpt.latest_checkpoint(out_dir)
    advice = (
        f"the last good checkpoint is {last}: resume from it (-r)"
        if last
        else "no checkpoint was written yet: start again"
    )
    named = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
    return MsganError(
        f"non-finite loss at step {step} ({named}); training stopped without saving this "
        f"step; {advice} with a lower learning rate, or without --amp"
    )


def _continue_from(
    step_state: TrainStep,
    state: dict[str, Any],
    source: Path,
    identity: dict[str, Any],
    process: Process,
) -> int:
    """Continue from a checkpoint's state on the same clip set; returns its step."""
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
    loaded, wanted = info["model_config"], step_state.model_config
    # An unconditioned model may start an action model: its weights extended by zeros.
    adds_actions = wanted.action_count > 0 and loaded.action_count == 0
    # An action model without gains may start one with them, its gains zero.
    adds_gains = wanted.action_count > 0 and wanted.action_gains and not loaded.action_gains
    extends = adds_actions or adds_gains
    if extends:
        loaded = dataclasses.replace(
            loaded, action_names=wanted.action_names, action_gains=wanted.action_gains
        )
    if not loaded.same_generator(wanted):
        raise MsganError(
            f"{info['path']} holds another generator than the one configured: drop --preset "
            "(and --single-scale) to use the loaded model's sizes"
        )
    if extends:
        step_state.generator.load_unconditioned(generator.state_dict())
    else:
        step_state.generator.load_state_dict(generator.state_dict())
    same_d = loaded.same_discriminator(wanted)
    if step_state.discriminator is not None and same_d and info["path"].suffix != ".safetensors":
        discriminator = ckpt.load_checkpoint(info["path"])["discriminator"]
        if discriminator:
            step_state.discriminator.load_state_dict(
                add_action_inputs(discriminator, wanted) if adds_actions else discriminator
            )


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
