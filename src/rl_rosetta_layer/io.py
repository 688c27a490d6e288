"""Atomic file writes and strict CSV reading."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .errors import ConfigError, CorruptFileError, MissingInputError


def umask_mode(folder: bool = False) -> int:
    """The mode a plain ``open`` (or ``mkdir``) gives under the user's umask: 0o666 (0o777
    for a folder) less the umask. Temporary files start private, so they get this on
    completion."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file, fsync and a rename.

    A reader sees either the old file or the new one, never a truncated mix; the file gets
    the mode the user's umask gives (:func:`umask_mode`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), umask_mode())
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


def read_csv_lines(path: Path, required, *, hint: str = "") -> list[tuple[int, dict]]:
    """(line number, row) of a CSV this package wrote, refusing a file cut short.

    Raises MissingInputError (naming ``hint``, the command that writes it) when the file
    is missing, and CorruptFileError naming the file and line when it is empty, lacks a
    ``required`` column, has a row with too few or too many cells or an empty required
    cell, or ends without a line end (a write cut mid-row).
    """
    path = Path(path)
    if not path.is_file():
        extra = f"; run `{hint}` first" if hint else ""
        raise MissingInputError(f"{path} does not exist{extra}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{path} is not UTF-8 text: {exc}") from exc
    again = f"; rerun `{hint}`" if hint else ""
    if not text.strip():
        raise CorruptFileError(f"{path} is empty; expected a header and rows{again}")
    if not text.endswith("\n"):
        raise CorruptFileError(f"{path} line {text.count(chr(10)) + 1} ends without a line "
                               f"end: the file was cut short{again}")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    missing = [c for c in required if c not in header]
    if missing:
        raise CorruptFileError(f"{path} lacks column(s) {missing}; expected at least "
                               f"{list(required)}, found {header}")
    rows = []
    for cells in reader:
        line = reader.line_num
        if len(cells) != len(header):
            raise CorruptFileError(f"{path} line {line} has {len(cells)} cells, the header "
                                   f"{len(header)}: the row is cut short or malformed{again}")
        row = dict(zip(header, cells))
        empty = [c for c in required if row[c] == ""]
        if empty:
            raise CorruptFileError(f"{path} line {line} has no value for {empty}")
        rows.append((line, row))
    return rows


def read_csv(path: str | os.PathLike, required: Sequence[str], *, hint: str = "") -> list[dict]:
    """Rows (dicts) of a CSV this package wrote; the checks of :func:`read_csv_lines`."""
    return [row for _, row in read_csv_lines(path, required, hint=hint)]


def write_json(path: str | os.PathLike, obj: object) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def check_writable(folder: str | os.PathLike) -> Path:
    """Fail now, before any work, when ``folder`` cannot hold outputs: it (or the nearest
    folder above it that exists, where it would be created) is a file, is read-only, or
    its disk is full. A 64 KiB probe file is written there, synced and removed; nothing
    is created."""
    folder = Path(folder)
    where = folder
    while not where.exists() and where != where.parent:
        where = where.parent
    if not where.is_dir():
        raise ConfigError(f"output folder {folder}: {where} is a file; give a folder "
                          f"(new or existing)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".write-check.", dir=where)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(bytes(65536))
                f.flush()
                os.fsync(f.fileno())
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write to output folder {folder}: "
                          f"{exc.strerror or exc}") from exc
    return folder
