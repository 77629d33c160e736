"""Tests of msgan_lib.metrics: agreement with scikit-image, known values, masks, baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from msgan_lib import metrics
from msgan_lib.fileio import MsganError


@pytest.fixture(scope="module")
def pacman_frames() -> torch.Tensor:
    """Twelve consecutive Ms. Pac-Man frames from the emulator, (12, 3, 210, 160) in [0, 1]."""
    ale_py = pytest.importorskip("ale_py")
    from ale_py import roms

    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.setInt("random_seed", 0)
    ale.setInt("frame_skip", 1)
    ale.setFloat("repeat_action_probability", 0.0)
    ale.loadROM(roms.get_rom_path("ms_pacman"))
    actions = ale.getMinimalActionSet()
    frames = []
    for index in range(300):
        ale.act(actions[(index // 8) % len(actions)])
        if index >= 288:  # past the start-up tune, when things move
            frames.append(ale.getScreenRGB())
    array = np.stack(frames).astype(np.float32) / 255.0  # (12, 210, 160, 3)
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()  # (12, 3, 210, 160)


def _skimage_ssim(pred: torch.Tensor, target: torch.Tensor) -> list[float]:
    """Reference SSIM per sample: Gaussian weights, sigma 1.5, population covariance."""
    return [
        structural_similarity(
            p.permute(1, 2, 0).double().numpy(),
            t.permute(1, 2, 0).double().numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
        )
        for p, t in zip(pred, target, strict=True)
    ]


def _skimage_psnr(pred: torch.Tensor, target: torch.Tensor) -> list[float]:
    return [
        peak_signal_noise_ratio(t.double().numpy(), p.double().numpy(), data_range=1.0)
        for p, t in zip(pred, target, strict=True)
    ]


def _random_pair(seed: int, shape: tuple[int, ...] = (3, 3, 40, 48)) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=generator)
    noise = 0.1 * torch.randn(shape, generator=generator)
    return (target + noise).clamp(0, 1), target


def test_psnr_and_ssim_match_skimage_on_random_frames() -> None:
    pred, target = _random_pair(0)
    np.testing.assert_allclose(metrics.psnr(pred, target), _skimage_psnr(pred, target), atol=1e-3)
    np.testing.assert_allclose(metrics.ssim(pred, target), _skimage_ssim(pred, target), atol=1e-3)


def test_psnr_and_ssim_match_skimage_on_pacman_frames(pacman_frames: torch.Tensor) -> None:
    # Predict frame t+4 by frame t (small motion) and by a noisy copy of it (large error).
    target = pacman_frames[4:8]
    noise = 0.05 * torch.randn(target.shape, generator=torch.Generator().manual_seed(1))
    pred = torch.cat([pacman_frames[0:4], (target + noise).clamp(0, 1)])  # (8, 3, 210, 160)
    target = torch.cat([target, target])
    assert (pred[:4] != target[:4]).any(), "fixture frames should differ"
    np.testing.assert_allclose(metrics.psnr(pred, target), _skimage_psnr(pred, target), atol=1e-3)
    np.testing.assert_allclose(metrics.ssim(pred, target), _skimage_ssim(pred, target), atol=1e-3)


def test_psnr_of_identical_frames_is_capped() -> None:
    frames = torch.rand(2, 3, 16, 16)
    assert torch.equal(metrics.psnr(frames, frames), torch.full((2,), metrics.MAX_DB).double())


def test_psnr_known_value_with_and_without_mask() -> None:
    target = torch.zeros(1, 3, 4, 4)
    pred = target.clone()
    pred[:, :, 1:3, 1:3] = 0.5  # squared error 0.25 on 4 of 16 pixels
    block = torch.zeros(1, 4, 4, dtype=torch.bool)
    block[:, 1:3, 1:3] = True
    assert metrics.psnr(pred, target).item() == pytest.approx(10 * math.log10(1 / 0.0625))
    assert metrics.psnr(pred, target, block).item() == pytest.approx(10 * math.log10(1 / 0.25))
    assert metrics.psnr(pred, target, ~block).item() == metrics.MAX_DB


def test_sharp_diff_known_value() -> None:
    # One bright pixel on black: its gradient sum is 2 at the pixel and 1 at its left and
    # upper neighbours, i.e. 4 over the 3x3 grid of forward differences.
    target = torch.zeros(1, 3, 4, 4)
    pred = target.clone()
    pred[:, :, 1, 1] = 1.0
    assert metrics.sharp_diff(pred, target).item() == pytest.approx(10 * math.log10(9 / 4))


def test_sharp_diff_of_an_image_with_itself_is_the_maximum(pacman_frames: torch.Tensor) -> None:
    target = pacman_frames[:3]
    blurred = torch.nn.functional.avg_pool2d(target, 3, stride=1, padding=1)
    noisy = (target + 0.05 * torch.randn(target.shape)).clamp(0, 1)
    same = metrics.sharp_diff(target, target)
    assert torch.equal(same, torch.full((3,), metrics.MAX_DB).double())
    assert (metrics.sharp_diff(blurred, target) < same).all()
    assert (metrics.sharp_diff(noisy, target) < same).all()
    assert (metrics.sharp_diff(pacman_frames[3:6], target) < same).all()


def test_all_true_mask_equals_no_mask() -> None:
    pred, target = _random_pair(2)
    everywhere = torch.ones(3, 40, 48, dtype=torch.bool)
    for metric in (metrics.psnr, metrics.ssim, metrics.sharp_diff):
        np.testing.assert_allclose(
            metric(pred, target, everywhere), metric(pred, target), rtol=1e-12
        )
    # (B, 1, H, W) masks are accepted too.
    np.testing.assert_allclose(
        metrics.psnr(pred, target, everywhere[:, None]), metrics.psnr(pred, target)
    )


def test_masked_ssim_sees_only_the_masked_region() -> None:
    target = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(3))
    pred = target.clone()
    pred[:, :, :, 30:] = torch.rand(1, 3, 32, 18, generator=torch.Generator().manual_seed(4))
    left = torch.zeros(1, 32, 48, dtype=torch.bool)
    left[:, :, :20] = True  # more than the 5-pixel window radius away from the change
    right = torch.zeros_like(left)
    right[:, :, 30:] = True
    assert metrics.ssim(pred, target, left).item() == pytest.approx(1.0, abs=1e-9)
    assert metrics.ssim(pred, target, right).item() < 0.5
    assert metrics.ssim(pred, target, right) < metrics.ssim(pred, target)


def test_empty_mask_gives_nan_and_summary_leaves_it_out() -> None:
    pred, target = _random_pair(5, (2, 3, 16, 16))
    mask = torch.zeros(2, 16, 16, dtype=torch.bool)
    mask[0, 8, 8] = True  # sample 0 has one pixel, sample 1 none
    for metric in (metrics.psnr, metrics.ssim, metrics.sharp_diff):
        values = metric(pred, target, mask)
        assert not math.isnan(values[0].item())
        assert math.isnan(values[1].item())
    mean, std, count = metrics.summarize([1.0, math.nan, 3.0])
    assert (mean, std, count) == (2.0, 1.0, 2)
    mean, std, count = metrics.summarize([math.nan])
    assert math.isnan(mean) and math.isnan(std) and count == 0


def test_moving_mask_marks_pixels_that_change_in_any_channel() -> None:
    last = torch.zeros(2, 3, 5, 6)
    target = last.clone()
    target[0, 2, 1, 4] = 1.0 / 255.0  # one grey level in blue only
    target[1, 0, 3, 0] = 0.4 / 255.0  # below the half-grey-level tolerance
    mask = metrics.moving_mask(last, target)
    assert mask.shape == (2, 5, 6) and mask.dtype == torch.bool
    assert mask[0].nonzero().tolist() == [[1, 4]]
    assert not mask[1].any()


def test_frame_metrics_match_the_single_metrics(pacman_frames: torch.Tensor) -> None:
    pred, target = pacman_frames[0:2], pacman_frames[2:4]
    mask = metrics.moving_mask(pred, target)
    assert mask.any(), "frames two steps apart should differ somewhere"
    table = metrics.frame_metrics(pred, target, mask)
    functions = {"psnr": metrics.psnr, "ssim": metrics.ssim, "sharp_diff": metrics.sharp_diff}
    for (name, region), values in table.items():
        expected = functions[name](pred, target, mask if region == "moving" else None)
        torch.testing.assert_close(values, expected)
    assert set(table) == {(m, r) for m in metrics.METRICS for r in metrics.REGIONS}


def test_baselines(pacman_frames: torch.Tensor) -> None:
    frames = pacman_frames[:4]  # (4, 3, H, W): one window, oldest first
    history = frames.reshape(1, 12, 210, 160)  # (1, 3*4, H, W)
    assert torch.equal(metrics.last_input(history), frames[3:4])
    torch.testing.assert_close(metrics.history_mean(history), frames.mean(0, keepdim=True))
    # The last-input baseline scores exactly like copying the last frame by hand.
    target = pacman_frames[4:5]
    torch.testing.assert_close(
        metrics.psnr(metrics.last_input(history), target), metrics.psnr(frames[3:4], target)
    )
    assert set(metrics.BASELINES) == {"last_input", "history_mean"}


def test_to_unit_maps_model_range() -> None:
    frames = torch.tensor([-1.0, 0.0, 1.0, 1.01])
    assert metrics.to_unit(frames).tolist() == [0.0, 0.5, 1.0, 1.0]


@pytest.mark.parametrize(
    ("pred", "target", "message"),
    [
        (torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 9), "shapes differ"),
        (torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8), r"\[0, 1\]"),
        (torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8), r"\(B, 3, H, W\)"),
        (torch.rand(3, 8, 8), torch.rand(3, 8, 8), r"\(B, 3, H, W\)"),
        (torch.full((1, 3, 8, 8), math.nan), torch.rand(1, 3, 8, 8), "NaN"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.rand(1, 3, 8, 8), "float"),
        (np.zeros((1, 3, 8, 8)), torch.rand(1, 3, 8, 8), "torch tensor"),
    ],
)
def test_bad_frames_raise_clear_errors(pred: object, target: object, message: str) -> None:
    for metric in (metrics.psnr, metrics.ssim, metrics.sharp_diff):
        with pytest.raises(MsganError, match=message):
            metric(pred, target)


def test_bad_masks_and_histories_raise_clear_errors() -> None:
    pred, target = _random_pair(6, (2, 3, 16, 16))
    with pytest.raises(MsganError, match="mask must be shaped"):
        metrics.psnr(pred, target, torch.ones(2, 16, 15, dtype=torch.bool))
    with pytest.raises(MsganError, match="bool"):
        metrics.psnr(pred, target, torch.ones(2, 16, 16))
    with pytest.raises(MsganError, match="SSIM needs frames of at least 11x11"):
        metrics.ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(MsganError, match="3\\*T channels"):
        metrics.last_input(torch.rand(1, 4, 8, 8))
    with pytest.raises(MsganError, match="history must be"):
        metrics.history_mean(torch.rand(12, 8, 8))
