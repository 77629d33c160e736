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
# # 4. Training: the generator against the discriminator
#
# The paper (Mathieu, Couprie & LeCun 2016, sections 2.2 and 3) trains the multi-scale
# generator of chapter 2 with the losses of chapter 3, alternating two updates:
#
# - a **discriminator step** on one minibatch: D learns to tell the true next frame from
#   the generator's prediction, at all four scales, given the history;
# - a **generator step** on *another* minibatch: G minimises
#   $\lambda_{adv} L_{adv} + \lambda_{p} L_p + \lambda_{gdl} L_{gdl}$, the adversarial term
#   pushing its predictions to look real to D.
#
# This chapter runs the trainer of `msgan_lib.train` (the command `msgan train`) on the
# Ms. Pac-Man clips of chapter 1 and reads what it logs. You will see:
#
# - what one training step does, and the work it avoids;
# - a short run of the `tiny` model: each loss term over time, D's verdicts, and how the
#   samples on held-out clips sharpen;
# - what **healthy** adversarial training looks like in the log, and the usual failure
#   modes: **the discriminator wins**, **mode collapse**, **non-finite losses**, two of
#   them provoked on purpose;
# - how a run is checkpointed, resumed exactly, and scaled to a GPU or several.

# %% [markdown]
# **Learning goals.** After this chapter you can
#
# - say what one training step does: a discriminator update on one minibatch with the
#   generator's predictions detached, then a generator update on another with the
#   adversarial gradient flowing through the frozen discriminator;
# - run, checkpoint and resume a training run, and read its `metrics.jsonl`;
# - tell healthy adversarial training from its failure modes (the discriminator wins, mode
#   collapse, non-finite losses) in the log;
# - take the same run from a CPU to one GPU or several;
# - say where the shipped models' recipe departs from the paper, and why.

# %% tags=["parameters"]
clips_dir = "../data/book/clips"  # full run: "../data/clips"
weights_dir = "../weights"  # the shipped models and their training log
run_dir = "../runs/book/04_train"  # full run: "../runs/paper"
device = "auto"  # full run: "cuda" (auto: a GPU when there is one; or "cpu", "cuda:N")
recipe = "tiny"  # full run: "paper" (SGD, G 0.04 -> 0.005, D 0.02, batch 8, lambdas 0.05/1/1)
preset_name = ""  # full run: "" (the recipe's preset: tiny here, paper for "paper")
steps = 150  # full run: 100_000
batch_size = 0  # full run: 0 (the recipe's, 8; per process: global = processes x batch)
compile = "auto"  # full run: "auto" (torch.compile on a GPU); True or False to force it
precision = "auto"  # full run: "auto" (bf16 autocast where native); "fp32" turns it off
init_weights = ""  # full run: "" (or a checkpoint, run dir or .safetensors to start from)
keep_checkpoints = 3  # full run: 3 (the latest ones, besides the milestones)
milestone_every = 0  # full run: 0 (a quarter of the run, on a checkpoint: 25_000)
log_every = 0  # full run: 0 (a thirtieth of the run: 3_333)
demo_steps = 40  # full run: 40 (the failure-mode demonstrations stay short)
seed = 0

# %%
import dataclasses
import time
from pathlib import Path

import torch

from msgan_lib.checkpoint import latest_checkpoint, load_generator_info, spread_checkpoints
from msgan_lib.clips import ClipDataset, ensure_sample_data
from msgan_lib.config import TrainConfig
from msgan_lib.feed import held_out_indices
from msgan_lib.fileio import MsganError
from msgan_lib.losses import image_gradients, lp_loss
from msgan_lib.runlog import read_metrics
from msgan_lib.runtime import resolve_device
from msgan_lib.step import TrainStep
from msgan_lib.train import resolve_run, train
from msgan_lib.viz import image_grid, sample_grid, training_curves

