"""A run folder is used only when its files are that run's own: metrics.json is checked for
content and tied to the run id and to returns.csv (its SHA-256)."""

import hashlib
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


def test_a_run_folder_without_the_hash_is_refused(two_runs, tmp_path):
    # The hash check could be skipped by deleting the hash: another run's returns were used.
    store, specs = two_runs
    copy = _copy(store, tmp_path)
    a, b = (copy.path(s.run_id) for s in specs)
    shutil.copy(b / "returns.csv", a / "returns.csv")
    metrics = json.loads((a / "metrics.json").read_text())
    del metrics["returns_sha256"]
    (a / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(CorruptFileError, match=r"needs 'returns_sha256' as a JSON str, got "
                                               r"None; delete the run folder"):
        copy.load(specs[0])


def test_train_refuses_a_run_folder_without_the_hash(tmp_path, rosetta):
    argv = ["train", "--layers", "identity", "--seeds", "0,1", "--episodes", "4", "--workers",
            "1", "--quiet", "--grid-size", "4", "--batch-size", "8", "--set",
            "learning_starts=10", "--set", "buffer_size=100", "--output-dir", tmp_path]
    assert rosetta(argv)[0] == 0
    tables = {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")}
    a, b = sorted((tmp_path / "runs").glob("identity-s*"))
    shutil.copy(b / "returns.csv", a / "returns.csv")
    metrics = json.loads((a / "metrics.json").read_text())
    del metrics["returns_sha256"]
    (a / "metrics.json").write_text(json.dumps(metrics))
    rc, _, err = rosetta(argv)
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"rosetta: error: {a / 'metrics.json'} needs 'returns_sha256'")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")} == tables


def test_a_huge_returns_file_is_refused_by_its_size_before_it_is_read(two_runs, tmp_path,
                                                                       monkeypatch):
    store, specs = two_runs
    copy = _copy(store, tmp_path)
    returns = copy.path(specs[0].run_id) / "returns.csv"
    with open(returns, "r+b") as f:
        f.truncate(1 << 30)                 # a sparse GiB of zeros in place of the CSV
    read = []
    monkeypatch.setattr("rl_rosetta_layer.experiments.store.file_sha256",
                        lambda path: read.append(path))
    with pytest.raises(CorruptFileError, match=r"returns.csv is 1073741824 bytes, more than "
                                               r"1280, the most 4 episodes take"):
        copy.load(specs[0])
    assert read == []                       # refused before a byte was hashed or parsed


def test_the_hash_is_checked_before_the_returns_are_parsed(two_runs, tmp_path, monkeypatch):
    store, specs = two_runs
    copy = _copy(store, tmp_path)
    returns = copy.path(specs[0].run_id) / "returns.csv"
    lines = returns.read_text().splitlines(keepends=True)
    lines[1] = '"' + "x" * 200 + '",' + lines[1].split(",", 1)[1]   # one cell replaced
    returns.write_text("".join(lines))
    monkeypatch.setattr("rl_rosetta_layer.experiments.store.read_csv",
                        lambda *a, **k: pytest.fail("parsed before the hash was checked"))
    with pytest.raises(CorruptFileError, match="SHA-256 differs"):
        copy.load(specs[0])


def test_a_cell_over_the_csv_limit_in_a_run_is_one_error(two_runs, tmp_path):
    # Even with a hash and a size that match, a cell csv refuses is a CorruptFileError.
    store, specs = two_runs
    copy = _copy(store, tmp_path)
    folder = copy.path(specs[0].run_id)
    lines = (folder / "returns.csv").read_text().splitlines(keepends=True)
    lines[1] = "x" * 140_000 + "," + lines[1].split(",", 1)[1]
    text = "".join(lines)
    (folder / "returns.csv").write_text(text)
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics.update(returns_sha256=hashlib.sha256(text.encode()).hexdigest(), episodes=600)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(CorruptFileError, match=r"returns.csv line 2 is not a CSV row this "
                                               r"package wrote: field larger than field limit"):
        copy.load(specs[0])
