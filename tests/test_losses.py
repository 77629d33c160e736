"""Tests of msgan_lib.losses: hand-computed values, stability at extreme logits, the
adversarial gradient reaching every generator scale, and clear errors for bad input."""

from __future__ import annotations

import math

import pytest
import torch

from msgan_lib.config import LossConfig, preset
from msgan_lib.fileio import MsganError
from msgan_lib.losses import (
    d_adversarial_loss,
    g_adversarial_loss,
    gdl_loss,
    generator_loss,
    lp_loss,
    moving_weights,
    scale_targets,
)
from msgan_lib.metrics import moving_mask, to_unit
from msgan_lib.model import Discriminator, Generator


def dot_image(row: int, col: int, value: float = 0.5, size: int = 4) -> torch.Tensor:
    """A (1, 1, size, size) black image with one pixel set to ``value``."""
    image = torch.zeros(1, 1, size, size)
    image[0, 0, row, col] = value
    return image


def gdl_by_loops(pred: torch.Tensor, target: torch.Tensor, alpha: float) -> float:
    """The paper's GDL written literally, one pixel at a time, per channel."""
    _, _, height, width = target.shape
    y, y_hat = target[0], pred[0]
    vertical = [
        abs(abs(y[c, i, j] - y[c, i - 1, j]) - abs(y_hat[c, i, j] - y_hat[c, i - 1, j])) ** alpha
        for c in range(y.shape[0])
        for i in range(1, height)
        for j in range(width)
    ]
    horizontal = [
        abs(abs(y[c, i, j - 1] - y[c, i, j]) - abs(y_hat[c, i, j - 1] - y_hat[c, i, j])) ** alpha
        for c in range(y.shape[0])
        for i in range(height)
        for j in range(1, width)
    ]
    return float(sum(vertical) / len(vertical) + sum(horizontal) / len(horizontal))


# --- Lp and GDL: known values ---


def test_identical_images_give_zero_loss() -> None:
    image = torch.rand(2, 3, 8, 8) * 2 - 1
    assert lp_loss(image, image.clone(), 1).item() == 0.0
    assert lp_loss(image, image.clone(), 2).item() == 0.0
    assert gdl_loss(image, image.clone(), 1).item() == 0.0
    assert gdl_loss(image, image.clone(), 2).item() == 0.0


def test_lp_of_a_one_pixel_shift() -> None:
    # Two of the 16 pixels differ by 0.5 (where the dot was and where it went).
    target, pred = dot_image(1, 1), dot_image(1, 2)
    assert lp_loss(pred, target, 1).item() == pytest.approx(2 * 0.5 / 16)
    assert lp_loss(pred, target, 2).item() == pytest.approx(2 * 0.25 / 16)


def test_gdl_of_a_one_pixel_shift() -> None:
    # Dot of height a = 0.5 moved one pixel right in a 4x4 image.
    # Vertical differences (3x4): each dot has two vertical edges, none shared -> 4 of 12
    # entries differ by a. Horizontal (4x3): the edges at columns 0 and 2 differ, the shared
    # edge at column 1 cancels -> 2 of 12 entries differ by a. Total a/3 + a/6 = a/2.
    target, pred = dot_image(1, 1), dot_image(1, 2)
    assert gdl_loss(pred, target, 1).item() == pytest.approx(0.5 / 2)
    # alpha = 2: 4 a^2 / 12 + 2 a^2 / 12 = a^2 / 2.
    assert gdl_loss(pred, target, 2).item() == pytest.approx(0.25 / 2)


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_gdl_matches_the_equation_written_with_loops(alpha: float) -> None:
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 5, 6, generator=generator)
    pred = torch.rand(1, 3, 5, 6, generator=generator)
    assert gdl_loss(pred, target, alpha).item() == pytest.approx(
        gdl_by_loops(pred, target, alpha), rel=1e-5
    )


def test_gdl_ignores_a_constant_offset_but_lp_does_not() -> None:
    target = torch.rand(2, 3, 8, 8)
    pred = target + 0.3
    assert gdl_loss(pred, target, 1).item() == pytest.approx(0.0, abs=1e-6)
    assert lp_loss(pred, target, 1).item() == pytest.approx(0.3)


def test_gdl_sees_edges_per_channel_not_rgb_summed() -> None:
    # Red steps up where green steps down: the RGB sum is flat (the Chainer port's GDL saw
    # nothing), but each channel has an edge that a flat prediction misses.
    target = torch.zeros(1, 3, 4, 4)
    target[0, 0, :, 2:] = 1.0
    target[0, 1, :, :2] = 1.0
    pred = torch.full_like(target, 0.5)
    summed_target, summed_pred = target.sum(1, keepdim=True), pred.sum(1, keepdim=True)
    assert gdl_loss(summed_pred, summed_target, 1).item() == 0.0
    assert gdl_loss(pred, target, 1).item() > 0.1


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_scales_as_the_error_to_the_power_p(p: int) -> None:
    target = torch.zeros(2, 3, 4, 4)
    pred = torch.full_like(target, 0.5)
    assert lp_loss(pred, target, p).item() == pytest.approx(0.5**p)
    assert lp_loss(-pred, target, p).item() == pytest.approx(0.5**p)


