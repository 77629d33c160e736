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
# # 2. The model: a Laplacian-like pyramid
#
# Mathieu, Couprie & LeCun (2016, [arXiv:1511.05440](https://arxiv.org/abs/1511.05440),
# section 2.1) predict the next frame coarse to fine. A network first guesses the frame at
# 1/8 of its size; each finer scale receives that guess upsampled and only adds what its
# resolution can see, as the Laplacian pyramid of adversarial networks (LAPGAN, Denton et
# al. 2015) generates images. This chapter builds that generator and the per-scale
# discriminators of the adversarial model (section 2.2), all from `msgan_lib.model`.
#
# **Learning goals.** After this chapter you can
#
# - take a frame down an average-pooling pyramid and back, and say what detail each scale
#   is left to add;
# - write the generator's coarse-to-fine equation with its downsampling $d_k$ and
#   upsampling $u_k$, and point at each of its terms in `Generator.forward`;
# - explain our documented deviation `residual_on_last_input`, and measure why the shipped
#   models use it;
# - run a network trained on 32x32 crops on whole 210x160 frames, although 210 is not a
#   multiple of 8;
# - say what the conditional discriminator sees, and show that it can use the order of
#   the history, which a discriminator of the frame alone cannot;
# - count the parameters and FLOPs of every scale of the `paper`, `small` and `tiny`
#   presets.

# %% tags=["parameters"]
data_root = "../data/book"  # full run: "../data/pacman" (chapter 1's full run)
run_dir = "../runs/book/02_model"  # full run: "../runs/02_model"
preset_name = "tiny"  # full run: "small"
fit_steps = 300  # full run: 5_000
batch_size = 16  # full run: 32
learning_rate = 2e-3  # full run: 1e-3
p = 1  # full run: 1
d_steps = 200  # full run: 600 (the discriminator probe)
d_learning_rate = 1e-3  # full run: 1e-3 (Adam)
threads = 1  # full run: 0 (all cores); a tiny model runs faster on one thread
seed = 0

# %%
import dataclasses
import inspect
import os
import time

import numpy as np
import torch
from IPython.display import Code, Markdown, display

from msgan_lib.checkpoint import latest_checkpoint
from msgan_lib.clips import ClipDataset, ensure_sample_data
from msgan_lib.config import LossConfig, TrainConfig, preset
from msgan_lib.fileio import MsganError
from msgan_lib.frames import frames_to_model, list_videos, load_video
from msgan_lib.losses import d_adversarial_loss, scale_targets
from msgan_lib.model import (
    Discriminator,
    Generator,
    format_summary,
    model_summary,
    pyramid_round_trip,
    upsample,
)
from msgan_lib.motion import motion_score_map
from msgan_lib.train import train
from msgan_lib.viz import scale_costs, scale_grid

chapter_start, cpu_start = time.perf_counter(), os.times()  # wall clock; CPU time
torch.manual_seed(seed)
# Chapter 01 makes this data; whatever is missing is made here with its FAST sizes.
paths = ensure_sample_data(data_root, seed=seed)
test_dir, train_dir, clips_dir = paths["test"], paths["train"], paths["clips"]
config = preset(preset_name)
n = config.n_scales
scale_names = [f"1/{2 ** (n - 1 - k)}" if k < n - 1 else "1" for k in range(n)]

# %% [markdown]
# ## A frame down the pyramid and back
#
# We take a test episode (never trained on) and look for the moment with the most motion:
# the window of 5 frames and the 64x64 crop whose frame-to-frame differences are largest
# (the motion score of chapter 1).

# %%
video = load_video(list_videos(test_dir)[0])  # (T, 210, 160, 3) uint8
score = motion_score_map(video, config.history, 64)  # (T-4, 147, 97)
t, y, x = (int(i) for i in np.unravel_index(np.argmax(score), score.shape))
frames = frames_to_model(video[t : t + config.history + 1])  # (5, 3, 210, 160) in [-1, 1]
history = frames[:-1].reshape(1, -1, *frames.shape[-2:])  # (1, 3*4, 210, 160), oldest first
target = frames[-1:]  # (1, 3, 210, 160): the frame to predict
print(f"window: frames {t}..{t + config.history} of {len(video)}; busiest 64x64 crop at {y, x}")

