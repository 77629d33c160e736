"""The multi-scale generator and the conditional per-scale discriminators (chapter 02).

Mathieu, Couprie & LeCun, "Deep Multi-Scale Video Prediction Beyond Mean Square Error"
(ICLR 2016, arXiv:1511.05440), section 2.1 (the multi-scale network) and section 2.2
(adversarial training); layer sizes come from the paper's tables, held in
:class:`~msgan_lib.config.ModelConfig`.

The generator predicts the next frame coarse to fine. With ``n`` scales (the paper: 4, at
1/8, 1/4, 1/2 and 1 of the frame) and ``X_k`` the history average-pooled to scale k::

    Y_hat_0 = tanh( G'_0(X_0) )
    Y_hat_k = tanh( u(Y_hat_{k-1}) + G'_k(X_k, u(Y_hat_{k-1})) )      k = 1 .. n-1

``u`` is nearest-neighbour 2x upsampling (as in the official code) and ``G'_k`` a stack of
"same"-padded convolutions with ReLU between them and no normalisation. The ``u(...) +``
inside the tanh is the residual both public ports dropped: each scale only has to predict
a correction of the coarser guess. The generator is fully convolutional, so it runs on
whole 210x160 Ms. Pac-Man frames although it is trained on 32x32 crops.

Frames whose sides are not multiples of 2^(n-1) (210 is not a multiple of 8): the history
is padded at the bottom and right by reflection up to the next multiple, the pyramid runs
on the padded frame with exact 2x steps, and every scale's prediction is cropped back to
``floor(H / 2^(n-1-k)) x floor(W / 2^(n-1-k))`` from the top-left corner. Those are the
sizes (and the pixels) of the average-pool pyramid of the unpadded frame, so for 210x160
the scales are 26x20, 52x40, 105x80 and 210x160 and the last one is exactly the input.
Padding only the bottom and right leaves the top border (the Ms. Pac-Man maze's edge)
untouched, and reflection continues the image instead of smearing its last row (the
replicate padding of an earlier trial here) or inventing a grey band (zeros).

Option (ours, off in every preset): ``residual_on_last_input``. The paper's pyramid then
predicts half the *change* from the last input frame, ``Y_k = L_k + 2 * Y_hat_k`` with
``L_k`` the last frame average-pooled to scale k. On Atari frames, where about 1% of pixels
move, this makes "copy the static maze, score and lives" the starting point instead of
something every scale must learn; the adversarial and Lp/GDL losses are unchanged.

Option (ours, beyond the paper): ``action_names`` (Oh et al., NeurIPS 2015). The networks
also read the player's actions: ``actions`` ``(B, T)`` holds, for each of the T history
frames, the action held while it became the next frame, so the last entry is the action
that makes the frame being predicted; ``a`` is their one-hot code, ``T * A`` numbers for
``A`` actions (:func:`action_one_hot`). In the generator every hidden layer l of every
scale adds an action bias ``W_l a`` to its feature maps before the ReLU, one number per
feature map (:class:`Generator`): a bias before a ReLU switches feature maps on and off,
so the action can select, say, the maps that move Ms. Pac-Man's sprite left. The ``W_l``
start at zero, so an unconditioned generator's weights start an action model as the same
function, and they train at their own rate (``TrainConfig.lr_actions``): our first
design, one-hot planes read by the first layer only and trained at the generator's
rate, had not learnt to use the actions after 1,000 steps (shuffling them changed the
loss by under 0.3%). With ``action_gains`` every hidden map is also scaled by the action,
``x * (1 + V_l a) + W_l a`` (FiLM, Perez et al. 2018), zero at the start like ``W_l``: a
bias shifts a map on every pixel, while a gain acts only where the map fires, so a map
that detects her sprite can be turned up or down by the action there alone (the gains
also load onto an action model trained without them). The discriminator reads ``a`` as
``T * A`` constant input planes appended after its other inputs (:func:`add_action_inputs`
extends an unconditioned one).

The discriminator has one network per scale. Scale k's network sees the history at scale k
and one candidate next frame at scale k (real or generated), so it judges the frame *given*
the past (the paper's conditional discriminator; both ports showed it the frame alone):
unpadded ("valid") convolutions with ReLU, then fully connected layers ending in one logit.
The fully connected layers fix its input size to the training crop (``config.crop_size``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from msgan_lib.config import ModelConfig
from msgan_lib.fileio import MsganError


def downsample(frames: torch.Tensor, factor: int) -> torch.Tensor:
    """Average pooling by ``factor`` (the official code's downsampling); factor 1 is a no-op."""
    return F.avg_pool2d(frames, factor) if factor > 1 else frames


def upsample(frames: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2x upsampling (the official code's choice): ``(B, C, 2h, 2w)``."""
    return F.interpolate(frames, scale_factor=2, mode="nearest")


def pad_to_multiple(frames: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad the bottom and right of ``(B, C, H, W)`` up to multiples of ``multiple``.

    Needs ``H, W >= multiple`` (reflection cannot pad more than the side minus one); a frame
    whose sides are already multiples is returned as it is.
    """
    height, width = frames.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not (pad_h or pad_w):
        return frames
    return F.pad(frames, (0, pad_w, 0, pad_h), mode="reflect")  # (B, C, H + pad_h, W + pad_w)


def check_frame_size(height: int, width: int, n_scales: int, who: str) -> None:
    """Both sides must hold at least one pixel of the coarsest scale (1/2^(n-1) of the frame).

    The one check of a frame size against a pyramid, used by the generator, the per-scale
    targets of the losses and prediction; ``who`` names the caller in the message.
    """
    multiple = 2 ** (n_scales - 1)
    if height < multiple or width < multiple:
        raise MsganError(
            f"{who}: a {height}x{width} frame is too small for {n_scales} scales: the "
            f"coarsest scale is 1/{multiple} of the frame, so both sides need at least "
            f"{multiple} pixels"
        )


def pyramid_round_trip(
    frames: torch.Tensor, n_scales: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """A frame down the pyramid and one step back up, as the generator sees it.

    Returns ``(levels, from_coarser)``. ``levels[k]`` is ``frames`` ``(B, C, H, W)``
    average-pooled to scale k, coarsest first, at the generator's output size for scale k
    (the padding and cropping of :class:`Generator`). ``from_coarser[k - 1]`` is level k-1
    upsampled to scale k (for k = 1 .. n-1): what scale k would receive from a perfect
    coarser scale. ``levels[k] - from_coarser[k - 1]`` is the detail that only scale k can
    add, the "Laplacian" of the pyramid.
    """
    height, width = frames.shape[-2:]
    check_frame_size(height, width, n_scales, "pyramid_round_trip")
    padded = pad_to_multiple(frames, 2 ** (n_scales - 1))  # (B, C, Hp, Wp)
    factors = [2 ** (n_scales - 1 - k) for k in range(n_scales)]
    pooled = [downsample(padded, f) for f in factors]  # (B, C, Hp / f, Wp / f) per scale
    sizes = [(height // f, width // f) for f in factors]
    levels = [p[:, :, :h, :w] for p, (h, w) in zip(pooled, sizes, strict=True)]
    from_coarser = [upsample(pooled[k - 1])[:, :, :h, :w] for k, (h, w) in enumerate(sizes) if k]
    return levels, from_coarser


def _scale_name(config: ModelConfig, k: int) -> str:
    """``"1/8"`` ... ``"1"``: scale k's size relative to the frame."""
    factor = 2 ** (config.n_scales - 1 - k)
    return "1" if factor == 1 else f"1/{factor}"


def check_history(history: Any, who: str, frames: int | None = None) -> int:
    """Raise MsganError unless ``history`` is a float ``(B, 3*T, H, W)`` tensor; return T.

    ``frames``: the T a model reads (``None`` accepts any). The one check of the models'
    input, used by the networks, prediction and the baselines of :mod:`msgan_lib.metrics`.
    """
    channels = "3*T" if frames is None else str(3 * frames)
    if not isinstance(history, torch.Tensor) or history.dim() != 4:
        shape = tuple(history.shape) if isinstance(history, torch.Tensor) else type(history)
        raise MsganError(
            f"{who}: the history must be a tensor shaped (B, {channels}, H, W) (RGB frames "
            f"stacked on the channel axis, oldest first), got {shape}"
        )
    count = history.shape[1]
    if count == 0 or count % 3 or (frames is not None and count != 3 * frames):
        wanted = "3*T channels (T RGB frames)" if frames is None else f"{channels} channels"
        raise MsganError(
            f"{who}: the history has {count} channels but must have {wanted}; got shape "
            f"{tuple(history.shape)}"
        )
    if not history.is_floating_point():
        raise MsganError(
            f"{who}: the history has dtype {history.dtype}; the models take floats in "
            "[-1, 1] (uint8 frames: x / 127.5 - 1)"
        )
    return count // 3


def action_one_hot(actions: Any, config: ModelConfig, who: str) -> torch.Tensor | None:
    """The actions ``(B, T)`` (indices into ``config.action_names``) as one-hot codes.

    Returns ``(B, T*A)`` floats, entry ``t*A + a`` one where the t-th action is ``a``;
    ``None`` for an unconditioned model, which must get no actions. The one check of the
    actions a network reads.
    """
    if not config.action_count:
        if actions is not None:
            raise MsganError(f"{who}: this model is not action-conditioned; pass no actions")
        return None
    history, count = config.history, config.action_count
    if actions is None:
        raise MsganError(
            f"{who}: this model is action-conditioned ({', '.join(config.action_names)}): "
            f"pass the actions, a (B, {history}) tensor of action indices"
        )
    if not isinstance(actions, torch.Tensor) or actions.dim() != 2 or actions.shape[1] != history:
        shape = tuple(actions.shape) if isinstance(actions, torch.Tensor) else type(actions)
        raise MsganError(f"{who}: actions must be shaped (B, {history}), got {shape}")
    if (
        actions.dtype.is_floating_point
        or actions.numel()
        and not (0 <= int(actions.min()) and int(actions.max()) < count)
    ):
        raise MsganError(f"{who}: actions must be integer indices in 0 .. {count - 1}")
    return F.one_hot(actions.long(), count).flatten(1).float()  # (B, T*A)


def add_action_inputs(
    state: dict[str, torch.Tensor], config: ModelConfig, prefix: str = "scales"
) -> dict[str, torch.Tensor]:
    """An unconditioned discriminator's weights extended to ``config``'s action model.

    ``state`` is the ``state_dict`` of a :class:`Discriminator`; the first layer of every
    scale gets zero weights for the ``T * A`` action planes, which come last in its input,
    so the extended network computes exactly what the unconditioned one did until
    training moves the new weights. (The generator's action weights are separate modules,
    zero when made: :meth:`Generator.load_unconditioned`.)
    """
    extended = dict(state)
    for k in range(config.n_scales):
        first = next(
            key for key in state if key.startswith(f"{prefix}.{k}.") and key.endswith("weight")
        )
        weight = state[first]  # (out, in, kh, kw)
        zeros = weight.new_zeros(weight.shape[0], config.action_channels, *weight.shape[2:])
        extended[first] = torch.cat([weight, zeros], dim=1)  # (out, in + T*A, kh, kw)
    return extended


def conv_stack(
    in_channels: int, feature_maps: tuple[int, ...], kernels: tuple[int, ...]
) -> nn.Sequential:
    """``G'_k``: "same"-padded convolutions, ReLU between them, a 3-channel output layer.

    ``feature_maps`` are the hidden layers' widths (the paper's table without the final 3);
    ``kernels`` has one odd size per layer, output layer included. No activation after the
    last layer: the generator adds the upsampled coarser prediction before the tanh.
    """
    widths = [in_channels, *feature_maps, 3]
    layers: list[nn.Module] = []
    for i, kernel in enumerate(kernels):
        layers.append(nn.Conv2d(widths[i], widths[i + 1], kernel, padding=kernel // 2))
        if i < len(kernels) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def stack_with_actions(
    net: nn.Sequential, x: torch.Tensor, biases: list[torch.Tensor], gains: list[torch.Tensor]
) -> torch.Tensor:
    """Run a :func:`conv_stack` whose hidden layer l's maps become ``x * (1 + gains[l]) +
    biases[l]`` before its ReLU (both ``(B, C_l)``; ``gains`` empty: biases only; the output
    layer gets neither)."""
    hidden = 0
    for layer in net:
        x = layer(x)
        if isinstance(layer, nn.Conv2d) and hidden < len(biases):
            if gains:
                x = x * (1 + gains[hidden][:, :, None, None])  # (B, C_l, h, w)
            x = x + biases[hidden][:, :, None, None]  # (B, C_l, h, w)
            hidden += 1
    return x


def _per_map(maps: nn.ModuleList, code: torch.Tensor, dtype: torch.dtype) -> list[torch.Tensor]:
    """Each bias-free map's ``(B, C_l)`` output for the one-hot ``code`` ``(B, T*A)``, computed
    in the map's dtype and returned in ``dtype``."""
    return [w(code.to(w.weight.dtype)).to(dtype) for w in maps]


class Generator(nn.Module):
    """The paper's multi-scale generator: ``forward(history)`` -> per-scale predictions.

    ``scales[k]`` is ``G'_k``. Scale 0 reads the ``3T`` history channels; every finer scale
    also reads the 3 channels of the upsampled coarser prediction (``3T + 3``: 12 then 15
    for the paper's 4 frames). An action model also has ``action_biases[k][l]``, the
    bias-free linear map ``W_l`` from the actions' one-hot code to one bias per feature
    map of scale k's hidden layer l, zero when made (see the module docstring), and with
    ``config.action_gains`` ``action_gains[k][l]``, the same kind of map to one gain per
    feature map.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        in_history = 3 * config.history
        self.scales = nn.ModuleList(
            conv_stack(in_history if k == 0 else in_history + 3, maps, kernels)
            for k, (maps, kernels) in enumerate(
                zip(config.g_feature_maps, config.g_kernels, strict=True)
            )
        )
        self.action_biases = nn.ModuleList(
            nn.ModuleList(nn.Linear(config.action_channels, width, bias=False) for width in maps)
            for maps in (config.g_feature_maps if config.action_count else ())
        )
        gained = config.action_count and config.action_gains
        self.action_gains = nn.ModuleList(
            nn.ModuleList(nn.Linear(config.action_channels, width, bias=False) for width in maps)
            for maps in (config.g_feature_maps if gained else ())
        )
        for weight in [*self.action_biases.parameters(), *self.action_gains.parameters()]:
            nn.init.zeros_(weight)  # the unconditioned function until training moves them

    def load_unconditioned(self, state: dict[str, torch.Tensor]) -> None:
        """Load a generator's ``state_dict`` that lacks some of this model's action weights
        (an unconditioned one, or an action model without gains), those weights left at
        zero: the same function until training moves them."""
        own = self.state_dict()
        self.load_state_dict({**{k: own[k] for k in own if k.startswith("action_")}, **state})

    def forward(
        self, history: torch.Tensor, actions: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """Predict the next frame at every scale, coarsest first.

        ``history``: ``(B, 3*T, H, W)`` in [-1, 1], oldest frame first, any ``H, W >=
        2^(n-1)``. ``actions``: ``(B, T)`` action indices, for an action model only (see
        the module docstring). Returns ``n`` tensors; scale k is ``(B, 3, H // 2^(n-1-k),
        W // 2^(n-1-k))`` in [-1, 1] and the last is ``(B, 3, H, W)``. With
        ``config.residual_on_last_input`` scale k is ``L_k + 2 * Y_hat_k`` (``L_k``: the last
        input frame at scale k), which can leave [-1, 1] slightly: the losses pull it back in
        training and :mod:`msgan_lib.predict` clamps it.
        """
        check_history(history, "Generator", self.config.history)
        n = self.config.n_scales
        height, width = history.shape[-2:]
        check_frame_size(height, width, n, "Generator")
        history = pad_to_multiple(history, 2 ** (n - 1))  # (B, 3T, Hp, Wp), cropped off below
        code = action_one_hot(actions, self.config, "Generator")  # (B, T*A) or None

        predictions: list[torch.Tensor] = []
        previous: torch.Tensor | None = None
        for k, net in enumerate(self.scales):
            factor = 2 ** (n - 1 - k)
            x_k = downsample(history, factor)  # (B, 3T, h_k, w_k)
            up = None if previous is None else upsample(previous)  # (B, 3, h_k, w_k)
            x = x_k if up is None else torch.cat([x_k, up], dim=1)  # (B, 3T or 3T+3, ..)
            if code is None:
                out = net(x)  # (B, 3, h_k, w_k)
            else:
                # The code meets each W_l in W_l's dtype (bf16 in prediction, which casts the
                # model without autocast); the biases (B, C_l) join the maps in x's dtype.
                biases = _per_map(self.action_biases[k], code, x.dtype)
                gains = _per_map(self.action_gains[k], code, x.dtype) if self.action_gains else []
                out = stack_with_actions(net, x, biases, gains)
            y_k = torch.tanh(out if up is None else up + out)
            previous = y_k
            if self.config.residual_on_last_input:
                last_k = x_k[:, -3:]  # (B, 3, h_k, w_k): the last input frame at scale k
                y_k = last_k + 2.0 * y_k  # the pyramid predicts half the change
            predictions.append(y_k[:, :, : height // factor, : width // factor])
        return predictions


class ScaleDiscriminator(nn.Module):
    """``D_k``: valid convolutions + ReLU, then fully connected layers to one logit.

    Built for square inputs of side ``size``; the spatial size after the convolutions
    fixes the first fully connected layer's width.
    """

    def __init__(
        self,
        in_channels: int,
        size: int,
        conv_maps: tuple[int, ...],
        kernels: tuple[int, ...],
        fc_sizes: tuple[int, ...],
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, side = in_channels, size
        for maps, kernel in zip(conv_maps, kernels, strict=True):
            layers += [nn.Conv2d(channels, maps, kernel), nn.ReLU()]
            channels, side = maps, side - kernel + 1
        if side < 1:
            raise MsganError(
                f"discriminator convolutions with kernels {kernels} do not fit a {size}x{size} "
                "input; use smaller kernels or a larger crop_size"
            )
        layers.append(nn.Flatten())  # (B, channels * side * side)
        features = channels * side * side
        for i, width in enumerate(fc_sizes):
            layers.append(nn.Linear(features, width))
            if i < len(fc_sizes) - 1:
                layers.append(nn.ReLU())
            features = width
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3T+3, size, size)`` -> ``(B, 1)`` logits (no sigmoid: see ``losses``)."""
        return self.net(x)


class PatchScaleDiscriminator(nn.Module):
    """``D_k`` of the ``"patch"`` design (ours): a fully convolutional logit map, averaged.

    3x3 convolution to ``width`` maps, two 4x4 stride-2 convolutions to ``2 width`` and
    ``4 width``, a 3x3 convolution to one logit per location, LeakyReLU(0.2) between them
    (as in the usual patch discriminators of image-to-image GANs); the map's mean is the
    logit. Every layer is "same"-padded, so each location judges a small neighbourhood and a
    few wrong sprite pixels move the logit as much as they would anywhere in the crop.
    """

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        slope = 0.2
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.LeakyReLU(slope),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(slope),
            nn.Conv2d(2 * width, 4 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(slope),
            nn.Conv2d(4 * width, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, s, s)`` -> ``(B, 1)``: the mean of the ``(B, 1, s/4, s/4)`` logit map."""
        return self.net(x).mean(dim=(2, 3))


class Discriminator(nn.Module):
    """The per-scale conditional discriminators: ``forward(history, frames)``.

    ``config.d_design`` picks the paper's networks (:class:`ScaleDiscriminator`) or ours
    (:class:`PatchScaleDiscriminator`); with ``config.d_sees_change`` each network also reads
    the candidate frame minus the last input frame (3 more channels), the change that the
    generator must get right where sprites move.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        in_channels = 3 * config.history + (6 if config.d_sees_change else 3)
        in_channels += config.action_channels
        self.sizes = [
            config.crop_size // 2 ** (config.n_scales - 1 - k) for k in range(config.n_scales)
        ]
        if config.d_design == "patch":
            self.scales = nn.ModuleList(
                PatchScaleDiscriminator(in_channels, config.d_patch_width) for _ in self.sizes
            )
            return
        self.scales = nn.ModuleList(
            ScaleDiscriminator(in_channels, size, maps, kernels, fc)
            for size, maps, kernels, fc in zip(
                self.sizes, config.d_conv_maps, config.d_kernels, config.d_fc_sizes, strict=True
            )
        )

    def forward(
        self,
        history: torch.Tensor,
        frames: list[torch.Tensor],
        actions: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """One real/fake logit per scale for each candidate next frame, given the history
        (and, for an action model, the actions ``(B, T)``: D judges the frame given them).

        ``history``: ``(B, 3*T, S, S)`` full-size crops with ``S = config.crop_size``.
        ``frames``: the candidate next frame at every scale, coarsest first, as the
        generator returns them (or :func:`msgan_lib.losses.scale_targets` for real frames):
        scale k is ``(B, 3, S / 2^(n-1-k), S / 2^(n-1-k))``. Returns ``n`` tensors ``(B, 1)``.
        """
        check_history(history, "Discriminator", self.config.history)
        size = self.config.crop_size
        if tuple(history.shape[-2:]) != (size, size):
            raise MsganError(
                f"Discriminator: built for {size}x{size} crops (its fully connected layers fix "
                f"the size) but the history is {history.shape[-2]}x{history.shape[-1]}; "
                "only the generator runs on other frame sizes"
            )
        n = self.config.n_scales
        if not isinstance(frames, list | tuple) or len(frames) != n:
            count = len(frames) if isinstance(frames, list | tuple) else type(frames).__name__
            raise MsganError(
                f"Discriminator: expected a list of {n} per-scale frames (coarsest first, as "
                f"the generator returns them), got {count}"
            )
        code = action_one_hot(actions, self.config, "Discriminator")  # (B, T*A) or None
        logits = []
        for k, (net, frame, side) in enumerate(zip(self.scales, frames, self.sizes, strict=True)):
            expected = (history.shape[0], 3, side, side)
            if not isinstance(frame, torch.Tensor) or tuple(frame.shape) != expected:
                shape = tuple(frame.shape) if isinstance(frame, torch.Tensor) else type(frame)
                raise MsganError(
                    f"Discriminator: the frame for scale {k} ({_scale_name(self.config, k)}) "
                    f"must be shaped {expected}, got {shape}"
                )
            x_k = downsample(history, 2 ** (n - 1 - k))  # (B, 3T, side, side)
            inputs = [x_k, frame]
            if self.config.d_sees_change:
                inputs.append(frame - x_k[:, -3:])  # (B, 3, side, side): change from the last
            if code is not None:  # (B, T*A, side, side): constant planes
                inputs.append(code[:, :, None, None].expand(-1, -1, side, side).to(x_k.dtype))
            logits.append(net(torch.cat(inputs, dim=1)))  # in (B, 3T+3 [+3] [+T*A], side, side)
        return logits


def _forward_flops(net: nn.Sequential, height: int, width: int) -> int:
    """Forward FLOPs of ``net`` on one ``height x width`` input: a multiply-add counts 2.

    Counts convolutions and fully connected layers (the work of the network); biases,
    ReLU, tanh, pooling and upsampling add under 0.1% and are left out, as in
    ``torch.utils.flop_counter``.
    """
    flops = 0
    for layer in net:
        if isinstance(layer, nn.Conv2d):
            kh, kw = layer.kernel_size
            height = (height + 2 * layer.padding[0] - kh) // layer.stride[0] + 1
            width = (width + 2 * layer.padding[1] - kw) // layer.stride[1] + 1
            macs_per_pixel = layer.in_channels * layer.out_channels * kh * kw // layer.groups
            flops += 2 * macs_per_pixel * height * width
        elif isinstance(layer, nn.Linear):
            flops += 2 * layer.in_features * layer.out_features
    return flops


def model_summary(config: ModelConfig, height: int, width: int) -> list[dict[str, Any]]:
    """Parameters and forward FLOPs (per sample) of every scale, one dict per row.

    Rows: the generator's scales on a ``height x width`` frame, a ``"G"`` total, then the
    discriminator's scales on ``config.crop_size`` crops and a ``"D"`` total. Keys:
    ``network`` (``"G"``/``"D"``), ``scale`` (``"1/8"`` ... ``"1"`` or ``"total"``), ``size``
    (the size the scale computes on; for the generator the padded size, see the module
    docstring), ``params`` and ``flops`` (a multiply-add counts as 2 FLOPs). Format it with
    :func:`format_summary`.
    """
    if height < 1 or width < 1:
        raise MsganError(f"model_summary: frame size {height}x{width} must be positive")
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        generator, discriminator = Generator(config), Discriminator(config)
    n = config.n_scales
    multiple = 2 ** (n - 1)
    padded_h, padded_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
    rows: list[dict[str, Any]] = []
    for network, nets, sizes in (
        ("G", generator.scales, [(padded_h, padded_w)] * n),
        ("D", [d.net for d in discriminator.scales], [(config.crop_size,) * 2] * n),
    ):
        total_params = total_flops = 0
        for k, (net, (h, w)) in enumerate(zip(nets, sizes, strict=True)):
            factor = 2 ** (n - 1 - k)
            params = sum(p.numel() for p in net.parameters())
            flops = _forward_flops(net, h // factor, w // factor)
            rows.append(
                {
                    "network": network,
                    "scale": _scale_name(config, k),
                    "size": f"{h // factor}x{w // factor}",
                    "params": params,
                    "flops": flops,
                }
            )
            total_params, total_flops = total_params + params, total_flops + flops
        size = f"{sizes[-1][0]}x{sizes[-1][1]}"
        rows.append(
            {
                "network": network,
                "scale": "total",
                "size": size,
                "params": total_params,
                "flops": total_flops,
            }
        )
    return rows


def format_summary(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`model_summary` rows (params in thousands, GFLOP)."""
    lines = [
        "| network | scale | size | parameters | forward GFLOP |",
        "|---|---|---|--:|--:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['network']} | {row['scale']} | {row['size']} | {row['params']:,} | "
            f"{row['flops'] / 1e9:.4g} |"
        )
    return "\n".join(lines)
