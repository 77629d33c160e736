"""The README's main job, ``msgan demo``: from nothing to a Ms. Pac-Man prediction.

1. Record a few fresh Ms. Pac-Man test episodes with a seed the shipped models never saw.
2. Run the shipped adversarial and non-adversarial generators (``weights/``) recursively on
   one test window and write frames, side-by-side comparisons and a GIF into ``inference/``.
3. Score both models and the two baselines (copy the last frame; average the history) over
   many windows and write ``metrics.csv``, ``metrics.md`` and ``metrics.png`` there too.

Without shipped weights (a checkout that has not trained them yet) the demo shows the data
side instead: it cuts training clips from the recording and draws a sample of them.
"""

from __future__ import annotations

import time
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
SHIPPED = ("pacman-small-adv", "pacman-small-l2")
HELD_OUT_SEED = 7  # never used for training data (the shipped models trained on seed 0)


def _step(message: str, started: float) -> None:
    """One progress line with the elapsed time."""
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)


def shipped_weights(weights_dir: Path = WEIGHTS_DIR) -> list[Path]:
    """The shipped generator files, adversarial first; empty if any is missing."""
    paths = [weights_dir / f"{name}.safetensors" for name in SHIPPED]
    return paths if all(path.is_file() for path in paths) else []


def run_demo(
    data_root: str = "data/demo",
    out: str = "inference",
    episodes: int = 3,
    frames_per_episode: int = 400,
    steps: int = 8,
    windows: int = 48,
    seed: int = HELD_OUT_SEED,
) -> Path:
    """Run the whole demo; returns the output directory."""
    from msgan_lib import data, predict

    started = time.perf_counter()
    weights = shipped_weights()
    _step(f"recording {episodes} Ms. Pac-Man test episodes (seed {seed}) into {data_root}", started)
    summary = data.record_pacman(
        data_root,
        train_episodes=0 if weights else episodes,
        test_episodes=episodes,
        seed=seed,
        config=data.RecordConfig(frames_per_episode=frames_per_episode),
        overwrite=True,
    )
    test_dir = Path(data_root) / "images" / "test"
    _step(f"recorded {summary['frames']} frames", started)
    out_dir = Path(out)
    if not weights:
        return _data_demo(Path(data_root), out_dir, seed, started)

    _step(f"predicting {steps} frames recursively with {', '.join(SHIPPED)}", started)
    prediction, files = predict.run_predict(weights, test_dir, steps=steps, seed=seed, out=out)
    _step(
        f"wrote {sum(len(paths) for paths in files.values())} files, GIF: {files['gif'][0]}",
        started,
    )
    _step(f"scoring the models and both baselines over up to {windows} windows", started)
    evaluation, table = predict.run_evaluate(
        weights, test_dir, steps=steps, max_windows=windows, seed=seed, out=out
    )
    print(table["md"].read_text())
    _step(f"done: open {out_dir}/ (GIF, frames, comparisons, metrics.md, metrics.png)", started)
    return out_dir


def _data_demo(root: Path, out_dir: Path, seed: int, started: float) -> Path:
    """Without shipped weights: cut clips from the recording and draw a sample of them."""
    from msgan_lib import data, viz

    clips_dir = root / "clips"
    _step(f"no shipped weights in {WEIGHTS_DIR}: cutting training clips instead", started)
    data.process_data(root / "images" / "train", clips_dir, n_clips=2000, seed=seed, overwrite=True)
    dataset = data.ClipDataset(clips_dir)
    history = dataset.manifest["history"]
    clips = [dataset[i] for i in range(6)]  # each (3*(T+1), S, S), oldest frame first
    rows = [list(clip.reshape(history + 1, 3, *clip.shape[-2:])) for clip in clips]
    titles = [f"t-{history - j}" if j < history else "next" for j in range(history + 1)]
    path = out_dir / "sample_clips.png"
    viz.save_figure(viz.image_grid(rows, col_titles=titles), path)
    _step(f"done: {len(dataset)} clips in {clips_dir}, a sample drawn in {path}", started)
    return out_dir
