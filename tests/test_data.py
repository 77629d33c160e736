"""Tests of the data modules (frames, pacman, motion, clips): frames on disk, recording, the
motion rule, clip shards, loader, and every bad input of issue 2 (library and CLI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from msgan_lib import cli, motion
from msgan_lib.clips import ClipDataset, DataWarning, _draw_from_video, process_data
from msgan_lib.config import DataConfig, RecordConfig
from msgan_lib.fileio import MsganError
from msgan_lib.frames import (
    _decode_plain_png,
    encode_png,
    import_video,
    list_videos,
    load_video,
    read_frame,
)
from msgan_lib.motion import (
    KEPT_AFTER_MAX_TRIES,
    KEPT_PASSED,
    KEPT_WITHOUT_CHECK,
    draw_crops,
    motion_score,
    motion_score_map,
)
from msgan_lib.pacman import _merge_by_key, merge_flicker, record_pacman

HEIGHT, WIDTH = 40, 48


def moving_square_video(n_frames: int, step: int = 3, seed: int = 0) -> np.ndarray:
    """A dark ``(T, 40, 48, 3)`` video whose only motion is a bright 6x6 square moving right
    along the top rows; every frame also carries its index in pixel (39, 47) so that order
    can be checked."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 30, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames = np.repeat(background[None], n_frames, axis=0)
    for t in range(n_frames):
        x = (t * step) % (WIDTH - 6)
        frames[t, 2:8, x : x + 6] = 250
        frames[t, HEIGHT - 1, WIDTH - 1] = t
    return frames


def write_frames(video_dir: Path, frames: np.ndarray, names: list[str] | None = None) -> None:
    video_dir.mkdir(parents=True, exist_ok=True)
    names = names or [f"frame{i + 1}.png" for i in range(len(frames))]
    for name, frame in zip(names, frames, strict=True):
        Image.fromarray(frame).save(video_dir / name)


@pytest.fixture
def data_train_dir(tmp_path: Path) -> Path:
    """A train split of three 12-frame moving-square videos (frame1.png ... frame12.png)."""
    split = tmp_path / "images" / "train"
    for v in range(3):
        write_frames(split / f"video{v + 1}", moving_square_video(12, step=2 + v, seed=v))
    return split


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


SMALL = DataConfig(crop_size=16)


# --- frames on disk -------------------------------------------------------------------


def test_load_video_natural_order_ignores_hidden_and_non_images(tmp_path: Path) -> None:
    frames = moving_square_video(12)
    write_frames(tmp_path / "v", frames)  # frame1 ... frame12: string sort puts 10 before 2
    (tmp_path / "v" / ".DS_Store").write_bytes(b"\x00junk")
    (tmp_path / "v" / "notes.txt").write_text("not a frame")
    (tmp_path / "v" / ".frame0.png").write_bytes(b"hidden, not decoded")
    video = load_video(tmp_path / "v")
    assert video.shape == (12, HEIGHT, WIDTH, 3) and video.dtype == np.uint8
    assert video[:, HEIGHT - 1, WIDTH - 1, 0].tolist() == list(range(12))


def test_load_video_converts_gray_rgba_and_jpeg_to_rgb(tmp_path: Path) -> None:
    rgb = moving_square_video(3)
    video_dir = tmp_path / "v"
    video_dir.mkdir()
    Image.fromarray(rgb[0]).convert("L").save(video_dir / "f1.png")
    Image.fromarray(rgb[1]).convert("RGBA").save(video_dir / "f2.png")
    Image.fromarray(rgb[2]).save(video_dir / "f3.JPG", quality=95)
    video = load_video(video_dir)
    assert video.shape == (3, HEIGHT, WIDTH, 3)
    gray = np.asarray(Image.fromarray(rgb[0]).convert("L"))
    assert np.array_equal(video[0, :, :, 0], gray) and np.array_equal(video[0, :, :, 2], gray)
    assert np.array_equal(video[1], rgb[1])
    assert np.array_equal(video[2], np.asarray(Image.open(video_dir / "f3.JPG")))  # lossy


