"""The prepared GPU check, dry-run on the CPU with the tiny preset (no compile: seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = (
    "s_per_iter",
    "samples_per_s",
    "mfu",
    "peak_mem_gb",
    "feed_clips_per_s",
    "finite_losses",
    "resume_exact",
    "predict_fps_full_frame",
)


def test_gpu_check_dry_runs_on_the_cpu(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "gpu_check.py"),
        *("--device", "cpu", "--preset", "tiny", "--steps", "2", "--warmup", "1"),
        *("--batches", "4", "--no-compile", "--out", str(tmp_path)),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(KEYS) <= set(report)
    assert report["finite_losses"] and report["resume_exact"]
    assert [run["batch_size"] for run in report["runs"]] == [8, 4]  # the paper's batch first
    assert report["best"]["batch_size"] in (8, 4) and 0 < report["mfu"] < 1
    for key in ("s_per_iter", "samples_per_s", "feed_clips_per_s", "predict_fps_full_frame"):
        assert report[key] > 0, key
