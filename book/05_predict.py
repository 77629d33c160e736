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
# # 5. Prediction: whole frames, several steps ahead, measured honestly
#
# The generator was trained on 32x32 crops, but it is fully convolutional: it runs on whole
# 210x160 Ms. Pac-Man frames. This chapter uses it the way the paper does and asks how good
# it really is:
#
# - **recursive prediction**: each predicted frame joins the history, so the model can look
#   several frames ahead, and its errors compound;
# - **the paper's metrics**: PSNR, SSIM and the sharpness difference, on the full frame and
#   on the pixels that move;
# - **two baselines** that need no model at all, copying the last frame forward and averaging
#   the history, and why a model means nothing until it beats both;
# - **adversarial against L2-only** training, side by side;
# - an **explorer** to step through the predictions yourself.
#
# Everything here is `msgan_lib.predict`, `msgan_lib.evaluate` and `msgan_lib.metrics`; the
# same steps are the
# commands `msgan predict -p WEIGHTS -n 7` and `msgan evaluate -p WEIGHTS --steps 8`.

# %% tags=["parameters"]
data_root = "../data/book"  # full run: "../data"
weights_dir = "../weights"  # the shipped pacman-small-{adv,l2}.safetensors, when present
chapter4_run = "../runs/book/04_train"  # chapter 4's adversarial run, the next choice
run_root = "../runs/book/05_predict"  # quick runs and this chapter's outputs
quick_train_steps = 30  # full run: use the shipped weights (trained for hours)
predict_steps = 6  # full run: 8
eval_windows = 8  # full run: 200
explorer_videos = 2  # full run: 5
seed = 0

# %%
import time
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image, Markdown, display

from msgan_lib import metrics, viz
from msgan_lib.checkpoint import latest_checkpoint, load_generator_info, load_models
from msgan_lib.clips import ensure_sample_data
from msgan_lib.config import TrainConfig, preset
from msgan_lib.evaluate import evaluate_models, metrics_markdown, write_evaluation
from msgan_lib.frames import frames_to_model, list_videos
from msgan_lib.predict import Predictor, predict_video, write_prediction
from msgan_lib.train import train

test_dir = Path(data_root) / "images" / "test"
clips_dir = Path(data_root) / "clips"
run_root = Path(run_root)
shipped = {kind: Path(weights_dir) / f"pacman-small-{kind}.safetensors" for kind in ("adv", "l2")}
torch.manual_seed(seed)

# %% [markdown]
# ## The models: shipped weights, else chapter 4's run, else a quick run
#
# Training a model that predicts Ms. Pac-Man well takes hours on a CPU, so the project ships
# two trained generators: `pacman-small-adv` (Lp + GDL + adversarial) and `pacman-small-l2`
# (Lp + GDL only, the same recipe without the discriminator), each 20,000 steps of the
# `small` preset on a 2-core CPU (`weights/README.md` has the recipe, the commands and their
# evaluation on held-out episodes). When they are missing, this
# chapter takes chapter 4's run, and failing that trains a tiny model for a few seconds.
# The data comes from chapter 1 (recorded here if missing). A quick run predicts little
# more than a blur: the metrics below then show exactly that.

# %%
ensure_sample_data(data_root, seed=seed)

started = time.perf_counter()
sources = {}
for kind in ("adv", "l2"):
    adversarial = kind == "adv"
    if shipped[kind].exists():
        sources[kind] = shipped[kind]
    elif adversarial and latest_checkpoint(chapter4_run) is not None:
        sources[kind] = Path(chapter4_run)
    else:  # load-or-train: a finished quick run is only loaded
        quick = TrainConfig(
            steps=quick_train_steps,
            batch_size=8,
            adversarial=adversarial,
            seed=seed,
            checkpoint_every=0,
            sample_every=0,
            log_every=10,
        )
        result = train(
            clips_dir,
            run_root / f"quick-{kind}",
            preset("tiny"),
            quick,
            resume=True,
            progress=False,
        )
        sources[kind] = result.run_dir