def test_list_videos_natural_order_skips_hidden_and_files(tmp_path: Path) -> None:
    for name in ["ep10", "ep2", "ep1", ".hidden"]:
        (tmp_path / name).mkdir()
    (tmp_path / "readme.txt").write_text("x")
    assert [p.name for p in list_videos(tmp_path)] == ["ep1", "ep2", "ep10"]


def test_encode_png_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    frame = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    (tmp_path / "f.png").write_bytes(encode_png(frame))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "f.png")), frame)
    assert np.array_equal(read_frame(tmp_path / "f.png"), frame)  # the fast decoder


def test_read_frame_fast_path_falls_back_to_pillow(tmp_path: Path) -> None:
    # Pillow's own PNGs use row filters; ours are unfiltered: both must read the same, and a
    # truncated file of ours must fail with a clear error, not a zlib one.
    frame = moving_square_video(1)[0]
    Image.fromarray(frame).save(tmp_path / "pillow.png", optimize=True)
    assert _decode_plain_png((tmp_path / "pillow.png").read_bytes()) is None
    assert np.array_equal(read_frame(tmp_path / "pillow.png"), frame)
    ours = encode_png(frame)
    assert np.array_equal(_decode_plain_png(ours), frame)
    (tmp_path / "cut.png").write_bytes(ours[: len(ours) // 2])
    with pytest.raises(MsganError, match="cut.png"):
        read_frame(tmp_path / "cut.png")


def test_merge_flicker_keeps_sprites_of_both_frames_in_true_colour() -> None:
    background, ghost_a, ghost_b = (0, 28, 136), (200, 72, 72), (84, 184, 153)
    frames = np.zeros((2, 10, 10, 3), dtype=np.uint8)
    frames[:] = background
    frames[0, 1:3, 1:3] = ghost_a  # drawn only in the first frame
    frames[1, 6:8, 6:8] = ghost_b  # drawn only in the second frame
    merged = merge_flicker(frames)
    assert (merged[1:3, 1:3] == ghost_a).all() and (merged[6:8, 6:8] == ghost_b).all()
    assert (merged[0, 0] == background).all()
    keys = np.arange(2 * 10 * 10).reshape(2, 10, 10) % 7  # any other colour keys...
    keys[frames.sum(-1) == sum(background)] = 99  # ...with the background one to one
    assert np.array_equal(_merge_by_key(frames, keys), merged)


# --- recording ------------------------------------------------------------------------


def test_record_pacman_is_reproducible_split_by_episode_and_worker_independent(
    tmp_path: Path,
) -> None:
    config = RecordConfig(frames_per_episode=12)
    record_pacman(tmp_path / "a", 2, 1, seed=3, config=config, workers=1)
    record_pacman(tmp_path / "b", 2, 1, seed=3, config=config, workers=2)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.png"))
    assert files_a == files_b and len(files_a) == 3 * 12
    assert all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files_a
    )
    train = load_video(tmp_path / "a/images/train/episode_00000")
    test = load_video(tmp_path / "a/images/test/episode_00000")
    assert train.shape == (12, 210, 160, 3)
    assert not np.array_equal(train, test)  # different seeds for the two splits
    other = tmp_path / "c"
    record_pacman(other, 1, 0, seed=4, config=config, workers=1)
    assert not np.array_equal(load_video(other / "images/train/episode_00000")[-1], train[-1])


def test_record_pacman_refuses_existing_split_without_overwrite(tmp_path: Path) -> None:
    config = RecordConfig(frames_per_episode=3)
    record_pacman(tmp_path, 1, 0, config=config, workers=1)
    with pytest.raises(MsganError, match="--overwrite"):
        record_pacman(tmp_path, 1, 0, config=config, workers=1)
    record_pacman(tmp_path, 2, 0, config=config, workers=1, overwrite=True)
    assert len(list_videos(tmp_path / "images/train")) == 2
    (tmp_path / "images/train/mine.txt").write_text("a user's file")
    with pytest.raises(MsganError, match="not touching it"):
        record_pacman(tmp_path, 1, 0, config=config, workers=1, overwrite=True)


# --- motion rule ----------------------------------------------------------------------


def test_motion_score_map_matches_direct_scores() -> None:
    frames = np.random.default_rng(1).integers(0, 256, size=(8, 20, 18, 3), dtype=np.uint8)
    scores = motion_score_map(frames, history=3, crop_size=5)
    assert scores.shape == (8 - 3, 20 - 5 + 1, 18 - 5 + 1)
    for t, y, x in [(0, 0, 0), (4, 15, 13), (2, 7, 3), (1, 11, 9)]:
        direct = motion_score(frames[t : t + 4, y : y + 5, x : x + 5])
        assert scores[t, y, x] == pytest.approx(direct, rel=1e-6)


def test_motion_rule_keeps_only_moving_crops_unless_told_otherwise() -> None:
    frames = moving_square_video(10)
    scores = motion_score_map(frames, 4, 16)
    rng = np.random.default_rng(0)
    config = DataConfig(crop_size=16, keep_without_check=0.0)
    t, y, x, reason, score = draw_crops(scores, 500, rng, config)
    assert (reason == KEPT_PASSED).all() and (score > 100).all()
    assert (y <= 7).all()  # every kept crop overlaps the square's rows 2..7
    for i in range(20):
        clip = frames[t[i] : t[i] + 5, y[i] : y[i] + 16, x[i] : x[i] + 16]
        assert motion_score(clip) == pytest.approx(score[i], rel=1e-6)
    never = DataConfig(crop_size=16, keep_without_check=0.0, motion_threshold=1e9, max_tries=7)
    _, _, _, reason, _ = draw_crops(scores, 50, rng, never)
    assert (reason == KEPT_AFTER_MAX_TRIES).all()
    always = DataConfig(crop_size=16, keep_without_check=1.0)
    _, y, _, reason, _ = draw_crops(scores, 300, rng, always)
    assert (reason == KEPT_WITHOUT_CHECK).all() and (y > 7).any()  # static crops appear


def test_motion_table_scores_and_lazy_draws_match_the_full_map() -> None:
    # process-data scores only the crops it tries (summed-volume table, tries stopped at the
    # first pass): same scores and the same draws as draw_crops on the full map.
    frames = moving_square_video(12)
    frames[5:, 20:30, 10:20] = 255  # a second, wider change
    history, crop = 3, 8
    full = motion_score_map(frames, history, crop)
    chw = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))  # (T, 3, H, W)
    table = motion.motion_table(chw, history, crop)
    t, y, x = (a.ravel() for a in np.indices(full.shape))
    assert np.array_equal(motion.table_scores(table, t, y, x, history, crop), full.ravel())
    for threshold, keep in [(100.0, 0.05), (1e9, 0.0), (0.0, 0.5), (300.0, 0.0)]:
        config = DataConfig(
            history=history,
            crop_size=crop,
            motion_threshold=threshold,
            keep_without_check=keep,
            max_tries=9,
        )
        expected = draw_crops(full, 400, np.random.default_rng(7), config)
        got = _draw_from_video(chw, 400, np.random.default_rng(7), config)
        assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))