# %% [markdown]
# The generator downsamples by **average pooling** and upsamples by **nearest neighbour**
# (the official code's choices). Below, the first row is the frame pooled to each scale.
# The second row is the coarser level upsampled to this scale: the best a scale can hope
# to receive from a perfect coarser scale. The third row is their difference, the detail
# that only this scale can add. A 210x160 frame gives scales of 26x20, 52x40, 105x80 and
# 210x160 (the sizes the earlier ports used too).

# %%
levels, from_coarser = pyramid_round_trip(target, n)
details = [level - up for level, up in zip(levels[1:], from_coarser, strict=True)]
level_titles = [
    f"{s}: {lv.shape[-2]}x{lv.shape[-1]}" for s, lv in zip(scale_names, levels, strict=True)
]
for k in range(1, n):
    share = float((details[k - 1].abs().amax(1) > 0.1).float().mean())
    print(
        f"scale {scale_names[k]:>4} {tuple(levels[k].shape[-2:])}: mean |detail| "
        f"{float(details[k - 1].abs().mean()):.4f}, pixels with detail > 0.1: {share:.1%}"
    )

# %% tags=["hide-input"]
fig = scale_grid(
    [levels, [None, *from_coarser], [None, *details]],
    ["pooled to scale k", "coarser, upsampled", "detail left to add"],
    level_titles,
    detail_rows=[2],
)

# %% [markdown]
# Most of the maze is the same at every scale once upsampled: walls are wide, flat blocks.
# The detail lives on edges, pellets, the score and the sprites. That is the point of the
# pyramid: the coarse scales get the layout and large motions cheaply (a 1/8 scale pixel
# moving one step is 8 pixels at full size), and each finer scale learns a correction.

# %% [markdown]
# ## The generator
#
# Write $X$ for the history (4 frames stacked on the channel axis), $n$ for the number of
# scales (4), and number the scales $k = 0$ (the coarsest, 1/8) to $n - 1$ (full size).
# Two operators move between scales: $d_k$ **average-pools** a full-size image by
# $2^{n-1-k}$ down to scale $k$, and $u_k$ **upsamples** an image of scale $k-1$ by 2 to
# scale $k$, by nearest neighbour (the official code's choices). With $G'_k$ the network of
# scale $k$ and $(\cdot, \cdot)$ a concatenation along the channels, the prediction
# $\hat Y_k$ of scale $k$ is
#
# $$\begin{aligned}
# X_k &= d_k(X), \\
# \hat Y_0 &= \tanh\big(G'_0(X_0)\big), \\
# \hat Y_k &= \tanh\Big(u_k(\hat Y_{k-1}) + G'_k\big(X_k,\ u_k(\hat Y_{k-1})\big)\Big),
#   \qquad k = 1, \dots, n - 1.
# \end{aligned}$$
#
# The term $u_k(\hat Y_{k-1})$ *outside* $G'_k$ is the residual of the paper's figure: scale
# $k$ only predicts a correction of the coarser guess, as each level of LAPGAN generates the
# band-pass detail of an upsampled coarser image. Both public ports dropped it. The tanh
# keeps every scale's frame in $[-1, 1]$. Each $G'_k$ is a stack of "same"-padded
# convolutions with ReLU between them and no normalisation; scale 0 reads 12 channels (the
# history), every finer scale 15 (the history and the upsampled guess). Here is the finest
# scale of the chosen preset:

# %%
generator = Generator(config)
print(generator.scales[-1])
print("input channels per scale:", [net[0].in_channels for net in generator.scales])

# %% [markdown]
# And here is `Generator.forward`, read from the library: `x_k = downsample(...)` is
# $X_k = d_k(X)$, `up = upsample(previous)` is $u_k(\hat Y_{k-1})$, `net` is $G'_k$ (fed
# `x_k` and `up` concatenated), and `y_k` adds `up` to the network's output `out` before
# the tanh: the third line of the equation. (The padding and cropping are the next section,
# `residual_on_last_input` the one after; the `actions` argument, for models conditioned
# on the player's actions, is an option beyond the paper, off in every preset.)

# %% tags=["hide-input"]
display(Code(inspect.getsource(Generator.forward), language="python"))

# %% [markdown]
# The residual in action: zero the last layer of one scale and that scale passes on its
# upsampled input (through the tanh) unchanged. The check compares $\hat Y_2$ with
# $\tanh(u_2(\hat Y_1))$ on a 64x64 crop, where every step is an exact doubling.

