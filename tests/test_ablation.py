"""Table 1 on our data: the table, the paper's claims and the adversarial gap, from rows."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from msgan_lib.ablation import (
    BASELINE_ROWS,
    TABLE1_ROWS,
    adversarial_gap,
    check_claims,
    claims_markdown,
    claims_table_markdown,
    compare,
    copy_diagnostics,
    gap_markdown,
    lp_gradient_at_copy,
    paired_interval,
    per_window_csv,
    per_window_table,
    plateau,
    read_per_window,
    summary_rows,
    table1_markdown,
    verdict,
)
from msgan_lib.config import preset
from msgan_lib.fileio import MsganError
from msgan_lib.model import Generator


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


def _table(values: dict[str, float], seeds: int = 3, windows: int = 40, noise: float = 0.1) -> dict:
    """Per-window values: ``values[model]`` + step + noise, the same windows for every row;
    baselines have one seed (they do not depend on training)."""
    rng = np.random.default_rng(1)
    table = {}
    for model, base in values.items():
        n = 1 if model in BASELINE_ROWS else seeds
        for step in range(1, 9):
            for metric in ("psnr", "ssim", "sharp_diff"):
                for region in ("full", "moving"):
                    table[model, step, metric, region] = (
                        base + step + noise * rng.standard_normal((n, windows))
                    )
    return table


def test_claims_compare_the_named_rows_with_intervals_and_verdicts() -> None:
    values = {**ALL, "l2": 12.0, "single-l2": 11.0, "l1": 11.99, "adv": 11.0, "adv-gdl": 9.0}
    claims = {c.text: c for c in check_claims(_table(values))}
    multi = claims["multi-scale beats single-scale"]
    assert multi.difference == pytest.approx(1.0, abs=0.05)
    assert multi.low > 0.9 and multi.high < 1.1 and multi.verdict == "held"
    assert multi.seeds == 3
    assert claims["L1 beats L2"].verdict == "inconclusive"  # -0.01 dB, noise 0.1
    assert claims["GDL raises sharpness"].verdict == "did not hold"  # 10 vs 11.99
    assert claims["the adversarial term raises sharpness"].difference == pytest.approx(-1, abs=0.05)
    assert not claims["the full model beats the last-input copy"].held
    text = claims_markdown(list(claims.values()))
    assert "*multi-scale beats single-scale*: **held**: `l2` minus `single-l2` = +1.0" in text
    assert "*L1 beats L2*: **inconclusive**" in text and "over 3 seeds" in text
    assert "| L1 beats L2 | `l1` − `l2` | PSNR, step 1, moving pixels |" in claims_table_markdown(
        list(claims.values())
    )


def test_interval_pairs_windows_and_widens_with_seed_noise() -> None:
    rng = np.random.default_rng(0)
    hard = rng.normal(0, 5, (1, 50))  # windows differ a lot, the same for both rows
    a = hard + 0.2 + rng.normal(0, 0.01, (3, 50))
    b = np.repeat(hard, 3, axis=0)
    difference, low, high = paired_interval(a, b)
    assert difference == pytest.approx(0.2, abs=0.01) and low > 0.15 and high < 0.25
    noisy = a + rng.normal(0, 1.0, (3, 1))  # each seed shifted: training noise
    _, low_noisy, high_noisy = paired_interval(noisy, b)
    assert high_noisy - low_noisy > 5 * (high - low)
    with_nan = a.copy()
    with_nan[:, 0] = np.nan  # a window without moving pixels is left out
    assert np.isfinite(paired_interval(with_nan, b)[0])
    assert verdict(0.1, 0.3) == "held" and verdict(-0.3, -0.1) == "did not hold"
    assert verdict(-0.1, 0.3) == "inconclusive"
    with pytest.raises(MsganError, match="not the same seeds and windows"):
        paired_interval(a[:, :10], b)


def test_steps_are_averaged_window_by_window() -> None:
    table = _table({**ALL, "unrolled": 10.5}, noise=0.0)
    claim = compare(table, "ours", "unrolled", "l2", "psnr", steps=range(4, 9))
    assert claim.steps == (4, 5, 6, 7, 8) and claim.difference == pytest.approx(0.5)
    assert "steps 4-8" in claims_markdown([claim])
    table["l2", 1, "psnr", "moving"] = table["l2", 1, "psnr", "moving"][:2]  # 2 seeds of l2
    assert compare(table, "fewer", "l1", "l2", "psnr").seeds == 2  # the seeds both have


def test_per_window_values_round_trip_through_csv(tmp_path) -> None:
    keys = {("l2", 1, "psnr", "moving"): [1.0, float("nan"), 3.0]}
    evaluations = {
        0: SimpleNamespace(per_window=keys),
        1: SimpleNamespace(per_window={k: [v + 1 for v in vs] for k, vs in keys.items()}),
    }
    evaluations[0].per_window["last_input", 1, "psnr", "moving"] = [0.5, 0.5, 0.5]
    evaluations[1].per_window["last_input", 1, "psnr", "moving"] = [0.5, 0.5, 0.5]
    path = tmp_path / "per_window.csv"
    path.write_text(per_window_csv(evaluations))
    table = read_per_window(path)
    values = table["l2", 1, "psnr", "moving"]
    assert values.shape == (2, 3) and values[1, 2] == 4.0 and np.isnan(values[0, 1])
    assert table["last_input", 1, "psnr", "moving"].shape == (1, 3)  # baselines once
    assert set(table) == set(per_window_table(evaluations))
    table.pop(("last_input", 1, "psnr", "moving"))
    (row,) = summary_rows(table)
    assert row.mean == pytest.approx((1.5 + 3.5) / 2) and row.n == 2


def test_plateau_reads_the_last_fifth_of_the_run() -> None:
    steps = np.arange(0, 1001, 50)
    falling = 1.0 / (1 + steps / 100)
    assert not plateau(steps, falling).flat
    flat = np.where(steps < 800, falling, falling[steps == 800][0])
    check = plateau(steps, flat)
    assert check.flat and check.change == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(MsganError, match="--val-every"):
        plateau([0, 1000], [1.0, 0.9])


def test_l1_gradient_at_the_copy_is_static_pixels_whatever_the_residual() -> None:
    clips = torch.zeros(2, 15, 8, 8)
    clips[:, 14, 0, 0] = 1.0  # one moving pixel (one channel) of 64 per clip
    for offset in (1e-3, 0.1):
        l1 = lp_gradient_at_copy(clips, 1, offset)
        assert l1["static_mass"] == pytest.approx(63 / 64, rel=1e-4)  # per pixel, any channel
        assert l1["moving_towards_change"] == pytest.approx(1 / 3)
    l2 = lp_gradient_at_copy(clips, 2, 1e-3)
    assert l2["static_mass"] < 0.2 * l2["moving_mass"]  # L1: 63 times the moving mass
    assert lp_gradient_at_copy(clips, 2, 0.1)["static_mass"] > 10 * l2["static_mass"]


def test_copy_diagnostics_of_a_copy_and_of_a_fresh_generator() -> None:
    config = dataclasses.replace(preset("tiny"), residual_on_last_input=True)
    torch.manual_seed(0)
    generator = Generator(config).eval()
    clips = torch.rand(4, 15, 16, 16) * 2 - 1
    clips[:, 12:] = clips[:, 9:12]  # the next frame is the last one ...
    clips[:, 12:, :4, :4] = 0.5  # ... but for a 4x4 patch that moves
    fresh = copy_diagnostics(generator, clips)
    assert fresh["moving_fraction"] == pytest.approx(16 / 256, abs=0.01)
    assert fresh["change_static"] > 0 and fresh["change_moving"] > 0
    assert fresh["lp1"] > fresh["copy_lp1"] and 0 <= fresh["dead_units"] < 1
    for net in generator.scales:  # an output of exactly zero: the copy
        torch.nn.init.zeros_(net[-1].weight)
        torch.nn.init.zeros_(net[-1].bias)
    copy = copy_diagnostics(generator, clips)
    assert copy["change_moving"] == 0.0
    assert copy["error_moving"] == pytest.approx(copy["copy_error_moving"])
    assert copy["lp1"] == pytest.approx(copy["copy_lp1"])


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
    with pytest.raises(MsganError, match=r"no psnr for 'l1' at steps \(1,\)"):
        check_claims(_table(without_l1))
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