# --- clips ----------------------------------------------------------------------------


def test_process_data_same_clips_whatever_the_worker_count(
    data_train_dir: Path, tmp_path: Path
) -> None:
    one = process_data(
        data_train_dir, tmp_path / "c1", 300, SMALL, seed=5, workers=1, shard_size=64
    )
    two = process_data(
        data_train_dir, tmp_path / "c2", 300, SMALL, seed=5, workers=2, shard_size=64
    )
    assert one["content_sha256"] == two["content_sha256"]
    assert one["shards"] == two["shards"]
    other = process_data(data_train_dir, tmp_path / "c3", 300, SMALL, seed=6, workers=1)
    assert other["content_sha256"] != one["content_sha256"]
    assert one["count"] == 300 and sum(s["count"] for s in one["shards"]) == 300
    assert one["clip_shape"] == [5, 3, 16, 16] and one["seed"] == 5
    assert sum(one["motion"]["counts"].values()) == 300
    on_disk = json.loads((tmp_path / "c1" / "manifest.json").read_text())
    assert on_disk["content_sha256"] == one["content_sha256"]


def test_clip_dataset_items_shape_range_and_oldest_frame_first(
    data_train_dir: Path, tmp_path: Path
) -> None:
    frames = np.zeros((12, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for t in range(12):
        frames[t] = 20 * t  # brightness encodes time
    write_frames(data_train_dir / "ramp", frames)
    config = DataConfig(crop_size=16, keep_without_check=1.0)  # keep static ramp crops too
    process_data(data_train_dir, tmp_path / "clips", 400, config, workers=2, shard_size=50)
    dataset = ClipDataset(tmp_path / "clips")
    assert len(dataset) == 400 and dataset.manifest["count"] == 400
    item = dataset[0]
    assert item.shape == (15, 16, 16) and item.dtype == torch.float32
    items = torch.stack([dataset[i] for i in range(len(dataset))])
    assert items.min() >= -1 and items.max() <= 1
    ramp = items[(items[:, 0] == items[:, 0, :1, :1]).flatten(1).all(1)]
    ramp = ramp[(ramp[:, 3] - ramp[:, 0]).abs().amax(dim=(1, 2)) > 0.1]  # from "ramp" video
    assert len(ramp) > 0
    steps = ramp[:, 3::3, 0, 0] - ramp[:, 0:-3:3, 0, 0]  # frame k+1 minus frame k
    assert torch.allclose(steps, torch.full_like(steps, 20 / 127.5), atol=1e-5)
    loader = torch.utils.data.DataLoader(dataset, batch_size=100, num_workers=2)
    assert torch.equal(torch.cat(list(loader)), items)
    with pytest.raises(IndexError):
        dataset[400]


def test_process_data_refuses_existing_set_and_foreign_dir(
    data_train_dir: Path, tmp_path: Path
) -> None:
    clips = tmp_path / "clips"
    process_data(data_train_dir, clips, 50, SMALL, workers=1)
    with pytest.raises(MsganError, match="--overwrite"):
        process_data(data_train_dir, clips, 50, SMALL, workers=1)
    process_data(data_train_dir, clips, 70, SMALL, workers=1, overwrite=True)
    assert len(ClipDataset(clips)) == 70
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(MsganError, match="not touching it"):
        process_data(data_train_dir, foreign, 50, SMALL, workers=1, overwrite=True)
    assert (foreign / "thesis.tex").exists()


def test_import_video_gif_and_mp4(tmp_path: Path) -> None:
    import imageio.v3 as iio

    frames = moving_square_video(6) // 64 * 64  # a few colours: GIF keeps them exactly
    iio.imwrite(tmp_path / "clip.gif", frames, loop=0)
    assert import_video(tmp_path / "clip.gif", tmp_path / "gif_frames") == 6
    assert np.array_equal(load_video(tmp_path / "gif_frames")[2], frames[2])
    big = np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2)  # (6, 80, 96, 3): codec-friendly
    iio.imwrite(tmp_path / "clip.mp4", big, fps=10)
    assert import_video(tmp_path / "clip.mp4", tmp_path / "mp4_frames") == 6
    assert load_video(tmp_path / "mp4_frames").shape == (6, 80, 96, 3)


# --- bad input (issue 2): one clear line, nothing half-written --------------------------


def test_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MsganError, match="does not exist"):
        list_videos(tmp_path / "nope")
    status, _, err = run_cli(
        ["process-data", "-n", "5", "--train-dir", str(tmp_path / "nope"),
         "--clips-dir", str(tmp_path / "clips")],
        capsys,
    )  # fmt: skip
    assert status == 1 and "nope does not exist" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "clips").exists()


