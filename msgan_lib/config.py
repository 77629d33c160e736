"""Configuration: one dataclass per concern, the paper's values as defaults.

Every default names where it comes from: the paper (Mathieu, Couprie & LeCun 2016,
arXiv:1511.05440, tables in section 3 and appendix), the Chainer port this project replaces,
or a choice of ours. Presets (``paper``, ``small``, ``tiny``) override only what differs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from msgan_lib.fileio import MsganError


def _check_keys(cls: type, data: dict[str, Any], what: str) -> None:
    """Refuse keys that are not fields of ``cls`` (a file that is not a msgan config)."""
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise MsganError(f"unknown {what} config keys {sorted(unknown)}: not a msgan config")


def flag(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field that ``msgan`` exposes as a command-line flag.

    ``help`` is the flag's help text; ``cli`` may hold ``flag`` (its name when it is not
    ``--field-name``) and ``choices``. The CLI reads flags, types, choices and defaults
    from the fields (``msgan_lib.cli``), so none of them is written twice.
    """
    return field(default=default, metadata={"help": help, **cli})


def _require(condition: bool, what: str, name: str, value: Any, rule: str) -> None:
    """Raise ``"<what> config: <name> = <value> must be <rule>"`` unless ``condition``."""
    if not condition:
        raise MsganError(f"{what} config: {name} = {value!r} must be {rule}")


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: Any, low: float, *, above: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return value > low if above else value >= low


D_DESIGNS: tuple[str, ...] = ("paper", "patch")
D_JUDGES: tuple[str, ...] = ("all", "one")
# The paper's SGD schedule (section 3) and our Adam rates, applied when an optimiser is chosen.
OPTIMIZER_RATES: dict[str, dict[str, float]] = {
    "adam": {"lr_g": 4e-5, "lr_g_final": 4e-5, "lr_d": 4e-5},
    "sgd": {"lr_g": 0.04, "lr_g_final": 0.005, "lr_d": 0.02},
}


@dataclass(frozen=True)
class RecordConfig:
    """How ``record-pacman`` plays and samples the game (choices of ours, see chapter 01)."""

    frames_per_episode: int = flag(1000, "most frames per episode")  # a random game: ~650-1,100
    hold_min: int = 4  # a random action is held for hold_min..hold_max stored frames,
    hold_max: int = 16  # so Ms. Pac-Man runs along corridors instead of jittering
    merge: int = flag(2, "emulator frames merged per stored frame")  # flicker: merge_flicker
    skip_intro: int = 264  # emulator frames not recorded: the start tune, the same every game
    start_jitter: int = 64  # plus 0..start_jitter-1 played frames, so episodes start apart

    def __post_init__(self) -> None:
        """Refuse values the recorder cannot use, naming the field."""
        for name in ("frames_per_episode", "hold_min", "merge", "start_jitter"):
            value = getattr(self, name)
            _require(_is_int(value, 1), "record", name, value, "an integer >= 1")
        _require(_is_int(self.skip_intro, 0), "record", "skip_intro", self.skip_intro, ">= 0")
        _require(
            _is_int(self.hold_max, self.hold_min),
            "record",
            "hold_max",
            self.hold_max,
            f"an integer >= hold_min ({self.hold_min})",
        )


