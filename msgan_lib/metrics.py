"""Image-quality metrics and the two baselines every model is judged against (chapter 05).

Implements the evaluation of Mathieu, Couprie & LeCun (2016), section 4 ("Experiments"):
PSNR, SSIM and the sharpness difference of a predicted frame against the true one, each on
the full frame and on the pixels that move.

Conventions (all public functions):

- Frames are ``(B, 3, H, W)`` float tensors in [0, 1] (``MAX = 1`` in the paper's formulas).
  The models work in [-1, 1]; convert with :func:`to_unit`. Every metric returns one value
  per sample, a ``(B,)`` float64 tensor, so callers can average over windows themselves.
- ``mask`` is an optional ``(B, H, W)`` (or ``(B, 1, H, W)``) boolean tensor selecting the
  pixels that count, e.g. :func:`moving_mask`. A sample whose mask selects no pixel gets
  ``NaN``: there is nothing to score. :func:`summarize` leaves NaNs out of its mean and
  std and reports how many values remain in ``n``.
- A perfect prediction would make PSNR and the sharpness difference infinite
  (``log10(1 / 0)``). Both are capped at :data:`MAX_DB` (100 dB, an error of 1e-10), so means
  stay finite; skimage's ``peak_signal_noise_ratio`` returns ``inf`` there instead.

The paper scores only moving areas, selected by optical flow. :func:`moving_mask` is a
simple stand-in: a pixel moves if any of its channels differs between the last input frame
and the true next frame. On Ms. Pac-Man about 1% of pixels move, so full-frame scores are
dominated by the static maze and moving-pixel scores flatter blurry guesses: a model must
beat both :func:`last_input` (copy the last frame forward) and :func:`history_mean` (the
mean of the history, a deliberately blurry guess) to mean anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch

from msgan_lib.fileio import MsganError
from msgan_lib.losses import image_gradients
from msgan_lib.model import check_history

MAX_DB = 100.0  # cap of PSNR and sharpness difference (dB) for an error of exactly 0
_MIN_ERROR = 10.0 ** (-MAX_DB / 10.0)  # the error at which 10 log10(1 / error) = MAX_DB
SSIM_SIGMA = 1.5  # paper / Wang et al. 2004: Gaussian window, sigma 1.5 (11 x 11 taps)
_SSIM_WINDOW = 2 * int(3.5 * SSIM_SIGMA + 0.5) + 1  # skimage's Gaussian window: 11 taps
_SSIM_PAD = (_SSIM_WINDOW - 1) // 2  # skimage averages the map without this border: 5 px
_RANGE_SLACK = 1e-5  # rounding slack allowed outside [0, 1]

METRICS: tuple[str, ...] = ("psnr", "ssim", "sharp_diff")
REGIONS: tuple[str, ...] = ("full", "moving")


def to_unit(frames: torch.Tensor) -> torch.Tensor:
    """Frames in the models' range [-1, 1] -> [0, 1] float32, clamped (bf16 may overshoot)."""
    return ((frames.float() + 1.0) / 2.0).clamp(0.0, 1.0)


