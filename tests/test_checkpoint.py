"""Checkpoint files: naming, keep-last-K, safe loading, RNG round trip, shipped weights."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from msgan_lib import checkpoint as ckpt
from msgan_lib.config import TrainConfig, preset
from msgan_lib.fileio import MsganError
from msgan_lib.model import Discriminator, Generator


def _state(step: int, adversarial: bool = True) -> dict:
    config = preset("tiny")
    torch.manual_seed(step)
    return {
        "generator": Generator(config).state_dict(),
        "discriminator": Discriminator(config).state_dict() if adversarial else {},
        "step": step,
        "model_config": config.to_dict(),
        "train_config": TrainConfig(adversarial=adversarial).to_dict(),
        "optimizers": {},
        "schedulers": {},
        "rng": ckpt.capture_rng_state(),
        "data_manifest": {"count": 10},
    }


def test_names_sort_by_step_and_only_last_k_are_kept(tmp_path: Path) -> None:
    for step in (5, 10, 100, 1000):
        path = ckpt.save_checkpoint(_state(step), tmp_path, keep=2)
        assert path.name == f"step_{step:07d}.pt"
    names = [p.name for p in ckpt.list_checkpoints(tmp_path)]
    assert names == ["step_0000100.pt", "step_0001000.pt"]
    assert ckpt.latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_0001000.pt"
    # Nothing but the kept checkpoints: the temporary files were renamed into place.
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == names


def test_retention_keeps_the_last_k_plus_milestones(tmp_path: Path) -> None:
    for step in range(100, 1100, 100):
        ckpt.save_checkpoint(_state(step), tmp_path, keep=2, milestone_every=400)
    steps = [int(p.name[5:12]) for p in ckpt.list_checkpoints(tmp_path)]
    assert steps == [400, 800, 900, 1000]
    for step in range(1100, 2100, 100):
        ckpt.save_checkpoint(_state(step), tmp_path, keep=20)
    spread = [int(p.name[5:12]) for p in ckpt.spread_checkpoints(tmp_path, 4)]
    assert spread == [400, 1100, 1600, 2000]
    assert len(ckpt.spread_checkpoints(tmp_path, 100)) == 14


def test_checkpoint_loads_with_weights_only_and_restores_rng(tmp_path: Path) -> None:
    path = ckpt.save_checkpoint(_state(3), tmp_path, keep=1)  # captures the RNG states
    expected = (random.random(), np.random.rand(), torch.rand(()).item())
    state = torch.load(path, weights_only=True)  # plain data only
    loaded = ckpt.load_checkpoint(tmp_path)  # a run directory resolves to its latest
    assert state["step"] == loaded["step"] == 3
    ckpt.restore_rng_state(loaded["rng"])
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == expected


class Payload:
    """Stands for any pickled object a malicious checkpoint could carry."""


def test_pickle_payload_is_refused(tmp_path: Path) -> None:
    state = _state(1)
    state["train_config"] = Payload()
    path = tmp_path / "evil.pt"
    torch.save(state, path)
    with pytest.raises(MsganError, match="pickled Python object.*Payload.*refused"):
        ckpt.load_checkpoint(path)
    with pytest.raises(MsganError, match="refused"):
        ckpt.load_generator(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a checkpoint at all", "not a PyTorch checkpoint"),
        (None, "not a zip archive: truncated"),
    ],
)
def test_corrupt_files_give_clear_errors(tmp_path: Path, content: bytes | None, message: str):
    path = tmp_path / "bad.pt"
    if content is None:  # a real checkpoint cut in half
        good = ckpt.save_checkpoint(_state(1), tmp_path, keep=1)
        content = good.read_bytes()[: good.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(MsganError, match=message):
        ckpt.load_checkpoint(path)


def test_foreign_dicts_and_empty_runs_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save(Generator(preset("tiny")).state_dict(), path)  # a bare state dict
    with pytest.raises(MsganError, match="not a msgan training checkpoint"):
        ckpt.load_checkpoint(path)
    with pytest.raises(MsganError, match="has no checkpoints"):
        ckpt.load_generator(tmp_path)
    with pytest.raises(MsganError, match="does not exist"):
        ckpt.load_generator(tmp_path / "missing.pt")


def test_load_generator_from_checkpoint_run_dir_and_safetensors(tmp_path: Path) -> None:
    state = _state(7, adversarial=False)
    path = ckpt.save_checkpoint(state, tmp_path / "run", keep=1)
    history = torch.rand(2, 12, 32, 32) * 2 - 1
    reference = Generator(preset("tiny"))
    reference.load_state_dict(state["generator"])
    expected = reference(history)[-1]

    generator, info = ckpt.load_generator_info(tmp_path / "run")
    assert not generator.training
    assert info["path"] == path and info["kind"] == "l2" and info["step"] == 7
    assert torch.equal(generator(history)[-1], expected)

    shipped = ckpt.export_generator(path, tmp_path / "model.safetensors")["weights"]
    generator, info = ckpt.load_generator_info(shipped)
    assert info["kind"] == "l2" and info["step"] is None
    assert info["model_config"] == preset("tiny")
    assert torch.equal(ckpt.load_generator(shipped)(history)[-1], expected)


def test_bad_safetensors_are_refused(tmp_path: Path) -> None:
    generator = Generator(preset("tiny"))
    with pytest.raises(MsganError, match="kind 'gan' is not one of"):
        ckpt.save_generator_weights(generator, tmp_path / "x.safetensors", "gan")
    bare = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in generator.state_dict().items()}, str(bare))
    with pytest.raises(MsganError, match="carries no model_config"):
        ckpt.load_generator(bare)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    with pytest.raises(MsganError, match="not a readable safetensors file"):
        ckpt.load_generator(broken)
    config_of_tiny = tmp_path / "mismatch.safetensors"
    tensors = {k: v.contiguous() for k, v in generator.state_dict().items()}
    metadata = {"model_config": '{"history": 4}', "kind": "adv"}  # paper sizes, tiny weights
    save_file(tensors, str(config_of_tiny), metadata=metadata)
    with pytest.raises(MsganError, match="do not fit its model config"):
        ckpt.load_generator(config_of_tiny)
