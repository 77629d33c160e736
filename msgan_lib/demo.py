"""The README's main job, ``msgan demo``: from nothing to a Ms. Pac-Man prediction.

1. Record a few fresh Ms. Pac-Man test episodes with a seed the shipped models never saw.
2. Run the shipped adversarial and non-adversarial generators (``weights/``) recursively on
   one test window and write frames, side-by-side comparisons and a GIF into ``inference/``.
3. Score both models and the two baselines (copy the last frame; average the history) over
   many windows and write ``metrics.csv``, ``metrics.md`` and ``metrics.png`` there too.
"""

from __future__ import annotations

import time
from pathlib import Path

from msgan_lib.fileio import MsganError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
SHIPPED = ("pacman-small-adv", "pacman-small-l2")
HELD_OUT_SEED = 7  # never used for training data (the shipped models trained on seed 0)


def _step(message: str, started: float) -> None:
    """One progress line with the elapsed time."""
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)


def shipped_weights(weights_dir: Path = WEIGHTS_DIR) -> list[Path]:
    """The shipped generator files, adversarial first; a clear error if one is missing."""
    paths = [weights_dir / f"{name}.safetensors" for name in SHIPPED]
    for path in paths:
        if not path.is_file():
            raise MsganError(
                f"{path} is missing: restore it with `git checkout -- {path.parent.name}/`, "
                "or train and export your own (weights/README.md shows how)"
            )
    return paths


def run_demo(
    data_root: str = "data/demo",
    out: str = "inference",
    episodes: int = 3,
    frames_per_episode: int = 400,
    steps: int = 8,
    windows: int = 48,
    seed: int = HELD_OUT_SEED,
    weights_dir: Path = WEIGHTS_DIR,
) -> Path:
    """Run the whole demo; returns the output directory."""
    from msgan_lib.config import RecordConfig
    from msgan_lib.evaluate import run_evaluate
    from msgan_lib.pacman import record_pacman
    from msgan_lib.predict import run_predict

    started = time.perf_counter()
    weights = shipped_weights(weights_dir)
    _step(f"recording {episodes} Ms. Pac-Man test episodes (seed {seed}) into {data_root}", started)
    summary = record_pacman(
        data_root,
        train_episodes=0,
        test_episodes=episodes,
        seed=seed,
        config=RecordConfig(frames_per_episode=frames_per_episode),
        overwrite=True,
    )
    test_dir = Path(data_root) / "images" / "test"
    _step(f"recorded {summary['frames']} frames", started)
    out_dir = Path(out)
    _step(f"predicting {steps} frames recursively with {', '.join(SHIPPED)}", started)
    _, files = run_predict(weights, test_dir, steps=steps, seed=seed, out=out)
    _step(
        f"wrote {sum(len(paths) for paths in files.values())} files, GIF: {files['gif'][0]}",
        started,
    )
    _step(f"scoring the models and both baselines over up to {windows} windows", started)
    _, table = run_evaluate(weights, test_dir, steps=steps, max_windows=windows, seed=seed, out=out)
    print(table["md"].read_text())
    _step(f"done: open {out_dir}/ (GIF, frames, comparisons, metrics.md, metrics.png)", started)
    return out_dir
