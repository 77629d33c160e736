"""The ``msgan`` command line: one subcommand per step of the pipeline.

    msgan record-pacman   Ms. Pac-Man gameplay frames from the Atari emulator  (chapter 01)
    msgan import-video    a video file (mp4, gif, ...) to a frame directory   (chapter 01)
    msgan process-data    frame directories to training clips (shards)        (chapter 01)
    msgan train           adversarial or Lp+GDL training, resumable           (chapter 04)
    msgan predict         recursive full-frame prediction into inference/     (chapter 05)
    msgan evaluate        PSNR / SSIM / sharpness against the baselines       (chapter 05)
    msgan dream           an action model's frames under chosen actions       (chapter 06)
    msgan demo            the end-to-end job of the README

Flags kept from the Chainer port keep their meaning (``process-data -n``, ``train -r -l -g
-d``, ``predict -p -n``). Each subcommand's parser and handler sit together below; handlers
import their module lazily so ``msgan --help`` stays fast. Problems with the user's input
raise :class:`~msgan_lib.fileio.MsganError`, printed here as one line with exit status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from msgan_lib.fileio import MsganError

Handler = Callable[[argparse.Namespace], None]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _integer(what: str, low: int) -> Callable[[str], int]:
    """An argparse type: an integer, ``what`` is, at least ``low``.

    Out-of-range values such as ``-n 0`` are refused by argparse with one clear line.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be {what} (at least {low})")
        return value

    return parse


_positive_int = _integer("a positive integer", 1)
_non_negative_int = _integer("an integer", 0)


def add_config_flags(parser: argparse._ActionsContainer, cls: type) -> list[str]:
    """A flag for every field of the config dataclass ``cls`` declared with
    :func:`msgan_lib.config.flag`; returns their field names.

    Name, type, choices, help and the default shown all come from the field. Every flag
    defaults to ``None`` ("not given"), so a value is set only where the user gave one and
    the config (a recipe, a resumed run) keeps the rest; the dataclass validates it.
    """
    names = []
    for spec in dataclasses.fields(cls):
        if "help" not in spec.metadata:
            continue
        name = spec.metadata.get("flag", "--" + spec.name.replace("_", "-"))
        shown = f"{spec.metadata['help']} (default: {spec.default})"
        if isinstance(spec.default, bool):
            parser.add_argument(
                name, dest=spec.name, action=argparse.BooleanOptionalAction, help=shown
            )
        else:
            parser.add_argument(
                name,
                dest=spec.name,
                type=type(spec.default),
                choices=spec.metadata.get("choices"),
                help=shown,
            )
        names.append(spec.name)
    return names