@dataclass(frozen=True)
class DataConfig:
    """How training clips are cut from videos (the Chainer port's process_data.py)."""

    history: int = flag(4, "input frames")  # paper: 4 input frames
    # ours: frames to predict per clip; K > 1 serves training through the recursion
    # (``TrainConfig.unroll``). The paper's clips hold history + 1 frames.
    future: int = flag(1, "frames after the history in each clip (K of 4+K; --unroll needs K)")
    crop_size: int = flag(32, "side of the square crops")  # paper: 32x32 training crops
    # Chainer port: summed squared frame difference on [-1, 1]
    motion_threshold: float = flag(100.0, "motion score a crop must exceed")
    keep_without_check: float = flag(  # Chainer port: 5% of clips skip the motion check
        0.05, "fraction kept without the motion check", flag="--keep-fraction"
    )
    max_tries: int = 100  # Chainer port: random crops tried per clip before keeping the last
    # ours: this fraction of clips is cut around Ms. Pac-Man instead, so the model sees her
    # often; the rest is the motion rule's (msgan_lib.motion.draw_sprite_crops)
    sprite_fraction: float = flag(
        0.0, "fraction of crops centred near Ms. Pac-Man in the last history frame"
    )

    def __post_init__(self) -> None:
        """Refuse values ``process-data`` cannot use, naming the field."""
        for name in ("history", "future", "crop_size", "max_tries"):
            value = getattr(self, name)
            _require(_is_int(value, 1), "data", name, value, "an integer >= 1")
        value = self.motion_threshold
        _require(_is_number(value, 0), "data", "motion_threshold", value, "a number >= 0")
        value = self.keep_without_check
        _require(
            _is_number(value, 0) and value <= 1, "data", "keep_without_check", value, "in [0, 1]"
        )
        value = self.sprite_fraction
        _require(_is_number(value, 0) and value <= 1, "data", "sprite_fraction", value, "in [0, 1]")

    @property
    def clip_frames(self) -> int:
        """Frames per clip: the history, then the ``future`` frames to predict."""
        return self.history + self.future


