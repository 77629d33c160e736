"""The paper's Table 1 on Ms. Pac-Man: its rows, the paper's own figures, and its claims.

Mathieu, Couprie & LeCun (ICLR 2016, arXiv:1511.05440), section 4 and Table 1, compare
generators trained with one change each: a single scale against the multi-scale pyramid,
L1 against L2, the gradient difference loss (GDL) and the adversarial term. Here each row
is one generator of the same preset, trained on the same clips with the same steps, batch
and schedule (``weights/README.md`` has the commands), and scored by ``msgan evaluate`` on
held-out episodes. This module turns that evaluation's ``metrics.csv`` rows into the
table the paper prints and says, claim by claim, whether the paper's findings held here.

Rows are anything with the attributes of :class:`msgan_lib.evaluate.MetricRow`
(``model, step, metric, region, mean, std, n``).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from msgan_lib.evaluate import MetricRow
from msgan_lib.fileio import MsganError
from msgan_lib.losses import lp_loss, scale_targets

# Row name -> what differs (every row: the same preset, data, steps, batch and schedule).
TABLE1_ROWS: dict[str, str] = {
    "single-l2": "one scale (the finest network alone), L2",
    "l2": "four scales, L2",
    "l1": "four scales, L1",
    "gdl-l1": "four scales, L1 + GDL",
    "adv": "four scales, L2 + adversarial (second half of the steps)",
    "adv-gdl": "four scales, L2 + GDL + adversarial (second half of the steps)",
    "unrolled": "ours: four scales, L2, trained through the recursion (second half)",
}
BASELINE_ROWS: dict[str, str] = {
    "last_input": "copy the last input frame",
    "history_mean": "mean of the input frames",
}

# The paper's Table 1 (UCF101, moving areas, from the reference notes: unverified against
# the PDF): row -> (step-1 PSNR, SSIM, sharpness, step-2 PSNR, SSIM, sharpness).
PAPER_TABLE1: dict[str, tuple[float, float, float, float, float, float]] = {
    "single-scale L2": (26.5, 0.84, 24.7, 22.4, 0.82, 24.2),
    "multi-scale L2": (27.6, 0.86, 24.7, 22.5, 0.81, 24.2),
    "L1": (28.7, 0.88, 24.8, 23.8, 0.83, 24.3),
    "GDL L1": (29.4, 0.90, 25.0, 24.9, 0.84, 24.4),
    "Adv+GDL fine-tuned": (32.0, 0.92, 25.4, 28.9, 0.89, 25.0),
    "last input": (28.6, 0.89, 24.6, 26.3, 0.87, 24.2),
    "optical flow": (31.6, 0.93, 25.3, 28.2, 0.90, 24.7),
}

METRIC_LABELS = {"psnr": "PSNR", "ssim": "SSIM", "sharp_diff": "sharp."}


def _index(rows: Iterable[Any]) -> dict[tuple[str, int, str, str], Any]:
    return {(r.model, r.step, r.metric, r.region): r for r in rows}


def _value(index: dict, model: str, step: int, metric: str, region: str) -> Any:
    try:
        return index[model, step, metric, region]
    except KeyError:
        raise MsganError(
            f"the evaluation has no {metric} for {model!r} at step {step} ({region}); "
            f"evaluate every row of Table 1 ({', '.join(TABLE1_ROWS)}) with at least "
            f"{step} steps"
        ) from None


def table1_markdown(
    rows: Sequence[Any],
    region: str = "moving",
    steps: Sequence[int] = (1, 2, 8),
    models: Sequence[str] | None = None,
) -> str:
    """Table 1 as Markdown: PSNR, SSIM and sharpness difference per step, mean ± std.

    One line per row of :data:`TABLE1_ROWS` (or ``models``) then the two baselines, on
    ``region`` pixels (``"moving"``, as the paper scores, or ``"full"``); ``n`` is the
    number of windows behind each mean.
    """
    index = _index(rows)
    names = [*(models or TABLE1_ROWS), *BASELINE_ROWS]
    metrics = ("psnr", "ssim", "sharp_diff")
    header = " | ".join(f"step {s} {METRIC_LABELS[m]}" for s in steps for m in metrics)
    label = "moving pixels" if region == "moving" else "full frames"
    lines = [f"| model ({label}) | {header} | n |", "|---|" + "--:|" * (3 * len(steps) + 1)]
    for name in names:
        cells = []
        for step in steps:
            for metric in metrics:
                row = _value(index, name, step, metric, region)
                digits = 3 if metric == "ssim" else 2
                cells.append(f"{row.mean:.{digits}f} ± {row.std:.{digits}f}")
        n = _value(index, name, steps[0], "psnr", region).n
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {n} |")
    return "\n".join(lines) + "\n"


def paper_table1_markdown() -> str:
    """The paper's own Table 1 (UCF101, moving areas; unverified figures) as Markdown."""
    lines = [
        "| paper's model (UCF101, unverified) | step 1 PSNR | SSIM | sharp. | step 2 PSNR | "
        "SSIM | sharp. |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, values in PAPER_TABLE1.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:g}" for v in values) + " |")
    return "\n".join(lines) + "\n"


