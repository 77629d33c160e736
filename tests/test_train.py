"""The trainer: exact resume, clean stops, safety checks, run directory, DDP, CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp

from msgan_lib import checkpoint as ckpt
from msgan_lib import cli
from msgan_lib import step as step_module
from msgan_lib import train as training
from msgan_lib.clips import ClipDataset
from msgan_lib.config import TrainConfig, preset
from msgan_lib.feed import ClipFeed, ClipSampler, load_clips
from msgan_lib.fileio import MsganError
from msgan_lib.runlog import read_metrics
from msgan_lib.runtime import Process
from msgan_lib.step import TrainStep

TINY = preset("tiny")
LOSS_KEYS = ("g_loss", "lp", "gdl", "adv", "d_loss", "d_real", "d_fake", "lr_g", "lr_d")


def _config(**changes: Any) -> TrainConfig:
    """A few-step run of the tiny preset that logs every step."""
    base = TrainConfig(
        steps=6,
        batch_size=4,
        lr_g=1e-3,
        lr_g_final=1e-4,  # a decaying schedule, so a wrong resumed step would show
        lr_d=1e-3,
        log_every=1,
        checkpoint_every=3,
        sample_every=0,  # figures only at the end (matplotlib is the slowest part here)
        sample_clips=3,
    )
    return dataclasses.replace(base, **changes)


def _losses(records: list[dict[str, Any]]) -> list[list[float]]:
    return [[r["step"], *(r[k] for k in LOSS_KEYS)] for r in records]


@pytest.mark.parametrize("schedule", ["", "1:0,2:2,3:4"])
def test_interrupted_and_resumed_run_logs_the_same_losses(
    clips: Path,
    future_clips: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    schedule: str,
) -> None:
    # An unroll curriculum (4+3 clips) resumes on the same depths as an uninterrupted run.
    data = future_clips if schedule else clips
    config = _config(unroll_schedule=schedule)
    # One thread for both runs: the count can change the last bits (a resume keeps it).
    straight = training.train(data, tmp_path / "a", TINY, config, threads=1, progress=False)

    run = TrainStep.run
    calls = []

    def interrupt_at_third_step(self: TrainStep, batches: list[torch.Tensor], depth: int) -> Any:
        calls.append(1)
        if len(calls) == 3:  # a real SIGINT, as Ctrl-C sends, while step 3 runs
            os.kill(os.getpid(), signal.SIGINT)
        return run(self, batches, depth)

    monkeypatch.setattr(TrainStep, "run", interrupt_at_third_step)
    first = training.train(data, tmp_path / "b", TINY, config, threads=1, progress=False)
    assert first.interrupted and first.step == 3
    assert first.checkpoint == tmp_path / "b" / "checkpoints" / "step_0000003.pt"
    monkeypatch.undo()
    second = training.train(data, tmp_path / "b", TINY, config, resume=True, progress=False)
    if schedule:
        assert [r["unroll"] for r in second.records] == [1, 1, 2, 2, 3, 3]

    assert second.step == 6 and not second.interrupted
    assert _losses(second.records) == _losses(straight.records)  # exactly, every step
    assert _losses(read_metrics(tmp_path / "b")) == _losses(straight.records)
    for key, value in straight.generator.state_dict().items():
        assert torch.equal(value, second.generator.state_dict()[key])


def test_run_directory_holds_checkpoints_metrics_plots_and_samples(
    clips: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    config = _config(keep_checkpoints=1, sample_every=3)
    result = training.train(clips, run, TINY, config, progress=False)
    assert [p.name for p in ckpt.list_checkpoints(run)] == ["step_0000006.pt"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_0000003.png",
        "step_0000006.png",
    ]
    assert (run / "losses.png").stat().st_size > 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    accuracy_keys = {f"d_acc_{k}" for k in range(TINY.n_scales)}
    logged = {"step", "g_grad_norm", "unroll", "clips_per_s"}
    assert set(LOSS_KEYS) | logged | accuracy_keys == set(records[0])
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in records)
    # D's accuracy on the held-out probe clips: a fraction of clips, so a multiple of 1/(2n).
    n_probe = 40 // 4  # probe_clips is capped at a quarter of the 40 clips
    for key in accuracy_keys:
        counts = [r[key] * 2 * n_probe for r in records]
        assert all(0 <= c <= 2 * n_probe and abs(c - round(c)) < 1e-4 for c in counts)
    state = torch.load(run / "checkpoints" / "step_0000006.pt", weights_only=True)
    assert state["step"] == 6 and state["train_config"] == config.to_dict()
    assert state["data_manifest"]["count"] == 40
    generator = ckpt.load_generator(run)
    history = torch.zeros(1, 12, 32, 32)
    # The trainer's copy runs channels_last: the same weights, a different summation order.
    torch.testing.assert_close(generator(history)[-1], result.generator(history)[-1])


def test_steps_are_the_total_so_a_finished_run_only_loads(clips: Path, tmp_path: Path) -> None:
    config = _config(steps=3)
    done = training.train(clips, tmp_path, TINY, config, progress=False)
    again = training.train(clips, tmp_path, TINY, config, resume=True, progress=False)
    assert again.step == 3 and again.checkpoint == done.checkpoint
    assert len(read_metrics(tmp_path)) == 3  # nothing was trained again
    assert torch.equal(
        next(iter(again.generator.state_dict().values())),
        next(iter(done.generator.state_dict().values())),
    )
    with pytest.raises(MsganError, match="already holds checkpoints: pass -r"):
        training.train(clips, tmp_path, TINY, config, progress=False)


def test_resuming_with_another_model_or_method_is_refused(clips: Path, tmp_path: Path) -> None:
    training.train(clips, tmp_path, TINY, _config(steps=2), progress=False)
    with pytest.raises(MsganError, match="trained with another model"):
        training.train(clips, tmp_path, preset("small"), _config(), resume=True, progress=False)
    with pytest.raises(MsganError, match="batch_size 4 -> 2"):
        config = _config(batch_size=2)
        training.train(clips, tmp_path, TINY, config, resume=True, progress=False)
    # The CLI resumes with the run's own settings; a different preset is an error line.
    args = ["train", "-r", "-d", str(clips), "--out", str(tmp_path), "--no-progress"]
    assert cli.main([*args, "--steps", "3"]) == 0
    assert ckpt.latest_checkpoint(tmp_path).name == "step_0000003.pt"
    assert cli.main([*args, "--preset", "small"]) == 1


def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_loss = step_module.generator_loss

    def nan_at_fifth_step(*args: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total, terms = real_loss(*args)
        calls.append(1)
        return (total * float("nan"), terms) if len(calls) == 5 else (total, terms)

    monkeypatch.setattr(step_module, "generator_loss", nan_at_fifth_step)
    with pytest.raises(MsganError, match=r"non-finite loss at step 5 \(g_loss=nan.*step_0000004"):
        training.train(clips, tmp_path, TINY, _config(checkpoint_every=2), progress=False)
    assert ckpt.latest_checkpoint(tmp_path).name == "step_0000004.pt"
    state = ckpt.load_checkpoint(tmp_path)
    assert all(torch.isfinite(w).all() for w in state["generator"].values())


def test_d_step_leaves_g_alone_and_g_step_leaves_d_alone() -> None:
    step = TrainStep(TINY, _config(amp=False), torch.device("cpu"))
    clips = torch.rand(4, 15, 32, 32) * 2 - 1
    step.discriminator_step(clips)
    assert all(p.grad is None for p in step.generator.parameters())  # fakes were constants
    assert all(p.grad is not None for p in step.discriminator.parameters())
    d_before = [p.detach().clone() for p in step.discriminator.parameters()]
    step.optimizers["d"].zero_grad(set_to_none=True)
    step.generator_step(clips)
    assert all(p.grad is None for p in step.discriminator.parameters())  # frozen for G
    assert all(p.grad is not None for p in step.generator.parameters())
    assert all(
        torch.equal(a, b) for a, b in zip(d_before, step.discriminator.parameters(), strict=True)
    )
    assert all(p.requires_grad for p in step.discriminator.parameters())


def test_paper_sgd_schedule_decays_g_from_004_to_0005() -> None:
    config = TrainConfig.with_optimizer("sgd", steps=4, batch_size=2, amp=False)
    step = TrainStep(TINY, config, torch.device("cpu"))
    assert isinstance(step.optimizers["g"], torch.optim.SGD)
    rates = [step.learning_rates()]
    for _ in range(4):
        step.run([torch.rand(2, 15, 32, 32) * 2 - 1] * 2)
        rates.append(step.learning_rates())
    assert rates[0] == {"lr_g": 0.04, "lr_d": 0.02}
    assert rates[-1]["lr_g"] == pytest.approx(0.005) and rates[-1]["lr_d"] == 0.02
    assert rates[2]["lr_g"] == pytest.approx((0.04 * 0.005) ** 0.5)  # geometric midpoint


def test_non_adversarial_run_has_no_discriminator(clips: Path, tmp_path: Path) -> None:
    config = _config(steps=2, adversarial=False)
    result = training.train(clips, tmp_path, TINY, config, progress=False)
    assert result.discriminator is None
    assert set(result.records[0]) == {
        *("step", "g_loss", "lp", "gdl", "g_grad_norm", "unroll", "lr_g", "clips_per_s")
    }
    assert ckpt.load_checkpoint(tmp_path)["discriminator"] == {}
    assert ckpt.load_generator_info(tmp_path)[1]["kind"] == "l2"


def test_feed_hands_over_each_steps_clips_in_order_and_raises_its_errors(clips: Path) -> None:
    dataset = ClipDataset(clips)
    sampler = ClipSampler(torch.arange(len(dataset)), 0, 4, 2, Process())
    with ClipFeed(dataset, sampler, 3, 9, depth=2) as feed:
        for step in range(3, 9):
            batches = feed.next(step)
            expected = [load_clips(dataset, indices) for indices in sampler.batches(step)]
            assert all(torch.equal(a, b) for a, b in zip(batches, expected, strict=True))
            assert batches[0].dtype == torch.uint8 and batches[0].shape == (4, 15, 32, 32)
    # The uint8 clips are the dataset's items once scaled: x / 127.5 - 1.
    index = int(sampler.batches(0)[0][0])
    assert torch.equal(load_clips(dataset, torch.tensor([index]))[0] / 127.5 - 1, dataset[index])
    broken = ClipSampler(torch.arange(len(dataset)) + 1000, 0, 4, 2, Process())
    with ClipFeed(dataset, broken, 0, 5) as feed, pytest.raises(IndexError):
        feed.next(0)


def test_loss_plot_has_a_panel_for_the_discriminators_accuracy() -> None:
    from msgan_lib.viz import training_curves

    records = [
        {"step": s, "lp": 1.0, "gdl": 1.0, "adv": 0.7, "d_loss": 5.5, "d_real": 0.5}
        | {"d_fake": 0.5, "d_acc_0": 0.5, "d_acc_1": 0.6}
        for s in (1, 2)
    ]
    figure = training_curves(records, n_scales=2)
    assert len(figure.axes) == 4 and figure.axes[3].get_title() == "discriminator's accuracy"
    assert [line.get_label() for line in figure.axes[3].lines] == ["scale 1/2", "scale 1", "chance"]
    assert len(training_curves([{"step": 1, "lp": 1.0, "gdl": 1.0}]).axes) == 1


def test_sampler_is_a_function_of_step_and_splits_ranks() -> None:
    pool = torch.arange(10, 20)

    def sampler(rank: int) -> ClipSampler:
        return ClipSampler(pool, 3, 3, 2, Process(rank, 2, rank))

    a, b = sampler(0), sampler(1)
    # Stream order within a step: D minibatch of rank 0, of rank 1, then G minibatches.
    steps = [
        torch.cat([a.batches(s)[0], b.batches(s)[0], a.batches(s)[1], b.batches(s)[1]])
        for s in range(5)
    ]
    assert all(torch.equal(x, y) for x, y in zip(a.batches(4), sampler(0).batches(4), strict=True))
    stream = torch.cat(steps)
    for epoch in range(len(stream) // 10):  # each epoch visits every pool clip once
        assert sorted(stream[10 * epoch : 10 * epoch + 10].tolist()) == list(range(10, 20))
    assert not set(a.batches(0)[0].tolist()) & set(b.batches(0)[0].tolist())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, clips: str, dirs: list[str], outputs: list[str]) -> None:
    """One of two gloo ranks: trains into the relative run dir ``run`` of its own cwd."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE="2",
    )
    os.chdir(dirs[rank])
    config = _config(steps=3, amp=False)
    assert config.channels_last  # the layout whose gradient strides DDP must accept
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = training.train(clips, "run", TINY, config, progress=False)
    torch.save(
        {
            "g": result.generator.state_dict(),
            "d": result.discriminator.state_dict(),
            "warnings": [str(w.message) for w in caught],
        },
        outputs[rank],
    )


