"""TensorBoard logs written while runs train, by the process that trains them: episodes,
health checks, loss, Q, epsilon and steps per second, and not one number of a run
changed by writing them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboardX")

from rl_rosetta_layer.agent.config import DQNConfig  # noqa: E402
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec  # noqa: E402
from rl_rosetta_layer.experiments.units import train_unit  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from test_tensorboard import scalars  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
TRAIN_TAGS = {"train/loss", "train/q_mean", "train/epsilon", "train/updates",
              "train/env_steps_per_second"}


def unit(layer="structured_mid", env_steps=1200, **settings):
    config = DQNConfig(env_steps=env_steps, learning_starts=30, eval_checkpoints=0, **settings)
    return [RunSpec(EnvSpec("grid", 4, 2, None), layer, seed, config) for seed in (0, 1)]


@pytest.mark.parametrize("layer, settings", [
    ("structured_mid", {}),
    ("structured_mid@torch", {"adapter": "none"}),         # the torch learner's update
])
def test_a_live_log_changes_no_number_of_the_runs(layer, settings, tmp_path):
    if layer.endswith("@torch"):
        pytest.importorskip("torch")
    plain = train_unit(unit(layer, **settings))
    logged = train_unit(unit(layer, **settings),
                        logs=[str(tmp_path / "s0"), str(tmp_path / "s1")])
    for a, b in zip(plain, logged):
        assert np.array_equal(a.returns, b.returns) and np.array_equal(a.lengths, b.lengths)
        assert a.health == b.health and a.updates == b.updates
        assert a.network.keys() == b.network.keys()
        assert all(np.array_equal(a.network[k], b.network[k]) for k in a.network)
    tags = scalars(tmp_path / "s1")
    assert TRAIN_TAGS <= set(tags)
    assert {"episode/return", "health/q_spread", "health/grad_norm_mean"} <= set(tags)
    r = logged[1]
    assert [v for _, v in tags["episode/return"]] == pytest.approx(r.returns.tolist(), abs=1e-6)
    assert [s for s, _ in tags["episode/return"]] == np.cumsum(r.lengths).tolist()
    eps = dict(tags["train/epsilon"])
    config = unit()[0].config
    assert all(v == pytest.approx(config.epsilon(s)) for s, v in eps.items())
    assert max(eps) == 1200                      # written at the end of the budget too
    assert all(v > 0 for _, v in tags["train/env_steps_per_second"])
    assert all(np.isfinite(v) and v >= 0 for _, v in tags["train/loss"])


def test_the_worker_writes_the_log_while_the_run_trains(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rl_rosetta_layer.cli", "train", "--layers",
         "identity,structured_mid", "--seeds", "0", "--env-steps", "200000", "--workers", "2",
         "--grid-size", "4", "--quiet", "--tensorboard", "--output-dir", str(out)],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            logs = list((out / "tensorboard").glob("*/events.*"))
            if len(logs) == 2:
                try:
                    seen = set.intersection(*(set(scalars(p.parent)) for p in logs))
                except Exception:  # noqa: BLE001 - a record half written as we read
                    seen = set()
                if TRAIN_TAGS | {"episode/return"} <= seen:
                    break
            time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()
        assert not list((out / "runs").glob("*/metrics.json"))   # no run has finished yet
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert TRAIN_TAGS | {"episode/return"} <= seen
    assert proc.returncode == 143, err


def test_the_tensorboard_extra_installs_the_viewer():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["tensorboard"]
    names = {e.split(">")[0].split("=")[0].strip() for e in extras}
    assert {"tensorboard", "tensorboardX"} <= names
