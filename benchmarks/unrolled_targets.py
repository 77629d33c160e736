"""The recursive-training targets (issue 19): the unrolled pair against the one-step L2 model.

Scores the new adversarial model, its L2 control and the one-step L2 model they replace on
windows of held-out episodes (``msgan_lib.evaluate.evaluate_models``: whole frames, 8
recursive steps, moving pixels = pixels that differ between the last input frame and the
true frame; Ms. Pac-Man found by ``msgan_lib.pacman.pacman_position``), writes the
evaluation (``metrics.csv``/``.md``/``.png``) and ``targets.md`` into ``--out`` and prints
each target with its measured figure:

- the new L2 control against the old one: moving-pixel PSNR at steps 4-8 +1.5 dB or more on
  average, full-frame PSNR at step 8 +1.0 dB or more;
- both new models above ``last_input`` at every step, full frame and moving pixels;
- Ms. Pac-Man still found in the step-8 prediction in at least 80% of the windows where she
  is in the true step-8 frame;
- the adversarial model against its control: moving-pixel sharpness difference above at
  every step 4-8 and +0.3 dB or more on average, moving-pixel PSNR within 0.5 dB.

    python benchmarks/unrolled_targets.py --adv weights/pacman-small-adv.safetensors \\
        --l2 weights/pacman-small-l2.safetensors --old-l2 old-l2.safetensors \\
        --test-dir data/final-test/images/test --windows 32 --out eval/unrolled
"""

from __future__ import annotations

import argparse
from pathlib import Path

from msgan_lib.ablation import adversarial_gap
from msgan_lib.checkpoint import load_generator_info
from msgan_lib.evaluate import evaluate_models, write_evaluation
from msgan_lib.fileio import write_text_atomic

LATE = range(4, 9)  # the steps where one-step models have smeared the sprites


def target_table(rows: list, names: dict[str, str], steps: int) -> list[tuple[str, str, bool]]:
    """``(target, measured, met)`` for each target, from ``evaluate_models`` rows."""
    mean = {(r.model, r.step, r.metric, r.region): r.mean for r in rows}
    adv, l2, old = names["adv"], names["l2"], names["old"]

    def gap(a: str, b: str, metric: str, region: str, step: int) -> float:
        return mean[a, step, metric, region] - mean[b, step, metric, region]

    late = [gap(l2, old, "psnr", "moving", s) for s in LATE]
    full8 = gap(l2, old, "psnr", "full", 8)
    out = [
        (
            "new L2 vs old L2, moving PSNR steps 4-8: +1.5 dB or more",
            f"{sum(late) / len(late):+.2f} dB ({', '.join(f'{g:+.2f}' for g in late)})",
            sum(late) / len(late) >= 1.5,
        ),
        ("new L2 vs old L2, full PSNR step 8: +1.0 dB or more", f"{full8:+.2f} dB", full8 >= 1.0),
    ]
    for name in (adv, l2):
        for region in ("full", "moving"):
            gaps = [gap(name, "last_input", "psnr", region, s) for s in range(1, steps + 1)]
            out.append(
                (
                    f"{name} above last_input at every step, {region}",
                    f"above at {sum(g > 0 for g in gaps)} of {steps} (lowest {min(gaps):+.2f} dB)",
                    all(g > 0 for g in gaps),
                )
            )
        found = mean[name, 8, "pacman_found", "sprite"]
        out.append(
            (f"{name}: Ms. Pac-Man found at step 8 in 80% or more", f"{found:.0%}", found >= 0.8)
        )
    adv_gap = adversarial_gap(rows, adv, l2, steps=LATE)
    sharp, psnr, full = adv_gap.sharp_moving, adv_gap.psnr_moving, adv_gap.psnr_full_last
    out += [
        (
            "adv vs control, moving sharpness steps 4-8: above at every step, +0.3 dB on average",
            f"{sum(sharp) / len(sharp):+.2f} dB, above at {sum(g > 0 for g in sharp)} of 5 "
            f"({', '.join(f'{g:+.2f}' for g in sharp)})",
            all(g > 0 for g in sharp) and sum(sharp) / len(sharp) >= 0.3,
        ),
        (
            "adv vs control, moving PSNR steps 4-8: within 0.5 dB",
            f"{sum(psnr) / len(psnr):+.2f} dB",
            sum(psnr) / len(psnr) >= -0.5,
        ),
        (
            "adv vs control, full PSNR step 8 (painted patches lower it)",
            f"{full:+.2f} dB",
            full >= -0.5,
        ),
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adv", required=True, help="the new adversarial model")
    parser.add_argument("--l2", required=True, help="its L2 control")
    parser.add_argument("--old-l2", required=True, help="the one-step L2 model they replace")
    parser.add_argument("--test-dir", required=True)
    parser.add_argument("--windows", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    paths = {"adv": args.adv, "l2": args.l2, "old": args.old_l2}
    models, names = {}, {}
    for role, path in paths.items():
        generator, _ = load_generator_info(path)
        names[role] = f"{Path(path).stem} ({role})"
        models[names[role]] = generator
    evaluation = evaluate_models(models, args.test_dir, args.steps, args.windows)
    write_evaluation(evaluation, args.out)
    table = target_table(evaluation.rows, names, args.steps)
    lines = [
        f"{evaluation.windows} windows of {args.test_dir}, {args.steps} recursive steps",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *(f"| {t} | {m} | {'met' if ok else '**missed**'} |" for t, m, ok in table),
    ]
    text = "\n".join(lines) + "\n"
    write_text_atomic(Path(args.out) / "targets.md", text)
    print(text)


if __name__ == "__main__":
    main()
