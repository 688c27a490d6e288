"""Atomic writes keep the user's file mode; output folders are checked before any work."""

import os
import stat

import pytest

from rl_rosetta_layer.errors import ConfigError
from rl_rosetta_layer.io import atomic_write_text, check_writable, umask_mode


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_atomic_writes_get_the_umask_mode(tmp_path, umask_027):
    path = atomic_write_text(tmp_path / "a.txt", "x\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 == umask_mode()
    assert umask_mode(folder=True) == 0o750


def test_run_folders_get_the_umask_mode(tmp_path, umask_027, rosetta):
    rc, _, _ = rosetta(["train", "--episodes", "2", "--seeds", "0", "--layers", "identity",
                        "--quiet", "--workers", "1", "--output-dir", tmp_path])
    assert rc == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert stat.S_IMODE(run.stat().st_mode) == 0o750
    modes = {p.name: stat.S_IMODE(p.stat().st_mode)
             for p in [*run.iterdir(), *tmp_path.glob("*.csv")]}
    assert set(modes.values()) == {0o640}, modes


def test_check_writable_creates_nothing_and_names_a_file(tmp_path):
    check_writable(tmp_path / "new" / "deeper")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match=r"output folder .*/f/out: .*/f is a file"):
        check_writable(tmp_path / "f" / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_check_writable_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="cannot write to output folder"):
            check_writable(folder)
    finally:
        folder.chmod(0o755)
