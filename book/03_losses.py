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
# # 3. The losses: why L2 blurs and what the adversarial term does
#
# A video predictor never knows the future for sure. Mathieu, Couprie & LeCun (2016,
# [arXiv:1511.05440](https://arxiv.org/abs/1511.05440)) argue that this uncertainty, not a
# lack of capacity, is why networks trained with the usual L2 loss predict blurry frames.
# They add an L1 option, a **gradient difference loss** (GDL, their section 2.3) that asks
# for edges as sharp as the true frame's, and an **adversarial** term (section 2.2) from a
# discriminator that judges whether a frame looks like a real continuation of the history;
# section 2.4 combines them. This chapter tests the argument in a controlled experiment small
# enough for a CPU.
#
# **Learning goals.** After this chapter you can
#
# - write the Lp, GDL and adversarial losses as equations and find each symbol in the code
#   of `msgan_lib.losses`;
# - show on a single pixel why L2 is minimised by the mean of the possible futures and L1
#   by their median;
# - design a **control** that isolates one term of an objective, and read an experiment
#   across **several seeds** before believing it;
# - say what the adversarial term changes in a prediction (it *commits* to one future) and
#   what the paper's sharpness difference and PSNR do and do not measure;
# - compute why a mean of per-frame PSNRs can rank models differently from the PSNR of
#   their mean squared error.
#
# The predictors are the library's multi-scale `Generator` and conditional `Discriminator`
# (the `tiny` preset) on 24x24 frames; the toy world and its training loop live in
# `msgan_lib.blur_demo`.

# %% tags=["parameters"]
run_dir = "../runs/book/03_losses"  # full run: "../runs/03_losses"
steps = 300  # full run: 300 (L2, L1, L1+GDL from scratch)
finetune_steps = 400  # full run: 400 (the control and the adversarial model, from L2)
batch_size = 16  # full run: 16
learning_rate = 1e-3  # full run: 1e-3 (Adam, the models trained from scratch)
finetune_learning_rate = 3e-4  # full run: 3e-4 (Adam, G and D of the fine-tuned models)
lambda_gdl = 1.0  # full run: 1.0 (the paper's; the control and the adversarial model)
lambda_adv = 0.05  # full run: 0.05 (the paper's)
n_test = 64  # full run: 1000
n_seeds = 2  # full run: 5 (the seed loop runs seeds seed, seed + 1, ...)
threads = 1  # full run: 1 (a tiny model runs faster on one thread)
seed = 0

# %%
import dataclasses
import inspect
import time
from pathlib import Path

import numpy as np
import torch
from IPython.display import Code, Markdown, display

from msgan_lib.blur_demo import (
    ADVERSARIAL,
    CONTROL,
    FLOOR,
    FUTURE_NAMES,
    OBJECTIVES,
    SPRITE,
    JunctionWorld,
    ToySchedule,
    bimodal_risk,
    evaluate,
    fit_objectives,
    junction_batch,
    predict_next,
    toy_model_config,
)
from msgan_lib.losses import (
    d_adversarial_loss,
    g_adversarial_loss,
    gdl_loss,
    image_gradients,
    lp_loss,
)
from msgan_lib.model import model_summary
from msgan_lib.viz import bimodal_risk_plot, commitment_bars, image_grid

chapter_start = time.perf_counter()
torch.set_num_threads(threads)
runs = Path(run_dir)
world = JunctionWorld()
test = junction_batch(n_test, world, torch.Generator().manual_seed(seed + 1000))
seeds = list(range(seed, seed + n_seeds))
schedule = ToySchedule(
    steps=steps,
    finetune_steps=finetune_steps,
    batch_size=batch_size,
    lr=learning_rate,
    finetune_lr=finetune_learning_rate,
)
objectives = {
    **OBJECTIVES,
    CONTROL: dataclasses.replace(OBJECTIVES[CONTROL], lambda_gdl=lambda_gdl),
    ADVERSARIAL: dataclasses.replace(
        OBJECTIVES[ADVERSARIAL], lambda_gdl=lambda_gdl, lambda_adv=lambda_adv
    ),
}

