"""Moving code must not change what it computes: values recorded before the modules moved.

Recorded with the code of commit 21559db (before the architecture of issue 13) on the
synthetic clips of ``conftest.clips``: the clip set's content digest, a 4-step tiny run's
logged values in float32 on one thread, its final weights, and the shipped generators'
output on a fixed full frame. A change of data order, loss, schedule, initialisation or
weight layout moves these by far more than the tolerance, which only absorbs the last-bit
differences between CPUs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from msgan_lib import train as training
from msgan_lib.checkpoint import load_generator
from msgan_lib.clips import read_manifest
from msgan_lib.config import TrainConfig, preset

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
KEYS = ("g_loss", "lp", "gdl", "adv", "d_loss", "d_real", "d_fake", "lr_g", "lr_d")
ACCURACY_KEYS = ("d_acc_0", "d_acc_1", "d_acc_2", "d_acc_3")
RECORDED_CLIPS = "47b8f791745c63511f72fdb93109a265ad64092d330d58ed5f767fc43bb57b41"
RECORDED_LOSSES = [  # KEYS then ACCURACY_KEYS, steps 1 to 4
    [2.826293945, 1.812975883, 0.875480294, 2.756759167, 5.573470116, 0.495206505]
    + [0.498193026, 0.000562341, 0.001, 0.35, 0.5, 0.75, 0.5],
    [2.717833042, 1.71534121, 0.867334425, 2.703148842, 5.510396957, 0.504710913]
    + [0.500009418, 0.000316228, 0.001, 0.35, 0.5, 1.0, 0.5],
    [1.912822366, 0.963220835, 0.804818392, 2.895663023, 5.389660835, 0.53379631]
    + [0.510733962, 0.000177828, 0.001, 0.55, 0.5, 1.0, 0.7],
    [2.216565847, 1.309392929, 0.773327708, 2.676903725, 5.290795326, 0.513929665]
    + [0.480727017, 0.0001, 0.001, 0.55, 0.5, 1.0, 0.5],
]
RECORDED_WEIGHT_SUMS = {"generator": 932.5610497033704, "discriminator": 3376.2581975405983}
# Sum and sum of |.| of the finest prediction of a fixed random frame, for the shipped pair
# trained through the recursion (issue 19): a changed forward pass or a broken load shows.
RECORDED_SHIPPED = {
    "pacman-small-adv": (-457.9264879973489, 48567.5129091448),
    "pacman-small-l2": (-516.5201022017864, 48548.4241806778),
}


def test_the_same_seed_gives_the_same_clips(clips: Path) -> None:
    assert read_manifest(clips)["content_sha256"] == RECORDED_CLIPS


def test_a_tiny_run_logs_the_recorded_losses_and_weights(clips: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        steps=4,
        batch_size=4,
        lr_g=1e-3,
        lr_g_final=1e-4,
        lr_d=1e-3,
        log_every=1,
        checkpoint_every=0,
        sample_every=0,
        sample_clips=3,
        amp=False,
    )
    result = training.train(clips, tmp_path, preset("tiny"), config, threads=1, progress=False)
    logged = [[r[k] for k in (*KEYS, *ACCURACY_KEYS)] for r in result.records]
    for step, (row, recorded) in enumerate(zip(logged, RECORDED_LOSSES, strict=True), start=1):
        assert row == pytest.approx(recorded, rel=1e-5, abs=1e-7), f"step {step}"
    sums = {
        "generator": sum(w.double().abs().sum().item() for w in result.generator.parameters()),
        "discriminator": sum(
            w.double().abs().sum().item() for w in result.discriminator.parameters()
        ),
    }
    assert sums == pytest.approx(RECORDED_WEIGHT_SUMS, rel=1e-6)


@pytest.mark.parametrize("name", sorted(RECORDED_SHIPPED))
def test_shipped_weights_load_and_predict_unchanged(name: str) -> None:
    generator = load_generator(WEIGHTS / f"{name}.safetensors")
    torch.manual_seed(0)
    history = torch.rand(1, 12, 210, 160) * 2 - 1
    with torch.no_grad():
        frame = generator(history)[-1].double()  # (1, 3, 210, 160)
    assert (frame.sum().item(), frame.abs().sum().item()) == pytest.approx(
        RECORDED_SHIPPED[name], rel=1e-5
    )
