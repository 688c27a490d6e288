"""A run folder is used only when its files are that run's own: metrics.json is checked for
content and tied to the run id and to returns.csv (its SHA-256)."""

import json
import shutil

import pytest

from rl_rosetta_layer.agent.config import DQNConfig
from rl_rosetta_layer.errors import CorruptFileError
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec
from rl_rosetta_layer.experiments.store import RunStore
from rl_rosetta_layer.experiments.units import train_unit

CONFIG = DQNConfig(episodes=4, batch_size=8, learning_starts=10, buffer_size=100)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("store") / "runs"
    store = RunStore(root)
    specs = [RunSpec(EnvSpec(grid_size=4), "identity", seed, CONFIG) for seed in (0, 1)]
    for spec, result in zip(specs, train_unit(specs)):
        store.write(spec, result)
    return store, specs


def _copy(store, tmp_path):
    shutil.copytree(store.root, tmp_path / "runs")
    return RunStore(tmp_path / "runs")


@pytest.mark.parametrize("content, message", [
    ('{"episodes": 20}', r"needs 'run_id' as a JSON str"),
    ("[1, 2]", r"must hold a JSON object, got list"),
    ('"text"', r"must hold a JSON object, got str"),
])
def test_malformed_metrics_are_corrupt_files(two_runs, tmp_path, content, message):
    store, specs = two_runs
    copy = _copy(store, tmp_path)
    (copy.path(specs[0].run_id) / "metrics.json").write_text(content)
    with pytest.raises(CorruptFileError, match=message):
        copy.load(specs[0])


def test_files_of_another_run_are_refused(two_runs, tmp_path):
    store, specs = two_runs
    copy = _copy(store, tmp_path)
    a, b = (copy.path(s.run_id) for s in specs)
    shutil.copy(b / "metrics.json", a / "metrics.json")
    with pytest.raises(CorruptFileError, match=f"belongs to run {specs[1].run_id}"):
        copy.load(specs[0])
    shutil.copy(store.path(specs[0].run_id) / "metrics.json", a / "metrics.json")
    shutil.copy(b / "returns.csv", a / "returns.csv")   # same length, another run's returns
    with pytest.raises(CorruptFileError, match="SHA-256 differs"):
        copy.load(specs[0])


def test_an_untampered_run_loads_and_records_its_hash(two_runs):
    store, specs = two_runs
    metrics = json.loads((store.path(specs[0].run_id) / "metrics.json").read_text())
    assert len(metrics["returns_sha256"]) == 64
    assert len(store.load(specs[0]).returns) == 4
