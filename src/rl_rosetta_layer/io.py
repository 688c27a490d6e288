"""Atomic file writes and strict CSV reading."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .errors import ConfigError, CorruptFileError, DiskFullError, MissingInputError

#: Errors of a write that found no room: the disk (or the user's quota) is full.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def free_space(folder: str | os.PathLike) -> str:
    """The space left for a non-root user in ``folder`` (or the nearest folder above it
    that exists), as text: ``"12.0 KiB"``, ``"3.1 GiB"``, or ``"unknown"``."""
    where = Path(folder)
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        size = float(shutil.disk_usage(where).free)
    except OSError:
        return "unknown"
    if size < 1024:
        return f"{size:.0f} bytes"
    for unit in ("KiB", "MiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} GiB"


def raise_if_disk_full(folder: str | os.PathLike, exc: OSError) -> None:
    """Raise :class:`DiskFullError` naming ``folder`` and its free space when ``exc`` says
    the disk (or the quota) is full; return otherwise (the caller re-raises ``exc``)."""
    if exc.errno in NO_SPACE:
        raise DiskFullError(f"no space left to write in {folder} ({free_space(folder)} "
                            f"free); free some space and run the command again (nothing "
                            f"half-written is kept or used)") from exc


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
    the mode the user's umask gives (:func:`umask_mode`). A full disk raises
    :class:`DiskFullError` naming the folder and its free space (the temporary file is
    removed, the old file kept).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise_if_disk_full(path.parent, exc)
        raise
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), umask_mode())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise_if_disk_full(path.parent, exc)
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


#: Most characters one line of a CSV this package reads may have: a row never holds more in
#: memory (csv's own limit, 131,072 characters a cell, bounds a quoted cell over lines), and
#: a file that is not text (a sparse file of zeros, an image) is refused at its first MiB.
MAX_CSV_LINE = 1 << 20


def _csv_lines(f, path: Path, again: str):
    """The physical lines of the open text file ``f`` (line ends kept); CorruptFileError
    naming the line when one is longer than :data:`MAX_CSV_LINE` or the last one lacks a
    line end (a write cut mid-row)."""
    n = 0
    while True:
        line = f.readline(MAX_CSV_LINE + 1)
        if not line:
            return
        n += 1
        if not line.endswith(("\n", "\r")):
            if len(line) > MAX_CSV_LINE:
                raise CorruptFileError(f"{path} line {n} is longer than {MAX_CSV_LINE} "
                                       f"characters: not a CSV this package wrote{again}")
            raise CorruptFileError(f"{path} line {n} ends without a line end: the file was "
                                   f"cut short{again}")
        yield line


def read_csv_lines(path: Path, required, *, hint: str = "") -> list[tuple[int, dict]]:
    """(line number, row) of a CSV this package wrote, refusing a file cut short.

    Raises MissingInputError (naming ``hint``, the command that writes it) when the file
    is missing, and CorruptFileError naming the file and line when it is empty, lacks a
    ``required`` column, has a row with too few or too many cells or an empty required
    cell, a cell longer than csv's limit (131,072 characters) or a line longer than
    :data:`MAX_CSV_LINE`, is not UTF-8, or ends without a line end (a write cut mid-row).
    The file is read a line at a time, so a huge file that is not a CSV is refused before
    it is read.
    """
    path = Path(path)
    if not path.is_file():
        extra = f"; run `{hint}` first" if hint else ""
        raise MissingInputError(f"{path} does not exist{extra}")
    again = f"; rerun `{hint}`" if hint else ""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(_csv_lines(f, path, again))
        try:
            header = next(reader, None)
            if header is None or not "".join(header).strip():
                raise CorruptFileError(f"{path} is empty; expected a header and rows{again}")
            missing = [c for c in required if c not in header]
            if missing:
                raise CorruptFileError(f"{path} lacks column(s) {missing}; expected at least "
                                       f"{list(required)}, found {header}")
            for cells in reader:
                line = reader.line_num
                if len(cells) != len(header):
                    raise CorruptFileError(
                        f"{path} line {line} has {len(cells)} cells, the header "
                        f"{len(header)}: the row is cut short or malformed{again}")
                row = dict(zip(header, cells))
                empty = [c for c in required if row[c] == ""]
                if empty:
                    raise CorruptFileError(f"{path} line {line} has no value for {empty}")
                rows.append((line, row))
        except UnicodeDecodeError as exc:
            raise CorruptFileError(f"{path} is not UTF-8 text: {exc}") from exc
        except csv.Error as exc:
            raise CorruptFileError(f"{path} line {reader.line_num} is not a CSV row this "
                                   f"package wrote: {exc}{again}") from exc
    return rows


def read_csv(path: str | os.PathLike, required: Sequence[str], *, hint: str = "") -> list[dict]:
    """Rows (dicts) of a CSV this package wrote; the checks of :func:`read_csv_lines`."""
    return [row for _, row in read_csv_lines(path, required, hint=hint)]


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of the file's bytes, read a MiB at a time (memory stays small)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        raise_if_disk_full(folder, exc)
        raise ConfigError(f"cannot write to output folder {folder}: "
                          f"{exc.strerror or exc}") from exc
    return folder
