"""Atomic file writes and strict CSV reading."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .errors import CorruptFileError, MissingInputError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file, fsync and a rename.

    A reader sees either the old file or the new one, never a truncated mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text twin of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def format_value(value: object) -> str:
    """CSV cell text: floats with 6 significant digits, everything else as ``str``."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def csv_text(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    """Rows (dicts) as CSV text with exactly ``columns``, in that order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(row[c]) for c in columns])
    return buf.getvalue()


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, object]],
              columns: Sequence[str]) -> Path:
    """Atomically write ``rows`` to ``path`` as CSV with header ``columns``."""
    return atomic_write_text(path, csv_text(rows, columns))


def read_csv(path: str | os.PathLike, required: Sequence[str], *, hint: str = "") -> list[dict]:
    """Read a CSV written by this package, checking that ``required`` columns are present.

    Raises MissingInputError (naming ``hint``, the command that writes it) if the file is
    missing, and CorruptFileError if it is empty or lacks a column.
    """
    path = Path(path)
    if not path.is_file():
        extra = f"; run `{hint}` first" if hint else ""
        raise MissingInputError(f"{path} does not exist{extra}")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise CorruptFileError(
                f"{path} lacks column(s) {missing}; expected at least {list(required)}, "
                f"found {header}")
        rows = list(reader)
    for i, row in enumerate(rows, start=2):
        if None in row or any(row[c] in (None, "") for c in required):
            raise CorruptFileError(f"{path} line {i} is malformed: {row}")
    return rows


def write_json(path: str | os.PathLike, obj: object) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