def test_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(MsganError, match="holds no video directories"):
        list_videos(tmp_path / "train")
    status, _, err = run_cli(
        ["process-data", "-n", "5", "--train-dir", str(tmp_path / "train"),
         "--clips-dir", str(tmp_path / "clips")],
        capsys,
    )  # fmt: skip
    assert status == 1 and "holds no video directories" in err


def test_short_videos_are_skipped_with_a_count(
    data_train_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(data_train_dir / "short1", moving_square_video(4))
    write_frames(data_train_dir / "short2", moving_square_video(2))
    with pytest.warns(DataWarning, match="skipped 2 video"):
        manifest = process_data(data_train_dir, tmp_path / "c", 20, SMALL, workers=1)
    assert manifest["source"]["skipped_short_videos"] == ["short1", "short2"]
    status, _, err = run_cli(
        ["process-data", "-n", "20", "--crop-size", "16", "--train-dir", str(data_train_dir),
         "--clips-dir", str(tmp_path / "c2"), "--workers", "1"],
        capsys,
    )  # fmt: skip
    assert status == 0 and "warning: skipped 2 video(s) with fewer than 5 frames" in err


def test_only_short_videos_is_an_error(tmp_path: Path) -> None:
    write_frames(tmp_path / "train" / "short", moving_square_video(3))
    with pytest.raises(MsganError, match="no usable video"):
        process_data(tmp_path / "train", tmp_path / "c", 20, SMALL, workers=1)
    assert not (tmp_path / "c").exists()


def test_undecodable_frame_names_the_file_and_writes_nothing(
    data_train_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_train_dir / "video2" / "frame5.png").write_bytes(b"this is not a png")
    with pytest.raises(MsganError, match=r"cannot decode frame .*video2/frame5\.png"):
        load_video(data_train_dir / "video2")
    status, _, err = run_cli(
        ["process-data", "-n", "200", "--crop-size", "16", "--train-dir", str(data_train_dir),
         "--clips-dir", str(tmp_path / "clips"), "--workers", "2"],
        capsys,
    )  # fmt: skip
    assert status == 1 and "frame5.png" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "clips").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["images"]  # no temporary leftovers


