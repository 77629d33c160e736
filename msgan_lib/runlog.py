"""What a training run leaves in its directory: metrics, loss curves, samples (chapter 04).

A run directory holds ``metrics.jsonl`` (one record every ``log_every`` steps: the mean of
each step scalar by name since the last record, the learning rates, the clips/s and, in
adversarial runs, D's held-out accuracy per scale ``d_acc_K``), ``losses.png``,
``samples/step_NNNNNNN.png`` (predictions on held-out clips) and, when the ``tensorboard``
package is installed, ``tensorboard/`` event files; ``checkpoints/`` is
:mod:`msgan_lib.checkpoint`'s. Every value is picked by name, so a new loss term reaches the
log, the synchronisation across processes and the plots without a change here.
Figures need matplotlib, which is imported only when the first one is drawn.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from msgan_lib.fileio import MsganError, write_text_atomic
from msgan_lib.runtime import Process
from msgan_lib.step import Batch, TrainStep

METRICS_FILE = "metrics.jsonl"
LOSS_PLOT = "losses.png"
SAMPLES_DIR = "samples"


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


class RunLog:
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

    def write_figures(self, step_state: TrainStep, samples: Batch | None, step: int) -> None:
        """``samples/step_NNNNNNN.png`` (predictions on the held-out clips) and ``losses.png``."""
        if not self.process.is_main:
            return
        from msgan_lib import viz  # matplotlib, only when a figure is drawn

        if samples is not None:
            history, target, actions = step_state.split(samples)
            step_state.generator.eval()
            with torch.no_grad(), step_state.autocast():
                prediction = step_state.generator(history, actions)[-1].float()  # (B, 3, H, W)
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


class MetricWindow:
    """Averages the step scalars between two metrics records, and the clips/s they ran at."""

    def __init__(self, clips_per_step: int) -> None:
        self.clips_per_step = clips_per_step
        self._sums: dict[str, float] = {}
        self._steps, self._seconds = 0, 0.0

    def add(self, values: dict[str, float], seconds: float) -> None:
        for key, value in values.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._steps += 1
        self._seconds += seconds

    def record(self, step: int, learning_rates: dict[str, float]) -> dict[str, Any]:
        """The mean of each scalar since the last record (then starts a new window)."""
        record: dict[str, Any] = {"step": step}
        record.update({key: total / self._steps for key, total in self._sums.items()})
        record.update(learning_rates)
        record["clips_per_s"] = self.clips_per_step * self._steps / max(self._seconds, 1e-9)
        self._sums = {}
        self._steps, self._seconds = 0, 0.0
        return record
