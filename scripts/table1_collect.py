"""Table 1: score one start seed's seven rows and gather its held-out loss curves and times.

Run where ``scripts/table1_seed.sh`` ran (the folder holding ``data/``, ``runs/`` and
``table1/``), after it finished the seed. Writes, into ``--out``:

- ``per_window-seedS.csv``: every window's value (``msgan_lib.ablation.per_window_csv``)
  on the held-out test episodes, for the paired intervals;
- ``curves-seedS.csv``: each row's held-out loss over its whole lineage (the warm-up, then
  the run it was fine-tuned from, then its own run), steps counted from the first warm-up;
- ``cpu-seedS.csv``: each row's wall seconds on one thread, the same lineage summed (a
  fine-tuned row counts half of the run it started from).

``python scripts/table1_merge.py`` then joins the seeds into ``weights/table1``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import torch

from msgan_lib.ablation import TABLE1_ROWS, per_window_csv
from msgan_lib.checkpoint import load_generator_info
from msgan_lib.evaluate import evaluate_models
from msgan_lib.fileio import write_text_atomic


def lineage(own: int) -> dict[str, list[tuple[str, int]]]:
    """Row -> the runs it is made of, oldest first, and how many steps of each it used."""
    half = own // 2
    return {
        "single-l2": [("warm-single", 500), ("single-l2", own)],
        "l2": [("warm", 500), ("l2", own)],
        "l1": [("warm", 500), ("l1", own)],
        "gdl-l1": [("warm", 500), ("gdl-l1", own)],
        "adv": [("warm", 500), ("l2", half), ("adv", half)],
        "adv-gdl": [("warm", 500), ("gdl-l2-base", half), ("adv-gdl", half)],
        "unrolled": [("warm", 500), ("l2", half), ("unrolled", half)],
    }


def curve_lines(seed: int, runs: Path, own: int) -> list[str]:
    """``row,seed,phase,step,val_loss`` for every held-out loss of every row's lineage."""
    lines = []
    for row, phases in lineage(own).items():
        offset = 0
        for phase, steps in phases:
            for text in (runs / phase / "metrics.jsonl").read_text().splitlines():
                record = json.loads(text)
                if "val_loss" in record and record["step"] <= steps:
                    step = offset + record["step"]
                    lines.append(f"{row},{seed},{phase},{step},{record['val_loss']:.6g}")
            offset += steps
    return lines


def cpu_lines(seed: int, times: Path, own: int) -> list[str]:
    """``row,seed,wall_seconds`` from the driver's per-stage times, summed over the lineage
    (a stage's time scaled by the share of its steps the row used)."""
    with times.open() as handle:
        seconds = {name: int(value) for name, _, value in csv.reader(handle)}
    length = {"warm": 500, "warm-single": 500, "l2": own, "l1": own, "gdl-l1": own}
    length |= {"single-l2": own, "gdl-l2-base": own // 2}
    length |= {"adv": own // 2, "adv-gdl": own // 2, "unrolled": own // 2}
    return [
        f"{row},{seed},{round(sum(seconds[p] * used / length[p] for p, used in phases))}"
        for row, phases in lineage(own).items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", type=int)
    parser.add_argument("--own", type=int, default=1000, help="OWN of table1_seed.sh")
    parser.add_argument("--windows", type=int, default=16, help="test windows scored")
    parser.add_argument("--test-dir", default="data/final-test/images/test")
    parser.add_argument("--out", type=Path, default=Path("table1"))
    args = parser.parse_args()
    tag = "" if args.own == 1000 else f"-own{args.own}"
    runs = Path(f"runs/table1{tag}/seed{args.seed}")
    weights = Path(f"table1/weights{tag}-seed{args.seed}")

    torch.set_num_threads(1)
    models = {row: load_generator_info(weights / f"{row}.safetensors")[0] for row in TABLE1_ROWS}
    started = time.process_time()
    evaluation = evaluate_models(models, args.test_dir, steps=8, max_windows=args.windows)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        args.out / f"per_window-seed{args.seed}.csv", per_window_csv({args.seed: evaluation})
    )
    curves = curve_lines(args.seed, runs, args.own)
    write_text_atomic(args.out / f"curves-seed{args.seed}.csv", "\n".join(curves) + "\n")
    cpu = cpu_lines(args.seed, Path(f"table1/cpu{tag}-seed{args.seed}.csv"), args.own)
    write_text_atomic(args.out / f"cpu-seed{args.seed}.csv", "\n".join(cpu) + "\n")
    print(f"seed {args.seed}: scored in {time.process_time() - started:.0f} s of CPU")


if __name__ == "__main__":
    main()
