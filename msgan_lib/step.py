"""One training step of the paper: a discriminator update, then a generator update (chapter 04).

Mathieu, Couprie & LeCun, "Deep Multi-Scale Video Prediction Beyond Mean Square Error"
(ICLR 2016, arXiv:1511.05440), sections 2.2 and 3. One training step is

1. a discriminator step on one minibatch: the generator predicts every scale without
   building a graph (the fake frames are constants for D), and D sees the real and the
   predicted frames of all scales in one batch, minimising ``d_adversarial_loss``;
2. a generator step on a *separate* minibatch (as in the paper): the generator objective
   ``lambda_adv L_adv + lambda_lp L_p + lambda_gdl L_gdl`` summed over the scales, with the
   adversarial gradient flowing through D into G while D's own weights are frozen (their
   gradients would be discarded anyway).

Without ``adversarial`` only the generator step runs, on Lp + GDL (the paper's baselines).

Optimisers: Adam (``betas = (0.5, 0.999)``, the usual GAN momentum) or the paper's plain
SGD with G's rate decaying geometrically from ``lr_g`` to ``lr_g_final`` over the run
(``TrainConfig``; the named recipes of :mod:`msgan_lib.config` set them). Devices: CPU or
CUDA, bf16 autocast where native (``amp``; the losses are computed in float32),
channels_last memory layout and optional ``torch.compile``; under torchrun the trained
networks are wrapped in DistributedDataParallel.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from msgan_lib import checkpoint as ckpt
from msgan_lib import metrics
from msgan_lib.config import ModelConfig, TrainConfig
from msgan_lib.fileio import MsganError
from msgan_lib.frames import PIXEL_SCALE
from msgan_lib.losses import d_adversarial_loss, generator_loss, moving_weights, scale_targets
from msgan_lib.model import Discriminator, Generator, model_summary
from msgan_lib.runtime import Process, bf16_supported

# A minibatch as the feed delivers it: clips (B, 3(T+1), H, W), or (clips, actions (B, T)).
Batch = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class TrainStep:
    """The models, optimisers and schedules of a run, and one training step.

    ``generator`` and ``discriminator`` are the plain modules (saved in checkpoints);
    the step runs their DDP-wrapped and/or compiled forms where those are enabled.
    """

    def __init__(
        self,
        model_config: ModelConfig,
        config: TrainConfig,
        device: torch.device,
        process: Process | None = None,
    ) -> None:
        self.model_config, self.config, self.device = model_config, config, device
        self.process = process or Process()
        # bf16 only where the hardware runs it natively: emulated bf16 is slower than fp32.
        self.amp = config.amp and bf16_supported(device)
        self.memory_format = (
            torch.channels_last if config.channels_last else torch.contiguous_format
        )
        torch.manual_seed(config.seed)
        self.generator = Generator(model_config).to(device, memory_format=self.memory_format)
        self.discriminator = (
            Discriminator(model_config).to(device, memory_format=self.memory_format)
            if config.adversarial
            else None
        )
        self.optimizers = {"g": self._optimizer(self.generator, config.lr_g)}
        if self.discriminator is not None:
            self.optimizers["d"] = self._optimizer(self.discriminator, config.lr_d)
        decay = config.lr_g_final / config.lr_g
        total = config.steps
        self.schedulers = {
            # Geometric decay from lr_g to lr_g_final over the run (constant when equal).
            "g": torch.optim.lr_scheduler.LambdaLR(
                self.optimizers["g"], lambda step: decay ** (min(step, total) / total)
            )
        }
        if "d" in self.optimizers:
            self.schedulers["d"] = torch.optim.lr_scheduler.LambdaLR(
                self.optimizers["d"], lambda step: 1.0
            )
        self._g_train = self._wrap(self.generator)
        self._d_train = self._wrap(self.discriminator) if self.discriminator is not None else None
        # The generator for the D step and the discriminator for the G step need no DDP:
        # neither one's weights get gradients there.
        self._g_frozen = torch.compile(self.generator) if config.compile else self.generator
        self._d_frozen = (
            torch.compile(self.discriminator)
            if config.compile and self.discriminator is not None
            else self.discriminator
        )

    def _optimizer(self, module: nn.Module, lr: float) -> torch.optim.Optimizer:
        # The generator's action weights (action models only) learn at their own rate.
        groups: list[dict[str, Any]] = [
            {"params": [p for n, p in module.named_parameters() if not n.startswith("action_")]}
        ]
        actions = [p for n, p in module.named_parameters() if n.startswith("action_")]
        if actions:
            groups.append({"params": actions, "lr": self.config.lr_actions})
        # Fused kernels update every weight in one pass over memory.
        if self.config.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=lr, fused=True)  # paper: plain SGD
        return torch.optim.Adam(groups, lr=lr, betas=self.config.adam_betas, fused=True)

    def _wrap(self, module: nn.Module) -> nn.Module:
        if self.process.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = DistributedDataParallel(module, device_ids=ids)
        return torch.compile(module) if self.config.compile else module

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast when ``amp`` is on and native here (a no-op otherwise)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def split(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Split a batch into history, next frame and actions, on the device.

        ``batch``: clips ``(B, 3(T+K), H, W)``, or for an action model the pair ``(clips,
        actions)`` with actions ``(B, T+K-1)`` (see :mod:`msgan_lib.feed`). Clips are
        floats in [-1, 1] or, as the feed delivers them, uint8 frames, which become ``x /
        127.5 - 1`` on the device (a quarter of the bytes to copy). Returns ``(history,
        target, actions)``: the first future frame and the ``T`` actions that lead to it
        (``None`` for clips alone).
        """
        history, futures, actions = self.split_unrolled(batch, 1)
        return history, futures[:, 0], _held(actions, 0, self.model_config.history)

    def split_unrolled(
        self, batch: Batch, depth: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(history (B, 3T, H, W), futures (B, depth, 3, H, W), actions (B, T+depth-1))``:
        the true history, the first ``depth`` frames after it and every action among them
        (``None`` for clips alone), on the device."""
        clips, actions = batch if isinstance(batch, tuple | list) else (batch, None)
        channels = 3 * self.model_config.history
        if clips.shape[1] < channels + 3 * depth:
            raise MsganError(
                f"training clips hold {clips.shape[1] // 3 - self.model_config.history} "
                f"future frame(s) but unroll {depth} needs {depth}: cut clips with "
                f"`msgan process-data --future {depth}` or lower --unroll"
            )
        clips = clips[:, : channels + 3 * depth].to(self.device, non_blocking=True)
        if clips.dtype == torch.uint8:
            clips = clips.float() / PIXEL_SCALE - 1.0
        history = clips[:, :channels].contiguous(memory_format=self.memory_format)
        futures = clips[:, channels:].unflatten(1, (depth, 3))  # (B, depth, 3, H, W)
        if actions is not None:
            actions = actions[:, : self.model_config.history + depth - 1]
            actions = actions.to(self.device, non_blocking=True)  # (B, T+depth-1)
        return history, futures, actions

    def _window(self, window: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """The next step's history: ``window`` ``(B, 3T, H, W)`` without its oldest frame,
        then ``frame`` ``(B, 3, H, W)``, clamped to [-1, 1] as :class:`~msgan_lib.predict.
        Predictor` feeds its predictions back."""
        frame = frame.clamp(-1.0, 1.0).to(window.dtype)
        return torch.cat([window[:, 3:], frame], dim=1).contiguous(memory_format=self.memory_format)

    def _true_windows(self, history: torch.Tensor, futures: torch.Tensor) -> list[torch.Tensor]:
        """The true history of every unrolled step: ``(B, 3T, H, W)`` each, step k's ending
        with the true frame k - 1."""
        frames = torch.cat([history, futures.flatten(1, 2)], dim=1)  # (B, 3(T+K), H, W)
        channels, depth = history.shape[1], futures.shape[1]
        return [
            frames[:, 3 * k : 3 * k + channels].contiguous(memory_format=self.memory_format)
            for k in range(depth)
        ]

    def discriminator_step(self, batch: Batch, depth: int = 1) -> dict[str, torch.Tensor]:
        """One D update; returns ``d_loss`` and the mean sigmoid of D on real (``d_real``) and
        on predicted (``d_fake``) frames.

        With ``depth`` > 1 the generator first predicts ``depth`` frames recursively (no
        graph). Fakes are each step's prediction with the history that produced it (its
        own earlier predictions included), reals the true frame with its true history: D
        learns what recursive predictions get wrong. ``config.d_judges``: "all" judges every
        step (``depth`` times the work), "one" one random step per clip.
        """
        assert self._d_train is not None
        history, futures, actions = self.split_unrolled(batch, depth)
        n, t = self.model_config.n_scales, self.model_config.history
        fake_windows, fakes = [], []
        window = history
        with torch.no_grad(), self.autocast():
            for k in range(depth):
                preds = self._g_frozen(window, _held(actions, k, t))  # constants for D
                fake_windows.append(window)
                fakes.append([p.float() for p in preds])
                if k < depth - 1:
                    window = self._window(window, preds[-1])
        real_windows = self._true_windows(history, futures)
        reals = [scale_targets(futures[:, k], n) for k in range(depth)]
        held = [_held(actions, k, t) for k in range(depth)]
        if depth > 1 and self.config.d_judges == "one":
            pick = torch.randint(depth, (history.shape[0],), device=history.device)  # (B,)
            rows = torch.arange(history.shape[0], device=history.device)

            def chosen(per_step: list[torch.Tensor]) -> torch.Tensor:
                return torch.stack(per_step, dim=1)[rows, pick]  # (B, ...) at each clip's step

            fake_windows, real_windows = [chosen(fake_windows)], [chosen(real_windows)]
            fakes = [[chosen([f[s] for f in fakes]) for s in range(n)]]
            reals = [[chosen([r[s] for r in reals]) for s in range(n)]]
            held = [None if actions is None else chosen(held)]  # type: ignore[arg-type]
        with self.autocast():
            # Real and fake in one batch: (2BK', 3T, H, W) histories, (2BK', 3, h_k, w_k) frames.
            logits = self._d_train(
                torch.cat(real_windows + fake_windows).contiguous(memory_format=self.memory_format),
                [torch.cat([r[s] for r in reals] + [f[s] for f in fakes]) for s in range(n)],
                None if actions is None else torch.cat(held + held),  # type: ignore[arg-type]
            )
        half = logits[0].shape[0] // 2
        real_logits = [z[:half].float() for z in logits]  # (BK', 1) per scale
        fake_logits = [z[half:].float() for z in logits]
        d_loss = d_adversarial_loss(real_logits, fake_logits)
        self.optimizers["d"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["d"].step()
        with torch.no_grad():
            d_real = torch.cat(real_logits).sigmoid().mean()
            d_fake = torch.cat(fake_logits).sigmoid().mean()
        return {"d_loss": d_loss.detach(), "d_real": d_real, "d_fake": d_fake}

    @torch.no_grad()
    def discriminator_accuracy(self, batch: Batch) -> list[float]:
        """D's accuracy per scale on held-out ``clips``, coarsest first (0.5 is chance).

        The mean of the fraction of real next frames D calls real (logit > 0) and the
        fraction of the generator's predictions it calls fake: whether D has learnt to see
        what the generator gets wrong, on clips neither network trained on (one-step
        predictions, whatever the unroll).
        """
        assert self.discriminator is not None
        history, target, actions = self.split(batch)
        with self.autocast():
            fakes = self.generator(history, actions)
            logits = self.discriminator(
                torch.cat([history, history]),
                [
                    torch.cat([r, f.to(r.dtype)])
                    for r, f in zip(
                        scale_targets(target, self.model_config.n_scales), fakes, strict=True
                    )
                ],
                _twice(actions),
            )
        batch = history.shape[0]
        return [
            0.5 * ((z[:batch] > 0).float().mean() + (z[batch:] <= 0).float().mean()).item()
            for z in logits  # (2B, 1) per scale: real, then fake
        ]

    def unrolled_loss(
        self, history: torch.Tensor, futures: torch.Tensor, actions: torch.Tensor | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The generator objective over ``K = futures.shape[1]`` recursive predictions.

        From the true ``history`` ``(B, 3T, H, W)`` the generator predicts a frame; its
        finest scale, clamped to [-1, 1] as :class:`~msgan_lib.predict.Predictor` feeds
        predictions back, replaces the oldest frame of the history that the next step reads
        at every scale, K times. With ``Y_k`` the true frame ``futures[:, k]`` and
        ``Yhat_k`` the k-th prediction (all scales),

            L = (1 / K) sum_k [ lambda_lp L_p(Yhat_k, Y_k) + lambda_gdl L_gdl(Yhat_k, Y_k)
                                + lambda_adv L_adv(D(X_k, Yhat_k)) ]

        where ``X_k`` is the history that produced ``Yhat_k`` (its own earlier predictions
        included), each bracket :func:`~msgan_lib.losses.generator_loss`. The gradient
        flows back through the fed-back predictions, so step 1 learns to make frames that
        step 2 can continue from; ``config.unroll_stop_gradient`` cuts it there (each step
        then learns only to continue from what it is given). Returns ``(L, terms)``, the
        terms being means over the K steps. ``actions``: ``(B, T+K-1)`` or ``None``.
        """
        depth = futures.shape[1]
        n, t = self.model_config.n_scales, self.model_config.history
        total = torch.zeros((), device=history.device)
        sums: dict[str, torch.Tensor] = {}
        window = history
        for k in range(depth):
            held = _held(actions, k, t)
            with self.autocast():
                preds = self._g_train(window, held)  # n scales, (B, 3, h_s, w_s) each
            fake_logits = None
            if self._d_frozen is not None:
                with self.autocast():
                    fake_logits = [z.float() for z in self._d_frozen(window, preds, held)]
            weights = None
            if self.config.loss.moving_weight != 1:  # against the true previous frame
                previous = history[:, -3:] if k == 0 else futures[:, k - 1]  # (B, 3, H, W)
                moving = metrics.moving_mask(
                    metrics.to_unit(previous), metrics.to_unit(futures[:, k])
                )  # (B, H, W)
                weights = moving_weights(moving, n, self.config.loss.moving_weight)
            loss, terms = generator_loss(
                [p.float() for p in preds],
                scale_targets(futures[:, k], n),
                fake_logits,
                self.config.loss,
                weights,
            )
            total = total + loss / depth
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value / depth
            if k < depth - 1:
                fed = preds[-1].detach() if self.config.unroll_stop_gradient else preds[-1]
                window = self._window(window, fed)  # (B, 3T, H, W)
        return total, sums

    @torch.no_grad()
    def held_out_loss(self, clips: Batch, chunk: int = 64) -> dict[str, float]:
        """The one-step Lp + GDL objective on held-out ``clips`` (no adversarial term):
        ``val_loss``, ``val_lp`` and ``val_gdl``, means over the clips, in chunks of
        ``chunk``. Whether a run still learns shows here, on clips it never trained on."""
        clips_only, actions = clips if isinstance(clips, tuple | list) else (clips, None)
        sums: dict[str, float] = {}
        n = self.model_config.n_scales
        loss_config = dataclasses.replace(self.config.loss, lambda_adv=0.0)
        for start in range(0, len(clips_only), chunk):
            part = slice(start, start + chunk)
            batch = clips_only[part] if actions is None else (clips_only[part], actions[part])
            history, target, held = self.split(batch)
            with self.autocast():
                preds = self.generator(history, held)
            total, terms = generator_loss(
                [p.float() for p in preds], scale_targets(target, n), None, loss_config
            )
            size = history.shape[0]
            for key, value in {"loss": total, "lp": terms["lp"], "gdl": terms["gdl"]}.items():
                sums[f"val_{key}"] = sums.get(f"val_{key}", 0.0) + float(value) * size
        return {key: value / len(clips_only) for key, value in sums.items()}

    def generator_step(
        self, batch: Batch, depth: int = 1
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One G update on :meth:`unrolled_loss` ``depth`` steps deep (1: the paper's
        one-step objective); returns the objective and its unweighted terms, plus
        ``g_grad_norm``, the gradient's norm before clipping (``config.grad_clip``)."""
        history, futures, actions = self.split_unrolled(batch, depth)
        if self._d_frozen is not None:
            self.discriminator.requires_grad_(False)  # type: ignore[union-attr]
        total, terms = self.unrolled_loss(history, futures, actions)
        self.optimizers["g"].zero_grad(set_to_none=True)
        total.backward()
        limit = self.config.grad_clip or float("inf")
        grad_norm = nn.utils.clip_grad_norm_(self.generator.parameters(), limit)
        self.optimizers["g"].step()
        if self.discriminator is not None:
            self.discriminator.requires_grad_(True)
        return total.detach(), {**terms, "g_grad_norm": grad_norm.detach()}

    def run(self, batches: Sequence[Batch], depth: int = 1) -> dict[str, torch.Tensor]:
        """One training step on ``batches`` (D's then G's; G's only without adversarial),
        unrolled ``depth`` recursive predictions deep (``TrainConfig.unroll_at``).

        Returns the step's scalars by name, on the device: ``g_loss`` and the generator's
        unweighted terms (:func:`~msgan_lib.losses.generator_loss`, means over the unrolled
        steps), ``g_grad_norm``, ``unroll`` (the depth), then, when adversarial,
        ``d_loss`` and D's mean probabilities ``d_real`` and ``d_fake``.
        """
        d_scalars = (
            self.discriminator_step(batches[0], depth) if self.discriminator is not None else {}
        )
        g_loss, terms = self.generator_step(batches[-1], depth)
        for scheduler in self.schedulers.values():
            scheduler.step()
        unroll = torch.tensor(float(depth), device=self.device)
        return {"g_loss": g_loss, **terms, "unroll": unroll, **d_scalars}

    def learning_rates(self) -> dict[str, float]:
        return {f"lr_{k}": opt.param_groups[0]["lr"] for k, opt in self.optimizers.items()}

    def state(self, step: int, data_manifest: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint dict (plain data only: loadable with ``weights_only=True``)."""
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict() if self.discriminator else {},
            "step": step,
            "model_config": self.model_config.to_dict(),
            "train_config": self.config.to_dict(),
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rng": ckpt.capture_rng_state(),
            "data_manifest": data_manifest,
            "cpu_threads": torch.get_num_threads(),  # a resumed CPU run keeps it (exactness)
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint: weights, optimisers, schedules and RNG states."""
        self.load_weights(state)
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        for key, scheduler in self.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][key])
        ckpt.restore_rng_state(state["rng"])

    def load_weights(self, state: dict[str, Any]) -> None:
        """Copy the generator's (and, when both have one, the discriminator's) weights."""
        self.generator.load_state_dict(state["generator"])
        if self.discriminator is not None and state.get("discriminator"):
            self.discriminator.load_state_dict(state["discriminator"])