# --- adversarial losses ---


def test_bce_values_at_known_logits() -> None:
    zero = torch.zeros(4, 1)
    assert d_adversarial_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert g_adversarial_loss(zero).item() == pytest.approx(math.log(2))
    two = torch.full((4, 1), 2.0)
    # -log sigmoid(2) = log(1 + e^-2); -log(1 - sigmoid(2)) = log(1 + e^2).
    assert g_adversarial_loss(two).item() == pytest.approx(math.log1p(math.exp(-2)))
    assert d_adversarial_loss(two, two).item() == pytest.approx(
        math.log1p(math.exp(-2)) + math.log1p(math.exp(2))
    )


def test_bce_is_finite_with_finite_gradients_at_extreme_logits() -> None:
    real = torch.tensor([[100.0], [-100.0]], requires_grad=True)
    fake = torch.tensor([[-100.0], [100.0]], requires_grad=True)
    d_loss = d_adversarial_loss(real, fake)
    g_loss = g_adversarial_loss(fake)
    # One sample of each is confidently right (loss ~0), one confidently wrong (loss 100).
    assert d_loss.item() == pytest.approx((100 + 100) / 2)
    assert g_loss.item() == pytest.approx(100 / 2)
    (d_loss + g_loss).backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()
    assert real.grad.abs().max().item() > 0


def test_adversarial_losses_sum_over_scales() -> None:
    scales = [torch.zeros(2, 1), torch.full((2, 1), 2.0)]
    assert g_adversarial_loss(scales).item() == pytest.approx(
        g_adversarial_loss(scales[0]).item() + g_adversarial_loss(scales[1]).item()
    )
    assert d_adversarial_loss(scales, scales).item() == pytest.approx(
        d_adversarial_loss(scales[0], scales[0]).item()
        + d_adversarial_loss(scales[1], scales[1]).item()
    )


# --- pyramid and the combined objective ---


def test_scale_targets_is_an_average_pooled_pyramid_coarsest_first() -> None:
    target = torch.rand(2, 3, 32, 32)
    pyramid = scale_targets(target, 4)
    assert [tuple(y.shape[-2:]) for y in pyramid] == [(4, 4), (8, 8), (16, 16), (32, 32)]
    assert torch.equal(pyramid[-1], target)
    assert pyramid[0][0, 1, 2, 3].item() == pytest.approx(
        target[0, 1, 16:24, 24:32].mean().item(), rel=1e-5
    )


def test_scale_targets_match_the_generator_outputs_on_a_full_pacman_frame() -> None:
    # 210 is not a multiple of 8: the pyramid floors, as the generator's cropped outputs do.
    config = preset("tiny")
    history = torch.rand(1, 3 * config.history, 210, 160) * 2 - 1
    with torch.no_grad():
        preds = Generator(config)(history)
    targets = scale_targets(torch.zeros(1, 3, 210, 160), config.n_scales)
    assert [tuple(y.shape) for y in targets] == [tuple(y.shape) for y in preds]
    assert [tuple(y.shape[-2:]) for y in targets] == [(26, 20), (52, 40), (105, 80), (210, 160)]


def test_generator_loss_adds_the_weighted_terms_of_every_scale() -> None:
    generator = torch.Generator().manual_seed(1)
    target = torch.rand(2, 3, 8, 8, generator=generator)
    pred = torch.rand(2, 3, 8, 8, generator=generator)
    preds, targets = scale_targets(pred, 2), scale_targets(target, 2)
    logits = [torch.zeros(2, 1), torch.ones(2, 1)]
    config = LossConfig(p=1, alpha=1.0, lambda_adv=0.05, lambda_lp=2.0, lambda_gdl=3.0)

    total, terms = generator_loss(preds, targets, logits, config)

    lp = sum(lp_loss(a, b, 1).item() for a, b in zip(preds, targets, strict=True))
    gdl = sum(gdl_loss(a, b, 1).item() for a, b in zip(preds, targets, strict=True))
    adv = g_adversarial_loss(logits).item()
    assert terms["lp"].item() == pytest.approx(lp)
    assert terms["gdl"].item() == pytest.approx(gdl)
    assert terms["adv"].item() == pytest.approx(adv)
    assert total.item() == pytest.approx(0.05 * adv + 2.0 * lp + 3.0 * gdl)


def test_generator_loss_without_discriminator_has_no_adversarial_term() -> None:
    target = torch.rand(1, 3, 8, 8)
    targets = scale_targets(target, 2)
    total, terms = generator_loss(targets, targets, None, LossConfig())
    assert set(terms) == {"lp", "gdl"}
    assert total.item() == 0.0


def test_loss_config_defaults_are_the_papers() -> None:
    config = LossConfig()
    assert (config.lambda_adv, config.lambda_lp, config.lambda_gdl) == (0.05, 1.0, 1.0)
    assert (config.p, config.alpha) == (2, 1.0)


