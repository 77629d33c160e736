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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from msgan_lib.fileio import MsganError

# Row name -> what differs (every row: the same preset, data, steps, batch and schedule).
TABLE1_ROWS: dict[str, str] = {
    "single-l2": "one scale (the finest network alone), L2",
    "l2": "four scales, L2",
    "l1": "four scales, L1",
    "gdl-l1": "four scales, L1 + GDL",
    "adv": "four scales, L2 + adversarial (second half of the steps)",
    "adv-gdl": "four scales, L2 + GDL + adversarial (second half of the steps)",
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


@dataclass(frozen=True)
class Claim:
    """One of the paper's findings, checked on our table."""

    text: str  # the paper's claim
    better: str  # the row that should be ahead
    worse: str  # the row it is compared with
    metric: str  # psnr | ssim | sharp_diff
    region: str  # full | moving
    step: int
    difference: float  # better - worse, in the metric's unit
    held: bool


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


def check_claims(rows: Sequence[Any], region: str = "moving", step: int = 1) -> list[Claim]:
    """The paper's five findings, each as ``better`` row minus ``worse`` row at ``step``.

    Multi-scale beats single-scale and L1 beats L2 (PSNR); GDL and the adversarial term
    raise the sharpness difference; the full model (``adv-gdl``) beats the last-input copy
    (PSNR). A claim holds when the difference is positive.
    """
    index = _index(rows)
    checks = (
        ("multi-scale beats single-scale", "l2", "single-l2", "psnr"),
        ("L1 beats L2", "l1", "l2", "psnr"),
        ("GDL raises sharpness", "gdl-l1", "l1", "sharp_diff"),
        ("the adversarial term raises sharpness", "adv", "l2", "sharp_diff"),
        ("the full model beats the last-input copy", "adv-gdl", "last_input", "psnr"),
    )
    claims = []
    for text, better, worse, metric in checks:
        difference = (
            _value(index, better, step, metric, region).mean
            - _value(index, worse, step, metric, region).mean
        )
        claims.append(Claim(text, better, worse, metric, region, step, difference, difference > 0))
    return claims


def claims_markdown(claims: Sequence[Claim]) -> str:
    """One sentence per claim: whether it held here, and by how much."""
    lines = []
    for claim in claims:
        unit = "" if claim.metric == "ssim" else " dB"
        verdict = "held" if claim.held else "did not hold"
        lines.append(
            f"- *{claim.text}*: {verdict} here: `{claim.better}` minus `{claim.worse}` = "
            f"{claim.difference:+.2f}{unit} {METRIC_LABELS[claim.metric]} at step "
            f"{claim.step} ({'moving pixels' if claim.region == 'moving' else 'full frames'})."
        )
    return "\n".join(lines) + "\n"


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
