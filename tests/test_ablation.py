"""Table 1 on our data: the table, the paper's claims and the adversarial gap, from rows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from msgan_lib.ablation import (
    BASELINE_ROWS,
    TABLE1_ROWS,
    adversarial_gap,
    check_claims,
    claims_markdown,
    gap_markdown,
    table1_markdown,
)
from msgan_lib.fileio import MsganError


def _rows(values: dict[str, float], steps: int = 8) -> list[SimpleNamespace]:
    """Rows as ``msgan evaluate`` writes them: every metric equals ``values[model]`` + step."""
    return [
        SimpleNamespace(
            model=model, step=step, metric=metric, region=region, mean=base + step, std=0.5, n=7
        )
        for model, base in values.items()
        for step in range(1, steps + 1)
        for metric in ("psnr", "ssim", "sharp_diff")
        for region in ("full", "moving")
    ]


ALL = {name: 10.0 for name in [*TABLE1_ROWS, *BASELINE_ROWS]}


def test_claims_compare_the_named_rows_and_say_whether_they_held() -> None:
    values = {**ALL, "l2": 12.0, "single-l2": 11.0, "l1": 11.5, "adv": 11.0, "adv-gdl": 9.0}
    claims = {c.text: c for c in check_claims(_rows(values))}
    assert claims["multi-scale beats single-scale"].difference == pytest.approx(1.0)
    assert claims["multi-scale beats single-scale"].held
    assert claims["L1 beats L2"].difference == pytest.approx(-0.5)
    assert not claims["L1 beats L2"].held
    assert claims["GDL raises sharpness"].difference == pytest.approx(-1.5)
    assert claims["the adversarial term raises sharpness"].difference == pytest.approx(-1.0)
    assert not claims["the full model beats the last-input copy"].held
    text = claims_markdown(list(claims.values()))
    assert "*multi-scale beats single-scale*: held here" in text
    assert "*L1 beats L2*: did not hold here: `l1` minus `l2` = -0.50 dB PSNR" in text


def test_table_lists_every_row_then_the_baselines_with_counts() -> None:
    table = table1_markdown(_rows(ALL), region="full", steps=(1, 2))
    lines = table.strip().splitlines()
    assert [line.split(" | ")[0].lstrip("| ") for line in lines[2:]] == [
        *TABLE1_ROWS,
        *BASELINE_ROWS,
    ]
    assert lines[2].endswith(
        "| 11.00 ± 0.50 | 11.000 ± 0.500 | 11.00 ± 0.50 | 12.00 ± 0.50 "
        "| 12.000 ± 0.500 | 12.00 ± 0.50 | 7 |"
    )


def test_a_missing_row_is_named() -> None:
    without_l1 = {k: v for k, v in ALL.items() if k != "l1"}
    with pytest.raises(MsganError, match="no psnr for 'l1' at step 1"):
        check_claims(_rows(without_l1))
    with pytest.raises(MsganError, match="at step 8"):
        table1_markdown(_rows(ALL, steps=2))


def test_gap_spells_out_the_sign() -> None:
    rows = _rows({"a": 10.0, "b": 10.25})
    gap = adversarial_gap(rows, "a", "b")
    assert gap.steps == (4, 5, 6, 7, 8)
    assert gap.sharp_moving_mean == pytest.approx(-0.25)
    text = gap_markdown(gap)
    assert "`a` is 0.25 dB below `b` on average" in text
    assert "above at 0 of 5 steps" in text
    assert "PSNR on full frames at step 8: 0.25 dB below `b`" in text
    assert "`b` is 0.25 dB above `a` on average" in gap_markdown(adversarial_gap(rows, "b", "a"))
    level = gap_markdown(adversarial_gap(_rows({"a": 10.0, "b": 10.001}), "a", "b"))
    assert "PSNR on moving pixels, steps 4-8: level with `b` on average" in level