# %% [markdown]
# ## The losses, equation beside code
#
# With $Y$ the true frame and $\hat Y$ the prediction, both in $[-1, 1]$, and the mean taken
# over the batch, the colour channels and the pixels:
#
# $$\mathcal{L}_p(Y, \hat Y) = \operatorname{mean}\, |Y - \hat Y|^p \qquad (p = 1 \text{ or } 2)$$
#
# $$\begin{aligned}
# \mathcal{L}_{gdl}(Y, \hat Y) = {} & \operatorname{mean}\, \big|\, |Y_{i,j} - Y_{i-1,j}|
#   - |\hat Y_{i,j} - \hat Y_{i-1,j}| \,\big|^\alpha \\
# {} + {} & \operatorname{mean}\, \big|\, |Y_{i,j-1} - Y_{i,j}|
#   - |\hat Y_{i,j-1} - \hat Y_{i,j}| \,\big|^\alpha
# \end{aligned}$$
#
# The GDL compares the *edges* of the two frames, channel by channel: a frame that is right
# but uniformly too bright costs nothing, a frame whose edges are washed out costs a lot.
# In the library, each is a few lines (the paper's symbols: `target` is $Y$, `pred` is
# $\hat Y$; `image_gradients` gives the two absolute differences):

# %% tags=["hide-input"]
for function in (lp_loss, image_gradients, gdl_loss):
    display(Code(inspect.getsource(function), language="python"))

# %% [markdown]
# The adversarial losses are binary cross-entropies on the logits of the per-scale
# discriminators $D_k$, which see the history at scale $k$, $X_k$, and a candidate next
# frame at that scale (the true $Y_k$ or the generator's $G_k(X)$):
#
# $$\mathcal{L}^D_{adv} = \sum_k \Big[ \mathrm{BCE}\big(D_k(X_k, Y_k), 1\big)
#   + \mathrm{BCE}\big(D_k(X_k, G_k(X)), 0\big) \Big]$$
#
# $$\mathcal{L}^G_{adv} = \sum_k \mathrm{BCE}\big(D_k(X_k, G_k(X)), 1\big)$$
#
# and the generator minimises, summed over the scales $k$,
#
# $$\mathcal{L}_G = \lambda_{adv}\, \mathcal{L}^G_{adv} + \lambda_{\ell_p}\, \mathcal{L}_p
#   + \lambda_{gdl}\, \mathcal{L}_{gdl}$$
#
# with the paper's weights 0.05, 1 and 1. The cross-entropies are computed from logits, so
# they stay finite however confident the discriminator is (the Chainer port's
# `log(sigmoid(z))` reached `log(0)`):

# %% tags=["hide-input"]
for function in (d_adversarial_loss, g_adversarial_loss):
    display(Code(inspect.getsource(function), language="python"))

# %% [markdown]
# A few frames of the toy world used below make the terms concrete, each scored against
# the true next frame (the sprite continued right): that frame itself, the other possible
# future (the sprite turned down), the average of the two, and the true frame made
# uniformly brighter.

# %%
clip = junction_batch(1, world, torch.Generator().manual_seed(seed))
true_frame = clip.futures[:, 0]  # (1, 3, H, W): the sprite continued right
other_frame = clip.futures[:, 1]  # it turned down instead
average_frame = clip.futures.mean(dim=1)  # (1, 3, H, W): the two superposed at half strength
brighter = (true_frame + 0.2).clamp(-1, 1)  # right place, every pixel a bit brighter
candidates = {
    "the true frame": true_frame,
    "the other future": other_frame,
    "the average of both": average_frame,
    "true frame + 0.2": brighter,
}
by_hand = {
    name: {
        "L2": lp_loss(frame, true_frame, 2).item(),
        "L1": lp_loss(frame, true_frame, 1).item(),
        "GDL": gdl_loss(frame, true_frame, 1).item(),
    }
    for name, frame in candidates.items()
}
table = "| prediction | L2 | L1 | GDL |\n|---|--:|--:|--:|\n"
for name, values in by_hand.items():
    table += f"| {name} | " + " | ".join(f"{v:.4f}" for v in values.values()) + " |\n"
