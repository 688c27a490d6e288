"""The Python API from a plain script: spawned workers re-import the main script, so a
script that trains from its top level without ``if __name__ == "__main__":`` trains in its
own process (saying so), and a call that needs workers is refused at once, in one line."""

import json
import os
import subprocess
import sys
import textwrap
import time

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
TRAIN = ('rr.train("out", layers=["structured_mid", "identity"], seeds=[0, 1], episodes=3, '
         'grid_size=4, workers=2, quiet=True, settings={{"learning_starts": 10}}{extra})')


def script(tmp_path, body: str) -> subprocess.CompletedProcess:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=300)


def pids(tmp_path, got) -> tuple[int, set[int]]:
    """(the script's process id, the process ids that trained its runs)."""
    main = int(got.stdout.split("pid ")[1].split()[0])
    return main, {json.loads(p.read_text())["pid"]
                  for p in (tmp_path / "out" / "runs").glob("*/manifest.json")}


def test_a_script_without_the_guard_trains_in_its_own_process(tmp_path):
    started = time.monotonic()
    got = script(tmp_path, f"""\
        import os; import rl_rosetta_layer as rr

        done = {TRAIN.format(extra="")}
        print("exit status", done.exit_status, "pid", os.getpid())
        """)
    assert got.returncode == 0, got.stderr
    assert "exit status 0" in got.stdout
    main, trained_by = pids(tmp_path, got)
    assert trained_by == {main}
    assert "WorkerDied" not in got.stdout + got.stderr
    assert ("script.py:3: RuntimeWarning: training in this process instead of on 2 "
            "workers") in got.stderr
    assert 'put the call under `if __name__ == "__main__":`' in got.stderr
    assert len(list((tmp_path / "out" / "runs").glob("*/metrics.json"))) == 4
    assert time.monotonic() - started < 120


def test_a_guarded_script_trains_on_workers_without_a_warning(tmp_path):
    got = script(tmp_path, f"""\
        import os
        import rl_rosetta_layer as rr


        def main():
            done = {TRAIN.format(extra="")}
            print("exit status", done.exit_status, "pid", os.getpid())


        if __name__ == "__main__":
            main()
        """)
    assert got.returncode == 0, got.stderr
    assert "exit status 0" in got.stdout
    assert "RuntimeWarning" not in got.stderr
    main, trained_by = pids(tmp_path, got)
    assert trained_by and main not in trained_by      # worker processes trained them


def test_a_run_timeout_that_needs_workers_is_refused_at_once(tmp_path):
    got = script(tmp_path, f"""\
        import rl_rosetta_layer as rr

        {TRAIN.format(extra=", run_timeout=60")}
        """)
    assert got.returncode == 1
    last = got.stderr.strip().splitlines()[-1]
    assert last == (f"rl_rosetta_layer.errors.ConfigError: run_timeout=60 needs worker "
                    f"processes, and each would run {tmp_path / 'script.py'}, line 3 again "
                    f"as it starts (spawned workers re-import the main script): put the call "
                    f'under `if __name__ == "__main__":`')
    assert not (tmp_path / "out" / "runs").exists()