# --- every window, every seed: the differences and their intervals ---------------------------

# Values per window by (model, step, metric, region): an array (seeds, windows), NaN where a
# window has no value (no moving pixel). Every seed of a row is scored on the same windows,
# so row A's seed s and window w pair with row B's seed s and window w.
PerWindow = dict[tuple[str, int, str, str], np.ndarray]
PER_WINDOW_COLUMNS = ("model", "seed", "step", "metric", "region", "window", "value")


TABLE_METRICS = ("psnr", "ssim", "sharp_diff")


def _kept(evaluations: dict[int, Any]) -> list[tuple[int, tuple[str, int, str, str], list]]:
    """Every (seed, key, values) of the evaluations for Table 1's metrics, the baselines
    (which no seed changes) from the first seed only."""
    first = min(evaluations)
    return [
        (seed, key, values)
        for seed, evaluation in sorted(evaluations.items())
        for key, values in evaluation.per_window.items()
        if key[2] in TABLE_METRICS and (seed == first or key[0] not in BASELINE_ROWS)
    ]


def per_window_csv(evaluations: dict[int, Any]) -> str:
    """The per-window values of one evaluation per start seed, as tidy CSV text.

    ``evaluations``: seed -> :class:`msgan_lib.evaluate.Evaluation` (its ``per_window``),
    every one on the same test windows; PSNR, SSIM and sharpness only, the baselines once.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PER_WINDOW_COLUMNS)
    for seed, (model, step, metric, region), values in _kept(evaluations):
        for window, value in enumerate(values):
            writer.writerow([model, seed, step, metric, region, window, f"{value:.6g}"])
    return buffer.getvalue()


def per_window_table(evaluations: dict[int, Any]) -> PerWindow:
    """:data:`PerWindow` straight from evaluations (seed -> ``Evaluation``), as
    :func:`read_per_window` reads back :func:`per_window_csv`."""
    rows: dict[tuple[str, int, str, str], list] = {}
    for _, key, values in _kept(evaluations):
        rows.setdefault(key, []).append(values)
    return {key: np.array(values, dtype=float) for key, values in rows.items()}


def read_per_window(path: str | os.PathLike[str]) -> PerWindow:
    """:data:`PerWindow` from a CSV of :func:`per_window_csv` (rows may come from several
    files: seeds are sorted, windows kept in order)."""
    path = Path(path)
    cells: dict[tuple[str, int, str, str], dict[int, dict[int, float]]] = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != PER_WINDOW_COLUMNS:
            raise MsganError(f"{path} is not a per-window CSV: columns {reader.fieldnames}")
        for r in reader:
            key = (r["model"], int(r["step"]), r["metric"], r["region"])
            seeds = cells.setdefault(key, {})
            seeds.setdefault(int(r["seed"]), {})[int(r["window"])] = float(r["value"])
    table: PerWindow = {}
    for key, seeds in cells.items():
        windows = max(len(w) for w in seeds.values())
        array = np.full((len(seeds), windows), np.nan)
        for i, seed in enumerate(sorted(seeds)):
            for w, value in seeds[seed].items():
                array[i, w] = value
        table[key] = array
    return table


def read_csv_rows(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a small committed CSV (``weights/table1/*.csv``) as dicts of strings."""
    path = Path(path)
    if not path.is_file():
        raise MsganError(f"{path} is missing: it is committed with weights/table1/")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def seed_count(table: PerWindow, model: str) -> int:
    """How many start seeds ``table`` holds for ``model``."""
    return max((v.shape[0] for k, v in table.items() if k[0] == model), default=0)