models = load_models([sources["adv"], sources["l2"]])
name_adv, name_l2 = list(models)
for name, source in zip(models, sources.values(), strict=True):
    _, info = load_generator_info(source)
    step = "shipped" if info["step"] is None else f"{info['step']} steps"
    n_params = sum(p.numel() for p in models[name].parameters())
    print(f"{name:24s} {info['kind']:4s} {step:>12s}  {n_params:,} parameters  <- {source}")
print(f"models ready in {time.perf_counter() - started:.1f} s")
history = models[name_adv].config.history

# %% [markdown]
# ## Recursive prediction
#
# The generator maps the last $T = 4$ frames to the next one. To see further ahead, the
# prediction is appended to the history and the oldest frame dropped:
#
# $$\hat Y_{t+1} = G(X_{t-3}, X_{t-2}, X_{t-1}, X_t), \qquad
#   \hat Y_{t+2} = G(X_{t-2}, X_{t-1}, X_t, \hat Y_{t+1}), \quad \ldots$$
#
# `Predictor` keeps this history on the device as one tensor of $T + $ steps frames: step
# $s$ reads a view of frames $s \ldots s+T-1$ and writes frame $s+T$. Nothing is re-read
# from disk or re-normalised, and the generator runs in bf16 with the channels_last layout
# where the CPU supports it (the fastest settings in `benchmarks/bench_predict.py`).
# `predict_video` picks a random test window in which something moves.

# %%
prediction = predict_video(models, test_dir, steps=predict_steps, seed=seed)
print(
    f"{prediction.video.name}, frames {prediction.start} .. "
    f"{prediction.start + history + predict_steps - 1}"
)
frame = prediction.inputs[-1]
print(f"frame size {frame.shape[0]}x{frame.shape[1]}, {predict_steps} recursive steps")

# %% tags=["hide-input"]
fig = viz.prediction_grid(prediction.truth, prediction.predictions, last_input=frame)
# %% [markdown]
# The same window as an animation (the four input frames, then ground truth beside each
# model, step by step). `msgan predict` writes exactly these files: input, truth and
# prediction frames, side-by-side comparisons and this GIF.

# %%
written = write_prediction(prediction, run_root / "inference")
print(f"{sum(len(paths) for paths in written.values())} files in {run_root / 'inference'}")
display(Image(filename=str(written["gif"][0])))

# %% [markdown]
# ## Measuring a prediction
#
# All metrics compare a prediction $\hat Y$ with the true frame $Y$, both in $[0, 1]$
# (so $\mathrm{MAX} = 1$):
#
# - **PSNR** $= 10 \log_{10} \big(\mathrm{MAX}^2 / \mathrm{MSE}(Y, \hat Y)\big)$, in dB;
# - **SSIM**: the structural similarity of Wang et al. (Gaussian window, $\sigma = 1.5$),
#   computed by scikit-image; 1 means identical;
# - **sharpness difference** $= 10 \log_{10} \big(\mathrm{MAX}^2 / \mathrm{mean}\,
#   |(\nabla_x Y + \nabla_y Y) - (\nabla_x \hat Y + \nabla_y \hat Y)|\big)$ with
#   $\nabla$ the absolute difference of neighbouring pixels: high when the prediction's
#   edges are where the truth's are, which a blurry prediction misses.
#
# The paper scores only the areas that move, found by optical flow. We use a simple
# stand-in: a pixel **moves** if it differs between the last input frame and the true next
# frame. In Ms. Pac-Man that is a tiny part of the frame:

# %%
last_input = metrics.to_unit(frames_to_model(prediction.inputs[-1:]))  # (1, 3, H, W)
next_frame = metrics.to_unit(frames_to_model(prediction.truth[:1]))
moving = metrics.moving_mask(last_input, next_frame)  # (1, H, W)
print(f"moving pixels at step 1: {moving.float().mean().item():.2%} of the frame")

