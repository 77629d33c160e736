"""The ``msgan`` command line: one subcommand per step of the pipeline.

    msgan record-pacman   Ms. Pac-Man gameplay frames from the Atari emulator  (chapter 01)
    msgan import-video    a video file (mp4, gif, ...) to a frame directory   (chapter 01)
    msgan process-data    frame directories to training clips (shards)        (chapter 01)
    msgan train           adversarial or Lp+GDL training, resumable           (chapter 04)
    msgan predict         recursive full-frame prediction into inference/     (chapter 05)
    msgan evaluate        PSNR / SSIM / sharpness against the baselines       (chapter 05)
    msgan demo            the end-to-end job of the README

Flags kept from the Chainer port keep their meaning (``process-data -n``, ``train -r -l -g
-d``, ``predict -p -n``). Each subcommand's parser and handler sit together below; handlers
import their module lazily so ``msgan --help`` stays fast. Problems with the user's input
raise :class:`~msgan_lib.fileio.MsganError`, printed here as one line with exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from msgan_lib.fileio import MsganError

Handler = Callable[[argparse.Namespace], None]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _positive_int(text: str) -> int:
    """argparse type: an integer > 0 (``-n 0`` and negatives are refused with a clear line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be a positive integer (at least 1)")
    return value


def _non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


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

# --- train (chapter 04) ---

# --- predict, evaluate (chapter 05) ---

# --- demo (README's main job) ---
