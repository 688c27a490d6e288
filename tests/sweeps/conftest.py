"""Shared helpers of the sweep tests: tiny sweep files and byte-for-byte output trees."""

from pathlib import Path

import pytest

#: 6 short runs (3 layers x 2 seeds) on a 4x4 grid: about a second in all.
SMALL = """\
name = "small"
layers = ["structured_mid", "identity", "bottleneck"]
seeds = [0, 1]

[env]
grid_size = 4

[dqn]
episodes = {episodes}
learning_starts = 20
buffer_size = 500
batch_size = 16
eps_decay_steps = 200
"""


@pytest.fixture
def small_sweep(tmp_path):
    """Write the small sweep (optionally with another episode budget); return its path."""

    def make(episodes: int = 8, name: str = "small.toml") -> Path:
        path = tmp_path / name
        path.write_text(SMALL.format(episodes=episodes))
        return path

    return make


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), manifests and hidden files aside.

    ``manifest.json`` holds the only things that differ between two sweeps of the same runs
    (times, host, pid, executor); that each run has one is checked by :func:`manifests`.
    """
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def manifests(root: Path) -> list[str]:
    return sorted(str(p.parent.relative_to(root)) for p in root.rglob("manifest.json"))


def assert_same_outputs(a: Path, b: Path) -> None:
    ta, tb = tree(a), tree(b)
    assert sorted(ta) == sorted(tb)
    for name in ta:
        assert ta[name] == tb[name], f"{name} differs"
    assert manifests(a) == manifests(b)
    assert len(manifests(a)) == len(list((a / "runs").glob("*/config.json")))


@pytest.fixture
def same_outputs():
    """``same_outputs(a, b)`` asserts two output folders are byte for byte the same."""
    return assert_same_outputs