def test_two_gloo_ranks_train_like_one_process_with_twice_the_batch(
    clips: Path, tmp_path: Path
) -> None:
    dirs = [tmp_path / "rank0", tmp_path / "rank1"]
    for d in dirs:
        d.mkdir()
    outputs = [str(tmp_path / f"weights_{r}.pt") for r in range(2)]
    mp.start_processes(
        _ddp_worker,
        args=(_free_port(), str(clips), [str(d) for d in dirs], outputs),
        nprocs=2,
        start_method="spawn",
    )
    rank0, rank1 = (torch.load(p, weights_only=True) for p in outputs)
    # channels_last weights under DDP: no "grad strides do not match bucket view" warning.
    assert not [w for r in (rank0, rank1) for w in r["warnings"] if "stride" in w.lower()]
    for net in ("g", "d"):
        for key, value in rank0[net].items():
            assert torch.equal(value, rank1[net][key]), f"ranks differ in {net}.{key}"
    # Only rank 0 wrote its run directory.
    assert ckpt.latest_checkpoint(dirs[0] / "run").name == "step_0000003.pt"
    assert not (dirs[1] / "run").exists()
    # Each rank trained on its own half of a batch of 8: the same as one process at batch 8.
    single = training.train(
        clips, tmp_path / "single", TINY, _config(steps=3, amp=False, batch_size=8), progress=False
    )
    for key, value in single.generator.state_dict().items():
        torch.testing.assert_close(rank0["g"][key], value, rtol=1e-4, atol=1e-6)