# %%
crop = history[..., y : y + 64, x : x + 64]  # (1, 12, 64, 64)
silent = Generator(config)
with torch.no_grad():
    silent.scales[2][-1].weight.zero_()
    silent.scales[2][-1].bias.zero_()
    preds = silent(crop)
residual_gap = float((preds[2] - torch.tanh(upsample(preds[1]))).abs().max())
print(f"max |Y_2 - tanh(u(Y_1))| with scale 2 silenced: {residual_gap:.2e}")

# %% [markdown]
# ## Whole frames
#
# The generator is fully convolutional, so it takes a whole frame. 210 is not a multiple of
# 8, so the history is padded at the bottom by reflection to 216 rows, the pyramid runs on
# 27, 54, 108 and 216 rows (exact doublings), and each scale's prediction is cropped back
# to the sizes of the pyramid above. The top border, where the maze starts, is never
# padded.

# %%
with torch.no_grad():
    untrained = generator(history)
for name, prediction in zip(scale_names, untrained, strict=True):
    print(f"scale {name:>4}: {tuple(prediction.shape)}")

# %% [markdown]
# ## Predicting the change: `residual_on_last_input` (our option)
#
# Between two Ms. Pac-Man frames almost nothing moves. A generator that predicts the frame
# must first learn to reproduce the static maze, pellets, score and lives exactly, pixel by
# pixel, before any of its capacity goes to motion. Our option `residual_on_last_input`
# (off in every preset, and not in the paper) lets the pyramid predict the *change* from
# the last input frame instead. With $L$ the last history frame and $L_k = d_k(L)$, scale
# $k$ outputs
#
# $$\tilde Y_k = L_k + 2\, \hat Y_k ,$$
#
# with $\hat Y_k$ the pyramid of the equation above, unchanged (it still passes
# $\hat Y_{k-1}$, the change, from scale to scale). Because $\hat Y_k \in (-1, 1)$, the
# factor 2 lets $\tilde Y_k$ reach any value of $[-1, 1]$ from any $L_k$; the losses are
# applied to $\tilde Y_k$ as they were to $\hat Y_k$, and prediction clamps the frame to
# $[-1, 1]$. A generator whose last layers output zeros now predicts the last frame
# exactly, the "copy the last frame" baseline, where the paper's predicts a grey frame. The
# shipped models (`weights/README.md`) use it. First, how much of a frame moves:

# %%
last_frame = frames[-2:-1]  # (1, 3, 210, 160): the last history frame
moving_share = float(((target - last_frame).abs().amax(1) > 1e-6).float().mean())
print(f"pixels that change between the last input frame and the next: {moving_share:.1%}")
residual_config = dataclasses.replace(config, residual_on_last_input=True)
silenced = {}
for name, cfg in (("paper's pyramid", config), ("residual on last input", residual_config)):
    model = Generator(cfg)
    with torch.no_grad():
        for net in model.scales:
            net[-1].weight.zero_()
            net[-1].bias.zero_()
        silenced[name] = model(history)[-1]  # (1, 3, 210, 160)
copy_gap = float((silenced["residual on last input"] - last_frame).abs().max())
silenced["copy the last frame"] = last_frame
silenced_error = {name: float((frame - target).abs().mean()) for name, frame in silenced.items()}
for name, error in silenced_error.items():
    print(f"{name:>22}: mean |error| {error:.4f} (last layers zeroed, except the copy)")
print(f"largest difference between the zeroed residual model and the last frame: {copy_gap:.1e}")

# %% [markdown]
# The section *Per-scale predictions* below fits both versions for the same steps and
# compares them with that copy.

# %% [markdown]
# ## The discriminator
#
# One network per scale. Each sees the **history** pooled to its scale and one candidate
# next frame (real or generated): 15 input channels. It asks "is this a plausible next
# frame *for this past*?", not just "is this a Ms. Pac-Man frame?" (both public ports fed
# it the single frame). Unpadded convolutions and fully connected layers end in one logit
# per scale; the losses of chapter 3 apply the sigmoid inside a numerically stable
# cross-entropy.

# %%
discriminator = Discriminator(config)
print(discriminator.scales[-1])
print("input channels per scale:", [d.net[0].in_channels for d in discriminator.scales])