def test_adversarial_gradient_reaches_every_generator_scale() -> None:
    # The TensorFlow port fed D's outputs back as constants, so its generator never received
    # the adversarial gradient. With lambda_lp = lambda_gdl = 0 the objective is the
    # adversarial term alone: every scale's weights must still get a gradient.
    torch.manual_seed(0)
    config = preset("tiny")
    generator, discriminator = Generator(config), Discriminator(config)
    history = torch.rand(2, 3 * config.history, config.crop_size, config.crop_size) * 2 - 1
    target = torch.rand(2, 3, config.crop_size, config.crop_size) * 2 - 1
    preds = generator(history)
    fake_logits = discriminator(history, preds)
    loss_config = LossConfig(lambda_lp=0.0, lambda_gdl=0.0)

    total, terms = generator_loss(
        preds, scale_targets(target, config.n_scales), fake_logits, loss_config
    )
    total.backward()

    assert total.item() == pytest.approx(0.05 * terms["adv"].item())
    for k, scale in enumerate(generator.scales):
        grad_norm = sum(p.grad.abs().sum().item() for p in scale.parameters() if p.grad is not None)
        assert grad_norm > 0, f"no adversarial gradient reached generator scale {k}"


# --- bad input ---


def test_mismatched_shapes_raise_a_clear_error() -> None:
    with pytest.raises(MsganError, match=r"prediction shape \(1, 3, 8, 8\).*\(1, 3, 4, 4\)"):
        lp_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 4, 4), 2)
    with pytest.raises(MsganError, match="gdl_loss"):
        gdl_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8), 1)
    with pytest.raises(MsganError, match="scale 1"):
        generator_loss(
            [torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 8, 8)],
            [torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 8, 6)],
            None,
            LossConfig(),
        )


def test_list_length_mismatches_raise_clear_errors() -> None:
    targets = scale_targets(torch.zeros(1, 3, 8, 8), 2)
    with pytest.raises(MsganError, match="2 predicted scales but 1 targets"):
        generator_loss(targets, targets[-1:], None, LossConfig())
    with pytest.raises(MsganError, match="1 scales of discriminator logits but 2"):
        generator_loss(targets, targets, [torch.zeros(1, 1)], LossConfig())
    with pytest.raises(MsganError, match="2 scales of real logits but 1 of fake"):
        d_adversarial_loss([torch.zeros(1, 1)] * 2, [torch.zeros(1, 1)])


@pytest.mark.parametrize("p", [0, 0.5, -1, float("nan")])
def test_unsupported_exponents_are_refused(p: float) -> None:
    image = torch.zeros(1, 3, 4, 4)
    with pytest.raises(MsganError, match="p = "):
        lp_loss(image, image, p)
    with pytest.raises(MsganError, match="alpha = "):
        gdl_loss(image, image, p)
    with pytest.raises(MsganError, match="loss config: p"):
        LossConfig(p=p)  # type: ignore[arg-type]


def test_negative_loss_weight_is_refused() -> None:
    with pytest.raises(MsganError, match="lambda_adv = -1"):
        LossConfig(lambda_adv=-1.0)


def test_scale_targets_refuses_frames_smaller_than_the_coarsest_scale() -> None:
    with pytest.raises(MsganError, match="6x32 frame is too small for 4 scales"):
        scale_targets(torch.zeros(1, 3, 6, 32), 4)
    with pytest.raises(MsganError, match="expected \\(B, C, H, W\\)"):
        scale_targets(torch.zeros(3, 32, 32), 4)


def test_moving_weights_make_lp_a_weighted_mean_of_the_changed_pixels() -> None:
    previous = torch.zeros(1, 3, 8, 8)
    target = previous.clone()
    target[0, 1, 0, 0] = 0.5  # one pixel of 64 changes, in one channel
    pred = torch.full_like(target, 0.1)
    moving = moving_mask(to_unit(previous), to_unit(target))  # (1, 8, 8)
    (plain,) = moving_weights(moving, 1, 1.0)
    assert torch.equal(plain, torch.ones(1, 1, 8, 8))
    torch.testing.assert_close(lp_loss(pred, target, 2, plain), lp_loss(pred, target, 2))
    weights = moving_weights(moving, 2, 10.0)  # (1, 1, 4, 4) then (1, 1, 8, 8)
    assert weights[1][0, 0, 0, 0] == 10 and weights[1].sum() == 63 + 10
    assert weights[0][0, 0, 0, 0] == (10 + 3) / 4  # average-pooled like the targets
    error = (target - pred) ** 2  # (1, 3, 8, 8)
    by_hand = (error * weights[1]).sum() / (3 * weights[1].sum())
    torch.testing.assert_close(lp_loss(pred, target, 2, weights[1]), by_hand)
    with pytest.raises(MsganError, match="moving_weight = 0 must be a number > 0"):
        LossConfig(moving_weight=0)