# %% tags=["hide-input"]
mask_image = np.repeat(moving[0, :, :, None].numpy().astype(np.uint8) * 255, 3, axis=2)
fig = viz.image_grid(
    [[prediction.inputs[-1], prediction.truth[0], mask_image]],
    col_titles=["last input", "true next frame", "moving pixels"],
    cell_inches=2.4,
)
# %% [markdown]
# With so few pixels moving, the full-frame score mostly measures the static maze: copying
# the last input frame forward (`last_input`) is nearly perfect there. On the moving pixels
# it is wrong by construction, while a blurry guess such as the mean of the history frames
# (`history_mean`) can score well there, because PSNR rewards hedging between where a
# sprite was and where it may be. A model has to beat **both** baselines, on both
# regions, to show it predicts anything.
#
# ## Evaluation over many test windows
#
# `evaluate_models` (the command `msgan evaluate`) runs every model recursively on windows
# of the held-out test episodes, batched through the generator, and scores the models and
# both baselines at every step. Windows in which nothing moves at step 1 (the game's
# start-up pause) are left out: a copy is perfect there and would swamp every mean.

# %%
started = time.perf_counter()
evaluation = evaluate_models(models, test_dir, steps=predict_steps, max_windows=eval_windows)
evaluated_in = time.perf_counter() - started
paths = write_evaluation(evaluation, run_root / "evaluation")
print(f"{evaluation.windows} windows x {predict_steps} steps in {evaluated_in:.1f} s")
display(Markdown(metrics_markdown(evaluation)))

# %% tags=["hide-input"]
fig = viz.metrics_vs_step(evaluation.rows)
# %%
table = {(r.model, r.step, r.metric, r.region): r.mean for r in evaluation.rows}
for region in metrics.REGIONS:
    scores = {m: table[m, 1, "psnr", region] for m in [*models, *metrics.BASELINES]}
    print(
        f"step 1 PSNR, {region:6s} pixels: "
        + ", ".join(f"{m} {v:.2f} dB" for m, v in scores.items())
    )
sources_and_baselines = [*models, *metrics.BASELINES]
best_moving = max(sources_and_baselines, key=lambda m: table[m, 1, "psnr", "moving"])
worst_full = min(sources_and_baselines, key=lambda m: table[m, 1, "psnr", "full"])
print(f"best moving-pixel PSNR at step 1: {best_moving}; worst full-frame PSNR: {worst_full}")
for name in models:
    for baseline in metrics.BASELINES:
        gains = [table[name, 1, "psnr", g] - table[baseline, 1, "psnr", g] for g in metrics.REGIONS]
        print(
            f"{name} vs {baseline} at step 1: {gains[0]:+.2f} dB full frame, "
            f"{gains[1]:+.2f} dB moving pixels"
        )

# %% [markdown]
# Read the two regions together: a prediction that is a flat blur can top the moving-pixel
# PSNR while losing the maze, the score and the lives that the full frame counts; a model
# that copies well wins the full frame and gains nothing where things move.
#
# ## Adversarial against L2-only training
#
# The paper's claim is that the adversarial term keeps predictions sharp where Lp + GDL
# alone blurs, and that the difference grows with the horizon as recursive predictions
# drift towards the mean. Side by side, at the last recursive step, around where things
# move:

# %% tags=["hide-input"]
rows, cols = np.nonzero(moving[0].numpy())
half = 28
centre_y = int(
    np.clip(rows.mean() if len(rows) else frame.shape[0] / 2, half, frame.shape[0] - half)
)
centre_x = int(
    np.clip(cols.mean() if len(cols) else frame.shape[1] / 2, half, frame.shape[1] - half)
)
zoom = np.s_[centre_y - half : centre_y + half, centre_x - half : centre_x + half]
fig = viz.image_grid(
    [
        [prediction.truth[s][zoom], *(prediction.predictions[m][s][zoom] for m in models)]
        for s in (0, predict_steps - 1)
    ],
    row_titles=["step 1", f"step {predict_steps}"],
    col_titles=["truth", name_adv, name_l2],
    cell_inches=2.2,
)
# %%
for step in range(1, predict_steps + 1):
    sharp = {m: table[m, step, "sharp_diff", "full"] for m in models}
    print(
        f"step {step}: sharpness difference {name_adv} {sharp[name_adv]:.2f} dB, "
        f"{name_l2} {sharp[name_l2]:.2f} dB ({sharp[name_adv] - sharp[name_l2]:+.2f})"
    )

