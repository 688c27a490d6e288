"""Atomic writes keep the user's file mode; output folders are checked before any work; a
full disk is one line naming the folder; CSVs are read a line at a time, so a file that is
no CSV is refused before it is read."""

import errno
import os
import re
import shutil
import stat
import subprocess
import tracemalloc

import pytest

from rl_rosetta_layer.errors import ConfigError, CorruptFileError, DiskFullError
from rl_rosetta_layer.experiments import store as run_store
from rl_rosetta_layer.io import (
    MAX_CSV_LINE,
    atomic_write_text,
    check_writable,
    read_csv,
    umask_mode,
)


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


# ------------------------------------------------------------------ CSVs that are no CSV
def test_a_sparse_gib_in_place_of_a_csv_is_refused_at_its_first_mib(tmp_path):
    path = tmp_path / "experiment_returns.csv"
    path.write_text("layer,seed\n")
    with open(path, "r+b") as f:
        f.truncate(1 << 30)                     # a GiB of zeros after the header, sparse
    tracemalloc.start()
    try:
        with pytest.raises(CorruptFileError, match=rf"experiment_returns.csv line 2 is longer "
                                                   rf"than {MAX_CSV_LINE} characters"):
            read_csv(path, ("layer", "seed"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20                      # reading it whole took 2.2 GB


@pytest.mark.parametrize("name", ["experiment_returns.csv", "experiment_runs.csv"])
def test_a_cell_over_the_csv_limit_is_one_corrupt_file_error(tmp_path, name):
    path = tmp_path / name
    path.write_text("layer,seed\nidentity,0\n" + "x" * 140_000 + ",1\n")
    with pytest.raises(CorruptFileError, match=rf"{name} line 3 is not a CSV row this package "
                                               rf"wrote: field larger than field limit"):
        read_csv(path, ("layer", "seed"))


def test_a_file_cut_short_still_names_its_last_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("layer,seed\nidentity,0\nrandom_wide,")
    with pytest.raises(CorruptFileError, match=r"a.csv line 3 ends without a line end"):
        read_csv(path, ("layer", "seed"))


# ---------------------------------------------------------------------------- full disk
def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_one_error_naming_the_folder_and_keeps_the_old_file(tmp_path,
                                                                          monkeypatch):
    (tmp_path / "a.csv").write_text("old\n")
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(DiskFullError, match=rf"^no space left to write in "
                                            rf"{re.escape(str(tmp_path))} \(\d\S* \S+ free\)"):
        atomic_write_text(tmp_path / "a.csv", "new\n")
    assert os.listdir(tmp_path) == ["a.csv"] and (tmp_path / "a.csv").read_text() == "old\n"


TRAIN = ["train", "--episodes", "20", "--seeds", "0-3", "--layers",
         "structured_mid,identity,random_wide", "--workers", "1", "--quiet", "--grid-size", "4",
         "--batch-size", "8", "--set", "learning_starts=10", "--set", "buffer_size=100"]


def _assert_full_disk_refused(out, rc, err):
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.fullmatch(rf"rosetta: error: no space left to write in {re.escape(str(out))}\S* "
                        rf"\(\d\S* \S+ free\); free some space and run the command again "
                        rf"\(nothing half-written is kept or used\)\n", err), err
    hidden = [p for p in out.rglob(".*")]
    assert hidden == [], hidden                 # no temporary file or folder left behind
    for run in (out / "runs").glob("[!_]*"):    # every run folder there is complete
        assert sorted(p.name for p in run.iterdir()) == sorted((*run_store.FILES,
                                                                run_store.NETWORK_FILE))


def test_a_simulated_full_disk_mid_training_is_one_line_and_a_rerun_resumes(tmp_path,
                                                                           monkeypatch,
                                                                           rosetta):
    # The real disk is in the next test, where a tmpfs can be mounted (root).
    out = tmp_path / "out"
    real, calls = run_store._write_file, []

    def write_file(path, text):
        calls.append(path)
        if len(calls) > 10:                     # the third run finds the disk full
            _no_space()
        real(path, text)

    monkeypatch.setattr(run_store, "_write_file", write_file)
    rc, _, err = rosetta([*TRAIN, "--output-dir", out])
    _assert_full_disk_refused(out, rc, err)
    assert len(list((out / "runs").glob("[!_]*"))) == 2
    monkeypatch.setattr(run_store, "_write_file", real)
    rc, _, err = rosetta([*TRAIN, "--output-dir", out])
    assert rc == 0, err
    assert len(list((out / "runs").glob("[!_]*"))) == 12


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MiB tmpfs at ``tmp_path/disk`` (where ``mount`` works: root); else skip."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_real_full_disk_mid_training_is_one_line_and_a_rerun_resumes(small_disk, rosetta):
    filler = small_disk / "filler"
    filler.write_bytes(bytes(shutil.disk_usage(small_disk).free - (96 << 10)))
    out = small_disk / "out"
    rc, _, err = rosetta([*TRAIN, "--output-dir", out])     # 12 runs of >= 16 KiB each
    _assert_full_disk_refused(out, rc, err)
    filler.unlink()
    rc, _, err = rosetta([*TRAIN, "--output-dir", out])
    assert rc == 0, err
    assert len(list((out / "runs").glob("[!_]*"))) == 12
