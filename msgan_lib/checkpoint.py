"""Checkpoints and shipped weights (chapter 04, used by chapter 05 and ``msgan predict``).

A training checkpoint is ``<run>/checkpoints/step_NNNNNNN.pt``: a dict of plain data only
(tensors, numbers, strings, lists, dicts), so that it loads with
``torch.load(path, weights_only=True)`` and loading never runs code from the file:

    generator, discriminator   state dicts (discriminator empty for a non-adversarial run)
    step                       completed training steps
    model_config               ``ModelConfig.to_dict()``
    train_config               ``TrainConfig.to_dict()``
    optimizers, schedulers     state dicts keyed ``"g"`` and ``"d"``
    rng                        torch / CUDA / numpy / Python RNG states as plain data
    data_manifest              identity of the clip set trained on (``feed.manifest_identity``)

Shipped weights are a ``.safetensors`` file with the generator's weights only and the
metadata ``{"model_config": <json>, "kind": "adv" | "l2"}``. :func:`load_generator` reads
either kind of file, or a run directory (its latest checkpoint); :func:`load_models` loads
several by name for prediction and evaluation.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from msgan_lib.config import ModelConfig
from msgan_lib.fileio import MsganError, atomic_path
from msgan_lib.metrics import BASELINES
from msgan_lib.model import Generator

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step_(\d{7})\.pt$")
REQUIRED_KEYS = ("generator", "discriminator", "step", "model_config", "train_config")
WEIGHT_KINDS = ("adv", "l2")


def checkpoint_path(run_dir: str | os.PathLike[str], step: int) -> Path:
    """``<run_dir>/checkpoints/step_NNNNNNN.pt`` (seven digits, so names sort by step)."""
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:07d}.pt"


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The run's checkpoint files, oldest step first (temporary files are ignored)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.match(p.name) and p.is_file()]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))  # type: ignore[union-attr]


def spread_checkpoints(run_dir: str | os.PathLike[str], count: int = 8) -> list[Path]:
    """At most ``count`` of the run's checkpoints, evenly spread from the first to the last
    (all of them when there are fewer): the columns of a sample figure."""
    found = list_checkpoints(run_dir)
    if len(found) <= count:
        return found
    return [found[round(i * (len(found) - 1) / (count - 1))] for i in range(count)]


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The run's newest checkpoint, or ``None`` when it has none."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(
    state: dict[str, Any], run_dir: str | os.PathLike[str], keep: int, milestone_every: int = 0
) -> Path:
    """Write ``state`` as ``step_<state['step']>.pt`` atomically, then prune older ones.

    Kept: the last ``keep`` checkpoints, plus every one whose step is a multiple of
    ``milestone_every`` (0: none), so a long run's disk use is bounded by ``keep`` plus its
    number of milestones. The file is written under a temporary name and renamed, so a
    crash mid-write never leaves a truncated checkpoint where :func:`latest_checkpoint`
    would find it.
    """
    if keep < 1:
        raise MsganError(f"keep_checkpoints must be at least 1, got {keep}")
    path = checkpoint_path(run_dir, int(state["step"]))
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for old in list_checkpoints(run_dir)[:-keep]:
        step = int(_NAME.match(old.name).group(1))  # type: ignore[union-attr]
        if not (milestone_every and step % milestone_every == 0):
            old.unlink(missing_ok=True)
    return path


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file from ``path``: the file itself, or a run directory's latest checkpoint."""
    path = Path(path)
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is None:
            raise MsganError(
                f"{path} has no checkpoints (expected {path / CHECKPOINT_DIR}/step_NNNNNNN.pt): "
                "train first with `msgan train --out {path}` or pass a checkpoint file"
            )
        return latest
    if not path.exists():
        raise MsganError(f"{path} does not exist: pass a checkpoint file or a run directory")
    return path


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a training checkpoint (file or run directory) safely, with ``weights_only=True``.

    Raises :class:`MsganError` for a missing, corrupt or foreign file, for one that carries
    a pickled object (arbitrary code would run on load: refused), and for a dict that lacks
    the checkpoint keys.
    """
    path = resolve_checkpoint(path)
    if not zipfile.is_zipfile(path):
        raise MsganError(
            f"{path} is not a PyTorch checkpoint (not a zip archive: truncated, corrupt or "
            "another kind of file); pass a step_NNNNNNN.pt file written by `msgan train`"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        if found:
            raise MsganError(
                f"{path} holds a pickled Python object ({found.group(1)}); loading it could run "
                "arbitrary code, so it is refused. Only checkpoints of plain data are accepted"
            ) from None
        raise MsganError(
            f"{path} is corrupt (unreadable pickle data): {_first_line(error)}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise MsganError(f"{path} is corrupt or truncated: {_first_line(error)}") from None
    if not isinstance(state, dict) or any(key not in state for key in REQUIRED_KEYS):
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise MsganError(
            f"{path} is not a msgan training checkpoint (it holds {keys}; expected the keys "
            f"{', '.join(REQUIRED_KEYS)})"
        )
    return state


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# --- RNG states as plain data (weights_only=True cannot load numpy arrays or tuples of them) ---


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG's state as tensors, numbers and lists."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states only where CUDA is present)."""
    torch.set_rng_state(state["torch"].cpu())
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate(
        (python_state["version"], tuple(python_state["internal"]), python_state["gauss_next"])
    )
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


# --- generator weights for prediction ---