# %% [markdown]
# Does a discriminator built this way really use the past? An untrained one cannot tell us:
# its logits are nearly constant. A small experiment can. Take training clips and give the
# discriminator two versions of each: the true history with the true next frame ("real"),
# and the same next frame after the history **reversed in time** ("fake"; the four frames
# in the opposite order, each frame's colours untouched). The candidate frame is the same
# in both, so a discriminator of the frame alone cannot do better than chance, by
# construction. The conditional one can, if it compares the candidate with the history:
# after a reversal the frame next to it is three steps older. We train it for `d_steps`
# steps with `d_adversarial_loss` (real against reversed) and measure it on held-out clips.

# %%
clip_set = ClipDataset(clips_dir)
order = torch.randperm(len(clip_set), generator=torch.Generator().manual_seed(seed))
held_out = torch.stack([clip_set[int(i)] for i in order[:256]])  # (256, 15, 32, 32)
train_pool = order[256:]


def reverse_time(histories: torch.Tensor) -> torch.Tensor:
    """``(B, 3T, H, W)`` histories with their T frames in the opposite order (RGB kept)."""
    b, _, h, w = histories.shape
    return histories.reshape(b, config.history, 3, h, w).flip(1).reshape(b, -1, h, w)


def reversal_accuracy(model: Discriminator, clips: torch.Tensor) -> list[float]:
    """Per scale: the share of real histories scored real and of reversed ones scored fake."""
    past, future = clips[:, : 3 * config.history], scale_targets(clips[:, 3 * config.history :], n)
    with torch.no_grad():
        real, reversed_ = model(past, future), model(reverse_time(past), future)
    return [
        0.5 * float((r > 0).float().mean() + (f < 0).float().mean())
        for r, f in zip(real, reversed_, strict=True)
    ]


probe = Discriminator(config)
untrained_accuracy = reversal_accuracy(probe, held_out)
optimizer = torch.optim.Adam(probe.parameters(), lr=d_learning_rate)
picks = torch.Generator().manual_seed(seed + 1)
for _ in range(d_steps):
    batch = torch.stack(
        [
            clip_set[int(i)]
            for i in train_pool[torch.randint(0, len(train_pool), (32,), generator=picks)]
        ]
    )
    past, future = batch[:, : 3 * config.history], scale_targets(batch[:, 3 * config.history :], n)
    loss = d_adversarial_loss(probe(past, future), probe(reverse_time(past), future))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
probe_accuracy = reversal_accuracy(probe.eval(), held_out)
print("held-out accuracy per scale " + " ".join(f"{s:>6}" for s in scale_names))
print(f"{'untrained':>26} " + " ".join(f"{a:6.2f}" for a in untrained_accuracy))
print(f"{f'after {d_steps} steps':>26} " + " ".join(f"{a:6.2f}" for a in probe_accuracy))

# %% [markdown]
# A frame-only discriminator would stay at 0.5 on every scale. The conditional one learns
# to reject a real frame that does not follow its past, most easily at the scales where the
# motion between frames is a visible shift (see the printed accuracies). That is what the
# paper's discriminator is for: the generator is rewarded for a frame that is a plausible
# *continuation*, not just a plausible frame.

# %% [markdown]
# Its fully connected layers fix the input size, so it only runs on the training crop
# size. Only the generator is needed to predict, so that is no restriction:

# %%
try:
    discriminator(history, untrained)
except MsganError as error:
    print("MsganError:", error)

# %% [markdown]
# ## What it costs
#
# Parameters and forward FLOPs per sample (a multiply-add counts as 2 FLOPs; convolutions
# and fully connected layers only) for the three presets: `paper` is the paper's tables,
# `small` the same layers and kernels with every width divided by 8 (trainable on a CPU),
# `tiny` a few thousand parameters for tests and these FAST runs. The generator is
# measured on a training crop and on a whole frame (at its padded size, which is what it
# computes); the discriminator always on the training crop.

# %%
summaries = {
    name: {size: model_summary(preset(name), *size) for size in [(32, 32), (210, 160)]}
    for name in ["paper", "small", "tiny"]
}
for name, by_size in summaries.items():
    crop_rows = by_size[(32, 32)]
    frame_rows = [r for r in by_size[(210, 160)] if r["network"] == "G"]
    display(Markdown(f"**{name}**\n\n" + format_summary(crop_rows + frame_rows)))