def test_frames_of_different_sizes(tmp_path: Path) -> None:
    frames = moving_square_video(6)
    write_frames(tmp_path / "v", frames)
    Image.fromarray(frames[0][:30]).save(tmp_path / "v" / "frame4.png")
    with pytest.raises(MsganError, match=r"frame4\.png is 30x48 but frame1\.png is 40x48"):
        load_video(tmp_path / "v")


def test_crop_larger_than_frames(data_train_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(MsganError, match="crop size 64 is larger than the 40x48 frames"):
        process_data(data_train_dir, tmp_path / "c", 10, DataConfig(crop_size=64), workers=1)
    assert not (tmp_path / "c").exists()


def test_zero_or_negative_clip_count(
    data_train_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in ["0", "-3"]:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["process-data", "-n", bad, "--train-dir", str(data_train_dir)])
        assert exit_info.value.code != 0
        assert "must be a positive integer" in capsys.readouterr().err
    with pytest.raises(MsganError, match="positive integer"):
        process_data(data_train_dir, tmp_path / "c", 0, SMALL)


def test_unreadable_video_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["import-video", str(tmp_path / "gone.mp4"), "--out", "x"], capsys)
    assert status == 1 and "gone.mp4 does not exist" in err
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x01 definitely not a video" * 10)
    out = tmp_path / "frames"
    status, _, err = run_cli(
        ["import-video", str(tmp_path / "broken.mp4"), "--out", str(out)], capsys
    )
    assert status == 1 and "cannot read video file" in err and "broken.mp4" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["broken.mp4"]


def test_clip_dataset_without_manifest(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    with pytest.raises(MsganError, match="process-data"):
        ClipDataset(tmp_path / "clips")


def test_ensure_sample_data_makes_only_what_is_missing(tmp_path: Path) -> None:
    from msgan_lib.clips import ensure_sample_data

    sizes = {"train_episodes": 1, "test_episodes": 1, "frames_per_episode": 12, "n_clips": 20}
    paths = ensure_sample_data(tmp_path, **sizes)
    assert len(ClipDataset(paths["clips"])) == 20
    assert len(list_videos(paths["test"])) == 1
    stamp = (paths["train"].stat().st_mtime_ns, paths["clips"].stat().st_mtime_ns)
    shutil.rmtree(paths["test"])
    ensure_sample_data(tmp_path, **sizes)
    assert len(list_videos(paths["test"])) == 1
    assert (paths["train"].stat().st_mtime_ns, paths["clips"].stat().st_mtime_ns) == stamp