# %% [markdown]
# With the shipped models the two are trained with the same recipe and differ only in the
# adversarial term, so the gap above is the paper's effect as measured here. With quick
# runs the comparison says little: a few seconds of training teaches neither model much.
#
# ## Explore the predictions
#
# Pick a test video and a recursion step. In the live notebook the controls update the
# picture (an image widget, redrawn only when a control changes); the rendered book shows
# every step of every video below it as a static figure.

# %%
video_names = [video.name for video in list_videos(test_dir)][:explorer_videos]
explored = {
    name: predict_video(models, test_dir, steps=predict_steps, video=name, seed=seed)
    for name in video_names
}
video_picker = widgets.Dropdown(options=video_names, description="video")
step_slider = widgets.IntSlider(min=1, max=predict_steps, value=1, description="step")


def render(video: str, step: int) -> bytes:
    """Explorer picture: the true frame and every model's prediction at one step, as PNG."""
    chosen = explored[video]
    panels = [chosen.truth[step - 1], *(chosen.predictions[m][step - 1] for m in models)]
    row = viz.labelled_row(panels, ["truth", *models], f"{video}, step {step}")
    return viz.png_bytes(row)


picture = widgets.Image(value=render(video_names[0], 1), format="png")
for control in (video_picker, step_slider):
    control.observe(
        lambda _: setattr(picture, "value", render(video_picker.value, step_slider.value)),
        names="value",
    )
display(widgets.VBox([widgets.HBox([video_picker, step_slider]), picture]))

# %% tags=["hide-input"]
for name, explored_prediction in explored.items():
    figure = viz.prediction_grid(explored_prediction.truth, explored_prediction.predictions)
    figure.suptitle(f"{name}, frames from {explored_prediction.start}", fontsize=10)
    figure.tight_layout()
    plt.show()

# %% [markdown]
# ## Check
#
# What this chapter relies on, asserted so that a change that breaks it fails the book.

# %%
names = [*models, *metrics.BASELINES]
assert [r.model for r in evaluation.rows[:: predict_steps * 6]] == names, "missing table rows"
assert all(np.isfinite(r.mean) for r in evaluation.rows if r.region == "full")
assert all(
    table[b, s, "psnr", "full"] > table[b, s, "psnr", "moving"]
    for b in metrics.BASELINES
    for s in range(1, predict_steps + 1)
), "baselines should score better on the mostly static full frame than on moving pixels"
recursive = Predictor(models[name_adv], precision="fp32")
window = frames_to_model(prediction.inputs).reshape(1, 3 * history, *frame.shape[:2])
two = recursive(window, 2)[0]  # (2, 3, H, W)
one_then_one = recursive(torch.cat([window[:, 3:], two[:1]], dim=1), 1)[0, 0]
assert torch.allclose(two[1], one_then_one, atol=1e-5), "step 2 must read step 1's prediction"
print("checks passed")

# %% [markdown]
# ## Summary
#
# - The generator predicts whole frames recursively; `Predictor` keeps the history on the
#   device and only ever computes the new frame.
# - PSNR, SSIM and the sharpness difference are reported on the full frame and on moving
#   pixels, beside two baselines that need no model: `last_input` and `history_mean`.
# - On Ms. Pac-Man the full frame rewards copying and the moving pixels reward blur, so a
#   model is judged against both baselines on both regions, step by step.
# - The same evaluation is `msgan evaluate -p WEIGHTS [WEIGHTS ...] --steps 8`, and the
#   frames and GIF above are `msgan predict -p WEIGHTS -n 7`.