@dataclass(frozen=True)
class ModelConfig:
    """Generator and discriminator sizes, per scale, coarsest (1/8) first.

    ``g_feature_maps[k]`` lists the hidden feature maps of scale k's generator (the final
    3-channel output layer is implied); ``g_kernels[k]`` lists every layer's kernel size,
    output layer included. ``d_*`` describe the per-scale discriminators likewise: valid
    convolutions (``d_conv_maps``, ``d_kernels``) then fully connected layers whose last
    size is the single logit.
    """

    history: int = 4  # paper: 4 input frames
    # paper: 32x32 training crops (D is built for them); the clips' crop size when training
    crop_size: int = flag(32, "side of the training crops (the clip set's)")
    # Paper, generator table (1/8, 1/4, 1/2, 1): feature maps and kernel sizes.
    g_feature_maps: tuple[tuple[int, ...], ...] = (
        (128, 256, 128),
        (128, 256, 128),
        (128, 256, 512, 256, 128),
        (128, 256, 512, 256, 128),
    )
    g_kernels: tuple[tuple[int, ...], ...] = (
        (3, 3, 3, 3),
        (5, 3, 3, 5),
        (5, 3, 3, 3, 3, 5),
        (7, 5, 5, 5, 5, 7),
    )
    # Paper, discriminator table: conv maps, kernels, fully connected sizes.
    d_conv_maps: tuple[tuple[int, ...], ...] = (
        (64,),
        (64, 128, 128),
        (128, 256, 256),
        (128, 256, 512, 128),
    )
    d_kernels: tuple[tuple[int, ...], ...] = (
        (3,),
        (3, 3, 3),
        (5, 5, 5),
        (7, 7, 5, 5),
    )
    d_fc_sizes: tuple[tuple[int, ...], ...] = (
        (512, 256, 1),
        (1024, 512, 1),
        (1024, 512, 1),
        (1024, 512, 1),
    )

    # Ours, not the paper's (off in every preset): predict the change from the last input
    # frame instead of the frame (see msgan_lib.model); the shipped Pac-Man models use it.
    residual_on_last_input: bool = flag(
        False, "predict the change from the last input frame (ours; see msgan_lib.model)"
    )
    # Ours, not the paper's: the discriminator's design. "paper" is the table above (valid
    # convolutions, fully connected head); "patch" is a small fully convolutional network
    # per scale whose logit map is averaged (see msgan_lib.model), ``d_patch_width`` wide.
    d_design: str = flag(
        "paper",
        "discriminator: the paper's valid convolutions + fully connected layers, or ours, a "
        "fully convolutional patch network per scale",
        choices=D_DESIGNS,
    )
    d_patch_width: int = flag(64, "first width of the patch discriminator")
    # Ours: D also sees the candidate frame minus the last input frame (the change).
    d_sees_change: bool = flag(
        False, "the discriminator also reads the candidate frame minus the last input frame"
    )

    # Ours, beyond the paper: condition both networks on the player's actions (Oh et al.
    # 2015). Empty (the default) is the paper's unconditioned model; otherwise the ALE
    # names of the actions, whose one-hot planes every scale reads (see msgan_lib.model).
    # Set from the clips by ``msgan train --action-conditional``.
    action_names: tuple[str, ...] = ()
    # Ours: an action model's actions also scale every hidden map of the generator (FiLM),
    # acting where a map fires rather than on every pixel (see msgan_lib.model).
    action_gains: bool = flag(
        False, "action models: the actions also scale each hidden map of the generator"
    )

    # The fields that shape the generator: weights move between configs that share them.
    GENERATOR_FIELDS: ClassVar[tuple[str, ...]] = (
        "history",
        "g_feature_maps",
        "g_kernels",
        "residual_on_last_input",
        "action_names",
        "action_gains",
    )

    def __post_init__(self) -> None:
        """Refuse inconsistent sizes with one clear line (a config may come from a file)."""
        n = len(self.g_feature_maps)
        if not (isinstance(self.history, int) and self.history >= 1):
            raise MsganError(f"model config: history = {self.history!r} must be an integer >= 1")
        if n < 1:
            raise MsganError("model config: g_feature_maps needs at least one scale")
        for name in ("g_kernels", "d_conv_maps", "d_kernels", "d_fc_sizes"):
            if len(getattr(self, name)) != n:
                raise MsganError(
                    f"model config: {name} has {len(getattr(self, name))} scales but "
                    f"g_feature_maps has {n}; give every per-scale field one entry per scale"
                )
        for k in range(n):
            maps, kernels = self.g_feature_maps[k], self.g_kernels[k]
            if len(kernels) != len(maps) + 1 or any(s % 2 == 0 or s < 1 for s in kernels):
                raise MsganError(
                    f"model config: scale {k} of the generator needs one odd kernel size per "
                    f"layer (len(g_feature_maps[{k}]) + 1 = {len(maps) + 1}), got {kernels}"
                )
            if len(self.d_kernels[k]) != len(self.d_conv_maps[k]):
                raise MsganError(
                    f"model config: scale {k} of the discriminator has "
                    f"{len(self.d_conv_maps[k])} conv layers but {len(self.d_kernels[k])} kernels"
                )
            if not self.d_fc_sizes[k] or self.d_fc_sizes[k][-1] != 1:
                raise MsganError(
                    f"model config: d_fc_sizes[{k}] = {self.d_fc_sizes[k]} must end with 1 "
                    "(the logit)"
                )
        if self.d_design not in D_DESIGNS:
            raise MsganError(
                f"model config: d_design = {self.d_design!r} is not one of {', '.join(D_DESIGNS)}"
            )
        if not (isinstance(self.d_patch_width, int) and self.d_patch_width >= 1):
            raise MsganError(
                f"model config: d_patch_width = {self.d_patch_width!r} must be an integer >= 1"
            )
        names = self.action_names
        if not isinstance(names, tuple) or not all(isinstance(a, str) and a for a in names):
            raise MsganError(f"model config: action_names = {names!r} must be a tuple of names")
        if len(set(names)) != len(names):
            raise MsganError(f"model config: action_names = {names!r} repeats a name")
        factor = 2 ** (n - 1)
        if not (isinstance(self.crop_size, int) and self.crop_size >= factor):
            raise MsganError(
                f"model config: crop_size = {self.crop_size!r} must be an integer of at least "
                f"{factor} (2^(scales-1))"
            )
        if self.crop_size % factor:
            raise MsganError(
                f"model config: crop_size = {self.crop_size} must be a multiple of {factor} "
                f"so that each of the {n} scales halves it exactly"
            )

    @property
    def n_scales(self) -> int:
        """Number of pyramid scales (the paper uses 4: 1/8, 1/4, 1/2, 1)."""
        return len(self.g_feature_maps)

    @property
    def action_count(self) -> int:
        """How many actions the networks are conditioned on (0: unconditioned, the paper)."""
        return len(self.action_names)

    @property
    def action_channels(self) -> int:
        """Input channels of the actions: one one-hot plane per action and history step."""
        return self.action_count * self.history

    def same_generator(self, other: ModelConfig) -> bool:
        """Whether ``other`` builds the same generator (its discriminator may differ)."""
        return all(getattr(self, f) == getattr(other, f) for f in self.GENERATOR_FIELDS)

    def same_discriminator(self, other: ModelConfig) -> bool:
        """Whether ``other`` builds the same discriminator."""
        fields = [f.name for f in dataclasses.fields(self) if f.name.startswith("d_")]
        fields += ["history", "action_names"]
        return all(getattr(self, f) == getattr(other, f) for f in fields)

    def finest_scale_only(self) -> ModelConfig:
        """The same model without the pyramid: the finest scale's networks alone.

        The paper's Table 1 baseline "single-scale": one generator network (the finest
        scale's layers, reading only the history, so ``3T`` input channels) and one
        discriminator at full crop size. A model with one scale is exactly that, so this
        keeps the last entry of every per-scale field.
        """
        per_scale = ("g_feature_maps", "g_kernels", "d_conv_maps", "d_kernels", "d_fc_sizes")
        return dataclasses.replace(self, **{name: getattr(self, name)[-1:] for name in per_scale})

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (lists and ints) for checkpoints and JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; lists become the tuples the dataclass holds."""
        _check_keys(cls, data, "model")

        def as_tuple(value: Any) -> Any:
            return tuple(as_tuple(v) for v in value) if isinstance(value, list | tuple) else value

        return cls(**{key: as_tuple(value) for key, value in data.items()})


@dataclass(frozen=True)
class LossConfig:
    """Exponents and weights of the generator objective (paper, section 2; ``msgan_lib.losses``).

    L_G = lambda_adv L_adv^G + lambda_lp L_p + lambda_gdl L_gdl, summed over scales.
    """

    # paper: L2 in the adversarial model (L_p with p = 1 or 2)
    p: int = flag(2, "p of the Lp loss", flag="--lp", choices=(1, 2))
    alpha: float = 1.0  # paper: GDL exponent alpha = 1
    lambda_adv: float = flag(0.05, "weight of the adversarial loss")  # paper
    lambda_lp: float = 1.0  # paper
    lambda_gdl: float = flag(1.0, "weight of the gradient difference loss")  # paper
    # Ours: in training, the Lp loss weighs the pixels that change from the true previous
    # frame to the target this many times more (a weighted mean; 1: the paper's plain mean).
    moving_weight: float = flag(
        1.0, "Lp weight of the pixels that change between the previous frame and the target"
    )

    def __post_init__(self) -> None:
        """Refuse values the losses cannot use, naming the field."""
        for name in ("p", "alpha"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 1):
                raise MsganError(
                    f"loss config: {name} = {value!r} must be a number >= 1 (paper: p = 1 or 2, "
                    "alpha = 1)"
                )
        for name in ("lambda_adv", "lambda_lp", "lambda_gdl"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise MsganError(f"loss config: {name} = {value!r} must be a number >= 0")
        value = self.moving_weight
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise MsganError(f"loss config: moving_weight = {value!r} must be a number > 0")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping of a training run (see ``msgan_lib.train``).

    One training step is one discriminator update and one generator update, each on its own
    minibatch (paper, section 3). ``steps`` is the run's total, so a resumed run stops where
    an uninterrupted one would. The generator's learning rate decays geometrically from
    ``lr_g`` to ``lr_g_final`` over ``steps``; the discriminator's is constant.
    """

    steps: int = flag(10_000, "total steps of the run, resumed or not")  # ours
    # paper: batch 8 with adversarial training (4 without); per process under torchrun
    batch_size: int = flag(8, "clips per minibatch and process (global batch: x processes)")
    # paper's full model: Lp + GDL + adversarial; --no-adversarial: the Lp + GDL baselines
    adversarial: bool = flag(True, "train with the discriminator (--no-adversarial: Lp + GDL)")
    # ours (as the ports); "sgd" is the paper's, see with_optimizer
    optimizer: str = flag(
        "adam",
        "adam, or sgd (the paper's); brings its learning rates",
        choices=tuple(OPTIMIZER_RATES),
    )
    lr_g: float = flag(4e-5, "generator learning rate")  # ports' Adam rate for G
    lr_g_final: float = flag(4e-5, "generator rate at the end (geometric decay)")  # Adam: flat
    lr_d: float = flag(4e-5, "discriminator learning rate")  # ours: D at G's rate
    # ours: the generator's action weights (action models) start at zero and learn at their
    # own rate, decayed like lr_g (see msgan_lib.model)
    lr_actions: float = flag(1e-3, "learning rate of the generator's action weights")
    adam_betas: tuple[float, float] = (0.5, 0.999)  # ours: the usual GAN momentum (DCGAN)
    # ours (Oh et al. 2015 trained their Atari predictor this way): the generator predicts
    # ``unroll`` frames recursively from the true history, each fed back as input, and the
    # loss is the mean over them; needs clips with that many future frames (--future).
    unroll: int = flag(1, "frames predicted recursively per clip and trained on (1: the paper)")
    # ours: a curriculum "DEPTH:STEP,...", e.g. "1:0,2:2000,4:6000" (unroll 1 from step 0,
    # 2 from step 2,000, 4 from 6,000); replaces ``unroll`` when given
    unroll_schedule: str = flag("", 'unroll depth by step, "1:0,2:2000,4:6000"')
    # ours: cut the gradient between recursive steps (each step then trains as a one-step
    # model fed its own earlier outputs); chapter 4 compares it with the full gradient
    unroll_stop_gradient: bool = flag(False, "no gradient through the fed-back predictions")
    # ours: with unroll > 1 the discriminator judges every unrolled step ("all") or one
    # random step per clip ("one"); see msgan_lib.step
    d_judges: str = flag("all", "unrolled steps the discriminator judges", choices=D_JUDGES)
    grad_clip: float = flag(0.0, "clip the generator's gradient norm to this (0: off)")  # ours
    seed: int = flag(0, "weights, data order and held-out clips")  # ours
    checkpoint_every: int = flag(500, "steps between checkpoints (0: only at the end)")  # ours
    # ours: the last K checkpoints are kept, plus every milestone_every-th step
    keep_checkpoints: int = flag(3, "latest checkpoints kept", flag="--keep")
    # ours: a paper-preset checkpoint is ~0.57 GB; a 100k-step run keeps 3 + 4 (< 5 GB)
    milestone_every: int = flag(25_000, "steps between checkpoints kept for good (0: none)")
    sample_every: int = flag(500, "steps between sample grids and loss plots (0: at the end)")
    sample_clips: int = 6  # ours: clips held out of training for the sample grids
    # ours: clips held out to measure D's accuracy per scale (adversarial runs)
    probe_clips: int = flag(128, "clips held out to log D's accuracy per scale")
    log_every: int = flag(10, "steps between metrics records")  # ours
    # ours: clips held out of training whose one-step Lp + GDL loss is logged (val_loss,
    # val_lp, val_gdl) every val_every steps: is the run still learning, or on a plateau?
    val_clips: int = flag(0, "clips held out to log the held-out loss (0: none)")
    val_every: int = flag(250, "steps between held-out loss records")
    # ours: bf16 autocast where native (CPU with avx512_bf16, or CUDA); fp32 when False
    amp: bool = flag(True, "bf16 autocast where the hardware runs it natively")
    channels_last: bool = flag(True, "NHWC memory layout")  # ours
    compile: bool = flag(False, "torch.compile the networks")  # ours
    loss: LossConfig = field(default_factory=LossConfig)

    # Fields that define what is trained: a resumed run must keep them.
    METHOD_FIELDS: ClassVar[tuple[str, ...]] = (
        "batch_size",
        "adversarial",
        "optimizer",
        "lr_g",
        "lr_g_final",
        "lr_d",
        "lr_actions",
        "adam_betas",
        "seed",
        "sample_clips",
        "probe_clips",
        "val_clips",
        "unroll",
        "unroll_schedule",
        "unroll_stop_gradient",
        "d_judges",
        "grad_clip",
        "loss",
    )

    def __post_init__(self) -> None:
        """Refuse values the trainer cannot use, naming the field."""
        if self.optimizer not in OPTIMIZER_RATES:
            raise MsganError(
                f"train config: optimizer {self.optimizer!r} is not one of "
                f"{', '.join(OPTIMIZER_RATES)}"
            )
        for name in ("steps", "batch_size", "keep_checkpoints", "log_every", "val_every"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise MsganError(f"train config: {name} = {value!r} must be an integer >= 1")
        for name in (
            "checkpoint_every",
            "milestone_every",
            "sample_every",
            "sample_clips",
            "probe_clips",
            "val_clips",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 0):
                raise MsganError(f"train config: {name} = {value!r} must be an integer >= 0")
        for name in ("lr_g", "lr_g_final", "lr_d", "lr_actions"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise MsganError(f"train config: {name} = {value!r} must be a number > 0")

        _require(_is_int(self.unroll, 1), "train", "unroll", self.unroll, "an integer >= 1")
        _require(
            _is_number(self.grad_clip, 0), "train", "grad_clip", self.grad_clip, "a number >= 0"
        )
        if self.d_judges not in D_JUDGES:
            raise MsganError(
                f"train config: d_judges {self.d_judges!r} is not one of {', '.join(D_JUDGES)}"
            )
        if self._schedule and self.unroll != 1:  # parsing refuses a malformed schedule
            raise MsganError(
                f"train config: unroll = {self.unroll} and unroll_schedule = "
                f"{self.unroll_schedule!r} both set: give one (the schedule names every depth)"
            )

    @functools.cached_property
    def _schedule(self) -> list[tuple[int, int]]:
        """``unroll_schedule`` parsed once (the trainer asks for the depth every step)."""
        return parse_unroll_schedule(self.unroll_schedule)

    @property
    def max_unroll(self) -> int:
        """The deepest unroll of the run: the clips need this many future frames."""
        return max(depth for depth, _ in self._schedule) if self._schedule else self.unroll

    def unroll_at(self, step: int) -> int:
        """The unroll depth of training step ``step`` (0-based): a pure function of the
        step, so a resumed run continues the curriculum exactly."""
        if not self._schedule:
            return self.unroll
        return [depth for depth, start in self._schedule if start <= step][-1]

    @classmethod
    def with_optimizer(cls, optimizer: str, **overrides: Any) -> TrainConfig:
        """A config using ``optimizer`` with its learning rates (the paper's for ``"sgd"``).

        ``overrides`` replace any field, learning rates included.
        """
        if optimizer not in OPTIMIZER_RATES:
            raise MsganError(f"optimizer {optimizer!r} is not one of {', '.join(OPTIMIZER_RATES)}")
        return cls(**{"optimizer": optimizer, **OPTIMIZER_RATES[optimizer], **overrides})

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (numbers, strings, lists, a nested loss dict) for checkpoints."""
        data = dataclasses.asdict(self)
        data["adam_betas"] = list(self.adam_betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        _check_keys(cls, data, "train")
        values = dict(data)
        if "loss" in values:
            values["loss"] = LossConfig(**values["loss"])
        if "adam_betas" in values:
            values["adam_betas"] = tuple(values["adam_betas"])
        return cls(**values)


def parse_unroll_schedule(text: str) -> list[tuple[int, int]]:
    """``"1:0,2:2000,4:6000"`` -> ``[(1, 0), (2, 2000), (4, 6000)]`` (depth, first step).

    Empty text is no schedule. Refuses, in one line, anything but ``DEPTH:STEP`` pairs with
    depths >= 1 and steps that start at 0 and increase.
    """
    if not text.strip():
        return []
    rule = 'pairs DEPTH:STEP such as "1:0,2:2000,4:6000" (depths >= 1, steps from 0, rising)'
    pairs = []
    for part in text.split(","):
        depth, sep, start = part.strip().partition(":")
        if not (sep and depth.strip().isdigit() and start.strip().isdigit()):
            raise MsganError(f"train config: unroll_schedule = {text!r} must be {rule}")
        pairs.append((int(depth), int(start)))
    starts = [start for _, start in pairs]
    rising = all(b > a for a, b in zip(starts, starts[1:], strict=False))
    if starts[0] != 0 or not rising or min(depth for depth, _ in pairs) < 1:
        raise MsganError(f"train config: unroll_schedule = {text!r} must be {rule}")
    return pairs


_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Ours: the paper's layers and kernels with every width divided by 8 (about 1/60 of its
    # parameters and FLOPs), so that an hour on a 2-core CPU is thousands of batch-32 steps;
    # sizes and FLOPs per scale are printed in book/02_model.py.
    "small": {
        "g_feature_maps": (
            (16, 32, 16),
            (16, 32, 16),
            (16, 32, 64, 32, 16),
            (16, 32, 64, 32, 16),
        ),
        "d_conv_maps": ((8,), (8, 16, 16), (16, 32, 32), (16, 32, 64, 16)),
        "d_fc_sizes": ((64, 32, 1), (128, 64, 1), (128, 64, 1), (128, 64, 1)),
    },
    # For tests and FAST notebook runs: seconds on a CPU.
    "tiny": {
        "g_feature_maps": ((8, 16, 8), (8, 16, 8), (8, 16, 16, 8), (8, 16, 16, 8)),
        "g_kernels": ((3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3, 3), (5, 3, 3, 3, 5)),
        "d_conv_maps": ((8,), (8, 16), (16, 16), (16, 16)),
        "d_kernels": ((3,), (3, 3), (3, 3), (5, 5)),
        "d_fc_sizes": ((32, 1), (32, 1), (32, 1), (32, 1)),
    },
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


def preset(name: str) -> ModelConfig:
    """The model configuration called ``name``: ``"paper"``, ``"small"`` or ``"tiny"``."""
    if name not in _PRESETS:
        raise MsganError(f"unknown preset {name!r}: choose one of {', '.join(PRESET_NAMES)}")
    return ModelConfig(**_PRESETS[name])


# --- named recipes: a preset and the config values that differ from the defaults ---


@dataclass(frozen=True)
class Recipe:
    """A named way to train: a model preset and the values it sets.

    ``values`` are fields of :class:`ModelConfig`, :class:`TrainConfig` or
    :class:`LossConfig` by name; command-line flags still override them.
    """

    preset: str
    values: dict[str, Any]
    about: str


# What every stage of the shipped Ms. Pac-Man models shares (weights/README.md), and the
# second stage's schedule: 1,000 steps at the first stage's final rate.
_SHIPPED: dict[str, Any] = {
    "residual_on_last_input": True,
    "p": 2,
    "lambda_gdl": 0.1,
    "batch_size": 32,
    "optimizer": "adam",
}
_FINE_TUNE: dict[str, Any] = {"lr_g": 1e-4, "lr_g_final": 1e-4, "steps": 1_000}

RECIPES: dict[str, Recipe] = {
    # Ours: seconds on a CPU, for tests and the book's FAST runs.
    "tiny": Recipe(
        "tiny",
        {**OPTIMIZER_RATES["adam"], "lr_g": 1e-3, "lr_g_final": 1e-3, "lr_d": 1e-3},
        "seconds on a CPU: the tiny preset, Adam 1e-3, batch 8 (the book's FAST runs)",
    ),
    # The paper's section 3 and its generator objective, as in ../shared/reference/PAPER.md.
    "paper": Recipe(
        "paper",
        {
            **OPTIMIZER_RATES["sgd"],
            "optimizer": "sgd",
            "batch_size": 8,
            "adversarial": True,
            "p": 2,
            "lambda_adv": 0.05,
            "lambda_lp": 1.0,
            "lambda_gdl": 1.0,
        },
        "the paper's: SGD, G 0.04 -> 0.005, D 0.02, batch 8, lambdas 0.05 / 1 / 1",
    ),
    # weights/README.md: the first stage of both shipped models (20,000 steps on a CPU).
    "shipped-l2": Recipe(
        "small",
        {
            **_SHIPPED,
            "adversarial": False,
            "lr_g": 1e-3,
            "lr_g_final": 1e-4,
            "lr_d": 5e-4,
            "steps": 20_000,
        },
        "the shipped models' first stage: small, residual on the last input, Adam 1e-3 -> "
        "1e-4, batch 32, lambda_gdl 0.1, no discriminator, 20,000 steps",
    ),
    # weights/README.md: pacman-small-adv continues shipped-l2's last weights (-l).
    "shipped-adv": Recipe(
        "small",
        {
            **_SHIPPED,
            **_FINE_TUNE,
            "adversarial": True,
            "lambda_adv": 0.003,
            "lr_d": 2e-4,
            "d_design": "patch",
            "d_patch_width": 32,
            "d_sees_change": True,
        },
        "the shipped adversarial model: shipped-l2's weights (-l), then 1,000 steps at G's "
        "final rate with our patch discriminator (sees the change) and lambda_adv 0.003",
    ),
    # weights/README.md: pacman-small-l2, the adversarial model's control.
    "shipped-control": Recipe(
        "small",
        {**_SHIPPED, **_FINE_TUNE, "adversarial": False},
        "the shipped L2 model: shipped-l2's weights (-l), then the same 1,000 steps as "
        "shipped-adv without the discriminator",
    ),
}


def recipe(name: str) -> Recipe:
    """The training recipe called ``name`` (:data:`RECIPES`)."""
    if name not in RECIPES:
        raise MsganError(f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}")
    return RECIPES[name]


def apply_overrides(
    model_config: ModelConfig, config: TrainConfig, values: dict[str, Any]
) -> tuple[ModelConfig, TrainConfig]:
    """``model_config`` and ``config`` with ``values`` set, each routed by field name.

    A field of :class:`ModelConfig`, :class:`TrainConfig` or its :class:`LossConfig`; any
    other name is refused. Choosing another optimiser brings its learning rates
    (:data:`OPTIMIZER_RATES`) unless ``values`` sets them too.
    """
    owners = {
        "model": {f.name for f in dataclasses.fields(ModelConfig)},
        "loss": {f.name for f in dataclasses.fields(LossConfig)},
        "train": {f.name for f in dataclasses.fields(TrainConfig)} - {"loss"},
    }
    unknown = set(values) - set().union(*owners.values())
    if unknown:
        raise MsganError(f"unknown config fields {sorted(unknown)}")
    parts = {
        owner: {k: v for k, v in values.items() if k in names} for owner, names in owners.items()
    }
    train = parts["train"]
    if train.get("optimizer", config.optimizer) != config.optimizer:
        train = {**OPTIMIZER_RATES[train["optimizer"]], **train}
    loss = dataclasses.replace(config.loss, **parts["loss"])
    return (
        dataclasses.replace(model_config, **parts["model"]),
        dataclasses.replace(config, **train, loss=loss),
    )