display(Markdown(table))
ratio = {
    loss: by_hand["the average of both"][loss] / by_hand["the other future"][loss]
    for loss in ("L2", "L1")
}
print(f"average / wrong guess: L2 {ratio['L2']:.2f}, L1 {ratio['L1']:.2f}")

# %% [markdown]
# Against the frame that happened, the average pays less than the wrong guess (the ratios
# printed above: its error in the two uncertain cells is half the sprite's contrast instead
# of all of it, squared for L2), but it is never exactly right, while a guess is right half
# of the time. Since the model cannot know which future will happen, what matters is the
# **expected** loss over both futures: under L2 a guess costs half the wrong guess's loss on
# average and the average a quarter, so L2 prefers the average; under L1 both cost half, a
# tie. The GDL column shows the edge view, and the brightened frame shows that GDL ignores a
# constant offset that L1 and L2 both charge for.
#
# ## One pixel, two possible values
#
# Take one pixel of an uncertain cell: it shows the floor or the sprite. Suppose the model
# predicts the constant value $c$ for it. Its expected loss is
# $R_p(c) = w\,|a - c|^p + (1 - w)\,|b - c|^p$. For $p = 2$ the minimum is the mean
# $w a + (1 - w) b$, strictly between the two values unless one is certain: **L2 predicts a
# value that never happens**, and over a whole sprite that is a faint, half-transparent
# copy in both places. For $p = 1$ the minimiser is the median: the likelier value when there
# is one, and *any* value between the two when both are equally likely (a flat valley, so
# the training dynamics decide, usually in favour of what covers most pixels: the floor).

# %% tags=["hide-input"]
floor_value, sprite_value = (FLOOR[0] + 1) / 2, (SPRITE[0] + 1) / 2  # red channel, in [0, 1]
values = np.linspace(-0.1, 1.1, 1201)
panels = [
    (
        weight,
        {
            f"L{p} (p = {p})": bimodal_risk(values, (floor_value, sprite_value), weight, p)
            for p in (2, 1)
        },
    )
    for weight in (0.5, 0.7)
]
fig = bimodal_risk_plot(values, (floor_value, sprite_value), panels)

# %% [markdown]
# Grey bars: the two values and their probabilities (floor first). Dashed lines and shaded
# bands: where each loss is smallest. At 50/50 (the junction below) the L2 minimum sits
# exactly halfway and the L1 minimum is the whole interval; at 70/30 L2 moves only part of
# the way towards the likelier value while L1 jumps onto it.
#
# ## A world with two futures
#
# The toy world (`msgan_lib.blur_demo.junction_batch`): a random maze of blue walls, a yellow
# sprite moving one cell per frame to the right along a corridor, and a junction. In the next
# frame the sprite **continues right** or **turns down**, with probability 1/2 each, whatever
# the history shows. Each row below is one clip: four frames of history, then the two
# possible futures. Colours stay inside $(-1, 1)$ so that the generator's `tanh` never has
# to saturate to draw them.

# %% tags=["hide-input"]
history_frames = [test.history[:, 3 * t : 3 * t + 3] for t in range(world.history)]
fig = image_grid(
    [[h[i] for h in history_frames] + [test.futures[i, 0], test.futures[i, 1]] for i in range(3)],
    col_titles=[f"t - {world.history - 1 - t}" for t in range(world.history)]
    + [f"next: {FUTURE_NAMES[0]}", f"next: {FUTURE_NAMES[1]}"],
)

# %% [markdown]
# ## One predictor, five objectives, one control
#
# The predictor is the library's four-scale generator with the `tiny` preset, its
# discriminator built for 24x24 frames. Three models train from scratch with Adam on the
# same minibatches (same seed): **L2**, **L1** and **L1+GDL**. The adversarial model,
# **L2+GDL+adv** (the paper's weights), starts from the L2 model and trains on: each step
# updates the conditional discriminator on one minibatch (real futures against detached
# predictions), then the generator on another. Starting from L2 is our choice (the shipped
# Pac-Man models do the same); the paper's "fine-tuned" model is fine-tuned on larger
# patches, which is another matter.
#
# That makes the adversarial model differ from L2 in three ways: the adversarial term, the
# GDL, and more training. A sharper prediction could come from any of them. So the
# **control**, **L2+GDL**, starts from the same L2 model and trains for the same steps with
# the same optimiser, learning rate, seed and generator minibatches (the discriminator draws
# its minibatches from a random stream of its own), on the same objective **without** the
# discriminator. Whatever separates the adversarial model from its control is the
# adversarial term's doing. Trained models are saved under `run_dir` and loaded on a re-run
# with the same settings.