class FakeSummaryWriter:
    """Stands in for tensorboard's writer (an optional dependency): records the scalars."""

    written: list[tuple[str, float, int]] = []

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.written.append((tag, value, step))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_tensorboard_gets_every_metric_when_installed(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = FakeSummaryWriter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    result = training.train(clips, tmp_path, TINY, _config(steps=2), progress=False)
    expected = [(k, v, r["step"]) for r in result.records for k, v in r.items() if k != "step"]
    assert FakeSummaryWriter.written == expected


def test_loss_flags_are_part_of_the_run_and_export_writes_loadable_weights(
    clips: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    args = ["train", "-d", str(clips), "--out", str(run), "--no-progress", "--preset", "tiny"]
    flags = ["--lp", "1", "--lambda-gdl", "0.1", "--lambda-adv", "0.02", "--batch-size", "4"]
    assert cli.main([*args, *flags, "--steps", "2", "--sample-every", "0"]) == 0
    loss = ckpt.load_checkpoint(run)["train_config"]["loss"]
    assert (loss["p"], loss["lambda_gdl"], loss["lambda_adv"]) == (1, 0.1, 0.02)
    assert cli.main([*args, "-r", "--lambda-gdl", "1", "--steps", "3"]) == 1  # another method
    assert "lambda_gdl" in capsys.readouterr().err

    weights = tmp_path / "adv.safetensors"
    assert cli.main(["export", str(run), str(weights)]) == 0
    assert f"adv generator of step 2 -> {weights}" in capsys.readouterr().out
    generator, info = ckpt.load_generator_info(weights)
    trained, _ = ckpt.load_generator_info(run)
    assert info["kind"] == "adv" and info["model_config"] == TINY
    history = torch.rand(1, 12, 32, 32) * 2 - 1
    assert torch.equal(generator(history)[-1], trained(history)[-1])
    assert cli.main(["export", str(run), str(tmp_path / "adv.pt")]) == 1
    assert "must end in .safetensors" in capsys.readouterr().err


def test_held_out_loss_is_logged_every_val_every_steps_on_clips_left_out(
    clips: Path, tmp_path: Path
) -> None:
    config = _config(adversarial=False, log_every=4, val_clips=8, val_every=2, steps=5)
    result = training.train(clips, tmp_path, TINY, config, progress=False)
    logged = {r["step"]: r for r in result.records}
    assert sorted(logged) == [2, 4, 5]  # every val_every, every log_every and the last step
    assert all({"val_loss", "val_lp", "val_gdl"} <= set(r) for r in logged.values())
    # The one-step objective without the adversarial term: Lp + lambda_gdl GDL.
    for r in logged.values():
        expected = r["val_lp"] + config.loss.lambda_gdl * r["val_gdl"]
        assert r["val_loss"] == pytest.approx(expected, rel=1e-5)