def summary_rows(table: PerWindow) -> list[MetricRow]:
    """Table rows from every seed and window: the mean over seeds and windows, the std over
    windows of the seeds' mean (the spread a reader sees between test windows) and ``n``,
    the windows with a value."""
    rows = []
    for (model, step, metric, region), values in table.items():
        counts = (~np.isnan(values)).sum(0)  # (windows,)
        sums = np.nansum(values, axis=0)
        per_window = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        kept = per_window[~np.isnan(per_window)]
        mean = float(kept.mean()) if len(kept) else math.nan
        std = float(kept.std()) if len(kept) else math.nan
        rows.append(MetricRow(model, step, metric, region, mean, std, len(kept)))
    return rows


def paired_interval(
    better: np.ndarray,
    worse: np.ndarray,
    draws: int = 4000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(difference, low, high)``: the mean of ``better - worse`` and its bootstrap interval.

    ``better`` and ``worse`` are ``(seeds, windows)`` arrays of the same windows (a baseline,
    which has no seed, may have one row: it pairs with every seed). Each draw resamples the
    seeds and, independently, the windows, with replacement (a two-level bootstrap: the
    training noise of the start seeds and the sampling noise of the test windows), and
    takes the mean difference; ``low`` and ``high`` are the draws' ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles. Windows where either value is NaN are left out.
    """
    if better.shape[0] == 1 and worse.shape[0] > 1:
        better = np.repeat(better, worse.shape[0], axis=0)
    if worse.shape[0] == 1 and better.shape[0] > 1:
        worse = np.repeat(worse, better.shape[0], axis=0)
    if better.shape != worse.shape:
        raise MsganError(
            f"paired_interval: {better.shape} and {worse.shape} are not the same seeds and "
            "windows; score every row on the same windows with the same seeds"
        )
    difference = better - worse  # (S, W)
    keep = ~np.isnan(difference).any(0)
    difference = difference[:, keep]
    if difference.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    n_seeds, n_windows = difference.shape
    seeds = rng.integers(0, n_seeds, size=(draws, n_seeds))
    windows = rng.integers(0, n_windows, size=(draws, n_windows))
    means = np.array(
        [difference[s][:, w].mean() for s, w in zip(seeds, windows, strict=True)]
    )  # (draws,)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(difference.mean()), float(low), float(high)


def verdict(low: float, high: float) -> str:
    """``held`` when the interval lies above zero, ``did not hold`` below, else
    ``inconclusive``."""
    if low > 0:
        return "held"
    if high < 0:
        return "did not hold"
    return "inconclusive"


@dataclass(frozen=True)
class Claim:
    """One of the paper's findings, checked on our table with its interval."""

    text: str  # the paper's claim
    better: str  # the row that should be ahead
    worse: str  # the row it is compared with
    metric: str  # psnr | ssim | sharp_diff
    region: str  # full | moving
    steps: tuple[int, ...]  # recursion steps averaged (the paper's: step 1)
    difference: float  # better - worse, in the metric's unit, mean over seeds and windows
    low: float  # 95% bootstrap interval of the difference
    high: float
    seeds: int  # start seeds behind each row

    @property
    def verdict(self) -> str:
        return verdict(self.low, self.high)

    @property
    def held(self) -> bool:
        return self.verdict == "held"


# The paper's findings in Table 1 (section 4), as (claim, better row, worse row, metric).
PAPER_CLAIMS: tuple[tuple[str, str, str, str], ...] = (
    ("multi-scale beats single-scale", "l2", "single-l2", "psnr"),
    ("L1 beats L2", "l1", "l2", "psnr"),
    ("GDL raises sharpness", "gdl-l1", "l1", "sharp_diff"),
    ("the adversarial term raises sharpness", "adv", "l2", "sharp_diff"),
    ("the full model beats the last-input copy", "adv-gdl", "last_input", "psnr"),
)


def _values(table: PerWindow, model: str, steps: Sequence[int], metric: str, region: str):
    """``(seeds, windows)``: the mean over ``steps`` of each window's value."""
    try:
        return np.mean([table[model, step, metric, region] for step in steps], axis=0)
    except KeyError:
        raise MsganError(
            f"the evaluation has no {metric} for {model!r} at steps {tuple(steps)} "
            f"({region}); evaluate every row of Table 1 ({', '.join(TABLE1_ROWS)}) with at "
            f"least {max(steps)} steps"
        ) from None


def compare(
    table: PerWindow,
    text: str,
    better: str,
    worse: str,
    metric: str,
    region: str = "moving",
    steps: Sequence[int] = (1,),
) -> Claim:
    """``better`` minus ``worse`` on ``metric`` (mean over ``steps``), with its interval."""
    steps = tuple(steps)
    a = _values(table, better, steps, metric, region)
    b = _values(table, worse, steps, metric, region)
    if better not in BASELINE_ROWS and worse not in BASELINE_ROWS:
        common = min(a.shape[0], b.shape[0])  # the seeds both rows have (seeds 0 .. k-1)
        a, b = a[:common], b[:common]
    difference, low, high = paired_interval(a, b)
    seeds = (
        min(a.shape[0], b.shape[0])
        if min(a.shape[0], b.shape[0]) > 1
        else max(a.shape[0], b.shape[0])
    )
    return Claim(text, better, worse, metric, region, steps, difference, low, high, seeds)


def check_claims(table: PerWindow, region: str = "moving", step: int = 1) -> list[Claim]:
    """The paper's five findings (:data:`PAPER_CLAIMS`), each as ``better`` row minus
    ``worse`` row at ``step``, with a 95% interval over seeds and windows.

    Multi-scale beats single-scale and L1 beats L2 (PSNR); GDL and the adversarial term
    raise the sharpness difference; the full model (``adv-gdl``) beats the last-input copy
    (PSNR). A claim *held* when its interval lies above zero, *did not hold* when below,
    and is *inconclusive* otherwise (:func:`verdict`).
    """
    return [
        compare(table, text, better, worse, metric, region, (step,))
        for text, better, worse, metric in PAPER_CLAIMS
    ]


def claims_markdown(claims: Sequence[Claim]) -> str:
    """One line per claim: the difference, its interval and the verdict."""
    lines = []
    for claim in claims:
        unit = "" if claim.metric == "ssim" else " dB"
        steps = (
            f"step {claim.steps[0]}"
            if len(claim.steps) == 1
            else f"steps {claim.steps[0]}-{claim.steps[-1]}"
        )
        where = "moving pixels" if claim.region == "moving" else "full frames"
        lines.append(
            f"- *{claim.text}*: **{claim.verdict}**: `{claim.better}` minus `{claim.worse}` = "
            f"{claim.difference:+.2f}{unit} {METRIC_LABELS[claim.metric]} ({steps}, {where}), "
            f"95% interval [{claim.low:+.2f}, {claim.high:+.2f}] over {claim.seeds} "
            f"seed{'s' if claim.seeds != 1 else ''} and the test windows."
        )
    return "\n".join(lines) + "\n"


def claims_table_markdown(claims: Sequence[Claim]) -> str:
    """The claims as a Markdown table: difference, interval, verdict."""
    lines = [
        "| claim | rows | metric | difference | 95% interval | verdict |",
        "|---|---|---|--:|--:|---|",
    ]
    for c in claims:
        steps = f"step {c.steps[0]}" if len(c.steps) == 1 else f"steps {c.steps[0]}-{c.steps[-1]}"
        lines.append(
            f"| {c.text} | `{c.better}` − `{c.worse}` | {METRIC_LABELS[c.metric]}, {steps}, "
            f"{'moving pixels' if c.region == 'moving' else 'full frames'} | "
            f"{c.difference:+.2f} | [{c.low:+.2f}, {c.high:+.2f}] | {c.verdict} |"
        )
    return "\n".join(lines) + "\n"


# --- plateaus: is the held-out loss flat at the end of a run? --------------------------------


@dataclass(frozen=True)
class Plateau:
    """The held-out loss over the last ``tail`` of a run's steps."""

    start: float  # the fitted line's value at the tail's first step
    end: float  # ... and at the run's last step
    tolerance: float

    @property
    def change(self) -> float:
        """Relative change over the tail, ``(end - start) / start`` (negative: still falls)."""
        return (self.end - self.start) / self.start

    @property
    def flat(self) -> bool:
        return abs(self.change) <= self.tolerance


def plateau(
    steps: Sequence[float], losses: Sequence[float], tail: float = 0.2, tolerance: float = 0.02
) -> Plateau:
    """Fit a line to the held-out loss over the last ``tail`` of the steps; the run is on a
    plateau when the line moves by at most ``tolerance`` (relative) across that stretch."""
    x, y = np.asarray(steps, dtype=float), np.asarray(losses, dtype=float)
    first = x.max() - tail * (x.max() - x.min())
    keep = x >= first
    if keep.sum() < 3:
        raise MsganError(
            f"plateau: {int(keep.sum())} held-out losses in the last {tail:.0%} of the steps; "
            "log them more often (msgan train --val-every)"
        )
    slope, intercept = np.polyfit(x[keep], y[keep], 1)
    return Plateau(float(slope * first + intercept), float(slope * x.max() + intercept), tolerance)


@dataclass(frozen=True)
class AdversarialGap:
    """The adversarial model minus the L2 model, at the horizons where blur builds up."""

    adv: str
    l2: str
    steps: tuple[int, ...]
    sharp_moving: tuple[float, ...]  # sharpness difference, moving pixels, per step (dB)
    psnr_moving: tuple[float, ...]  # PSNR, moving pixels, per step (dB)
    psnr_full_last: float  # PSNR on full frames at the last step (dB)

    @property
    def sharp_moving_mean(self) -> float:
        return sum(self.sharp_moving) / len(self.sharp_moving)

    @property
    def psnr_moving_mean(self) -> float:
        return sum(self.psnr_moving) / len(self.psnr_moving)


def adversarial_gap(
    rows: Sequence[Any], adv: str, l2: str, steps: Sequence[int] = range(4, 9)
) -> AdversarialGap:
    """``adv`` minus ``l2`` on the metrics the paper's effect shows in (steps 4-8 default)."""
    index = _index(rows)
    steps = tuple(steps)

    def gap(step: int, metric: str, region: str) -> float:
        return (
            _value(index, adv, step, metric, region).mean
            - _value(index, l2, step, metric, region).mean
        )

    return AdversarialGap(
        adv,
        l2,
        steps,
        tuple(gap(s, "sharp_diff", "moving") for s in steps),
        tuple(gap(s, "psnr", "moving") for s in steps),
        gap(steps[-1], "psnr", "full"),
    )


def _signed(value: float, unit: str = " dB") -> str:
    """``0.31 dB above`` / ``0.12 dB below``: the sign in words as well as in figures.

    A difference that rounds to 0.00 is ``level with`` (no sign to read into it).
    """
    if round(value, 2) == 0:
        return "level with"
    side = "above" if value > 0 else "below"
    return f"{abs(value):.2f}{unit} {side}"


def gap_markdown(gap: AdversarialGap) -> str:
    """The comparison in sentences, every sign spelled out, from the computed numbers."""
    first, last = gap.steps[0], gap.steps[-1]
    per_step = ", ".join(f"{v:+.2f}" for v in gap.sharp_moving)
    above = sum(v > 0 for v in gap.sharp_moving)
    return (
        f"- Sharpness difference on moving pixels, steps {first}-{last}: `{gap.adv}` is "
        f"{_signed(gap.sharp_moving_mean)} `{gap.l2}` on average ({per_step} dB per step; "
        f"above at {above} of {len(gap.steps)} steps).\n"
        f"- PSNR on moving pixels, steps {first}-{last}: {_signed(gap.psnr_moving_mean)} "
        f"`{gap.l2}` on average.\n"
        f"- PSNR on full frames at step {last}: {_signed(gap.psnr_full_last)} `{gap.l2}`.\n"
    )


# --- Why the L1 rows collapsed onto the copy (issue 21) -------------------------------------


@torch.no_grad()
def copy_diagnostics(generator: torch.nn.Module, clips: torch.Tensor) -> dict[str, float]:
    """How far a residual generator is from copying the last input frame, on ``clips``.

    ``clips``: ``(B, 3(T+1), H, W)`` (uint8 frames or floats in [-1, 1]), the history then
    the true next frame ``Y``; ``L`` is the last input frame, ``Y_hat`` the finest scale's
    prediction. A pixel *moves* when ``Y != L`` (any channel), as in the evaluation.
    Returns (all on the [-1, 1] scale, finest scale unless said):

    - ``change_static``: mean ``|Y_hat - L|`` where nothing moves (0 for a copy);
    - ``change_moving``: mean ``|Y_hat - L|`` where something moves, against
      ``true_change_moving``, mean ``|Y - L|`` there: the residual's size;
    - ``error_moving`` / ``copy_error_moving``: mean ``|Y - Y_hat|`` and ``|Y - L|`` on
      moving pixels (a copy has the ratio 1);
    - ``lp1`` / ``copy_lp1``: the L1 loss summed over the scales, the model's and the
      copy's (the row's training objective against the copy's);
    - ``moving_fraction``: the share of moving pixels;
    - ``dead_units``: the share of hidden feature maps (every scale) that no clip switches
      on (ReLU output zero everywhere): units that can never learn again.
    """
    device = next(generator.parameters()).device
    clips = clips.to(device)
    if clips.dtype == torch.uint8:
        clips = clips.float() / 127.5 - 1.0
    channels = clips.shape[1] - 3
    history, target = clips[:, :channels], clips[:, channels:]  # (B, 3T, H, W), (B, 3, H, W)
    last = history[:, -3:]  # (B, 3, H, W)
    alive: list[torch.Tensor] = []
    hooks = [
        layer.register_forward_hook(
            lambda _m, _i, out: alive.append((out > 0).any(3).any(2).any(0))
        )
        for net in generator.scales
        for layer in net
        if isinstance(layer, torch.nn.ReLU)
    ]
    try:
        preds = [p.float() for p in generator(history)]
    finally:
        for hook in hooks:
            hook.remove()
    pred = preds[-1]  # (B, 3, H, W)
    moving = (target != last).any(1, keepdim=True).expand_as(target)  # (B, 3, H, W)
    static = ~moving
    change = (pred - last).abs()
    true_change = (target - last).abs()
    error = (target - pred).abs()
    targets = scale_targets(target, len(preds))
    copies = scale_targets(last, len(preds))

    def mean(values: torch.Tensor, where: torch.Tensor) -> float:
        return float(values[where].mean()) if bool(where.any()) else 0.0

    units = torch.cat(alive) if alive else torch.ones(1, dtype=torch.bool)
    return {
        "change_static": mean(change, static),
        "change_moving": mean(change, moving),
        "true_change_moving": mean(true_change, moving),
        "error_moving": mean(error, moving),
        "copy_error_moving": mean(true_change, moving),
        "lp1": float(sum(lp_loss(p, t, 1) for p, t in zip(preds, targets, strict=True))),
        "copy_lp1": float(sum(lp_loss(c, t, 1) for c, t in zip(copies, targets, strict=True))),
        "moving_fraction": float(moving.float().mean()),
        "dead_units": 1.0 - float(units.float().mean()),
    }


def lp_gradient_at_copy(clips: torch.Tensor, p: int, offset: float = 1e-3) -> dict[str, float]:
    """The Lp loss's gradient with respect to the prediction, near the copy of the last frame.

    The prediction is ``L + offset`` (a copy with a small uniform residual, as a network's
    output never is exactly zero); ``d/dY_hat mean |Y - Y_hat|^p`` is then, per pixel,
    ``sign(Y_hat - Y) / N`` for p = 1 whatever the residual's size, and ``2 (Y_hat - Y) /
    N`` for p = 2, which vanishes on static pixels as the residual does. Returns the
    gradient's L1 mass on static pixels (pulling back to the copy), on moving pixels, and
    the share of moving pixels where the gradient points away from the copy, towards the
    true change: with p = 1 static pixels outweigh moving ones by their count.
    """
    if clips.dtype == torch.uint8:
        clips = clips.float() / 127.5 - 1.0
    channels = clips.shape[1] - 3
    last, target = clips[:, channels - 3 : channels], clips[:, channels:]
    pred = (last + offset).requires_grad_(True)
    lp_loss(pred, target, p).backward()
    grad = pred.grad
    moving = (target != last).any(1, keepdim=True).expand_as(target)
    towards = (grad * (last - target)).gt(0)  # descent (-grad) moves towards the target
    return {
        "static_mass": float(grad.abs()[~moving].sum()),
        "moving_mass": float(grad.abs()[moving].sum()),
        "moving_towards_change": float(towards[moving].float().mean())
        if bool(moving.any())
        else 0.0,
    }
