"""The generator and discriminator objectives (chapter 03).

Mathieu, Couprie & LeCun, "Deep Multi-Scale Video Prediction Beyond Mean Square Error"
(ICLR 2016, arXiv:1511.05440), section 2: the Lp loss, adversarial training and the image
gradient difference loss. Symbols follow the paper: ``Y`` is the true next frame, ``Y_hat``
the prediction, ``X`` the history, ``k`` the scale (coarsest first, as the generator returns
its predictions).

Normalisation, stated once: every image loss is a **mean** over batch, channels and pixels
(the Chainer port summed, so its loss scale depended on the crop size), and the binary
cross-entropy is a mean over the batch. The generator objective adds the per-scale losses:

    L_G = sum_k  lambda_adv L_adv^G(k) + lambda_lp L_p(Y_k, Y_hat_k)
               + lambda_gdl L_gdl(Y_k, Y_hat_k)

The earlier ports' loss bugs that this module avoids: Lp and GDL at the finest scale only,
the GDL on RGB-summed gradients, ``log(sigmoid(.))`` that reaches ``log(0)`` (here every
cross-entropy is computed from logits), and discriminator outputs fed back to the generator
as constants (here the logits stay in the autograd graph, so the adversarial gradient
reaches every generator scale; ``tests/test_losses.py`` checks it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from msgan_lib.config import LossConfig
from msgan_lib.fileio import MsganError
from msgan_lib.model import check_frame_size

# The generator's terms as generator_loss names them in ``terms``, with their plot labels:
# the one line a new term adds besides its function and its weight in LossConfig.
TERM_LABELS: dict[str, str] = {"lp": "$L_p$", "gdl": "GDL", "adv": "$L_{adv}$ (G)"}


def _check_same_shape(pred: torch.Tensor, target: torch.Tensor, what: str) -> None:
    """Raise a clear error when a prediction and its target do not line up."""
    if pred.shape != target.shape:
        raise MsganError(
            f"{what}: prediction shape {tuple(pred.shape)} differs from target shape "
            f"{tuple(target.shape)}; predictions and targets must match scale by scale"
        )
    if pred.dim() != 4:
        raise MsganError(f"{what}: expected images shaped (B, C, H, W), got {tuple(pred.shape)}")


def _check_exponent(value: float, name: str) -> None:
    """Exponents below 1 have an infinite gradient at zero error, so they are refused."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 1):
        raise MsganError(f"{name} = {value!r} is not supported: use a number >= 1 (paper: 1 or 2)")


def _abs_pow(x: torch.Tensor, exponent: float) -> torch.Tensor:
    """``|x| ** exponent``, skipping the power for the common exponent 1."""
    return x.abs() if exponent == 1 else x.abs().pow(exponent)