# %%
config = toy_model_config(world)
sizes = model_summary(config, world.size, world.size)
g_params = next(r["params"] for r in sizes if r["network"] == "G" and r["scale"] == "total")
d_params = next(r["params"] for r in sizes if r["network"] == "D" and r["scale"] == "total")
print(f"generator: {g_params:,} parameters; discriminator: {d_params:,} parameters")
fitted = fit_objectives(runs / f"seed_{seed}", world, schedule, seed, objectives=objectives)
for name, model in fitted.items():
    how = "loaded" if model.loaded else "trained"
    print(f"{name:>11}: {how}, {model.settings['steps']} steps, {model.seconds:.1f} s of training")

# %% [markdown]
# ## What each model draws at the junction
#
# Held-out clips (a separate random stream): the last input frame, the two possible futures,
# and each model's prediction.

# %% tags=["hide-input"]
predictions = {name: predict_next(model.generator, test.history) for name, model in fitted.items()}
fig = image_grid(
    [
        [test.history[i, -3:], test.futures[i, 0], test.futures[i, 1]]
        + [predictions[name][i] for name in fitted]
        for i in range(4)
    ],
    col_titles=["last input", *FUTURE_NAMES, *fitted],
)

# %% [markdown]
# The share of each future's sprite that a model draws makes the pictures a number
# (`blur_demo.future_shares`): 1/2 and 1/2 is the L2 minimiser, 1 and 0 a committed choice.

# %%
scores = {name: evaluate(predictions[name], test) for name in fitted}
fig = commitment_bars(scores)
adv, control, l2 = scores[ADVERSARIAL], scores[CONTROL], scores["L2"]
gap = {name: s["share_committed"] - s["share_other"] for name, s in scores.items()}
for name, s in scores.items():
    print(f"{name:>11}: favoured future {s['share_committed']:.2f}, other {s['share_other']:.2f}")

# %%
display(
    Markdown(
        f"The L2 model draws the sprite in **both** places at partial strength "
        f"({l2['share_committed']:.2f} and {l2['share_other']:.2f} of it): the average of the "
        "two futures of the previous sections, blurred a little more by a short training. "
        "L1 and L1+GDL draw less of it (favoured shares "
        f"{scores['L1']['share_committed']:.2f} and {scores['L1+GDL']['share_committed']:.2f}): "
        "at 50/50 every value between floor and sprite is a median, and the floor covers most "
        "pixels of every frame. The control, L2+GDL, does the same from its L2 start "
        f"({control['share_committed']:.2f} and {control['share_other']:.2f}): the GDL asks "
        "for sharp edges, but whether to put an edge in either cell is exactly as uncertain as "
        "the sprite, so it removes the faint double sprite rather than choosing one. Only the "
        f"adversarial model **commits** ({adv['share_committed']:.2f} and "
        f"{adv['share_other']:.2f}): it draws one sharp sprite in one of the two places, "
        "because a discriminator that has seen real futures calls a half-transparent double "
        "sprite (or an empty junction) fake, while a single sprite in a possible place is as "
        "real as the data."
    )
)

