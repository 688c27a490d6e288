"""The code blocks of README.md and docs/*.md run as written.

Every ``bash`` and ``python`` block runs in a fresh temporary folder that links the
repository's ``bench``, ``examples``, ``scripts`` and ``paper`` (so the relative paths the
docs use resolve, and every file a block writes lands in the temporary folder). A block
that is expensive (it trains, installs, downloads, needs weights or a GPU) says so on the
line before its fence:

    <!-- docs-test: skip (trains for minutes) -->

and is reported as skipped with that reason. ``toml`` and plain blocks are data, not run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINKED = ("bench", "examples", "scripts", "paper")
RUN = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python"}
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!-- docs-test: skip \((?P<reason>[^)]+)\) -->$")
IMPORT = re.compile(r"^(?:import|from)\s+(\w+)", re.MULTILINE)
#: The packages of the extras (pyproject.toml): a block that imports one of them is
#: skipped where it is not installed; any other missing import fails the block.
OPTIONAL = {"torch", "diffusers", "accelerate", "transformers", "gymnasium", "minigrid",
            "ray", "stable_baselines3", "tensorboard", "tensorboardX", "array_api_compat"}
#: The most seconds one block may take (all of them together stay under a minute).
BLOCK_TIMEOUT = 45


@dataclass(frozen=True)
class Block:
    path: Path
    line: int                  # of the opening fence, 1-based
    lang: str
    code: str
    skip: str | None           # the reason, when marked

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the skip reason of the marker on
    the last non-blank line before its fence (None when there is none)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")),
                   len(lines))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = SKIP.match(before.strip())
        out.append(Block(path, i + 1, m.group(1), "\n".join(lines[i + 1:end]) + "\n",
                         marker.group("reason") if marker else None))
        i = end + 1
    return out


ALL = [b for path in DOCS for b in blocks(path)]
RUNNABLE = [b for b in ALL if b.lang in RUN]


def test_every_skip_marker_stands_before_a_runnable_block():
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        marked = {i + 1 for i, line in enumerate(lines) if "docs-test:" in line}
        for line in marked:
            assert SKIP.match(lines[line - 1].strip()), f"{path.name}:{line}: malformed marker"
            block = next((b for b in blocks(path) if b.line > line), None)
            assert block is not None and block.skip is not None and block.lang in RUN, \
                f"{path.name}:{line}: the marker skips no bash or python block"


def test_some_blocks_run():
    assert len([b for b in RUNNABLE if b.skip is None]) >= 5


@pytest.fixture
def folder(tmp_path):
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp_path


def missing_imports(block: Block) -> list[str]:
    """The packages of an extra (:data:`OPTIONAL`) that a python block imports and this
    environment lacks: the block is then skipped, not failed."""
    if RUN[block.lang] != "python":
        return []
    return sorted({m for m in IMPORT.findall(block.code)
                   if m in OPTIONAL and importlib.util.find_spec(m) is None})


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_the_block_runs_as_written(block, folder):
    if block.skip is not None:
        pytest.skip(block.skip)
    if missing := missing_imports(block):
        pytest.skip(f"needs {', '.join(missing)}, not installed here")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MPLBACKEND": "Agg",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if RUN[block.lang] == "python":
        script = folder / "block.py"
        script.write_text(block.code, encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    got = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True,
                         timeout=BLOCK_TIMEOUT)
    assert got.returncode == 0, (f"{block.name} failed ({got.returncode}):\n{block.code}\n"
                                 f"{got.stderr[-3000:]}")


def test_the_documented_return_of_parse_layer_name_is_what_it_returns():
    from rl_rosetta_layer.video.backbones import parse_layer_name

    text = (ROOT / "docs" / "video-backbones.md").read_text(encoding="utf-8").splitlines()
    calls = [(i, re.match(r'^parse_layer_name\("([^"]+)"\)\s*$', line))
             for i, line in enumerate(text)]
    documented = [(m.group(1), text[i + 1].lstrip("# ").strip()) for i, m in calls if m]
    assert documented
    for name, shown in documented:
        assert shown == repr(parse_layer_name(name)), name
