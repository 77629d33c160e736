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
# Mathieu, Couprie & LeCun (2016, section 2.1) predict the next frame coarse to fine. A
# network first guesses the frame at 1/8 of its size; each finer scale receives that guess
# upsampled and only adds what its resolution can see. This chapter builds that generator
# and the per-scale discriminators of the adversarial model. You will see:
#
# - a real Ms. Pac-Man frame taken **down the pyramid and back**, and the detail each scale
#   is left to add (the "Laplacian" of the pyramid);
# - the **generator**: four scales, each a residual correction of the coarser prediction,
#   `Y_k = tanh(u(Y_{k-1}) + G'_k(X_k, u(Y_{k-1})))` (the residual both public ports dropped);
# - how it predicts whole 210x160 frames although 210 is not a multiple of 8;
# - the **conditional discriminator**: one network per scale that judges a frame given the
#   history, and why it only works on training crops;
# - **what it costs**: parameters and FLOPs per scale of the `paper`, `small` and `tiny`
#   presets;
# - the per-scale predictions **before and after a short fit**.
#
# Everything comes from `msgan_lib.model`.

# %% tags=["parameters"]
data_root = "../data/book"  # full run: "../data"
run_dir = "../runs/book/02_model"  # full run: "../runs/02_model"
preset_name = "tiny"  # full run: "small"
fit_steps = 300  # full run: 5_000
batch_size = 16  # full run: 32
learning_rate = 2e-3  # full run: 1e-3
p = 1  # full run: 1
threads = 1  # full run: 0 (all cores); a tiny model runs faster on one thread
seed = 0

# %%
import time

import numpy as np
import torch
from IPython.display import Markdown, display

from msgan_lib.clips import ensure_sample_data
from msgan_lib.config import LossConfig, TrainConfig, preset
from msgan_lib.fileio import MsganError
from msgan_lib.frames import frames_to_model, list_videos, load_video
from msgan_lib.losses import scale_targets
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

chapter_start = time.perf_counter()
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
# Scale 0 reads the 4 history frames pooled to 1/8 (12 channels). Every finer scale reads
# the history at its size **and** the coarser prediction upsampled (15 channels), and adds
# its output to that upsampled prediction before the tanh. Each scale's network is a stack
# of "same"-padded convolutions with ReLU between them and no normalisation. Here is the
# finest scale of the chosen preset:

# %%
generator = Generator(config)
print(generator.scales[-1])
print("input channels per scale:", [net[0].in_channels for net in generator.scales])

# %% [markdown]
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
# The residual in code: zero the last layer of one scale and that scale passes on its
# upsampled input (through the tanh) unchanged. The check compares with
# `tanh(u(Y_{k-1}))` on a 64x64 crop, where every step is an exact doubling.

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
crop_history = history[..., y : y + 32, x : x + 32]  # (1, 12, 32, 32): a training crop
crop_target = target[..., y : y + 32, x : x + 32]  # (1, 3, 32, 32)
with torch.no_grad():
    real = discriminator(crop_history, scale_targets(crop_target, n))
    swapped = discriminator(crop_history.flip(1), scale_targets(crop_target, n))
print("logits per scale:", [round(float(z), 4) for z in real])
print("same frame, history reversed:", [round(float(z), 4) for z in swapped])
logit_change = max(abs(float(a) - float(b)) for a, b in zip(real, swapped, strict=True))
print(f"largest change of a logit: {logit_change:.4f}")

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
# with the paper's `L_p + GDL` objective (no adversary yet; chapters 3 and 4 add it) on the
# training clips of chapter 1, through the same `train` function as chapter 4. The run is
# load-or-train: if `run_dir` already holds a finished run, it is loaded.

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
result = train(
    clips_dir, run_dir, config, train_config, resume=True, threads=threads or None, progress=False
)
fitted = result.generator
first, last = result.records[0], result.records[-1]
print(
    f"{result.step} steps; Lp + GDL summed over scales: {first['lp'] + first['gdl']:.3f} "
    f"(step {first['step']}) -> {last['lp'] + last['gdl']:.3f} (step {last['step']})"
)

# %% [markdown]
# The whole test frame at every scale: the true next frame's pyramid, the untrained
# generator and the fitted one. Each scale's error against its own target, beside the
# "last input" baseline (the last history frame pooled to that scale, copied forward):

# %%
with torch.no_grad():
    after = fitted(history)
last_input = pyramid_round_trip(frames[-2:-1], n)[0]  # the last history frame, per scale
errors = {
    "untrained": [float((u - lv).abs().mean()) for u, lv in zip(untrained, levels, strict=True)],
    "fitted": [float((a - lv).abs().mean()) for a, lv in zip(after, levels, strict=True)],
    "last input": [float((c - lv).abs().mean()) for c, lv in zip(last_input, levels, strict=True)],
}
print("mean |error| per scale " + " ".join(f"{s:>7}" for s in scale_names))
for name, values in errors.items():
    print(f"{name:>22} " + " ".join(f"{v:7.4f}" for v in values))

# %% tags=["hide-input"]
fig = scale_grid(
    [levels, untrained, after],
    ["true next frame", "untrained", f"after {result.step} steps"],
    level_titles,
)

# %% [markdown]
# Compare the "fitted" and "last input" rows of the table: nearly every pixel of a
# Ms. Pac-Man frame is static, so copying the last frame forward is a strong baseline, and
# a short fit of a small generator learns the maze's layout and colours long before it
# learns to copy them exactly. Chapters 4 and 5 train for real and measure the model
# against that baseline.

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

# %%
chapter_seconds = time.perf_counter() - chapter_start
print(f"chapter ran in {chapter_seconds:.0f} s")
assert [tuple(a.shape[-2:]) for a in after] == [(26, 20), (52, 40), (105, 80), (210, 160)]
assert residual_gap < 1e-6, "a silenced scale must pass tanh(u(Y_{k-1})) through"
assert logit_change > 0, "the discriminator must depend on the history"
assert 12_500_000 < paper_crop["params"] < 12_650_000, "paper generator: about 12.57 M"
assert errors["fitted"][-1] < errors["untrained"][-1], "the fit must improve the full scale"

# %% [markdown]
# ## Summary
#
# - The pyramid: average pooling down, nearest-neighbour up; what a scale must add is the
#   difference between its level and the coarser level upsampled, mostly edges and sprites.
# - `Generator(config)` predicts at four scales, coarsest first; scale k outputs
#   `tanh(u(Y_{k-1}) + G'_k(X_k, u(Y_{k-1})))`. Whole 210x160 frames are padded at the
#   bottom by reflection to a multiple of 8 and the predictions cropped back.
# - `Discriminator(config)` judges each scale's frame given the history, on training crops.
# - `model_summary` gives parameters and FLOPs per scale; the finest scale dominates.
#
# Next, chapter 3: the losses that make these predictions sharp rather than blurred.