def save_generator_weights(generator: Generator, path: str | os.PathLike[str], kind: str) -> Path:
    """Ship ``generator``'s weights as safetensors with ``model_config`` and ``kind`` metadata.

    ``kind`` is ``"adv"`` (trained with the adversarial term) or ``"l2"`` (Lp + GDL only).
    Tensors are copied to contiguous CPU memory; the file is written atomically. The name
    must end in ``.safetensors``: that suffix is how :func:`load_generator_info` tells shipped
    weights from training checkpoints.
    """
    from safetensors.torch import save_file

    if kind not in WEIGHT_KINDS:
        raise MsganError(f"weights kind {kind!r} is not one of {', '.join(WEIGHT_KINDS)}")
    if Path(path).suffix != ".safetensors":
        raise MsganError(f"{path}: the weights file name must end in .safetensors")
    tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    metadata = {"model_config": json.dumps(generator.config.to_dict()), "kind": kind}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def export_generator(
    checkpoint: str | os.PathLike[str], path: str | os.PathLike[str]
) -> dict[str, Any]:
    """Write a training checkpoint's generator as shipped safetensors weights at ``path``.

    The kind comes from the run's configuration: ``"adv"`` when it trained adversarially.
    Returns what :func:`load_generator_info` knows about the checkpoint, with ``"weights"``
    the file written.
    """
    generator, info = load_generator_info(checkpoint)
    return {**info, "weights": save_generator_weights(generator, path, info["kind"])}


def load_generator(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Generator:
    """A :class:`~msgan_lib.model.Generator` in eval mode on ``device`` from ``path``.

    ``path`` is a training checkpoint (``step_NNNNNNN.pt``), a run directory (its latest
    checkpoint) or shipped ``.safetensors`` weights. Wrong kinds of file, corrupt files and
    pickle payloads raise :class:`MsganError`.
    """
    generator, _ = load_generator_info(path, device)
    return generator


def load_generator_info(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[Generator, dict[str, Any]]:
    """Like :func:`load_generator`, also returning what is known about the weights.

    The dict holds ``path`` (the file actually read), ``kind`` (``"adv"`` or ``"l2"``),
    ``model_config`` (:class:`ModelConfig`) and ``step`` (``None`` for shipped weights).
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".safetensors":
        weights, metadata = _read_safetensors(path)
        config = _model_config_from(metadata.get("model_config"), path)
        kind, step = metadata.get("kind", ""), None
        if kind not in WEIGHT_KINDS:
            raise MsganError(f"{path} metadata kind is {kind!r}; expected one of {WEIGHT_KINDS}")
    else:
        state = load_checkpoint(path)
        path = resolve_checkpoint(path)
        weights = state["generator"]
        config = _model_config_from(state["model_config"], path)
        adversarial = bool(state["train_config"].get("adversarial", True))
        kind, step = ("adv" if adversarial else "l2"), int(state["step"])
    generator = Generator(config)
    try:
        generator.load_state_dict(weights)
    except RuntimeError as error:
        raise MsganError(
            f"{path}: generator weights do not fit its model config: {_first_line(error)}"
        ) from None
    generator.to(device).eval()
    return generator, {"path": path, "kind": kind, "model_config": config, "step": step}


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise MsganError(
            f"{path} is not a readable safetensors file: {_first_line(error)}"
        ) from None
    return weights, metadata


def _model_config_from(data: Any, path: Path) -> ModelConfig:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError:
            data = None
    if not isinstance(data, dict):
        raise MsganError(f"{path} carries no model_config: not weights written by msgan")
    try:
        return ModelConfig.from_dict(data)
    except TypeError as error:
        raise MsganError(f"{path} has an invalid model_config: {error}") from None


# --- models by path (prediction and evaluation) ---


def model_name(path: str | os.PathLike[str]) -> str:
    """A short name for the weights at ``path``, used in tables, folders and legends.

    ``weights/pacman-small-adv.safetensors`` -> ``pacman-small-adv``; a run directory ->
    its name; ``<run>/checkpoints/step_0001000.pt`` -> ``<run>-step1000``; another file ->
    its stem. Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``.
    """
    path = Path(path)
    match = re.fullmatch(r"step_(\d+)\.pt", path.name)
    if path.is_dir():
        name = path.resolve().name
    elif match and path.parent.name == "checkpoints":
        name = f"{path.parent.parent.resolve().name}-step{int(match.group(1))}"
    else:
        name = path.stem
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "model"


def load_models(
    paths: Sequence[str | os.PathLike[str]], device: str | torch.device = "cpu"
) -> dict[str, Generator]:
    """Generators by name from checkpoint files, run directories or shipped weights.

    Names come from :func:`model_name`; repeated names get ``-2``, ``-3``, ... and may not
    be a baseline's name. Every model must read the same number of history frames.
    """
    if not paths:
        raise MsganError("no model given: pass at least one checkpoint, run directory or weights")
    models: dict[str, Generator] = {}
    for path in paths:
        name = base = model_name(path)
        if name in BASELINES:
            name = base = f"{base}-model"
        suffix = 2
        while name in models:
            name, suffix = f"{base}-{suffix}", suffix + 1
        models[name] = load_generator(path, device)
    histories = {name: g.config.history for name, g in models.items()}
    if len(set(histories.values())) > 1:
        raise MsganError(
            f"the models read different numbers of history frames {histories}; "
            "compare models with the same history"
        )
    return models