def lp_loss(
    pred: torch.Tensor, target: torch.Tensor, p: float, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """The paper's reconstruction loss, averaged over batch, channels and pixels.

        L_p(Y, Y_hat) = mean_{b,c,i,j} | Y - Y_hat |^p          (paper: p = 1 or 2)

    With p = 2 its minimiser over an uncertain future is the mean of the possible frames
    (the blur of chapter 03); with p = 1 it is their per-pixel median. ``weight`` (ours),
    ``(B, 1, H, W)`` positive: the weighted mean ``sum w |Y - Y_hat|^p / sum w`` instead
    (:func:`moving_weights`).
    """
    _check_same_shape(pred, target, "lp_loss")
    _check_exponent(p, "p")
    error = _abs_pow(target - pred, p)  # (B, C, H, W)
    if weight is None:
        return error.mean()
    return (error * weight).mean() / weight.mean()


def moving_weights(moving: torch.Tensor, n_scales: int, weight: float) -> list[torch.Tensor]:
    """Per-scale pixel weights of the Lp loss, coarsest first, each ``(B, 1, h, w)``:
    ``weight`` where ``moving`` ``(B, H, W)`` (:func:`msgan_lib.metrics.moving_mask` of the
    true previous frame and the target) is set, 1 elsewhere, average-pooled like
    :func:`scale_targets`. On Atari crops about 2% of the pixels move, so the plain mean
    is mostly the static maze; ``weight`` 10 gives the moving ones about a fifth of it."""
    return scale_targets(1.0 + (weight - 1.0) * moving[:, None].float(), n_scales)


def image_gradients(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute neighbour differences of each channel separately.

        g_i[i, j] = |Y[i, j] - Y[i-1, j]|    shape (B, C, H-1, W)
        g_j[i, j] = |Y[i, j-1] - Y[i, j]|    shape (B, C, H, W-1)

    The GDL compares them; the sharpness-difference metric of :mod:`msgan_lib.metrics`
    sums the same differences.
    """
    g_i = (image[:, :, 1:, :] - image[:, :, :-1, :]).abs()  # (B, C, H-1, W)
    g_j = (image[:, :, :, :-1] - image[:, :, :, 1:]).abs()  # (B, C, H, W-1)
    return g_i, g_j


def gdl_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """The image gradient difference loss (GDL) of the paper, per colour channel.

        L_gdl(Y, Y_hat) = mean | |Y[i,j] - Y[i-1,j]| - |Y_hat[i,j] - Y_hat[i-1,j]| |^alpha
                        + mean | |Y[i,j-1] - Y[i,j]| - |Y_hat[i,j-1] - Y_hat[i,j]| |^alpha

    Each term is averaged over its valid neighbour pairs ((H-1)·W vertical, H·(W-1)
    horizontal), batch and channels. Gradients are taken on every channel separately: the
    Chainer port summed R, G and B before differencing, so an edge between two colours of
    equal sum was invisible to it. The loss ignores a constant offset (it only sees edges):
    it rewards predicting edges as sharp as the target's, wherever the Lp term puts them.
    """
    _check_same_shape(pred, target, "gdl_loss")
    _check_exponent(alpha, "alpha")
    y_i, y_j = image_gradients(target)
    y_hat_i, y_hat_j = image_gradients(pred)
    return _abs_pow(y_i - y_hat_i, alpha).mean() + _abs_pow(y_j - y_hat_j, alpha).mean()


def _as_list(logits: torch.Tensor | Sequence[torch.Tensor], what: str) -> list[torch.Tensor]:
    """One tensor or a per-scale list of tensors, as a list."""
    if isinstance(logits, torch.Tensor):
        return [logits]
    as_list = list(logits)
    if not as_list or not all(isinstance(x, torch.Tensor) for x in as_list):
        raise MsganError(f"{what}: expected a tensor of logits or a non-empty list of them")
    return as_list


def d_adversarial_loss(
    real_logits: torch.Tensor | Sequence[torch.Tensor],
    fake_logits: torch.Tensor | Sequence[torch.Tensor],
) -> torch.Tensor:
    """The discriminator's objective of the paper, summed over scales.

        L_adv^D = sum_k  L_bce(D_k(X_k, Y_k), 1) + L_bce(D_k(X_k, G_k(X)), 0)
        L_bce(z, t) = mean_b  -[ t log sigmoid(z) + (1 - t) log(1 - sigmoid(z)) ]

    ``real_logits`` and ``fake_logits`` are D's logits ``z`` (one ``(B, 1)`` tensor per scale,
    or a single tensor). The cross-entropy is computed from logits with the log-sum-exp form,
    so it stays finite for any logit (the Chainer port's ``log(sigmoid(z))`` gave log(0)).
    The caller detaches the fake frames before D sees them: D's step must not backpropagate
    through the generator.
    """
    real, fake = _as_list(real_logits, "d_adversarial_loss"), _as_list(fake_logits, "fake")
    if len(real) != len(fake):
        raise MsganError(
            f"d_adversarial_loss: {len(real)} scales of real logits but {len(fake)} of fake"
        )
    total = real[0].new_zeros(())
    for z_real, z_fake in zip(real, fake, strict=True):
        total = total + F.binary_cross_entropy_with_logits(z_real, torch.ones_like(z_real))
        total = total + F.binary_cross_entropy_with_logits(z_fake, torch.zeros_like(z_fake))
    return total


def g_adversarial_loss(fake_logits: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """The generator's adversarial term of the paper, summed over scales.

        L_adv^G = sum_k L_bce(D_k(X_k, G_k(X)), 1)

    The generator wants D to call its frames real. Its gradient reaches G only if
    ``fake_logits`` were computed from the generator's predictions without detaching them
    (the TensorFlow port fed them back as constants, so its "adversarial" model never
    received this term's gradient).
    """
    total: torch.Tensor | None = None
    for z_fake in _as_list(fake_logits, "g_adversarial_loss"):
        term = F.binary_cross_entropy_with_logits(z_fake, torch.ones_like(z_fake))
        total = term if total is None else total + term
    assert total is not None  # _as_list never returns an empty list
    return total


def scale_targets(target: torch.Tensor, n_scales: int) -> list[torch.Tensor]:
    """The true frame at every scale of the pyramid, coarsest first.

        Y_k = avgpool_{2^(n-1-k)}(Y),   k = 0 (the coarsest) ... n-1 (Y itself)

    Average pooling is how the generator downsamples its input, so the targets are the
    frames each scale is asked to predict. Sides that do not divide exactly are floored
    (210 -> 26, 52, 105, 210 for four scales), which is also the size and content of the
    generator's cropped per-scale outputs (see ``msgan_lib.model``); training crops (32 =
    4 * 8) divide exactly.
    """
    if target.dim() != 4:
        raise MsganError(f"scale_targets: expected (B, C, H, W), got {tuple(target.shape)}")
    if not isinstance(n_scales, int) or n_scales < 1:
        raise MsganError(f"scale_targets: n_scales = {n_scales!r} must be a positive integer")
    check_frame_size(*target.shape[-2:], n_scales, "scale_targets")
    return [
        F.avg_pool2d(target, 2**k) if k else target  # (B, C, H // 2^k, W // 2^k)
        for k in reversed(range(n_scales))
    ]


def generator_loss(
    preds: Sequence[torch.Tensor],
    targets: Sequence[torch.Tensor],
    fake_logits: Sequence[torch.Tensor] | None,
    config: LossConfig,
    weights: Sequence[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The paper's combined generator objective, summed over scales.

        L_G = sum_k  lambda_adv L_adv^G(k) + lambda_lp L_p(Y_k, Y_hat_k)
                   + lambda_gdl L_gdl(Y_k, Y_hat_k)

    ``preds`` and ``targets`` are per-scale lists, coarsest first (the generator's output and
    :func:`scale_targets`). ``fake_logits`` are D's per-scale logits on ``preds`` (not
    detached), or ``None`` to train without the adversarial term (the Lp / GDL baselines):
    then ``lambda_adv`` is ignored. ``weights``: per-scale pixel weights of the Lp term
    (:func:`moving_weights`), or ``None`` for the paper's plain means.

    Returns ``(total, terms)``: ``terms`` holds the unweighted losses summed over scales,
    detached for logging, under ``"lp"``, ``"gdl"`` and (only when ``fake_logits`` is given)
    ``"adv"``.
    """
    preds, targets = list(preds), list(targets)
    if not preds:
        raise MsganError("generator_loss: no predictions were given")
    if len(preds) != len(targets):
        raise MsganError(
            f"generator_loss: {len(preds)} predicted scales but {len(targets)} targets; "
            "build the targets with scale_targets(frame, n_scales)"
        )
    for k, (pred, target) in enumerate(zip(preds, targets, strict=True)):
        _check_same_shape(pred, target, f"generator_loss, scale {k}")

    pairs = list(zip(preds, targets, strict=True))
    per_scale = [None] * len(pairs) if weights is None else list(weights)
    lp = torch.stack(
        [
            lp_loss(pred, target, config.p, w)
            for (pred, target), w in zip(pairs, per_scale, strict=True)
        ]
    ).sum()
    gdl = torch.stack([gdl_loss(pred, target, config.alpha) for pred, target in pairs]).sum()
    total = config.lambda_lp * lp + config.lambda_gdl * gdl
    terms = {"lp": lp.detach(), "gdl": gdl.detach()}
    if fake_logits is not None:
        fake = _as_list(fake_logits, "generator_loss")
        if len(fake) != len(preds):
            raise MsganError(
                f"generator_loss: {len(fake)} scales of discriminator logits but "
                f"{len(preds)} predicted scales"
            )
        adv = g_adversarial_loss(fake)
        total = total + config.lambda_adv * adv
        terms["adv"] = adv.detach()
    return total, terms
