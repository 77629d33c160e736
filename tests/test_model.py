"""Tests of msgan_lib.model: the paper's structure (shapes, residual, conditional D, sizes)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from msgan_lib.config import ModelConfig, preset
from msgan_lib.fileio import MsganError
from msgan_lib.losses import scale_targets
from msgan_lib.model import (
    Discriminator,
    Generator,
    format_summary,
    model_summary,
    pyramid_round_trip,
    upsample,
)

TINY = preset("tiny")


def history(batch: int, height: int, width: int, config: ModelConfig = TINY) -> torch.Tensor:
    """A random history in [-1, 1], ``(B, 3*T, H, W)``."""
    return torch.rand(batch, 3 * config.history, height, width) * 2 - 1


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize(
    ("height", "width", "sizes"),
    [
        (32, 32, [(4, 4), (8, 8), (16, 16), (32, 32)]),
        (210, 160, [(26, 20), (52, 40), (105, 80), (210, 160)]),
        (37, 53, [(4, 6), (9, 13), (18, 26), (37, 53)]),
    ],
)
def test_generator_scale_shapes(height: int, width: int, sizes: list[tuple[int, int]]) -> None:
    preds = Generator(TINY)(history(2, height, width))
    assert [tuple(p.shape) for p in preds] == [(2, 3, h, w) for h, w in sizes]
    assert all(p.abs().max() <= 1 for p in preds)  # tanh outputs


def test_paper_generator_shapes_on_full_frames() -> None:
    # Shapes only (meta device): the paper's network on a whole 210x160 frame.
    with torch.device("meta"):
        preds = Generator(preset("paper"))(torch.empty(1, 12, 210, 160))
    assert [tuple(p.shape[-2:]) for p in preds] == [(26, 20), (52, 40), (105, 80), (210, 160)]


def test_scales_match_the_loss_targets() -> None:
    x, frame = history(3, 32, 32), torch.rand(3, 3, 32, 32)
    preds = Generator(TINY)(x)
    targets = scale_targets(frame, TINY.n_scales)
    assert [p.shape for p in preds] == [t.shape for t in targets]


def test_odd_sizes_are_reflect_padded_bottom_right_then_cropped() -> None:
    generator = Generator(TINY)
    x = history(1, 37, 53)
    padded = F.pad(x, (0, 3, 0, 3), mode="reflect")  # (1, 12, 40, 56): next multiple of 8
    preds, preds_padded = generator(x), generator(padded)
    for pred, pred_padded in zip(preds, preds_padded, strict=True):
        h, w = pred.shape[-2:]
        torch.testing.assert_close(pred, pred_padded[:, :, :h, :w])


def test_pyramid_is_the_avg_pool_pyramid_of_the_unpadded_frame() -> None:
    frame = torch.rand(2, 3, 210, 160)
    levels, from_coarser = pyramid_round_trip(frame, 4)
    for k, level in enumerate(levels):
        factor = 2 ** (3 - k)
        expected = F.avg_pool2d(frame, factor) if factor > 1 else frame  # floor sizes
        torch.testing.assert_close(level, expected)
    assert [tuple(u.shape[-2:]) for u in from_coarser] == [(52, 40), (105, 80), (210, 160)]
    # 105x80 -> 210x160 doubles exactly; 52x40 -> 105x80 came from the padded 54x40 level.
    torch.testing.assert_close(from_coarser[2], upsample(levels[2]))
    preds = Generator(TINY)(history(1, 210, 160))
    assert [p.shape[-2:] for p in preds] == [level.shape[-2:] for level in levels]


def test_pyramid_round_trip_on_crops_matches_the_loss_targets() -> None:
    frame = torch.rand(2, 3, 32, 32)
    levels, from_coarser = pyramid_round_trip(frame, 4)
    for level, target in zip(levels, scale_targets(frame, 4), strict=True):
        torch.testing.assert_close(level, target)
    for k, up in enumerate(from_coarser, start=1):
        torch.testing.assert_close(up, upsample(levels[k - 1]))
    with pytest.raises(MsganError, match="too small"):
        pyramid_round_trip(torch.zeros(1, 3, 5, 32), 4)


def test_paper_generator_parameter_count() -> None:
    with torch.device("meta"):
        generator = Generator(preset("paper"))
    count = sum(p.numel() for p in generator.parameters())
    assert abs(count - 12.57e6) / 12.57e6 < 0.005
    assert count == 12_569_740  # by hand from the paper's table, biases included


def test_scale_input_channels_follow_the_paper() -> None:
    generator = Generator(preset("paper"))
    first_layers = [net[0] for net in generator.scales]
    assert [conv.in_channels for conv in first_layers] == [12, 15, 15, 15]
    assert [net[-1].out_channels for net in generator.scales] == [3, 3, 3, 3]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_residual_zeroed_scale_returns_tanh_of_upsampled_previous(k: int) -> None:
    generator = Generator(TINY)
    last = generator.scales[k][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        preds = generator(history(2, 32, 32))
    torch.testing.assert_close(preds[k], torch.tanh(upsample(preds[k - 1])))
    # And the scale is not simply copying: with its own layer back, it differs.
    assert not torch.allclose(preds[k], torch.tanh(upsample(preds[k - 1]) + 1))


def test_coarsest_scale_has_no_residual() -> None:
    generator = Generator(TINY)
    with torch.no_grad():
        generator.scales[0][-1].weight.zero_()
        generator.scales[0][-1].bias.zero_()
        preds = generator(history(2, 32, 32))
    assert torch.equal(preds[0], torch.zeros_like(preds[0]))


def test_residual_on_last_input_starts_from_copying_the_last_frame() -> None:
    config = dataclasses.replace(TINY, residual_on_last_input=True)
    generator = Generator(config)
    with torch.no_grad():
        for net in generator.scales:
            net[-1].weight.zero_()
            net[-1].bias.zero_()
        x = history(2, 210, 160)
        preds = generator(x)
    levels, _ = pyramid_round_trip(x[:, -3:], config.n_scales)  # the last input frame
    for pred, level in zip(preds, levels, strict=True):
        torch.testing.assert_close(pred, level)
    assert not torch.allclose(Generator(config)(x)[-1], levels[-1])  # untouched: it predicts


def test_final_output_gradient_reaches_every_scale() -> None:
    generator = Generator(TINY)
    preds = generator(history(2, 32, 32))
    preds[-1].square().mean().backward()
    for k, net in enumerate(generator.scales):
        for name, param in net.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, f"scale {k} {name}"


def test_discriminator_logit_shapes_on_generator_output() -> None:
    x = history(5, 32, 32)
    logits = Discriminator(TINY)(x, Generator(TINY)(x))
    assert [tuple(z.shape) for z in logits] == [(5, 1)] * TINY.n_scales


def test_discriminator_is_conditional_on_the_history() -> None:
    discriminator = Discriminator(TINY)
    frames = scale_targets(torch.rand(2, 3, 32, 32) * 2 - 1, TINY.n_scales)
    with torch.no_grad():
        first = discriminator(history(2, 32, 32), frames)
        second = discriminator(history(2, 32, 32), frames)  # same frames, new history
    for k, (a, b) in enumerate(zip(first, second, strict=True)):
        assert not torch.allclose(a, b), f"scale {k} ignored the history"


def test_paper_discriminator_input_channels() -> None:
    with torch.device("meta"):
        discriminator = Discriminator(preset("paper"))
    assert [d.net[0].in_channels for d in discriminator.scales] == [15] * 4


def test_discriminator_refuses_another_size() -> None:
    x = history(1, 64, 64)
    with pytest.raises(MsganError, match="built for 32x32"):
        Discriminator(TINY)(x, scale_targets(torch.zeros(1, 3, 64, 64), TINY.n_scales))


def test_discriminator_refuses_wrong_frames() -> None:
    discriminator, x = Discriminator(TINY), history(2, 32, 32)
    frames = scale_targets(torch.zeros(2, 3, 32, 32), TINY.n_scales)
    with pytest.raises(MsganError, match="list of 4 per-scale frames"):
        discriminator(x, frames[1:])
    with pytest.raises(MsganError, match="list of 4 per-scale frames"):
        discriminator(x, frames[-1])
    with pytest.raises(MsganError, match=r"scale 2 \(1/2\) must be shaped \(2, 3, 16, 16\)"):
        discriminator(x, [*frames[:2], frames[3], frames[3]])


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.zeros(1, 9, 32, 32), "has 9 channels but must have 12"),
        (torch.zeros(12, 32, 32), r"shaped \(B, 12, H, W\)"),
        (torch.zeros(1, 12, 32, 32, dtype=torch.uint8), "dtype torch.uint8"),
        (torch.zeros(1, 12, 7, 40), "a 7x40 frame is too small for 4 scales"),
        ([[0.0]], r"shaped \(B, 12, H, W\)"),
    ],
)
def test_generator_bad_input(x: object, message: str) -> None:
    with pytest.raises(MsganError, match=message):
        Generator(TINY)(x)


def test_bf16_autocast_and_channels_last() -> None:
    generator = Generator(TINY).to(memory_format=torch.channels_last)
    discriminator = Discriminator(TINY).to(memory_format=torch.channels_last)
    x = history(2, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        preds = generator(x)
        logits = discriminator(x, preds)
    assert preds[-1].shape == (2, 3, 32, 32) and all(torch.isfinite(p).all() for p in preds)
    assert all(z.shape == (2, 1) and torch.isfinite(z).all() for z in logits)
    reference = Generator(TINY)
    reference.load_state_dict(generator.state_dict())
    torch.testing.assert_close(preds[-1].float(), reference(x)[-1], atol=0.05, rtol=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"g_kernels": ((3, 3, 3, 3),) * 3}, "g_kernels has 3 scales"),
        ({"g_kernels": ((3, 3, 3, 4), (3, 3, 3, 3), (3,) * 5, (3,) * 5)}, "odd kernel"),
        ({"d_kernels": ((3, 3), (3, 3), (3, 3), (5, 5))}, "1 conv layers but 2 kernels"),
        ({"d_fc_sizes": ((32, 2),) * 4}, "must end with 1"),
        ({"crop_size": 36}, "multiple of 8"),
        ({"crop_size": 4}, "at least 8"),
        ({"history": 0}, "history = 0"),
    ],
)
def test_config_validation(change: dict[str, object], message: str) -> None:
    with pytest.raises(MsganError, match=message):
        dataclasses.replace(TINY, **change)


def test_discriminator_kernels_too_large_for_the_crop() -> None:
    config = dataclasses.replace(TINY, d_kernels=((5,), (3, 3), (3, 3), (5, 5)))
    with pytest.raises(MsganError, match="do not fit a 4x4"):
        Discriminator(config)


def test_config_round_trip() -> None:
    for name in ("paper", "small", "tiny"):
        assert ModelConfig.from_dict(preset(name).to_dict()) == preset(name)


def test_summary_matches_a_hand_computation() -> None:
    # One scale, one generator layer (12 -> 3, 3x3), one valid conv + one linear in D.
    config = ModelConfig(
        crop_size=8,
        g_feature_maps=((),),
        g_kernels=((3,),),
        d_conv_maps=((4,),),
        d_kernels=((3,),),
        d_fc_sizes=((1,),),
    )
    rows = model_summary(config, 10, 7)
    g, d = rows[0], rows[2]
    assert (g["network"], g["scale"], g["size"]) == ("G", "1", "10x7")
    assert g["params"] == 12 * 3 * 3 * 3 + 3
    assert g["flops"] == 2 * (12 * 3 * 3 * 3) * 10 * 7
    assert (d["network"], d["size"]) == ("D", "8x8")
    assert d["params"] == (15 * 4 * 9 + 4) + (4 * 6 * 6 + 1)
    assert d["flops"] == 2 * (15 * 4 * 9) * 6 * 6 + 2 * (4 * 6 * 6)


def test_summary_matches_torch_flop_counter() -> None:
    rows = model_summary(TINY, 37, 53)
    totals = {row["network"]: row for row in rows if row["scale"] == "total"}
    x = history(1, 37, 53)
    generator, discriminator = Generator(TINY), Discriminator(TINY)
    with FlopCounterMode(display=False) as counter:
        generator(x)
    assert totals["G"]["flops"] == counter.get_total_flops()
    assert totals["G"]["params"] == sum(p.numel() for p in generator.parameters())
    crop = history(1, 32, 32)
    frames = scale_targets(torch.zeros(1, 3, 32, 32), TINY.n_scales)
    with FlopCounterMode(display=False) as counter:
        discriminator(crop, frames)
    assert totals["D"]["flops"] == counter.get_total_flops()
    assert totals["D"]["params"] == sum(p.numel() for p in discriminator.parameters())


def test_paper_finest_scale_flops() -> None:
    rows = model_summary(preset("paper"), 32, 32)
    finest = next(row for row in rows if row["network"] == "G" and row["scale"] == "1")
    # Multiply-adds per pixel of the 7,5,5,5,5,7 stack, times 32x32 pixels, times 2.
    per_pixel = 15 * 128 * 49 + 128 * 256 * 25 + 2 * 256 * 512 * 25 + 256 * 128 * 25 + 128 * 3 * 49
    assert finest["flops"] == 2 * per_pixel * 32 * 32
    assert 16.9e9 < finest["flops"] < 17.1e9  # the paper's "about 17 GFLOP"
    table = format_summary(rows)
    assert "| G | 1 | 32x32 | 8,306,179 |" in table