# %%
g_crop = {name: [r for r in s[(32, 32)] if r["network"] == "G"] for name, s in summaries.items()}
g_frame = {name: [r for r in s[(210, 160)] if r["network"] == "G"] for name, s in summaries.items()}
paper_crop, paper_frame = g_crop["paper"][-1], g_frame["paper"][-1]  # the "total" rows
print(f"paper generator: {paper_crop['params']:,} parameters")
print(f"paper finest scale on a 32x32 crop: {g_crop['paper'][-2]['flops'] / 1e9:.2f} GFLOP")
print(f"paper generator, whole frame / crop: {paper_frame['flops'] / paper_crop['flops']:.1f}x")
for name, rows in g_crop.items():
    print(f"{name:>5}: finest scale = {rows[-2]['flops'] / rows[-1]['flops']:.0%} of G's FLOPs")

# %% tags=["hide-input"]
fig = scale_costs({name: by_size[(32, 32)] for name, by_size in summaries.items()})
# %% [markdown]
# The finest scale runs the widest layers on the most pixels, so it takes most of the
# generator's work (the shares printed above). Compare the paper's finest scale with the
# "about 17 GFLOP" quoted for it; a whole frame costs about the ratio of pixels more
# (216x160 padded pixels against 32x32 for the finest scale).

# %% [markdown]
# ## Per-scale predictions, before and after a short fit
#
# An untrained generator predicts grey noise at every scale. We now fit it for a few steps
# with the paper's $\mathcal{L}_p$ + GDL objective (no adversary yet; chapters 3 and 4 add
# it) on the training clips of chapter 1, through the same `train` function as chapter 4,
# twice: the paper's pyramid, and the same generator with `residual_on_last_input`, on the
# same clips, steps and seed. The runs are load-or-train: a finished run in `run_dir` (or
# `run_dir` + `_residual`) is loaded.