# %% [markdown]
# ## The paper's metrics
#
# **PSNR** $= 10 \log_{10}(1 / \mathrm{MSE})$ and the **sharpness difference**
# $= 10 \log_{10}\big(1 / \operatorname{mean} |(g_x(Y) + g_y(Y)) - (g_x(\hat Y) +
# g_y(\hat Y))|\big)$ (with $g_x, g_y$ absolute neighbour differences), both on images in
# $[0, 1]$, higher is better (`msgan_lib.metrics`). Each score is averaged over the two
# futures, since each happens half of the time: the expected score against the real next
# frame. "junction" scores only the pixels that move in either future (the paper scores
# moving pixels only); "PSNR nearest" scores against whichever future the prediction is
# closer to. "PSNR" is the mean of the per-frame PSNRs, as the paper reports it; "PSNR of
# mean MSE" takes the logarithm after averaging the squared error instead (the next section
# explains why the two differ).

# %%
columns = {
    "sharp_diff": "sharp diff",
    "sharp_diff_junction": "sharp diff junction",
    "psnr": "PSNR",
    "psnr_of_mean_mse": "PSNR of mean MSE",
    "psnr_junction": "PSNR junction",
    "psnr_junction_of_mean_mse": "PSNR junction of mean MSE",
    "psnr_nearest": "PSNR nearest",
}
table = "| model | " + " | ".join(columns.values()) + " |\n"
table += "|---|" + "--:|" * len(columns) + "\n"
for name, values in scores.items():
    table += f"| {name} | " + " | ".join(f"{values[key]:.2f}" for key in columns) + " |\n"
display(Markdown(table + f"\nIn dB, on {n_test} held-out clips (seed {seed})."))
for key in ("sharp_diff", "sharp_diff_junction", "psnr_nearest"):
    print(
        f"{columns[key]:>20}: adversarial - L2 {adv[key] - l2[key]:+.2f} dB, "
        f"adversarial - control {adv[key] - control[key]:+.2f} dB"
    )

# %% [markdown]
# ## Does it hold across seeds?
#
# One seed is one draw of initial weights and minibatches. The loop below repeats the three
# models that the comparison needs (L2, the control and the adversarial model) for
# `n_seeds` seeds, each with its own weights and data, scored on the same held-out clips.

# %%
sweep, sweep_models = {}, {}
for s in seeds:
    start = time.perf_counter()
    models = fit_objectives(
        runs / f"seed_{s}", world, schedule, s, names=(CONTROL, ADVERSARIAL), objectives=objectives
    )
    sweep_models[s] = models
    sweep[s] = {
        name: evaluate(predict_next(model.generator, test.history), test)
        for name, model in models.items()
    }
    print(f"seed {s}: {time.perf_counter() - start:.0f} s")
rows = {
    "sharp diff, L2": [sweep[s]["L2"]["sharp_diff"] for s in seeds],
    "sharp diff, control": [sweep[s][CONTROL]["sharp_diff"] for s in seeds],
    "sharp diff, adversarial": [sweep[s][ADVERSARIAL]["sharp_diff"] for s in seeds],
    "adversarial - L2": [
        sweep[s][ADVERSARIAL]["sharp_diff"] - sweep[s]["L2"]["sharp_diff"] for s in seeds
    ],
    "adversarial - control": [
        sweep[s][ADVERSARIAL]["sharp_diff"] - sweep[s][CONTROL]["sharp_diff"] for s in seeds
    ],
    "share gap, control": [
        sweep[s][CONTROL]["share_committed"] - sweep[s][CONTROL]["share_other"] for s in seeds
    ],
    "share gap, adversarial": [
        sweep[s][ADVERSARIAL]["share_committed"] - sweep[s][ADVERSARIAL]["share_other"]
        for s in seeds
    ],
    "PSNR nearest, adversarial - control": [
        sweep[s][ADVERSARIAL]["psnr_nearest"] - sweep[s][CONTROL]["psnr_nearest"] for s in seeds
    ],
}
table = "| | " + " | ".join(f"seed {s}" for s in seeds) + " | min | max |\n"
table += "|---|" + "--:|" * (len(seeds) + 2) + "\n"
for label, row in rows.items():
    cells = [*row, min(row), max(row)]
    table += f"| {label} | " + " | ".join(f"{v:+.2f}" for v in cells) + " |\n"
display(Markdown(table + "\nSharpness differences in dB; share gap: favoured minus other."))

