"""Shared by the seed's scripts: run a ``rosetta`` subcommand with the script's arguments."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from rl_rosetta_layer.cli import main
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from rl_rosetta_layer.cli import main


def run(command: str) -> None:
    sys.exit(main([command, *sys.argv[1:]]))
