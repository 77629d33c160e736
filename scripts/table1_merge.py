"""Table 1: join the start seeds gathered by ``scripts/table1_collect.py`` into ``weights/table1``.

Reads ``per_window-seedS.csv``, ``curves-seedS.csv`` and ``cpu-seedS.csv`` of each seed
from ``--from`` and writes ``per_window.csv``, ``curves.csv``, ``cpu.csv`` and
``metrics.csv`` (the shipped pair's rows the file already holds, if any, then the means) into
``--out``. Prints the tables, the claims with their intervals and the plateau test, in the
markdown ``weights/README.md`` carries.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from msgan_lib.ablation import (
    TABLE1_ROWS,
    check_claims,
    claims_table_markdown,
    compare,
    plateau,
    read_per_window,
    summary_rows,
    table1_markdown,
)
from msgan_lib.evaluate import metrics_csv, read_metrics_csv
from msgan_lib.fileio import write_text_atomic

BASELINES = ("last_input", "history_mean")


def joined_per_window(files: list[Path]) -> str:
    """The seeds' per-window rows in one CSV, the baselines (the same for every seed) once."""
    rows: list[dict[str, str]] = []
    for i, path in enumerate(files):
        with path.open() as handle:
            rows += [r for r in csv.DictReader(handle) if i == 0 or r["model"] not in BASELINES]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def plateau_markdown(curves: str) -> str:
    """One line per row and seed: the change of the held-out loss over the last 20%."""
    points: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in csv.DictReader(io.StringIO(curves)):
        points.setdefault((r["row"], r["seed"]), []).append((int(r["step"]), float(r["val_loss"])))
    lines = ["| row | seed | change over the last 20% | flat |", "|---|--:|--:|---|"]
    for row in TABLE1_ROWS:
        for (name, seed), values in points.items():
            if name == row:
                check = plateau([s for s, _ in values], [v for _, v in values])
                lines.append(
                    f"| {row} | {seed} | {check.change:+.2%} | {'yes' if check.flat else 'no'} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--from", dest="source", type=Path, default=Path("table1"))
    parser.add_argument("--out", type=Path, default=Path("weights/table1"))
    args = parser.parse_args()
    files = {
        kind: [args.source / f"{kind}-seed{s}.csv" for s in args.seeds]
        for kind in ("per_window", "curves", "cpu")
    }
    write_text_atomic(args.out / "per_window.csv", joined_per_window(files["per_window"]))
    curves = "row,seed,phase,step,val_loss\n" + "".join(p.read_text() for p in files["curves"])
    write_text_atomic(args.out / "curves.csv", curves)
    cpu = "row,seed,wall_seconds\n" + "".join(p.read_text() for p in files["cpu"])
    write_text_atomic(args.out / "cpu.csv", cpu)

    table = read_per_window(args.out / "per_window.csv")
    summary = summary_rows(table)
    before = args.out / "metrics.csv"
    kept = read_metrics_csv(before) if before.exists() else []
    shipped = [r for r in kept if r.model.startswith("pacman-")]
    write_text_atomic(args.out / "metrics.csv", metrics_csv([*shipped, *summary]))
    for region in ("moving", "full"):
        print(table1_markdown(summary, region=region), end="\n\n")
    print(claims_table_markdown(check_claims(table)), end="\n\n")
    print(claims_table_markdown(check_claims(table, region="full")), end="\n\n")
    ours = [
        compare(table, "unrolled beats l2", "unrolled", "l2", metric, steps=steps)
        for metric in ("psnr", "sharp_diff")
        for steps in ((1,), (2,), range(4, 9))
    ]
    print(claims_table_markdown(ours), end="\n\n")
    copies = [compare(table, f"`{r}` beats the copy", r, "last_input", "psnr") for r in TABLE1_ROWS]
    print(claims_table_markdown(copies), end="\n\n")
    print(plateau_markdown(curves))


if __name__ == "__main__":
    main()