def _held(actions: torch.Tensor | None, step: int, history: int) -> torch.Tensor | None:
    """The ``(B, T)`` actions unrolled step ``step`` reads: ``actions[:, step : step + T]``,
    whose last entry makes its frame (``None`` stays ``None``)."""
    return None if actions is None else actions[:, step : step + history]


def _twice(actions: torch.Tensor | None) -> torch.Tensor | None:
    """The actions of a real-then-fake batch, ``(2B, T)`` (``None`` stays ``None``)."""
    return None if actions is None else torch.cat([actions, actions])


def step_flops(model_config: ModelConfig, batch_size: int, adversarial: bool = True) -> int:
    """Model FLOPs of one training step on crops (a multiply-add counts 2): for MFU.

    With ``F_G`` and ``F_D`` the forward FLOPs per clip of the generator (all scales) and
    of the discriminators (:func:`~msgan_lib.model.model_summary`), and a backward pass
    counted as twice its forward: the D step is ``F_G`` (fakes, no graph) plus forward and
    backward of D on a real and a fake frame, ``6 F_D``; the G step is ``3 F_G`` plus D's
    forward and its backward to the input only (no weight gradients), ``2 F_D``. Per clip
    of the batch: ``4 F_G + 8 F_D``; without the adversarial term, ``3 F_G``.
    """
    size = model_config.crop_size
    totals = {
        row["network"]: row["flops"]
        for row in model_summary(model_config, size, size)
        if row["scale"] == "total"
    }
    per_clip = 4 * totals["G"] + 8 * totals["D"] if adversarial else 3 * totals["G"]
    return batch_size * per_clip