# %%
train_config = TrainConfig(
    steps=fit_steps,
    batch_size=batch_size,
    adversarial=False,
    lr_g=learning_rate,
    lr_g_final=learning_rate,
    seed=seed,
    checkpoint_every=0,
    sample_every=0,
    log_every=max(1, fit_steps // 20),
    loss=LossConfig(p=p),
)
fits, fit_cpu, trained_here = {}, {}, {}
for name, cfg, out in (
    ("fitted", config, run_dir),
    ("fitted, residual on last input", residual_config, f"{run_dir}_residual"),
):
    trained_here[name] = latest_checkpoint(out) is None  # else loaded (or resumed)
    fit_start = time.process_time()  # CPU seconds of this process, all its threads
    result = train(
        clips_dir, out, cfg, train_config, resume=True, threads=threads or None, progress=False
    )
    fit_cpu[name] = time.process_time() - fit_start
    fits[name] = result.generator
    first, last = result.records[0], result.records[-1]
    print(
        f"{name}: {result.step} steps; Lp + GDL summed over scales "
        f"{first['lp'] + first['gdl']:.3f} (step {first['step']}) -> "
        f"{last['lp'] + last['gdl']:.3f} (step {last['step']})"
    )
fitted = fits["fitted"]

# %% [markdown]
# The whole test frame at every scale: the true next frame's pyramid, the untrained
# generator and the two fitted ones. Each scale's error against its own target, beside the
# "last input" baseline (the last history frame pooled to that scale, copied forward):

# %%
with torch.no_grad():
    outputs = {"untrained": untrained} | {
        name: [frame.clamp(-1, 1) for frame in model(history)] for name, model in fits.items()
    }
outputs["last input"] = pyramid_round_trip(last_frame, n)[0]  # the last frame, per scale
errors = {
    name: [float((a - lv).abs().mean()) for a, lv in zip(frames_k, levels, strict=True)]
    for name, frames_k in outputs.items()
}
print("mean |error| per scale         " + " ".join(f"{s:>7}" for s in scale_names))
for name, values in errors.items():
    print(f"{name:>30} " + " ".join(f"{v:7.4f}" for v in values))
after = outputs["fitted"]

# %% tags=["hide-input"]
fig = scale_grid(
    [levels, untrained, after, outputs["fitted, residual on last input"]],
    ["true next frame", "untrained", f"after {fit_steps} steps", "same, residual on last"],
    level_titles,
)

# %%
full = {name: values[-1] for name, values in errors.items()}
display(
    Markdown(
        f"On the full frame the paper's pyramid, after {fit_steps} steps, is "
        f"{full['fitted'] / full['last input']:.1f} times as far from the next frame as the "
        "copy of the last frame: nearly every pixel of a Ms. Pac-Man frame is static, and a "
        "short fit of a small generator learns the maze's layout and colours long before it "
        "learns to copy them exactly. The residual version starts near the copy (exactly at "
        "it when its last layers output zero, as above) and is at "
        f"{full['fitted, residual on last input'] / full['last input']:.2f} times the copy's "
        "error after the same steps. That is why the shipped models use it: their capacity "
        "goes to what moves. Chapters 4 and 5 train for real and measure the models against "
        "that baseline."
    )
)

# %% [markdown]
# Zoomed on the busiest 64x64 crop, the last row shows what each scale's network changed
# in the upsampled coarser prediction, `|Y_k - u(Y_{k-1})|` (the tanh included).

# %%
with torch.no_grad():
    zoom = fitted(crop)  # per-scale predictions of the crop: 8, 16, 32, 64 pixels
zoom_truth = scale_targets(target[..., y : y + 64, x : x + 64], n)
added = [zoom[k] - upsample(zoom[k - 1]) for k in range(1, n)]

# %% tags=["hide-input"]
fig = scale_grid(
    [zoom_truth, zoom, [None, *added]],
    ["true next frame", "fitted", "added by scale k"],
    [f"{name}: {z.shape[-2]}x{z.shape[-1]}" for name, z in zip(scale_names, zoom, strict=True)],
    detail_rows=[2],
)

# %% [markdown]
# ## Check
#
# What this chapter teaches, asserted so that a broken implementation fails the book.

# %%
assert [tuple(a.shape[-2:]) for a in after] == [(26, 20), (52, 40), (105, 80), (210, 160)]
assert residual_gap < 1e-6, "a silenced scale must pass tanh(u(Y_{k-1})) through"
assert copy_gap < 1e-6, "zeroed residual-on-last-input model must copy the last frame"
assert silenced_error["residual on last input"] < 0.5 * silenced_error["paper's pyramid"]
assert max(probe_accuracy) > 0.7 and max(probe_accuracy) > max(untrained_accuracy) + 0.15, (
    f"the conditional discriminator must learn the order of the history: {probe_accuracy}"
)
assert 12_500_000 < paper_crop["params"] < 12_650_000, "paper generator: about 12.57 M"
assert full["fitted"] < full["untrained"], "the fit must improve the full scale"
assert full["fitted, residual on last input"] < 0.5 * full["fitted"], (
    "after the same steps the residual model must be far closer to the next frame"
)
print("checks passed")

# %% [markdown]
# ## Summary
#
# - The pyramid: average pooling $d_k$ down, nearest-neighbour $u_k$ up; what a scale must
#   add is the difference between its level and the coarser level upsampled, mostly edges
#   and sprites.
# - `Generator(config)` predicts at four scales, coarsest first:
#   $\hat Y_k = \tanh(u_k(\hat Y_{k-1}) + G'_k(X_k, u_k(\hat Y_{k-1})))$. Whole 210x160
#   frames are padded at the bottom by reflection to a multiple of 8 and the predictions
#   cropped back.
# - `residual_on_last_input` (ours) predicts $\tilde Y_k = L_k + 2 \hat Y_k$: the change
#   from the last frame, so the static maze is right from the first step.
# - `Discriminator(config)` judges each scale's frame given the history, on training
#   crops; it can learn what a frame-only discriminator cannot (the order of the past).
# - `model_summary` gives parameters and FLOPs per scale; the finest scale dominates.
#
# Next, chapter 3: the losses that make these predictions sharp rather than blurred.
#
# ## Exercises
#
# Each is a parameter of the first code cell (papermill: `-p NAME VALUE`) or one line.
#
# 1. **One scale instead of four.** After `config = preset(preset_name)`, add
#    `config = config.finest_scale_only()` (the paper's "single-scale" baseline). What do
#    the parameter and FLOP tables say, and how does the fitted model's full-scale error
#    compare with the four-scale one after the same `fit_steps`?
# 2. **The residual between scales.** In the fitted generator, zero the last layer of the
#    finest scale (as in the residual check) and look at the zoomed figure: how much of the
#    prediction did the finest scale add?
# 3. **Train longer.** Set `fit_steps = 3000`. Does the paper's pyramid reach the copy
#    baseline's full-frame error, and does the residual version move away from it?
# 4. **What the discriminator sees.** Set `d_steps = 600`. Which scales learn the order of
#    the history first, and why might the coarsest learn it last?
# 5. **A bigger model.** Set `preset_name = "small"` and `threads = 0`: how much slower is
#    a step, and how do the per-scale FLOPs of the table explain it?
#
# ## References
#
# - M. Mathieu, C. Couprie, Y. LeCun. *Deep multi-scale video prediction beyond mean square
#   error.* ICLR 2016. [arXiv:1511.05440](https://arxiv.org/abs/1511.05440): section 2.1
#   (the multi-scale network), section 2.2 (the discriminator), section 3 (the networks'
#   sizes).
# - E. Denton, S. Chintala, A. Szlam, R. Fergus. *Deep generative image models using a
#   Laplacian pyramid of adversarial networks* (LAPGAN). NeurIPS 2015.
#   [arXiv:1506.05751](https://arxiv.org/abs/1506.05751).
# - P. Burt, E. Adelson. *The Laplacian pyramid as a compact image code.* IEEE Transactions
#   on Communications 31(4), 1983.
# - I. Goodfellow et al. *Generative adversarial nets.* NeurIPS 2014.
#   [arXiv:1406.2661](https://arxiv.org/abs/1406.2661).
# - Earlier implementations: the authors' Torch code
#   ([coupriec/VideoPredictionICLR2016](https://github.com/coupriec/VideoPredictionICLR2016)),
#   the TensorFlow port
#   ([dyelax/Adversarial_Video_Generation](https://github.com/dyelax/Adversarial_Video_Generation))
#   and the Chainer port
#   ([alokwhitewolf/Video-frame-prediction-by-multi-scale-GAN](https://github.com/alokwhitewolf/Video-frame-prediction-by-multi-scale-GAN));
#   both ports dropped the residual between scales and showed the discriminator the frame
#   alone.
#
# ## Timing
#
# The two fits and the discriminator probe take most of the time. Finished fits are loaded
# on a re-run with the same parameters, so a re-run is faster than a first run.
#
# The full-run parameters were not run to the end here; this is an estimate from measured
# rates. With `preset_name = "small"` and batch 32, one fit step costs about 1 CPU-second
# (0.94 for the paper's pyramid, 1.03 with `residual_on_last_input`, measured on one
# thread), so the two 5,000-step fits take about 165 CPU-minutes, and the 600-step
# discriminator probe about 5 more (0.49 CPU-seconds a step): about 3 CPU-hours, or one and
# a half to three hours on an idle 2-core machine. Measured from scratch, the full
# parameters with `fit_steps = 100` took 70 minutes and 22 CPU-minutes while training runs
# kept both cores busy (this chapter niced below them); on the busy cores the probe's two
# threads cost three to four times the CPU time that one thread does. The cell below prints
# this run's wall-clock and CPU time and, when it trained its fits, their rate per step.

# %%
chapter_seconds = time.perf_counter() - chapter_start
cpu_end = os.times()
chapter_cpu = sum(  # this kernel's CPU time and that of its finished child processes
    getattr(cpu_end, f) - getattr(cpu_start, f)
    for f in ("user", "system", "children_user", "children_system")
)
print(
    f"this run: {chapter_seconds:.0f} s for the chapter, {chapter_cpu:.0f} CPU-seconds "
    f"({fit_steps} fit steps per model)"
)
full_fit_steps = 5_000  # fit_steps of the full run (the parameters cell)
if all(trained_here.values()):
    per_step = sum(fit_cpu.values()) / (2 * fit_steps)
    full_cpu = chapter_cpu + 2 * (full_fit_steps - fit_steps) * per_step
    print(
        f"the fits: {1000 * per_step:.0f} CPU-ms per step; with fit_steps = {full_fit_steps:,} "
        f"and this run's other parameters, about {full_cpu / 60:.0f} CPU-minutes (an estimate)"
    )
