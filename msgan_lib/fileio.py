"""Small file helpers shared by every module: the project's error type, atomic writes and
natural sort.

Every command writes its files under a temporary name and renames them into place, so an
interrupted run never leaves a half-written file where a finished one is expected.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


class MsganError(Exception):
    """A problem with the user's input or files: the CLI prints it as one line and exits 1.

    The message names the path or value at fault and what to do about it.
    """


def _current_umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def natural_key(name: str) -> list[int | str]:
    """Sort key that orders ``frame2`` before ``frame10`` (digits compare as numbers).

    The Chainer port sorted frame names as plain strings, so its clips were not
    consecutive frames; every frame listing here goes through this key.
    """
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def require_dir(path: Path, what: str) -> None:
    """Raise MsganError unless ``path`` is an existing directory (``what`` names its role)."""
    if not path.exists():
        raise MsganError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise MsganError(f"{what} {path} is not a directory")


def ensure_dir(path: str | os.PathLike[str]) -> Path:
    """Create directory ``path`` (and its parents) or say in one line why it cannot be.

    Every command that writes goes through here (directly or through :func:`atomic_path`
    and :func:`atomic_dir`), so an output path that is an existing file, lies under a
    file, or is not writable is one clear error naming it instead of a traceback.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise MsganError(
            f"{path} is an existing file, not a directory: choose another output directory"
        ) from None
    except NotADirectoryError:
        parent = next(p for p in path.parents if p.exists())
        raise MsganError(
            f"cannot create {path}: {parent} is a file; choose another output directory"
        ) from None
    except OSError as error:
        raise MsganError(
            f"cannot create {path}: {error.strerror}; choose another output directory"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise MsganError(f"{path} is not writable: choose another output directory")
    return path


def check_replaceable(
    path: Path, overwrite: bool, is_ours: Callable[[Path], bool], hint: str
) -> None:
    """Refuse to write into a non-empty ``path`` unless ``overwrite`` and it is ours.

    ``is_ours`` recognises what the command ``hint`` writes, so ``--overwrite`` never
    deletes a directory msgan did not make.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise MsganError(f"{path} exists and is not a directory; choose another output path")
    if not any(path.iterdir()):
        return
    if not is_ours(path):
        raise MsganError(
            f"{path} is not empty and was not written by msgan {hint}; not touching it"
        )
    if not overwrite:
        raise MsganError(
            f"{path} already holds data from msgan {hint}; pass --overwrite to replace it"
        )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file keeps ``path``'s suffix so that writers which infer the format from
    the extension (PIL, imageio, matplotlib) still work. On any exception it is removed.
    """
    final = Path(path)
    if final.is_dir():
        raise MsganError(f"{final} is a directory: give a file name to write")
    ensure_dir(final.parent)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes 0600 (and some writers replace the file): give the usual mode.
        tmp.chmod(0o666 & ~_UMASK)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty hidden directory beside ``path``; on success it replaces ``path``.

    The directory twin of :func:`atomic_path`: fill the yielded directory, and only a
    complete one appears at ``path`` (an old ``path`` is swapped out, then deleted). On any
    exception the temporary directory is removed and ``path`` is left as it was.
    """
    final = Path(path)
    ensure_dir(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    tmp.chmod(0o777 & ~_UMASK)  # mkdtemp makes 0700; finished directories get the usual mode
    try:
        yield tmp
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            os.replace(final, old / final.name)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
