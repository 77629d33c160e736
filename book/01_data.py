# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Data: from Ms. Pac-Man to training clips
#
# The paper (Mathieu, Couprie & LeCun 2016, [arXiv:1511.05440](https://arxiv.org/abs/1511.05440),
# section 3) trains its networks on random 32x32 crops of short video windows: four frames
# of history and the frame to predict. Its Ms. Pac-Man data is no longer downloadable, so
# this chapter builds that data from scratch, with the Arcade Learning Environment.
#
# **Learning goals.** After this chapter you can
#
# - record seeded, reproducible Ms. Pac-Man episodes, split into train and test by episode;
# - explain the Atari's sprite **flicker** and measure what merging frames does about it;
# - cut a training clip: a window of 5 consecutive frames, one random crop;
# - write the earlier ports' **motion filter** as an equation and see which crops it keeps;
# - say what the crops kept *without* the check (`keep_without_check`) do for the full
#   frame, and measure it;
# - store a clip set as shards and read it with the `ClipDataset` that training uses.
#
# Everything runs through `msgan_lib` (`frames`, `pacman`, `motion`, `clips`); the same
# steps are the commands `msgan record-pacman` and `msgan process-data`. The full-run
# values of the parameters below are the data of the shipped models (`weights/README.md`).

# %% tags=["parameters"]
data_root = "../data/book"  # full run: "../data/pacman"
train_episodes = 3  # full run: 40
test_episodes = 2  # full run: 0 (the shipped models' test episodes have their own seed, 11)
frames_per_episode = 300  # full run: 3000
n_clips = 4000  # full run: 200_000
keep_without_check = 0.05  # full run: 0.2 (share of clips kept without the motion check)
seed = 0
workers = 0  # 0: all cores

# %%
import os
import time
from pathlib import Path

import numpy as np
import torch
from IPython.display import Markdown, display
from matplotlib import colormaps

from msgan_lib.clips import ClipDataset, process_data
from msgan_lib.config import DataConfig, RecordConfig
from msgan_lib.frames import list_videos, load_video
from msgan_lib.motion import draw_crops, motion_score, motion_score_map
from msgan_lib.pacman import episode_seed, merge_flicker, play_pacman, record_pacman, visible_ghosts
from msgan_lib.viz import bar_counts, binned_histogram, clip_cut, image_grid, motion_histogram

root = Path(data_root)
train_dir, test_dir, clips_dir = root / "images/train", root / "images/test", root / "clips"
# The paper's 4 frames of history and 32x32 crops, the port's motion rule.
config = DataConfig(keep_without_check=keep_without_check)
chapter_start, cpu_start = time.perf_counter(), os.times()  # wall clock; CPU time

# %% [markdown]
# ## Recording the game
#
# The Ms. Pac-Man ROM ships inside the `ale-py` wheel, so nothing is downloaded. Each
# episode gets its own seed, derived from `seed`, the split and the episode number; the
# same arguments always give byte-identical PNG files, and test episodes never repeat a
# train episode. The player is random but not jittery: it **holds** a random action for 4
# to 16 frames, long enough to run along a corridor. An episode ends at game over or after
# `frames_per_episode` frames; a game that ends earlier simply gives a shorter video. The
# start tune (about 4 seconds in which the game ignores the joystick and every episode is
# identical) is not recorded.

# %%
summary = record_pacman(
    root,
    train_episodes,
    test_episodes,
    seed=seed,
    config=RecordConfig(frames_per_episode=frames_per_episode),
    workers=workers or None,
    overwrite=True,
)
for split, videos in summary["videos"].items():
    print(f"{split}: {videos}")
print(f"{summary['frames']} frames in {summary['seconds']:.1f} s ({summary['fps']:.0f} frames/s)")

# %%
video = load_video(list_videos(train_dir)[0])  # (T, 210, 160, 3) uint8
print("one episode:", video.shape, video.dtype)
picks = np.linspace(0, len(video) - 1, 5).astype(int)
fig = image_grid(
    [[video[i] for i in picks]], col_titles=[f"frame {i}" for i in picks], cell_inches=2.2
)

