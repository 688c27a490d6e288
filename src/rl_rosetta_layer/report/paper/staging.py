"""A report regenerated for a paper that is then refused is put back as it was.

``rosetta paper`` regenerates the report before it writes the paper, so a paper refused
after that (a check that fails, a stale or missing input) would leave rewritten report
files behind a command that failed. :func:`restored_on_error` keeps what the report may
write (the output folder's own files and its ``figures/``) and, when a refusal leaves its
block, puts every such file back: the same bytes, mode and modification time, and files
the block created removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...errors import RosettaError
from ...io import atomic_write_bytes
from ..figures import FIGURES_DIR

#: (content, modification time in ns, mode) of a file.
Saved = tuple[bytes, int, int]


def _files(out_dir: Path) -> list[Path]:
    """The files the report may write: ``out_dir``'s own and those in its figures folder
    (hidden temporary files left out)."""
    out = []
    for folder in (out_dir, out_dir / FIGURES_DIR):
        if folder.is_dir():
            out += [p for p in sorted(folder.iterdir())
                    if p.is_file() and not p.name.startswith(".")]
    return out


def snapshot(out_dir: Path) -> dict[Path, Saved]:
    """Every file :func:`_files` lists, by path: its bytes, mtime (ns) and mode."""
    saved = {}
    for path in _files(Path(out_dir)):
        st = path.stat()
        saved[path] = (path.read_bytes(), st.st_mtime_ns, st.st_mode & 0o7777)
    return saved


def restore(out_dir: Path, saved: dict[Path, Saved]) -> None:
    """Put the files of ``out_dir`` back as :func:`snapshot` saw them: changed ones
    rewritten (atomically) with their old bytes, mode and mtime, new ones removed."""
    for path in _files(Path(out_dir)):
        if path not in saved:
            path.unlink(missing_ok=True)
    for path, (data, mtime, mode) in saved.items():
        if path.is_file() and path.read_bytes() == data:
            if path.stat().st_mtime_ns == mtime:
                continue
        else:
            atomic_write_bytes(path, data)
            os.chmod(path, mode)
        os.utime(path, ns=(mtime, mtime))


@contextmanager
def restored_on_error(out_dir: Path) -> Iterator[None]:
    """Run the block; when a :class:`~rl_rosetta_layer.errors.RosettaError` (a refusal)
    leaves it, put the report files of ``out_dir`` back as they were first (:func:`restore`)
    and re-raise."""
    saved = snapshot(Path(out_dir))
    try:
        yield
    except RosettaError:
        restore(Path(out_dir), saved)
        raise