device = resolve_device(device)
data_root = Path(clips_dir).parent
checkpoint_every = max(1, min(1_000, steps // 3))  # 50 here; 1,000 in the full run
milestones = milestone_every or checkpoint_every * max(1, steps // 4 // checkpoint_every)
resuming = latest_checkpoint(run_dir) is not None  # load-or-train: continue a run that exists
overrides = {
    "steps": steps,
    "log_every": log_every or max(1, steps // 30),
    "sample_every": milestones,
    "checkpoint_every": checkpoint_every,
    "keep_checkpoints": keep_checkpoints,
    "milestone_every": milestones,
    "seed": seed,
    "compile": device.type == "cuda" if compile == "auto" else bool(compile),
    "amp": precision != "fp32",
    **({"batch_size": batch_size} if batch_size else {}),
}
setup = resolve_run(
    run_dir,
    resume=resuming,
    load=None if resuming else init_weights or None,
    preset_name=preset_name or None,
    recipe_name=recipe,
    overrides=overrides,
)
model_config, config = setup.model_config, setup.config
chapter_start = time.perf_counter()
print(f"device: {device}; recipe {recipe}: {steps} steps of batch {config.batch_size}")
print(f"{config.optimizer} lr_g {config.lr_g:g} -> {config.lr_g_final:g}, lr_d {config.lr_d:g}")

# %% [markdown]
# Chapter 1 made the clips; if they are missing, the same FAST data is made here.

# %%
if not Path(clips_dir).is_dir():
    ensure_sample_data(data_root)
dataset = ClipDataset(clips_dir)
print(f"{len(dataset)} clips shaped {tuple(dataset[0].shape)} from {clips_dir}")

# %% [markdown]
# ## One training step
#
# `TrainStep` holds the two networks, their optimisers and one step. Its `run` takes two
# minibatches of clips, D's and G's (the paper uses separate minibatches), and returns the
# step's numbers:
#
# 1. **D step**: the generator predicts all four scales of D's minibatch under
#    `torch.no_grad()`: for D these fakes are constants. (The Chainer port backpropagated
#    this step through the generator too, and threw that work away: 38% of an iteration.)
#    D then judges real and fake frames in one batch and takes one optimiser step on
#    $L^D_{adv}$, the binary cross-entropy with real = 1 and fake = 0, from logits.
# 2. **G step**: the generator predicts G's minibatch; D, with its weights frozen (their
#    gradients would be discarded), scores the predictions; the adversarial gradient flows
#    *through* D into G together with the Lp and GDL gradients.
#
# Under bf16 autocast the convolutions run in bfloat16 while the losses are computed in
# float32. `benchmarks/bench_train.py` times this step at the paper's size against a plain
# implementation and checks bf16 and fp32 training curves agree.

# %%
step = TrainStep(model_config, config, device)
batch = config.batch_size
clips = torch.stack([dataset[i] for i in range(2 * batch)])  # (2B, 3*(T+1), 32, 32)
for key, value in step.run([clips[:batch], clips[batch:]]).items():
    print(f"{key:7s} {value.item():.4f}")

# %% [markdown]
# At the start D knows nothing: its probabilities D(real) and D(fake) are close to 0.5 and
# its loss close to $2 \ln 2 \approx 1.39$ per scale (four scales: 5.55). The generator's
# adversarial term is $-\ln D(\text{fake}) \approx 0.69$ per scale.
#
# ## A short run
#
# `train` does the rest of the bookkeeping: it draws minibatches in a reproducible order
# (a pure function of seed and step), holds out a few clips for sample grids, writes
# `metrics.jsonl`, `losses.png`, `samples/step_NNNNNNN.png` and checkpoints into the run
# directory, and stops cleanly on Ctrl-C. It keeps the last `keep_checkpoints` checkpoints
# plus one every `milestone_every` steps, so a long run's disk use stays bounded. This
# chapter is **load-or-train**: `resolve_run` continues a run directory that already has a
# checkpoint, and a run that already reached `steps` (the total) is only loaded. The same
# run from the command line:
#
# ```
# msgan train -d data/book/clips --out runs/book/04_train --recipe tiny --steps 150 \
#     --log-every 5 --sample-every 50 --checkpoint-every 50 --milestone-every 50
# ```
#
# **The full run on a GPU** is the paper's recipe (`msgan_lib.config.RECIPES["paper"]`:
# SGD, G's rate 0.04 decaying to 0.005, D's 0.02, batch 8, $\lambda$s 0.05 / 1 / 1) on the
# `paper` preset, with bf16 autocast, channels_last and `torch.compile`, in one command:
#
# ```
# jupytext --to ipynb book/04_train.py
# papermill --cwd book book/04_train.ipynb book/04_train.ipynb \
#     -p device cuda -p recipe paper -p steps 100000 -p clips_dir ../data/clips
# ```
#
# What it costs, **estimated** (no GPU run has been measured here yet;
# `benchmarks/gpu_check.py` measures it in one call): a `paper` step at batch 8 is 0.84
# TFLOP of model arithmetic (`msgan_lib.step.step_flops`); at 15% of a ~1,000 TFLOP/s bf16
# GPU (small batches keep a GPU far from its peak) that is about 6 ms, **about 1 minute per
# 10 k steps**. GPU memory: 47 M parameters with their gradients, 0.4 GB, plus activations
# of 8 crops and the compiler's workspace, **a few GB**. Disk: a checkpoint holds both
# networks (SGD keeps no optimiser state), 0.19 GB; one every 1,000 steps, the last 3 kept
# plus a milestone every 25,000: **under 1.4 GB for the whole 100 k-step run** (Adam's
# state triples a checkpoint: under 4 GB). Several GPUs:
# `torchrun --nproc_per_node 4 -m msgan_lib train --recipe paper -g 0 ...` runs
# DistributedDataParallel; each process trains on its own `batch_size` clips, so the global
# batch is 4 x 8 = 32 (lower `--batch-size` to keep the paper's 8).

# %%
started = time.perf_counter()
result = train(clips_dir, run_dir, device=device, progress=False, setup=setup)
seconds = time.perf_counter() - started
records = read_metrics(run_dir)
print(f"at step {result.step} of {steps} after {seconds:.1f} s in this session")
print(f"last checkpoint: {result.checkpoint}")
print(f"checkpoints kept: {[p.name for p in spread_checkpoints(run_dir, 100)]}")
print(f"throughput: {sum(r['clips_per_s'] for r in records) / len(records):.0f} clips/s (mean)")

# %% [markdown]
# ## The loss curves
#
# Each record of `metrics.jsonl` averages the last `log_every` steps. Left: the generator's
# three terms, unweighted and summed over the four scales (its objective weights them
# 1, 1 and 0.05). Middle: the discriminator's loss, with its value at chance. Right: D's mean
# probability that a real frame is real and that a predicted frame is real.

# %% tags=["hide-input"]
fig = training_curves(records, model_config.n_scales)
# %%
first, last = records[0], records[-1]
tail = records[-max(1, len(records) // 5) :]  # the last fifth of the run
d_real = sum(r["d_real"] for r in tail) / len(tail)
d_fake = sum(r["d_fake"] for r in tail) / len(tail)
for key in ("lp", "gdl", "adv", "d_loss"):
    print(
        f"{key:7s} step {first['step']:4d}: {first[key]:.4f}   step {last['step']}: {last[key]:.4f}"
    )
print(f"last fifth of the run: D(real) = {d_real:.3f}, D(fake) = {d_fake:.3f}")

# %% [markdown]
# The reconstruction terms fall quickly: Lp and GDL are what a short run learns. The
# adversarial game stays close to its balance point: D's loss near its chance value and
# D(real) a little above D(fake). That is what **healthy** adversarial training looks like
# in the log: neither network runs away, D stays informative (D(real) > D(fake)), and the
# generator's adversarial term stays of the same order as at the start.
#
# ## How the samples sharpen
#
# Every `sample_every` steps the trainer saves a checkpoint and a grid of predictions on
# a few clips it holds out of training (`samples/step_NNNNNNN.png`). Here the kept
# checkpoints predict those held-out clips side by side:

# %% tags=["hide-input"]
held_out = held_out_indices(len(dataset), config.sample_clips, config.seed)
clips = torch.stack([dataset[int(i)] for i in held_out])  # (N, 3*(T+1), 32, 32)
columns, titles = [clips[:, -6:-3]], ["last input"]  # the last history frame
for path in spread_checkpoints(run_dir, 6):  # at most 8 columns with the input and truth
    generator, info = load_generator_info(path, device)
    with torch.no_grad():
        columns.append(generator(clips[:, :-3].to(device))[-1].float().cpu())  # (N, 3, 32, 32)
    titles.append(f"step {info['step']}")
columns.append(clips[:, -3:])
titles.append("truth")
fig = image_grid([[column[n] for column in columns] for n in range(len(clips))], col_titles=titles)

# %%
truth = clips[:, -3:]
truth_edges = sum(g.mean() for g in image_gradients(truth))
for title, predicted in zip(titles[1:-1], columns[1:-1], strict=True):
    error = lp_loss(predicted, truth, 1).item()
    edges = sum(g.mean() for g in image_gradients(predicted)) / truth_edges
    print(f"{title:>9}: held-out L1 error {error:.3f}, edge strength {edges:.2f} x the truth's")

# %% [markdown]
# The L1 error on the held-out clips measures how close the predictions come; the edge
# strength (the mean absolute difference between neighbouring pixels, relative to the true
# frames') how sharp they are: below 1 is blurrier than the truth, above 1 means edges the
# truth does not have (blotches, ringing). Six clips make these numbers noisy from one
# checkpoint to the next; the grid shows the same story: the static maze comes first, what
# moves comes much later. The adversarial term needs far longer training than this to make
# a visible difference (chapter 5 compares trained models).
#
# ## When adversarial training goes wrong
#
# Three failure modes, and what each looks like in `metrics.jsonl`:
#
# - **D wins**: in the log, `d_loss` falls toward 0, `d_real` toward 1, `d_fake` toward 0,
#   and G's `adv` term climbs. G only hears "everything you make is fake", which says little
#   about how to improve, and the samples stop getting better.
# - **Mode collapse**: G's `adv` falls while `lp` *rises* and `d_fake` swings up and down as
#   D catches up; in the samples, the same frame whatever the history.
# - **Non-finite loss**: training stops with `non-finite loss at step N`, nothing is saved
#   for that step, and the last good checkpoint stays in place.
#
# ### The discriminator wins
#
# With the generator's learning rate made negligible, D faces a generator that cannot
# improve and soon tells every prediction from a real frame:

# %%
frozen_g = dataclasses.replace(
    config,
    steps=demo_steps,
    lr_g=1e-7,
    lr_g_final=1e-7,
    log_every=5,
    sample_every=0,
    checkpoint_every=0,
)
d_wins = train(
    clips_dir,
    f"{run_dir}_d_wins",
    model_config,
    frozen_g,
    device=device,
    resume=True,
    progress=False,
)
d_records = read_metrics(f"{run_dir}_d_wins")
for r in d_records[:: max(1, len(d_records) // 4)] + d_records[-1:]:
    print(
        f"step {r['step']:3d}: d_loss {r['d_loss']:.3f}  D(real) {r['d_real']:.3f}  "
        f"D(fake) {r['d_fake']:.3f}  G's adv {r['adv']:.2f}"
    )

# %% tags=["hide-input"]
fig = training_curves(d_records, model_config.n_scales)
# %% [markdown]
# The remedy is balance: a discriminator learning rate no larger than the generator's (the
# default here), fewer D steps, or a weaker D. The opposite imbalance, D(real) and D(fake)
# both stuck at 0.5 for the whole run, means D learns nothing and the adversarial term is
# noise: the model is then in effect trained on Lp + GDL alone.
#
# ### Mode collapse
#
# A collapsed generator ignores its input and produces one frame that D accepts for a while.
# The log alone shows it only indirectly (above); the direct test is the **spread of the
# predictions across different histories**, compared with the spread of the true frames.
# For our run:

# %%
generator = result.generator
held = torch.stack([dataset[i] for i in range(0, len(dataset), len(dataset) // 64)][:64])
with torch.no_grad():
    predicted = generator(held[:, :-3].to(device))[-1].float().cpu()  # (64, 3, 32, 32)
spread_pred = predicted.std(dim=0).mean().item()  # per-pixel std across clips, averaged
spread_true = held[:, -3:].std(dim=0).mean().item()
print(f"spread across 64 clips: predictions {spread_pred:.3f}, true frames {spread_true:.3f}")
print(f"ratio {spread_pred / spread_true:.2f} (collapse: near 0; healthy: of order 1)")

# %% tags=["hide-input"]
fig = sample_grid(held[:4, :-3], predicted[:4], held[:4, -3:])
# %% [markdown]
# ### Non-finite losses
#
# A learning rate far too large (here SGD at 10, 250 times the paper's rate for G) blows the
# discriminator's logits up within a few steps. The trainer checks every step's losses; at
# the first non-finite one it stops with a message naming the step, and the last good
# checkpoint (written every 2 steps here) is left untouched to resume from. The Chainer
# port computed `log(sigmoid(x))`, which reaches `log(0)` and NaN on its own; the losses
# here are computed from logits, so a NaN means the optimisation itself diverged.

# %%
too_fast = TrainConfig.with_optimizer(
    "sgd",
    steps=demo_steps,
    batch_size=config.batch_size,
    lr_g=10.0,
    lr_g_final=10.0,
    lr_d=10.0,
    log_every=1,
    sample_every=0,
    checkpoint_every=2,
    seed=seed,
)
try:
    train(
        clips_dir,
        f"{run_dir}_nan",
        model_config,
        too_fast,
        device=device,
        resume=True,
        progress=False,
    )
    stopped = None
except MsganError as error:
    stopped = str(error)
    print(error)
nan_records = read_metrics(f"{run_dir}_nan")
for r in nan_records:
    print(f"step {r['step']}: d_loss {r['d_loss']:.3g}  lp {r['lp']:.3f}")

# %% [markdown]
# The last records before the stop show the divergence building up (D's loss exploding).
# Resuming from the kept checkpoint with a sane learning rate continues from there.
#
# ## How the shipped models were trained
#
# Chapter 5 uses two generators trained with this trainer on a 2-core CPU
# (`weights/README.md` lists the exact commands). Both continue one L2 + GDL run of 20,000
# steps for 1,000 more steps, one with the discriminator and one without (the control).
# Three choices differ from the paper, each found by measuring. Our losses are means over
# pixels, and in a Ms. Pac-Man crop most pixels do not move, so the Lp term is small: at the
# paper's $\lambda_{gdl} = 1$ the gradient difference loss rewarded copying the last frame,
# while $\lambda_{gdl} = 0.1$ learned motion within a few hundred steps; for the same reason
# $\lambda_{adv}$ is 0.003, not 0.05, and the adversarial term is added to a trained model.
# And the paper's discriminator (valid convolutions, a large fully connected head) stayed at
# chance on these predictions, so the adversarial model uses ours, `d_design="patch"` with
# `d_sees_change` (`msgan train --recipe shipped-adv`). Its log, drawn by the same
# `training_curves`: D's loss falls below chance and its accuracy on held-out clips climbs
# to about 0.7 at every scale, while the generator's Lp error stays where it was.

# %% tags=["hide-input"]
shipped_records = read_metrics(Path(weights_dir) / "logs" / "pacman-small-adv")
fig = training_curves(shipped_records, n_scales=4)
shipped_accuracy = [shipped_records[-1][f"d_acc_{k}"] for k in range(4)]
print("D's held-out accuracy per scale at the last step:", *(f"{a:.2f}" for a in shipped_accuracy))

# %% [markdown]
# ## Check

# %%
chapter_seconds = time.perf_counter() - chapter_start
print(f"chapter ran in {chapter_seconds:.0f} s")
assert result.step >= steps and latest_checkpoint(run_dir), "the run must reach its total steps"
assert last["lp"] < 0.5 * first["lp"], "a short run must at least halve the Lp term"
assert d_real > d_fake + 0.02, (
    f"a healthy D rates real frames above predicted ones: {d_real:.3f} vs {d_fake:.3f}"
)
assert d_wins.step == demo_steps and d_records[-1]["d_fake"] < 0.2 < 0.8 < d_records[-1]["d_real"]
assert stopped is not None and "non-finite loss at step" in stopped, "the NaN guard must fire"
assert spread_pred / spread_true > 0.3, "the trained generator must not collapse"
assert min(shipped_accuracy) > 0.6, "the shipped run's D must see its generator's errors"
assert len(titles) >= 4, "the run must keep its checkpoints for the sample comparison"

# %% [markdown]
# ## Summary
#
# - One step = a D update on one minibatch (fakes generated without a graph) and a G update
#   on another (D frozen, the adversarial gradient flowing through it), as in the paper.
# - `train` / `msgan train` writes checkpoints, `metrics.jsonl`, `losses.png` and sample
#   grids; `resume=True` / `-r` continues exactly, and `steps` is the run's total.
# - Healthy: Lp and GDL fall, D's loss stays near chance with D(real) above D(fake).
#   D wins: `d_loss` → 0, D(real) → 1, D(fake) → 0. Collapse: predictions stop varying with
#   the input. Divergence: the trainer stops at the first non-finite loss, naming the step.
# - Chapter 5 uses the trained generators to predict Ms. Pac-Man recursively and measures
#   them against the copy-the-last-frame baseline.

# %% [markdown]
# ## Exercises
#
# Each is a parameter of the first code cell (papermill: `-p NAME VALUE`) or one line. A
# run directory that holds checkpoints is resumed, not retrained, so give each changed run
# its own `run_dir`.
#
# 1. **The discriminator's learning rate.** Add `"lr_d": 1e-2` to `overrides` in the cell
#    after the imports (the `tiny` recipe's is 1e-3), then try `1e-4`. Which one drifts
#    towards "D wins" (`d_loss` falling, D(real) and D(fake) apart), and what happens to
#    G's `adv` term?
# 2. **Longer.** Set `steps = 600` with the same `run_dir`: the run resumes from its last
#    checkpoint. Do the held-out L1 error and the edge strength keep improving, and when
#    does the moving sprite appear in the grid?
# 3. **The adversarial weight.** Add `"lambda_adv": 0.5` to `overrides`. How do `lp` and
#    D's verdicts change against the recipe's 0.05?
# 4. **No adversary.** Add `"adversarial": False` instead: compare the held-out error and
#    edge strength with the adversarial run at the same step.
# 5. **A bigger model.** Set `preset_name = "small"`: how many clips per second now, and
#    how does that compare with the FLOPs of chapter 2's table?
#
# ## References
#
# - M. Mathieu, C. Couprie, Y. LeCun. *Deep multi-scale video prediction beyond mean square
#   error.* ICLR 2016. [arXiv:1511.05440](https://arxiv.org/abs/1511.05440): section 2.2
#   (adversarial training, the alternating updates and separate minibatches), section 3
#   (optimisation: SGD, learning rates, batch sizes).
# - I. Goodfellow et al. *Generative adversarial nets.* NeurIPS 2014.
#   [arXiv:1406.2661](https://arxiv.org/abs/1406.2661).
# - T. Salimans et al. *Improved techniques for training GANs.* NeurIPS 2016.
#   [arXiv:1606.03498](https://arxiv.org/abs/1606.03498) (failure modes, mode collapse).
# - D. Kingma, J. Ba. *Adam: a method for stochastic optimization.* ICLR 2015.
#   [arXiv:1412.6980](https://arxiv.org/abs/1412.6980); A. Radford, L. Metz, S. Chintala,
#   ICLR 2016, [arXiv:1511.06434](https://arxiv.org/abs/1511.06434) ($\beta_1 = 0.5$).
# - S. Li et al. *PyTorch Distributed: experiences on accelerating data parallel training.*
#   VLDB 2020. [arXiv:2006.15704](https://arxiv.org/abs/2006.15704) (DistributedDataParallel).
# - Earlier implementations: the TensorFlow port
#   ([dyelax/Adversarial_Video_Generation](https://github.com/dyelax/Adversarial_Video_Generation)),
#   whose discriminator outputs reached the generator as constants, and the Chainer port
#   ([alokwhitewolf/Video-frame-prediction-by-multi-scale-GAN](https://github.com/alokwhitewolf/Video-frame-prediction-by-multi-scale-GAN)),
#   which backpropagated D's step through the generator.
#
# ## Timing
#
# The FAST run is printed below. The full-run values of the parameters cell (the `paper`
# preset, 100,000 steps) were not run here; the cell below estimates them from the time of
# one batch-8 step of that preset measured on a 2-core CPU with bf16 (the README's benchmark
# table): an estimate, not a measurement, and a GPU takes far less. The shipped `small`
# models were trained with this trainer on 2-core CPUs, as measured in `weights/README.md`:
# 69.6 minutes for the 20,000-step L2 + GDL run they both start from, then 31 minutes for
# the 1,000 adversarial steps and 20 minutes for the 1,000 steps of its control.

# %%
print(f"this run: {time.perf_counter() - chapter_start:.0f} s for the chapter ({steps} steps)")
paper_step_seconds = 2.05  # README, measured: `paper` preset, batch 8, 2-core CPU, bf16
estimate = 100_000 * paper_step_seconds / 3600
print(f"full run, estimated: 100,000 steps x {paper_step_seconds} s = {estimate:.0f} hours")