# %% [markdown]
# ## Flicker
#
# The Atari 2600 can draw only a few sprites per line, so Ms. Pac-Man draws a different
# subset of its four ghosts in each emulator frame. Below are raw consecutive emulator
# frames (`merge=1`): ghosts appear and vanish from one frame to the next. A model trained on
# these would have to predict the flicker pattern rather than the ghosts' motion.

# %%
raw_config = RecordConfig(frames_per_episode=2 * frames_per_episode, merge=1)
raw = np.stack(list(play_pacman(episode_seed(seed, "train", 0), raw_config)))  # (T, H, W, 3)
start = 100
fig = image_grid(
    [[raw[start + k] for k in range(4)]],
    col_titles=[f"raw frame {start + k}" for k in range(4)],
    cell_inches=2.2,
)

# %% [markdown]
# Atari agents usually take the pixelwise maximum of two consecutive frames. On RGB frames
# that tints a ghost drawn in only one of the two with the maze colour (its red channel
# meets the maze's blue). We merge differently: keep the later frame and fill its
# background pixels (the most common colour) with whatever the earlier frame drew there.
# Each stored frame merges `merge = 2` emulator frames, so the videos run at 30 frames per
# second. Two measures, over the ghosts' colours: how many ghosts a frame shows, and how
# often a ghost appears or vanishes between consecutive frames (flicker; real motion into
# or out of the maze's tunnels is rare). A ghost hidden behind another is not seen, so no
# method shows 4 everywhere. One episode can mislead (how long the ghosts spend in their pen
# varies a lot), so the measures pool the first few train episodes, replayed unmerged.

