"""`rosetta report` killed (SIGKILL) at several points of its run damages no file, and a
rerun gives the bytes of an uninterrupted run."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from fake_outputs import write_outputs  # noqa: E402

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
#: Hidden files are temporary (the atomic writers' ``.NAME.XXXXXX.tmp``, the CLI's
#: write-check probe): a SIGKILL may leave one; it must not break a rerun.
TMP = re.compile(r"^\.")
#: Earlier report outputs in the folder: a killed rerun must leave them whole.
EARLIER = {"experiment_summary_table.md": b"| earlier table |\n",
           "figures/learning_curves.png": b"an earlier figure\n"}


def start(out: Path) -> subprocess.Popen:
    code = "import sys; from rl_rosetta_layer.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, "report", "--output-dir", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)


def snapshot(folder: Path) -> tuple[dict, list[str]]:
    """Files (relative path -> bytes) other than temporary files, and the temporary ones."""
    files, temps = {}, []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            if TMP.match(p.name):
                temps.append(str(p.relative_to(folder)))
            else:
                files[str(p.relative_to(folder))] = p.read_bytes()
    return files, temps


def finish(out: Path) -> float:
    t0 = time.monotonic()
    proc = start(out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    return time.monotonic() - t0


def test_a_killed_report_damages_nothing_and_a_rerun_completes(tmp_path):
    base = write_outputs(tmp_path / "base")
    for name, data in EARLIER.items():
        (base / name).parent.mkdir(exist_ok=True)
        (base / name).write_bytes(data)
    before, _ = snapshot(base)
    ref = shutil.copytree(base, tmp_path / "ref")
    took = finish(ref)
    complete, temps = snapshot(ref)
    assert not temps
    assert set(before) < set(complete)                 # the report adds files, removes none
    assert complete["experiment_summary_table.md"] != EARLIER["experiment_summary_table.md"]

    work = shutil.copytree(base, tmp_path / "work")
    rng = np.random.default_rng(15)
    killed = partial = 0
    for fraction in (0.35, 0.5, 0.65, 0.8, 0.95):       # spread over the run, jittered
        proc = start(work)
        time.sleep(took * (fraction + rng.uniform(-0.05, 0.05)))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        killed += proc.returncode == -signal.SIGKILL
        files, temps = snapshot(work)
        for name, data in files.items():
            assert data == complete.get(name) or data == before.get(name), (fraction, name)
        assert set(before) <= set(files)
        partial += any(files.get(name) != data for name, data in before.items())
    assert killed >= 3 and partial >= 1, (killed, partial)

    (work / ".comparisons.csv.leftover.tmp").write_bytes(b"selected,oth")   # a stale temp
    finish(work)
    files, _ = snapshot(work)
    assert files == complete