# %%
over_l2, over_control = rows["adversarial - L2"], rows["adversarial - control"]
nearest = rows["PSNR nearest, adversarial - control"]
display(
    Markdown(
        f"Over {len(seeds)} seeds the adversarial model's sharpness difference is "
        f"{min(over_l2):+.2f} to {max(over_l2):+.2f} dB against L2, but "
        f"{min(over_control):+.2f} to {max(over_control):+.2f} dB against its control. "
        "So the sharpness gain over L2 is not the adversarial term's: the control gains as "
        "much or more, with the GDL and the extra steps alone, by leaving the junction empty "
        "(a clean maze with no sprite has sharper edges, on average over the two futures, than "
        "a sprite in the wrong place half of the time). What the adversarial term does, and "
        "what its control never does, is **commit**: the share gap is "
        f"{min(rows['share gap, adversarial']):.2f} to "
        f"{max(rows['share gap, adversarial']):.2f} for the adversarial model against "
        f"{min(rows['share gap, control']):.2f} to {max(rows['share gap, control']):.2f} for "
        "the control, and its prediction is closer to one of the real futures "
        f"(PSNR nearest {min(nearest):+.1f} to {max(nearest):+.1f} dB over the control)."
    )
)

# %% [markdown]
# ## Mean of logarithms, logarithm of means
#
# The paper reports PSNR as the mean over frames of $10 \log_{10}(1/\mathrm{MSE})$. The
# logarithm is concave, so a model whose error is zero on some frames and large on others
# can score higher on that mean than a model with a smaller *average* squared error. L2
# training minimises the expected squared error, so the L2 model should win on the PSNR of
# the mean MSE, and a committed guess, exactly right half of the time, can win on the mean
# PSNR. Computed on the held-out clips for every seed:

# %%
log_rows = {}
for name in ("L2", CONTROL, ADVERSARIAL):
    mean_of_log = [sweep[s][name]["psnr_junction"] for s in seeds]
    log_of_mean = [sweep[s][name]["psnr_junction_of_mean_mse"] for s in seeds]
    log_rows[name] = (mean_of_log, log_of_mean)
table = "| model | mean PSNR (junction) | PSNR of mean MSE (junction) | difference |\n"
table += "|---|--:|--:|--:|\n"
for name, (mean_of_log, log_of_mean) in log_rows.items():
    table += (
        f"| {name} | {np.mean(mean_of_log):.2f} | {np.mean(log_of_mean):.2f} | "
        f"{np.mean(mean_of_log) - np.mean(log_of_mean):+.2f} |\n"
    )
display(Markdown(table + f"\nIn dB, averaged over seeds {seeds}."))
psnr_rank = sorted(log_rows, key=lambda name: -np.mean(log_rows[name][0]))
mse_rank = sorted(log_rows, key=lambda name: -np.mean(log_rows[name][1]))
print("ranked by mean PSNR:      ", " > ".join(psnr_rank))
print("ranked by PSNR of mean MSE:", " > ".join(mse_rank))

# %% [markdown]
# On the junction the two averages disagree: the committed model's frames are either nearly
# exact or wrong by a whole sprite, so its mean PSNR sits far above the PSNR of its mean
# error, while the L2 model's errors are alike from frame to frame and its two numbers
# nearly agree. Which model "wins on PSNR" depends on where the logarithm is taken. Neither
# average says that a committed guess is closer to the truth *on average*: it is not, in
# squared error. What the adversarial term buys is a prediction that is close to *one of
# the possible futures* (PSNR nearest). This is why the paper reports the sharpness
# difference beside PSNR and SSIM, and why no single-frame metric fully rewards a model for
# being plausible rather than average.

# %% [markdown]
# ## Check
#
# The lesson of this chapter, asserted for every seed of the loop so that the notebook fails
# if it stops holding: the L2 model draws both futures; neither the L1 models nor the
# control commit; the adversarial model commits and lands near one real future, by a margin
# over its control; the control is at least as sharp as the adversarial model (so the
# sharpness gain over L2 is not the adversarial term's); and the mean PSNR and the PSNR of
# the mean MSE rank the committed model differently.