# %%
flicker_episodes = min(train_episodes, 3)
seen = {"raw frames": [], "max of 2": [], "merge of 2 (ours)": [], "merge of 4": []}
for episode in range(flicker_episodes):
    if episode == 0:
        frames = raw
    else:
        frames = np.stack(list(play_pacman(episode_seed(seed, "train", episode), raw_config)))
    frames = frames[: len(frames) // 4 * 4]  # (T, H, W, 3), T a multiple of 4
    pairs = frames.reshape(-1, 2, *frames.shape[1:])  # (T/2, 2, H, W, 3)
    quads = frames.reshape(-1, 4, *frames.shape[1:])  # (T/4, 4, H, W, 3)
    seen["raw frames"].append(visible_ghosts(frames))  # (T, 4) booleans
    seen["max of 2"].append(visible_ghosts(pairs.max(axis=1)))  # (T/2, 4)
    seen["merge of 2 (ours)"].append(visible_ghosts(np.stack([merge_flicker(q) for q in pairs])))
    seen["merge of 4"].append(visible_ghosts(np.stack([merge_flicker(q) for q in quads])))
# Pooled over the episodes; flicker counts changes between consecutive frames of one episode.
ghosts = {name: float(np.concatenate(v).sum(axis=1).mean()) for name, v in seen.items()}
flicker = {
    name: float(np.concatenate([e[1:] != e[:-1] for e in v]).mean()) for name, v in seen.items()
}
print(f"{flicker_episodes} episodes, {sum(len(e) for e in seen['raw frames']):,} raw frames")
for name in seen:
    print(f"{name:>18}: {ghosts[name]:.2f} ghosts per frame, flicker {flicker[name]:.1%}")

# %% tags=["hide-input"]
fig = bar_counts(flicker, title="a ghost appears or vanishes between frames", ylabel="rate")

# %% tags=["hide-input"]
pair = raw[start : start + 2]  # (2, H, W, 3): two consecutive raw frames of episode 0
fig = image_grid(
    [[pair[0], pair[1], pair.max(axis=0), merge_flicker(pair)]],
    col_titles=["raw frame a", "raw frame b", "max(a, b)", "merge (ours)"],
    cell_inches=2.2,
)

# %%
display(
    Markdown(
        f"Merging two frames raises the ghosts a frame shows from {ghosts['raw frames']:.1f} "
        f"to {ghosts['merge of 2 (ours)']:.1f} and cuts the flicker from "
        f"{flicker['raw frames']:.0%} to {flicker['merge of 2 (ours)']:.0%}. (The maximum "
        f"scores {flicker['max of 2']:.0%} on flicker only because its tinted ghosts are not "
        f"recognised at all: it shows {ghosts['max of 2']:.1f} ghosts per frame.) Most of "
        "what remains is in the middle of the maze, at the start of a life, while the ghosts "
        "wait in their pen: there the game cycles them through four phases, which two frames "
        "cannot cover. A merge of 4 frames (15 frames per second, `msgan record-pacman "
        f"--merge 4`) cuts the flicker to {flicker['merge of 4']:.0%}, at the cost of halving "
        "the frame rate and doubling the motion between frames. We keep 30 frames per "
        "second: the pen is a small area of the maze."
    )
)

# %% [markdown]
# ## Cutting a clip
#
# A training clip is a window of `history + 1 = 5` consecutive frames, cropped to 32x32 at
# one random position shared by all five. The first four are the model's input, the last
# one the frame to predict. Stacked channel-wise, oldest first, that is a
# `(15, 32, 32)` tensor in [-1, 1].

# %%
rng = np.random.default_rng(seed)
energy = motion_score_map(video, config.history, config.crop_size)  # (T-4, 179, 129)
(t,), (y,), (x,), _, _ = draw_crops(energy, 1, rng, config)  # a random clip that moves
print(f"window starting at frame {t}, crop at y={y}, x={x}, motion score {energy[t, y, x]:.0f}")
fig = clip_cut(video, t, y, x, config.history, config.crop_size)

# %% [markdown]
# ## The motion filter
#
# Most of a maze does not move. The earlier ports therefore scored a clip by its summed
# squared frame-to-frame difference on $[-1, 1]$ data. With $F_t$ the frames in $[-1, 1]$,
# $T = 4$ history frames, crops of side $S = 32$ and the window starting at frame $t$, the
# crop at row $y$ and column $x$ scores
#
# $$s(t, y, x) = \sum_{\tau=1}^{T} \sum_{i,j=0}^{S-1} \sum_{c=1}^{3}
#   \big(F_{t+\tau}[y+i, x+j, c] - F_{t+\tau-1}[y+i, x+j, c]\big)^2$$
#
# and is kept if $s(t, y, x) > \theta = 100$. A clip draws a random window and up to 100
# random crops of it, keeping the first that passes (or the last one tried). A share
# $\rho$ of the clips, `keep_without_check`, keeps its first crop without the check (the
# port: 5%), so that static content is still seen. `motion_score_map` computes $s$ for
# *every* crop position of every window at once, so the distribution below covers all
# crops of the episode:

# %%
passing = float((energy > config.motion_threshold).mean())
print(f"{energy.size:,} possible crops; {passing:.1%} pass the threshold")
direct = motion_score(video[t : t + 5, y : y + 32, x : x + 32])
print(
    f"score of the clip above: from the map {energy[t, y, x]:.2f}, computed directly {direct:.2f}"
)

# %% tags=["hide-input"]
fig = motion_histogram(
    energy[:, ::4, ::4], config.motion_threshold, title="all crops of one episode"
)

# %% [markdown]
# Kept and rejected crops side by side: each row is one clip, frames left to right, with
# its score. Most crops score exactly 0 (walls and pellets); the rejected ones shown here
# moved a little (a sprite's edge), the kept ones contain Ms. Pac-Man or a ghost.

# %%
t_kept, y_kept, x_kept, reason, kept_scores = draw_crops(
    energy, 3, rng, DataConfig(keep_without_check=0.0)
)
low = np.argwhere((energy > 0) & (energy < config.motion_threshold))  # some motion, too little
rejected = low[rng.choice(len(low), 3, replace=False)]
rows, titles = [], []
for a, b, c, s in zip(t_kept, y_kept, x_kept, kept_scores, strict=True):
    rows.append(list(video[a : a + 5, b : b + 32, c : c + 32]))
    titles.append(f"kept {s:.0f}")
for a, b, c in rejected:
    rows.append(list(video[a : a + 5, b : b + 32, c : c + 32]))
    titles.append(f"rejected {energy[a, b, c]:.1f}")

# %% tags=["hide-input"]
fig = image_grid(rows, row_titles=titles, cell_inches=1.1)

# %% [markdown]
# ## What static crops do for the full frame
#
# The motion rule keeps crops where something moves: corridors that Ms. Pac-Man and the
# ghosts run through. Pixels that never move (the score and lives below the maze, walls
# far from any corridor) then appear in few training clips, and a model that predicts
# whole frames has barely seen them: an earlier trial here with few static crops tinted the
# static maze and lost the score and lives on full frames. The clips kept without the check
# are uniform random crops, so they spread training over the whole frame. Below, for a few
# values of $\rho$, how often each pixel of the frame lies inside a training crop, relative
# to uniform random crops (1 means as often as uniform crops would show it; 0 never), drawn
# from the training episodes with the same rule as `process_data`.

# %%
frame_h, frame_w = video.shape[1:3]
crop = config.crop_size
positions_y, positions_x = frame_h - crop + 1, frame_w - crop + 1
# The chance that one uniform random crop covers each pixel: (H, W).
uniform = np.outer(
    np.convolve(np.ones(positions_y), np.ones(crop)) / positions_y,
    np.convolve(np.ones(positions_x), np.ones(crop)) / positions_x,
)
keep_values = sorted({0.0, keep_without_check, 0.2})  # 0.2: the shipped models' data
coverage = {keep: np.zeros((frame_h, frame_w)) for keep in keep_values}
coverage_videos = list_videos(train_dir)[:5]
draws = 2000
for i, path in enumerate(coverage_videos):
    scores_i = motion_score_map(load_video(path), config.history, crop)  # (T-4, 179, 129)
    for keep in keep_values:
        rule = DataConfig(keep_without_check=keep)
        _, ys, xs, _, _ = draw_crops(scores_i, draws, np.random.default_rng([seed, i]), rule)
        for a, b in zip(ys, xs, strict=True):
            coverage[keep][a : a + crop, b : b + crop] += 1
relative = {  # (H, W): coverage per crop drawn, over that of uniform crops
    keep: counts / (draws * len(coverage_videos)) / uniform for keep, counts in coverage.items()
}
neglected = {keep: float((rel < 0.1).mean()) for keep, rel in relative.items()}
for keep in keep_values:
    print(
        f"keep_without_check = {keep:.2f}: {neglected[keep]:.1%} of the frame's pixels are in "
        "training crops less than a tenth as often as uniform crops would put them"
    )

# %% tags=["hide-input"]
fig = image_grid(
    [
        [video[0]]
        + [colormaps["magma"](np.clip(relative[k], 0, 2) / 2)[..., :3] for k in keep_values]
    ],
    col_titles=["a frame"] + [f"coverage, rho = {k:.2f}" for k in keep_values],
    cell_inches=2.2,
)

# %% [markdown]
# Dark is neglected (black: never in a crop), orange is as often as uniform crops, yellow
# twice as often. Without unchecked clips the corridors where sprites run are
# over-represented and the static parts of the frame almost vanish from training (the
# shares printed above); a fifth of the clips kept without the check (the shipped models'
# data, `weights/README.md`) covers nearly the whole frame. The cost is a fifth of the
# clips spent on content that does not move.

# %% [markdown]
# ## The clip set
#
# `process_data` does this for the whole train split: each video is decoded once, the score
# map is computed once, all clips are drawn in one vectorised step, and several processes
# work on different videos. Each video draws from its own random stream (the seed and the
# video's index), so the clips are the same whatever the number of workers. Clips are
# stored as shards, each clip compressed on its own so that any one can be read alone, plus
# a `manifest.json`. The set is written to a hidden directory and renamed into place at
# the end; an existing set is never appended to (`overwrite=True` replaces it, as here).

# %%
manifest = process_data(
    train_dir, clips_dir, n_clips, config, seed=seed, workers=workers or None, overwrite=True
)
motion = manifest["motion"]
clip_bytes = sum(s["bytes"] for s in manifest["shards"])
raw_bytes = manifest["count"] * int(np.prod(manifest["clip_shape"]))
print(f"{manifest['count']} clips {manifest['clip_shape']} in {len(manifest['shards'])} shards")
print(f"{manifest['seconds']:.1f} s: {manifest['count'] / manifest['seconds']:.0f} clips/s")
print(f"why kept: {motion['counts']}")
print(
    f"motion score: median {motion['score_quantiles']['0.5']:.0f}, mean {motion['score_mean']:.0f}"
)
print(f"{clip_bytes / manifest['count']:.0f} bytes per clip, {raw_bytes / clip_bytes:.0f}x smaller")

# %% [markdown]
# Training reads the set through `ClipDataset`, a PyTorch `Dataset` with random access to
# any clip (the shards are memory-mapped, so DataLoader workers share them):

# %%
dataset = ClipDataset(clips_dir)
item = dataset[0]
print(len(dataset), tuple(item.shape), item.dtype, float(item.min()), float(item.max()))
batch = torch.stack([dataset[i] for i in range(0, len(dataset), max(1, len(dataset) // 6))][:6])
rows = [[clip[3 * k : 3 * k + 3] for k in range(config.history + 1)] for clip in batch]
fig = image_grid(rows, col_titles=["t-3", "t-2", "t-1", "t", "target"], cell_inches=1.1)

# %% [markdown]
# The scores of the kept clips: those kept without the check (a share $\rho$ =
# `keep_without_check`) and any window where no crop in 100 tries moved form the low tail;
# the rest lie above the threshold.

# %% tags=["hide-input"]
fig = binned_histogram(
    motion["histogram_edges"],
    motion["histogram_counts"],
    config.motion_threshold,
    xlabel="motion score of kept clips",
)

# %% [markdown]
# ## Check
#
# What this chapter relies on and teaches, asserted so that a broken step fails the book.

# %%
assert len(dataset) == n_clips, "the clip set must hold exactly n_clips clips"
assert item.shape == (3 * (config.history + 1), config.crop_size, config.crop_size)
assert -1.0 <= float(item.min()) and float(item.max()) <= 1.0, "clips must lie in [-1, 1]"
assert test_episodes == 0 or len(list_videos(test_dir)) == test_episodes, "test episodes"
assert ghosts["merge of 2 (ours)"] > ghosts["raw frames"] + 0.5, "merging must show ghosts"
assert ghosts["max of 2"] < ghosts["merge of 2 (ours)"], "the maximum must lose tinted ghosts"
assert flicker["merge of 2 (ours)"] < 0.75 * flicker["raw frames"], "merging must cut flicker"
assert flicker["merge of 4"] < 0.75 * flicker["merge of 2 (ours)"], "the pen's 4 phases"
unchecked = motion["counts"]["kept_without_check"] / n_clips
assert abs(unchecked - keep_without_check) < 0.05, f"{unchecked:.1%} kept without the check"
assert motion["counts"]["passed"] > (0.95 - keep_without_check) * n_clips, (
    "all clips but the unchecked ones (and a few after 100 tries) must pass the motion rule"
)
assert abs(direct - float(energy[t, y, x])) < 1e-3 * max(direct, 1.0), "score map vs direct"
assert neglected[0.0] > 0.05 and neglected[max(keep_values)] < 0.5 * neglected[0.0], (
    f"static crops must cover the frame: neglected shares {neglected}"
)
print("checks passed")

# %% [markdown]
# ## Summary
#
# - `record_pacman` / `msgan record-pacman` writes seeded Ms. Pac-Man episodes in the
#   layout `images/{train,test}/episode_NNNNN/frame_NNNNNN.png`, merging each pair of
#   emulator frames so that flickering ghosts are drawn.
# - A clip is a 5-frame window cropped to 32x32; the motion filter keeps crops whose score
#   $s(t, y, x)$, the summed squared frame difference, exceeds 100, plus a share $\rho$
#   (`keep_without_check`) unchecked, which is what keeps the static parts of the frame in
#   training.
# - `process_data` / `msgan process-data` cuts them in bulk into compressed shards with a
#   manifest; `ClipDataset` serves them as `(15, 32, 32)` tensors in [-1, 1].
#
# Next, chapter 2 builds the multi-scale generator that takes the first four frames of such
# a clip and predicts the fifth.
#
# ## Exercises
#
# Each is a parameter of the first code cell (papermill: `-p NAME VALUE`) or one line.
#
# 1. **Flicker.** In the flicker section, change `merge=1` to `merge=2` in `raw_config`.
#    Which flicker rates of the table change, and what does that tell you about the frames
#    the chapter's videos are recorded from?
# 2. **Static crops.** Set `keep_without_check = 0.0`, then `0.5`. How do the coverage maps
#    and the "why kept" counts of the clip set change? What would a model trained on each
#    predict for the score at the bottom of the frame?
# 3. **The threshold.** In the first code cell after the parameters, add
#    `motion_threshold=25.0` (then `400.0`) to `DataConfig(...)`: what share of all crops
#    passes, and what do the kept crops of the figure show?
# 4. **Longer episodes.** Set `frames_per_episode = 3000` (the full run). Do the episodes
#    last that long with a random player, and how does the flicker of the pen change over
#    an episode?
#
# ## References
#
# - M. Mathieu, C. Couprie, Y. LeCun. *Deep multi-scale video prediction beyond mean square
#   error.* ICLR 2016. [arXiv:1511.05440](https://arxiv.org/abs/1511.05440): section 3
#   (the data: 4 input frames, 32x32 training patches).
# - M. G. Bellemare, Y. Naddaf, J. Veness, M. Bowling. *The Arcade Learning Environment: an
#   evaluation platform for general agents.* JAIR 47, 2013.
#   [arXiv:1207.4708](https://arxiv.org/abs/1207.4708) (`ale-py`, which ships the ROM).
# - V. Mnih et al. *Human-level control through deep reinforcement learning.* Nature 518,
#   2015 (the maximum over two frames against flicker).
# - M. C. Machado et al. *Revisiting the Arcade Learning Environment.* JAIR 61, 2018.
#   [arXiv:1709.06009](https://arxiv.org/abs/1709.06009) (frame skip and sticky actions,
#   which we turn off: `repeat_action_probability = 0`).
# - The Chainer port whose data step we replace, with its motion rule:
#   [alokwhitewolf/Video-frame-prediction-by-multi-scale-GAN](https://github.com/alokwhitewolf/Video-frame-prediction-by-multi-scale-GAN)
#   (`process_data.py`); the TensorFlow port it followed:
#   [dyelax/Adversarial_Video_Generation](https://github.com/dyelax/Adversarial_Video_Generation).
#
# ## Timing
#
# Recording and cutting are fast (the rates are printed above); most of the FAST run, under
# a minute on an idle 2-core machine, is figures. The full-run parameters were measured
# once, from scratch, on the 2-core machine while training runs kept both cores busy (this
# chapter niced below them): 25 minutes, nearly all of it waiting for a core, and 3.4
# CPU-minutes (user + system, the worker processes included). The random player's games end
# long before 3,000 frames: the 40 episodes held 37,952 frames. The cell below prints this
# run's wall-clock and CPU time.

# %%
chapter_seconds = time.perf_counter() - chapter_start
cpu_end = os.times()
chapter_cpu = sum(  # this kernel's CPU time and that of its finished worker processes
    getattr(cpu_end, f) - getattr(cpu_start, f)
    for f in ("user", "system", "children_user", "children_system")
)
print(f"this run: {chapter_seconds:.0f} s for the chapter, {chapter_cpu:.0f} CPU-seconds")