def given(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The values of ``names`` that were given on the command line."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


REGISTRARS: list[Registrar] = []


def command(registrar: Registrar) -> Registrar:
    """Decorator adding a subcommand's parser builder to the CLI, in definition order."""
    REGISTRARS.append(registrar)
    return registrar


def build_parser() -> argparse.ArgumentParser:
    """The full ``msgan`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="msgan",
        description="Multi-scale adversarial video prediction (Mathieu et al. 2016) in PyTorch.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for registrar in REGISTRARS:
        registrar(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        handler(args)
    except MsganError as error:
        print(f"msgan {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"msgan {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


# Subcommands. Each registrar builds its parser; each handler calls into the library.

# --- data commands: record-pacman, import-video, process-data (chapter 01) ---


def _print_data_warnings(command_name: str, caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        print(f"msgan {command_name}: warning: {warning.message}", file=sys.stderr)


@command
def _record_pacman_parser(subparsers: argparse._SubParsersAction) -> None:
    from msgan_lib.config import RecordConfig

    parser = subparsers.add_parser(
        "record-pacman",
        help="record Ms. Pac-Man gameplay frames (ale-py) into <out>/images/{train,test}",
        description="Play seeded Ms. Pac-Man episodes with a held-random-action player and "
        "write every merged (flicker-free) frame as PNG: <out>/images/train/episode_NNNNN/"
        "frame_NNNNNN.png and likewise for test. Same seed -> identical files. An episode ends "
        "at game over or after --frames-per-episode frames (a short game gives a short video).",
    )
    parser.add_argument("--out", default="data", help="data root (default: data)")
    parser.add_argument("--train-episodes", type=_non_negative_int, default=50)
    parser.add_argument("--test-episodes", type=_non_negative_int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(record_fields=add_config_flags(parser, RecordConfig))
    parser.add_argument("--workers", type=_positive_int, default=None, help="default: all cores")
    parser.add_argument("--overwrite", action="store_true", help="replace existing recorded splits")
    parser.set_defaults(handler=_record_pacman)


def _record_pacman(args: argparse.Namespace) -> None:
    from msgan_lib.config import RecordConfig
    from msgan_lib.pacman import record_pacman

    config = RecordConfig(**given(args, args.record_fields))
    summary = record_pacman(
        out=args.out,
        train_episodes=args.train_episodes,
        test_episodes=args.test_episodes,
        seed=args.seed,
        config=config,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    for split, videos in summary["videos"].items():
        short = sum(n < config.frames_per_episode for n in videos.values())
        print(
            f"{split}: {len(videos)} episodes, {sum(videos.values())} frames "
            f"({short} ended by game over) in {args.out}/images/{split}"
        )
    print(f"{summary['frames']} frames in {summary['seconds']:.1f} s ({summary['fps']:.0f}/s)")


@command
def _import_video_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-video",
        help="turn a video file (mp4, gif, ...) into a frame directory",
        description="Decode FILE and write its frames as frame_000001.png, ... into --out "
        "(one video directory, e.g. data/images/train/my_video).",
    )
    parser.add_argument("file", help="video file (mp4, gif, webm, ...)")
    parser.add_argument("--out", required=True, help="frame directory to create")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing one")
    parser.set_defaults(handler=_import_video)


def _import_video(args: argparse.Namespace) -> None:
    from msgan_lib.frames import import_video

    count = import_video(args.file, args.out, overwrite=args.overwrite)
    print(f"{count} frames written to {args.out}")


@command
def _process_data_parser(subparsers: argparse._SubParsersAction) -> None:
    from msgan_lib.config import DataConfig

    parser = subparsers.add_parser(
        "process-data",
        help="cut training clips (random crops of frame windows) into compressed shards",
        description="Cut N clips of history+1 frames, random crop-size crops filtered by the "
        "Chainer port's motion rule, into shards plus manifest.json. Same seed -> same clips "
        "whatever --workers. An existing clip set is never appended to: pass --overwrite to "
        "replace it.",
    )
    parser.add_argument("-n", "--num-clips", type=_positive_int, default=500_000)
    parser.add_argument("--train-dir", default="data/images/train")
    parser.add_argument("--clips-dir", default="data/clips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing clip set")
    parser.set_defaults(data_fields=add_config_flags(parser, DataConfig))
    parser.add_argument("--workers", type=_positive_int, default=None, help="default: all cores")
    parser.set_defaults(handler=_process_data)


def _process_data(args: argparse.Namespace) -> None:
    from msgan_lib.clips import process_data
    from msgan_lib.config import DataConfig

    config = DataConfig(**given(args, args.data_fields))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manifest = process_data(
            args.train_dir,
            args.clips_dir,
            args.num_clips,
            config=config,
            seed=args.seed,
            workers=args.workers,
            overwrite=args.overwrite,
        )
    _print_data_warnings("process-data", caught)
    counts = manifest["motion"]["counts"]
    print(
        f"{manifest['count']} clips {tuple(manifest['clip_shape'])} in "
        f"{len(manifest['shards'])} shards at {args.clips_dir} in {manifest['seconds']:.1f} s "
        f"({manifest['count'] / manifest['seconds']:.0f} clips/s); passed the motion rule: "
        f"{counts['passed']}, kept without check: {counts['kept_without_check']}, "
        f"no moving crop in {manifest['motion']['max_tries']} tries: "
        f"{counts['kept_after_max_tries']}"
    )


# --- train (chapter 04) ---


@command
def _train_parser(subparsers: argparse._SubParsersAction) -> None:
    from msgan_lib.config import PRESET_NAMES, RECIPES, LossConfig, ModelConfig, TrainConfig

    recipes = "; ".join(f"{name}: {r.about}" for name, r in RECIPES.items())
    parser = subparsers.add_parser(
        "train",
        help="train the generator (adversarially, or on Lp + GDL only), resumable",
        description="Train on the clips of `msgan process-data`. The run directory (--out) "
        "collects checkpoints/step_NNNNNNN.pt, metrics.jsonl, losses.png and samples/. "
        "A run's settings: --recipe (or the defaults shown), then any flag given. "
        "Multi-GPU / multi-process: torchrun --nproc_per_node N -m msgan_lib train ... "
        "(DistributedDataParallel; NCCL on GPUs, gloo on CPUs; each process trains on its "
        "own --batch-size clips, so the global batch is N x --batch-size). Ctrl-C or SIGTERM "
        "saves a checkpoint and stops; -r continues exactly where it stopped. When "
        "resuming, flags not given keep the run's values; changing the model or the method "
        "is refused.",
    )
    group = parser.add_argument_group("Chainer port flags")
    group.add_argument(
        "-r",
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in --out (or from -l PATH)",
    )
    group.add_argument(
        "-l",
        "--load",
        metavar="PATH",
        help="checkpoint, run directory or .safetensors: with -r resume from it, without -r "
        "start a new run from its weights",
    )
    group.add_argument(
        "-g", "--gpu", type=int, default=-1, help="CUDA device index; -1 = CPU (default)"
    )
    group.add_argument(
        "-d", "--data", default="data/clips", help="clips directory (default: data/clips)"
    )
    parser.add_argument("--out", default="runs/train", help="run directory (default: runs/train)")
    parser.add_argument(
        "--recipe", choices=tuple(RECIPES), help=f"a named training recipe ({recipes})"
    )
    parser.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        help="model size (new runs: the recipe's, else the loaded model's, else paper)",
    )
    parser.add_argument(
        "--single-scale",
        action="store_true",
        help="the finest scale's networks alone, no pyramid (the paper's single-scale baseline)",
    )
    parser.add_argument(
        "--action-conditional",
        action="store_true",
        help="condition the generator and discriminator on the player's actions, read from "
        "the clips (videos recorded by record-pacman; ours, beyond the paper)",
    )
    fields = [
        *add_config_flags(parser.add_argument_group("model (ModelConfig)"), ModelConfig),
        *add_config_flags(parser.add_argument_group("losses (LossConfig)"), LossConfig),
        *add_config_flags(parser.add_argument_group("training (TrainConfig)"), TrainConfig),
    ]
    parser.add_argument(
        "--threads", type=_positive_int, help="CPU threads (default: the cores not busy)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_train, config_fields=fields)


def _train(args: argparse.Namespace) -> None:
    from msgan_lib import train as training
    from msgan_lib.clips import ClipDataset
    from msgan_lib.runtime import device_from_gpu_flag

    actions = (
        ClipDataset(args.data, with_actions=True).action_names if args.action_conditional else None
    )
    setup = training.resolve_run(
        args.out,
        resume=args.resume,
        load=args.load,
        preset_name=args.preset,
        recipe_name=args.recipe,
        overrides=given(args, args.config_fields),
        single_scale=args.single_scale,
        action_names=actions,
    )
    result = training.train(
        args.data,
        args.out,
        device=device_from_gpu_flag(args.gpu),
        threads=args.threads,
        progress=not args.no_progress,
        setup=setup,
    )
    if result.interrupted:
        print(
            f"msgan train: stopped at step {result.step}, saved {result.checkpoint}; "
            f"continue with: msgan train -r --out {args.out} -d {args.data}",
            file=sys.stderr,
        )
        raise KeyboardInterrupt
    if result.checkpoint is not None:
        print(f"step {result.step}: {result.checkpoint}")


@command
def _export_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's generator as shareable .safetensors weights",
        description="Write the generator of a training checkpoint (or of a run directory's "
        "latest one) as safetensors weights with its model configuration and kind (adv or "
        "l2) in the metadata: what weights/ ships, and what predict and evaluate -p take.",
    )
    parser.add_argument("checkpoint", help="checkpoint file or run directory")
    parser.add_argument("out", help="weights file to write (.safetensors)")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> None:
    from msgan_lib.checkpoint import export_generator

    info = export_generator(args.checkpoint, args.out)
    print(f"{info['kind']} generator of step {info['step']} -> {info['weights']}")


# --- predict, evaluate (chapter 05) ---


def _add_inference_arguments(parser: argparse.ArgumentParser, precision: str) -> None:
    """Flags shared by ``predict`` and ``evaluate``: models, test frames, device, output."""
    from msgan_lib.runtime import PRECISIONS

    parser.add_argument(
        "-p",
        "--path",
        nargs="+",
        required=True,
        metavar="CHECKPOINT",
        help="checkpoint file, run directory or shipped .safetensors weights (several: compared)",
    )
    parser.add_argument(
        "--test-dir", default="data/images/test", help="test videos (default: data/images/test)"
    )
    parser.add_argument("--out", default="inference", help="output folder (default: inference)")
    parser.add_argument(
        "-g", "--gpu", type=int, default=-1, help="CUDA device index; -1 = CPU (default)"
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=precision,
        help=f"model arithmetic; auto = bf16 where the hardware runs it natively ({precision})",
    )
    parser.add_argument("--threads", type=_positive_int, help="CPU threads (default: all cores)")


def _inference_device(args: argparse.Namespace) -> str:
    """The torch device of ``-g`` (setting CPU threads when asked)."""
    import torch

    from msgan_lib.runtime import device_from_gpu_flag

    if args.threads:
        torch.set_num_threads(args.threads)
    return str(device_from_gpu_flag(args.gpu))


@command
def _predict_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict full test frames recursively; frames, comparisons and a GIF in inference/",
        description="Predict -n frames recursively from the true history of one test window "
        "(a random window with motion from a random test video unless --video/--start are "
        "given) with each model, and write into --out: input_N.png, truth_N.png, "
        "<model>/pred_N.png, compare_N.png (ground truth | models), prediction.gif and "
        "prediction.json. Action-conditioned models play the window's recorded actions.",
    )
    _add_inference_arguments(parser, precision="auto")
    parser.add_argument(
        "-n", "--no_pred", type=_positive_int, default=7, help="recursive predictions (default 7)"
    )
    parser.add_argument("--video", help="test video: a name in --test-dir or a frame directory")
    parser.add_argument(
        "--start", type=_non_negative_int, help="index of the first history frame in the video"
    )
    parser.add_argument("--seed", type=int, help="seed choosing video and start (default: random)")
    parser.add_argument(
        "--most-motion",
        action="store_true",
        help="the test window whose true future changes the most pixels (the README's "
        "showcase rule; replaces --video, --start and --seed)",
    )
    parser.set_defaults(handler=_predict)


def _predict(args: argparse.Namespace) -> None:
    import random

    from msgan_lib.predict import run_predict

    device = _inference_device(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    prediction, files = run_predict(
        args.path,
        test_dir=args.test_dir,
        steps=args.no_pred,
        video=args.video,
        start=args.start,
        seed=seed,
        out=args.out,
        device=device,
        precision=args.precision,
        most_motion=args.most_motion,
    )
    chosen = f" (chosen with --seed {prediction.seed})" if prediction.seed is not None else ""
    if args.most_motion:
        chosen = " (the window with the most motion)"
    print(
        f"{args.no_pred} frames predicted from {prediction.video} starting at frame "
        f"{prediction.start}{chosen} by {', '.join(prediction.predictions)}"
    )
    print(f"wrote {sum(len(paths) for paths in files.values())} files into {args.out}/")
    print(f"  GIF: {files['gif'][0]}")


@command
def _evaluate_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="PSNR / SSIM / sharpness per step against the last_input and history_mean baselines",
        description="Score each model, the last_input baseline (copy the last true frame) and "
        "the history_mean baseline (mean of the true history) over windows of the test "
        "videos, recursively for --steps steps, on full frames and on moving pixels. "
        "Action-conditioned models play the recorded actions of the test videos (their "
        "actions.csv). Writes metrics.csv (model, step, metric, region, mean, std, n), "
        "metrics.md and metrics.png.",
    )
    _add_inference_arguments(parser, precision="fp32")
    parser.add_argument("--steps", type=_positive_int, default=8, help="recursive steps (8)")
    parser.add_argument(
        "--windows", type=_non_negative_int, default=64, help="most windows scored; 0 = all (64)"
    )
    parser.add_argument(
        "--stride", type=_positive_int, help="frames between window starts (default: no overlap)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed drawing the windows (0)")
    parser.add_argument(
        "--batch-size", type=_positive_int, default=8, help="windows per forward pass (8)"
    )
    parser.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> None:
    from msgan_lib.evaluate import run_evaluate

    _, paths = run_evaluate(
        args.path,
        test_dir=args.test_dir,
        steps=args.steps,
        max_windows=args.windows or None,
        stride=args.stride,
        seed=args.seed,
        out=args.out,
        device=_inference_device(args),
        precision=args.precision,
        batch_size=args.batch_size,
        log=lambda line: print(line, flush=True),
    )
    print(paths["md"].read_text())
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


# --- dream (chapter 06) ---


@command
def _dream_parser(subparsers: argparse._SubParsersAction) -> None:
    from msgan_lib.runtime import PRECISIONS

    parser = subparsers.add_parser(
        "dream",
        help="an action-conditioned model's frames under chosen actions, beside the emulator's",
        description="From a window of a test video (the history's own transitions use the "
        "recorded actions), predict --steps frames recursively with an action-conditioned "
        "model under the actions --actions, and write into --out: dream/frame_NNNNNN.png, "
        "dream.gif, dream.csv (Ms. Pac-Man's position per step) and dream.json. With "
        "--emulator (videos of record-pacman) the Atari emulator, restored at the last "
        "history frame, plays the same actions: emulator/frame_NNNNNN.png, a side-by-side "
        "GIF (dream | emulator), and per step the position error and the moving-pixel PSNR "
        "of the dream against the emulator.",
    )
    parser.add_argument(
        "-p", "--path", required=True, metavar="WEIGHTS", help="action model: weights or run"
    )
    parser.add_argument(
        "--test-dir", default="data/images/test", help="test videos (default: data/images/test)"
    )
    parser.add_argument(
        "--actions",
        required=True,
        metavar="SEQ",
        help="comma-separated ALE action names, NAME*K repeating one K times, any case "
        "(e.g. LEFT*8,UP*8); one per predicted frame",
    )
    parser.add_argument(
        "--steps", type=_positive_int, help="frames to dream (default: one per action)"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--video", help="test video: a name in --test-dir (default: the first)")
    parser.add_argument(
        "--start",
        type=_non_negative_int,
        help="index of the first history frame in the video (default: 0)",
    )
    parser.add_argument(
        "--emulator", action="store_true", help="compare with the emulator playing the actions"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier dream")
    parser.add_argument(
        "-g", "--gpu", type=int, default=-1, help="CUDA device index; -1 = CPU (default)"
    )
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="fp32", help="model arithmetic (fp32)"
    )
    parser.add_argument("--threads", type=_positive_int, help="CPU threads (default: all cores)")
    parser.set_defaults(handler=_dream)


def _dream(args: argparse.Namespace) -> None:
    from msgan_lib.dream import dream_summary, run_dream

    result, paths = run_dream(
        args.path,
        test_dir=args.test_dir,
        actions=args.actions,
        steps=args.steps,
        out=args.out,
        video=args.video,
        start=args.start,
        emulator=args.emulator,
        overwrite=args.overwrite,
        device=_inference_device(args),
        precision=args.precision,
    )
    last = result.start + len(result.history) - 1
    print(f"history: {result.video}, frames {result.start} to {last}")
    print(dream_summary(result))
    print(f"wrote {args.out}/: {', '.join(p.name for p in paths.values())}")


# --- demo (README's main job) ---


@command
def _demo_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="record fresh episodes, predict them with the shipped models, score them",
        description="The README's main job: record a few fresh Ms. Pac-Man test episodes "
        "(a seed the shipped models never saw), predict them recursively with the shipped "
        "adversarial and L2 models, and write frames, a GIF and the metrics table into --out.",
    )
    parser.add_argument("--data", default="data/demo", help="where to record (data/demo)")
    parser.add_argument("--out", default="inference", help="output directory (inference)")
    parser.add_argument("--episodes", type=_positive_int, default=3, help="test episodes (3)")
    parser.add_argument("-n", "--steps", type=_positive_int, default=8, help="frames (8)")
    parser.add_argument("--windows", type=_positive_int, default=48, help="scored windows (48)")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> None:
    from msgan_lib.demo import run_demo

    run_demo(args.data, args.out, args.episodes, steps=args.steps, windows=args.windows)