# %%
for s in seeds:
    l2_s, control_s, adv_s = (sweep[s][name] for name in ("L2", CONTROL, ADVERSARIAL))
    assert l2_s["share_other"] > 0.15 and l2_s["share_committed"] - l2_s["share_other"] < 0.25, (
        f"seed {s}: the L2 model does not draw both futures "
        f"({l2_s['share_committed']:.2f} / {l2_s['share_other']:.2f})"
    )
    assert adv_s["share_committed"] - adv_s["share_other"] > 0.5, (
        f"seed {s}: the adversarial model does not commit "
        f"({adv_s['share_committed']:.2f} / {adv_s['share_other']:.2f})"
    )
    assert control_s["share_committed"] < 0.3, (
        f"seed {s}: the control draws {control_s['share_committed']:.2f} of a sprite"
    )
    assert adv_s["psnr_nearest"] > control_s["psnr_nearest"] + 3.0, (
        f"seed {s}: PSNR nearest {adv_s['psnr_nearest']:.2f} dB (adversarial) vs "
        f"{control_s['psnr_nearest']:.2f} dB (control)"
    )
    assert adv_s["sharp_diff"] > l2_s["sharp_diff"], (
        f"seed {s}: sharp diff {adv_s['sharp_diff']:.2f} dB (adversarial) is not above L2's"
    )
    assert control_s["sharp_diff"] > adv_s["sharp_diff"], (
        f"seed {s}: the adversarial model ({adv_s['sharp_diff']:.2f} dB) is now sharper than "
        f"its control ({control_s['sharp_diff']:.2f} dB): revise the text above"
    )
    assert adv_s["psnr_junction"] - adv_s["psnr_junction_of_mean_mse"] > 2.0
    assert abs(l2_s["psnr_junction"] - l2_s["psnr_junction_of_mean_mse"]) < 0.5
    assert l2_s["psnr_junction_of_mean_mse"] > adv_s["psnr_junction_of_mean_mse"]
for name in ("L1", "L1+GDL"):
    assert scores[name]["share_committed"] < l2["share_other"], (
        f"{name} draws more of the uncertain sprite ({scores[name]['share_committed']:.2f}) "
        f"than L2 ({l2['share_other']:.2f})"
    )
assert 0.2 < ratio["L2"] < 0.3 and 0.45 < ratio["L1"] < 0.55, "average vs wrong guess"
print(f"checks passed for seeds {seeds}")