def _check_frames(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Raise MsganError unless both are equal-shaped (B, 3, H, W) finite tensors in [0, 1]."""
    for name, frames in (("pred", pred), ("target", target)):
        if not isinstance(frames, torch.Tensor):
            raise MsganError(f"{name} must be a torch tensor, got {type(frames).__name__}")
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise MsganError(f"{name} must be shaped (B, 3, H, W), got {tuple(frames.shape)}")
        if not frames.is_floating_point():
            raise MsganError(f"{name} must be a float tensor in [0, 1], got {frames.dtype}")
        if frames.numel() == 0:
            raise MsganError(f"{name} is empty: shape {tuple(frames.shape)}")
        low, high = (value.item() for value in torch.aminmax(frames))  # NaN propagates
        if math.isnan(low) or math.isnan(high):
            raise MsganError(f"{name} contains NaN")
        if not (low >= -_RANGE_SLACK and high <= 1.0 + _RANGE_SLACK):
            raise MsganError(
                f"{name} must be in [0, 1] but spans [{low:.3g}, {high:.3g}]; "
                "frames in [-1, 1] go through msgan_lib.metrics.to_unit first"
            )
    if pred.shape != target.shape:
        raise MsganError(
            f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
        )


def _check_mask(mask: torch.Tensor | None, frames: torch.Tensor) -> torch.Tensor | None:
    """The mask as a (B, H, W) bool tensor matching ``frames``, or None."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise MsganError(f"mask must be a torch tensor, got {type(mask).__name__}")
    batch, _, height, width = frames.shape
    if mask.dim() == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]  # (B, H, W)
    if tuple(mask.shape) != (batch, height, width):
        raise MsganError(
            f"mask must be shaped (B, H, W) = {(batch, height, width)}, got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        raise MsganError(f"mask must be a bool tensor, got {mask.dtype}")
    return mask.to(frames.device)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Per-sample mean of a ``(B, C, H, W)`` map over all of it or over the masked pixels.

    ``mask`` is ``(B, H, W)`` bool. Sums accumulate in float64. Returns ``(B,)`` float64;
    NaN where the mask selects nothing.
    """
    if mask is None:
        return values.flatten(1).sum(1, dtype=torch.float64) / values[0].numel()
    count = mask.flatten(1).sum(1).double() * values.shape[1]
    total = (values * mask[:, None]).flatten(1).sum(1, dtype=torch.float64)  # mask (B,1,H,W)
    return torch.where(count > 0, total / count.clamp(min=1), torch.nan)


def _decibels(error: torch.Tensor) -> torch.Tensor:
    """10 log10(MAX^2 / error) with MAX = 1, capped at MAX_DB; NaN stays NaN."""
    return 10.0 * torch.log10(1.0 / error.clamp(min=_MIN_ERROR))


def psnr(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Peak signal-to-noise ratio per sample, in dB: PSNR = 10 log10(MAX^2 / MSE), MAX = 1.

    The MSE averages over the three channels of every pixel (or of every masked pixel).
    Capped at :data:`MAX_DB` for a perfect prediction. Returns ``(B,)`` float64.
    """
    _check_frames(pred, target)
    return _decibels(_masked_mean(_squared_error(pred, target), _check_mask(mask, pred)))


def _squared_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(pred - target)^2`` per channel and pixel, float32 ``(B, 3, H, W)``."""
    return (pred.float() - target.float()) ** 2


def ssim_map(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM, ``(B, H, W)`` float64, averaged over the colour channels.

    Computed by scikit-image's ``structural_similarity`` with the standard settings of Wang
    et al. (2004): Gaussian window with sigma 1.5, population covariance, data range 1.
    """
    _check_frames(pred, target)
    return _ssim_map(pred, target)


def _ssim_map(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """:func:`ssim_map` without the input checks."""
    height, width = pred.shape[-2:]
    if min(height, width) < _SSIM_WINDOW:
        raise MsganError(
            f"SSIM needs frames of at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels (its Gaussian "
            f"window), got {height}x{width}"
        )
    # Imported here: the other metrics, and prediction, need no scikit-image.
    from skimage.metrics import structural_similarity

    pred_np = pred.detach().double().cpu().permute(0, 2, 3, 1).numpy()  # (B, H, W, 3)
    target_np = target.detach().double().cpu().permute(0, 2, 3, 1).numpy()
    maps = []
    for one_pred, one_target in zip(pred_np, target_np, strict=True):
        _, full = structural_similarity(
            one_pred,
            one_target,
            gaussian_weights=True,
            sigma=SSIM_SIGMA,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
            full=True,
        )
        maps.append(full.mean(axis=-1))  # (H, W)
    return torch.from_numpy(np.stack(maps))  # (B, H, W)


def _ssim_from_map(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean SSIM over the interior of each map (or the masked interior pixels).

    scikit-image averages the map after cropping a 5-pixel border, where the Gaussian
    window reaches outside the frame; the masked version crops the same border so that an
    all-true mask gives exactly the unmasked value.
    """
    _, height, width = values.shape
    interior = (
        slice(None),
        slice(_SSIM_PAD, height - _SSIM_PAD),
        slice(_SSIM_PAD, width - _SSIM_PAD),
    )
    cropped_mask = None if mask is None else mask.cpu()[interior]  # (B, h, w)
    return _masked_mean(values[interior][:, None], cropped_mask)


def ssim(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Structural similarity per sample (scikit-image, Gaussian window sigma 1.5).

    Without a mask this equals ``skimage.metrics.structural_similarity(..., channel_axis)``;
    with a mask the SSIM map is averaged over the masked pixels (border crop as skimage).
    Returns ``(B,)`` float64 in [-1, 1].
    """
    _check_frames(pred, target)
    return _ssim_from_map(_ssim_map(pred, target), _check_mask(mask, pred))


def _gradient_sum(frames: torch.Tensor) -> torch.Tensor:
    """gx + gy: the absolute neighbour differences of :func:`msgan_lib.losses.image_gradients`
    (the GDL's), per channel, on the common ``(H-1, W-1)`` grid where both exist, so no
    padding invents an edge at the frame border. ``(B, 3, H, W) -> (B, 3, H-1, W-1)``.
    """
    g_i, g_j = image_gradients(frames)  # (B, 3, H-1, W), (B, 3, H, W-1)
    return g_j[..., :-1, :] + g_i[..., :, :-1]  # gx + gy, (B, 3, H-1, W-1)


def sharp_diff(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Sharpness difference per sample, in dB (paper, section 4):

        sharp_diff = 10 log10( MAX^2 / mean | (gx(Y) + gy(Y)) - (gx(Yhat) + gy(Yhat)) | )

    with ``gx``, ``gy`` absolute differences between neighbouring pixels (per channel) and
    MAX = 1. Higher is better: the prediction's edges match the true frame's. The mean runs
    over the ``(H-1) x (W-1)`` grid where both differences exist (and the mask, if given).
    Capped at :data:`MAX_DB` for identical gradients. Returns ``(B,)`` float64.
    """
    _check_frames(pred, target)
    return _sharp_from_map(_gradient_difference(pred, target), _check_mask(mask, pred))


def _gradient_difference(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``|(gx + gy)(target) - (gx + gy)(pred)|``, float32 ``(B, 3, H-1, W-1)``."""
    return (_gradient_sum(target.float()) - _gradient_sum(pred.float())).abs()


def _sharp_from_map(difference: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Sharpness difference in dB from a gradient-difference map and a (B, H, W) mask."""
    cropped_mask = None if mask is None else mask[:, :-1, :-1]  # (B, H-1, W-1)
    return _decibels(_masked_mean(difference, cropped_mask))


def moving_mask(
    last_input: torch.Tensor, target: torch.Tensor, tolerance: float = 0.5 / 255.0
) -> torch.Tensor:
    """Pixels that move: any channel differs between the last input frame and the truth.

    A stand-in for the paper's optical-flow mask (which keeps pixels where flow says
    something moves). ``tolerance`` (half an 8-bit grey level by default) absorbs float
    rounding of frames decoded from 8-bit images. Both ``(B, 3, H, W)`` in [0, 1];
    returns ``(B, H, W)`` bool.
    """
    _check_frames(last_input, target)
    return ((last_input - target).abs() > tolerance).any(dim=1)  # (B, H, W)


def frame_metrics(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> dict[tuple[str, str], torch.Tensor]:
    """Every metric in every region in one pass: ``{(metric, region): (B,) values}``.

    Same values as calling :func:`psnr`, :func:`ssim` and :func:`sharp_diff` with and
    without ``mask``, but the SSIM map (the slow part) is computed once.
    """
    _check_frames(pred, target)
    mask = _check_mask(mask, pred)
    squared_error = _squared_error(pred, target)
    similarity = _ssim_map(pred, target)
    difference = _gradient_difference(pred, target)
    return {
        ("psnr", "full"): _decibels(_masked_mean(squared_error, None)),
        ("psnr", "moving"): _decibels(_masked_mean(squared_error, mask)),
        ("ssim", "full"): _ssim_from_map(similarity, None),
        ("ssim", "moving"): _ssim_from_map(similarity, mask),
        ("sharp_diff", "full"): _sharp_from_map(difference, None),
        ("sharp_diff", "moving"): _sharp_from_map(difference, mask),
    }


# Baselines: guesses that need no model. The history is the generator's input,
# (B, 3*T, H, W) with the oldest frame first, in any range (both are linear).


def last_input(history: torch.Tensor) -> torch.Tensor:
    """Baseline: copy the last history frame forward. ``(B, 3*T, H, W) -> (B, 3, H, W)``."""
    check_history(history, "last_input")
    return history[:, -3:].clone()


def history_mean(history: torch.Tensor) -> torch.Tensor:
    """Baseline: the mean of the history frames, a deliberately blurry guess.

    ``(B, 3*T, H, W) -> (B, 3, H, W)``.
    """
    frames = check_history(history, "history_mean")
    batch, _, height, width = history.shape
    return history.reshape(batch, frames, 3, height, width).mean(dim=1)  # (B, 3, H, W)


BASELINES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "last_input": last_input,
    "history_mean": history_mean,
}


def summarize(values: Iterable[float]) -> tuple[float, float, int]:
    """``(mean, std, n)`` of per-sample values, leaving NaN (empty masks) out.

    ``std`` is the population standard deviation; with no value left, mean and std are NaN
    and ``n`` is 0.
    """
    kept = [float(v) for v in values if not math.isnan(float(v))]
    if not kept:
        return math.nan, math.nan, 0
    array = np.asarray(kept, dtype=np.float64)
    return float(array.mean()), float(array.std()), len(kept)
