"""Atomic writes, natural sort."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from msgan_lib.fileio import atomic_dir, atomic_path, natural_key, write_text_atomic


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["frame10.png", "frame2.png", "Frame1.png"]
    assert sorted(names, key=natural_key) == ["Frame1.png", "frame2.png", "frame10.png"]


def test_atomic_write_has_the_usual_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    write_text_atomic(path, "done")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_text() == "done"
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_atomic_dir_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "clips"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask


def test_atomic_path_mode_survives_a_writer_that_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    with atomic_path(path) as tmp:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)  # as safetensors does
        os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