# %% [markdown]
# ## Summary
#
# - With two equally likely futures, the L2-optimal prediction is their average, a faint
#   double sprite: blur is what L2 *asks for* under uncertainty, not a failure to learn.
# - L1 is minimised by the median: decisive when one future is likelier, indifferent at
#   50/50, where a short training leaves the uncertain object out. The GDL rewards sharp
#   edges but cannot decide where they go.
# - Against a control that differs only in the adversarial term, the adversarial model is
#   *not* sharper by the paper's sharpness difference; it **commits** to one future and
#   draws it whole, which no other objective here does. A sharpness gain measured against
#   plain L2 would have credited the adversarial term with the GDL's and the extra steps'
#   work: a comparison needs its control, and more than one seed.
# - PSNR averaged over frames and PSNR of the averaged error rank a committed model
#   differently; neither rewards plausibility.
# - In the code: `msgan_lib.losses` (`lp_loss`, `gdl_loss`, `d_adversarial_loss`,
#   `g_adversarial_loss`, `scale_targets`, `generator_loss`) is what chapter 4 trains with;
#   the toy world and its fit loop are in `msgan_lib.blur_demo`.
#
# ## Exercises
#
# Each is a parameter of the first code cell (papermill: `-p NAME VALUE`) or one line.
#
# 1. **The GDL's weight.** Set `lambda_gdl = 0.1` (the shipped Pac-Man models' value). Does
#    the control still empty the junction, and is it still sharper than the adversarial
#    model? Look at the control's shares and the seed table.
# 2. **The adversarial weight.** Try `lambda_adv = 0.01` and `lambda_adv = 0.5`. How small
#    can it be before the adversarial model stops committing (share gap below 0.5)?
# 3. **Longer fine-tuning.** Set `finetune_steps = 1200`. Does the adversarial model's
#    sharpness difference catch up with its control's once its sprite is drawn crisply?
# 4. **More seeds.** Set `n_seeds = 5` (the full run). Which rows of the seed table keep
#    their sign on every seed, and which do not?
# 5. **No L2 start.** In the cell that calls `fit_objectives`, train the adversarial model
#    from scratch instead: call `blur_demo.load_or_fit` with `OBJECTIVES[ADVERSARIAL]`,
#    `adversarial=True` and `steps + finetune_steps` steps. Does it still commit?
#
# ## References
#
# - M. Mathieu, C. Couprie, Y. LeCun. *Deep multi-scale video prediction beyond mean square
#   error.* ICLR 2016. [arXiv:1511.05440](https://arxiv.org/abs/1511.05440): section 2.2
#   (adversarial training), 2.3 (gradient difference loss), 2.4 (combining the losses),
#   section 3 (the sharpness difference and PSNR of the experiments).
# - I. Goodfellow et al. *Generative adversarial nets.* NeurIPS 2014.
#   [arXiv:1406.2661](https://arxiv.org/abs/1406.2661).
# - A. Radford, L. Metz, S. Chintala. *Unsupervised representation learning with deep
#   convolutional generative adversarial networks.* ICLR 2016.
#   [arXiv:1511.06434](https://arxiv.org/abs/1511.06434) (Adam with $\beta_1 = 0.5$ for GANs).
# - D. Kingma, J. Ba. *Adam: a method for stochastic optimization.* ICLR 2015.
#   [arXiv:1412.6980](https://arxiv.org/abs/1412.6980).
# - Earlier implementations: the authors' Torch code
#   ([coupriec/VideoPredictionICLR2016](https://github.com/coupriec/VideoPredictionICLR2016)),
#   the TensorFlow port
#   ([dyelax/Adversarial_Video_Generation](https://github.com/dyelax/Adversarial_Video_Generation))
#   and the Chainer port
#   ([alokwhitewolf/Video-frame-prediction-by-multi-scale-GAN](https://github.com/alokwhitewolf/Video-frame-prediction-by-multi-scale-GAN)),
#   whose loss bugs `msgan_lib.losses` lists.
#
# ## Timing
#
# Saved models are loaded on a re-run with the same parameters, so a re-run pays only for
# evaluation; the training time below is what the models took when they were trained
# (stored with them), whichever run that was. On a machine shared with other work the
# time per step varies a lot from model to model; the fastest model of each objective is
# the closest to what the toy costs on a free CPU core, and the full-run estimate below
# scales those rates. (Measured once here, from scratch on an idle 2-core CPU: the FAST
# run in about 4 minutes, the full run, `n_seeds = 5` and `n_test = 1000`, in about 9.)

# %%
chapter_seconds = time.perf_counter() - chapter_start
used = list(fitted.values())  # seed `seed`, then the other seeds of the loop
used += [model for s in seeds if s != seed for model in sweep_models[s].values()]
trained_here = sum(not model.loaded for model in used)
training_seconds = sum(model.seconds for model in used)
print(
    f"this run: {chapter_seconds:.0f} s for the chapter ({trained_here} of its {len(used)} "
    f"models trained in it); training all {len(used)} took {training_seconds:.0f} s"
)
rates = {}  # seconds per step of each objective; its fastest model was the least disturbed
for models in [fitted, *(sweep_models[s] for s in seeds if s != seed)]:
    for name, model in models.items():
        rates.setdefault(name, []).append(model.seconds / model.settings["steps"])
rate = {name: min(values) for name, values in rates.items()}
full_seconds = steps * (rate["L1"] + rate["L1+GDL"]) + 5 * (
    steps * rate["L2"] + finetune_steps * (rate[CONTROL] + rate[ADVERSARIAL])
)  # the L1 models, then five seeds of L2, control and adversarial model
print(
    "ms per step: " + ", ".join(f"{name} {1000 * r:.0f}" for name, r in rate.items()) + "; "
    f"full run (5 seeds) estimated at {full_seconds / 60:.0f} min of training"
)
