"""A small BibTeX reader and the paper's citation and reference formats.

Only what ``paper/references.bib`` uses: ``@type{key, field = {value}, ...}`` with braced,
quoted or bare values. Authors are ``and``-separated (surnames are enough; ``others``
gives "et al.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import CorruptFileError, MissingInputError

_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", re.S)
_FIELD = re.compile(r"\s*(\w+)\s*=\s*", re.S)


@dataclass(frozen=True)
class BibEntry:
    """One bibliography entry: its key, type and fields (lower-case names)."""

    key: str
    kind: str
    fields: dict

    @property
    def authors(self) -> list[str]:
        text = self.fields.get("author", "")
        return [a.strip() for a in re.split(r"\s+and\s+", text) if a.strip()]

    @property
    def year(self) -> str:
        return self.fields.get("year", "")

    def cite_text(self) -> str:
        """``'Parisi et al., 2022'``, ``'Roy and Vetterli, 2007'``, ``'Holm, 1979'``."""
        names = [_surname(a) for a in self.authors]
        if not names:
            who = self.fields.get("title", self.key)
        elif len(names) >= 3 or "others" in names:
            who = f"{names[0]} et al."
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = names[0]
        return f"{who}, {self.year}" if self.year else who

    def reference_text(self) -> str:
        """One line of the reference list (Markdown)."""
        names = [_surname(a) for a in self.authors if a != "others"]
        who = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
        if "others" in self.authors:
            who += " et al."
        parts = [f"{who} ({self.year})." if self.year else _stop(who),
                 _stop(_unbrace(self.fields.get("title", "")))]
        venue = self.fields.get("booktitle") or self.fields.get("journal")
        if venue:
            parts.append(f"*{_unbrace(venue)}*.")
        eprint = self.fields.get("eprint")
        if eprint:
            parts.append(f"[arXiv:{eprint}](https://arxiv.org/abs/{eprint}).")
        return " ".join(parts)


def _stop(text: str) -> str:
    """``text`` ending with one full stop (or its own ? or !)."""
    return text if text.endswith((".", "?", "!")) else text + "."


def _surname(author: str) -> str:
    author = author.strip()
    if author.startswith("{") and author.endswith("}"):
        return _unbrace(author)            # {van Hasselt}: one name, kept whole
    author = _unbrace(author)
    if "," in author:
        return author.split(",")[0].strip()
    return author.split()[-1] if author.split() else author


def _unbrace(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()


def _value(text: str, i: int, path: Path) -> tuple[str, int]:
    """Parse one field value starting at ``text[i]``; return it and the index after it."""
    if text[i] == "{":
        depth, j = 0, i
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    return text[i + 1:j], j + 1
            j += 1
        raise CorruptFileError(f"{path}: unbalanced braces in a field value")
    if text[i] == '"':
        j = text.find('"', i + 1)
        if j < 0:
            raise CorruptFileError(f"{path}: unterminated quoted field value")
        return text[i + 1:j], j + 1
    m = re.match(r"[\w.-]+", text[i:])
    if not m:
        raise CorruptFileError(f"{path}: cannot read a field value near {text[i:i + 30]!r}")
    return m.group(0), i + m.end()


def parse_bib(text: str, path: Path | str = "<bib>") -> dict[str, BibEntry]:
    """Entries by key.

    >>> bib = parse_bib('@article{holm1979, author = {Holm}, year = 1979, title = {A}}')
    >>> bib["holm1979"].cite_text()
    'Holm, 1979'
    """
    path = Path(path)
    entries: dict[str, BibEntry] = {}
    pos = 0
    while True:
        m = _ENTRY.search(text, pos)
        if not m:
            break
        kind, key = m.group(1).lower(), m.group(2)
        i = m.end()
        fields = {}
        while True:
            while i < len(text) and text[i] in " \t\r\n,":
                i += 1
            if i >= len(text):
                raise CorruptFileError(f"{path}: entry {key!r} is not closed")
            if text[i] == "}":
                i += 1
                break
            f = _FIELD.match(text, i)
            if not f:
                raise CorruptFileError(f"{path}: entry {key!r}: cannot read a field near "
                                       f"{text[i:i + 30]!r}")
            value, i = _value(text, f.end(), path)
            fields[f.group(1).lower()] = _unbrace(value) if f.group(1).lower() != "author" \
                else value.strip()
        if key in entries:
            raise CorruptFileError(f"{path}: key {key!r} appears twice")
        entries[key] = BibEntry(key, kind, fields)
        pos = i
    return entries


def load_bib(path: Path) -> dict[str, BibEntry]:
    """Read a ``.bib`` file (MissingInputError if it does not exist)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"bibliography {path} does not exist; pass --bib or restore "
                                f"paper/references.bib")
    return parse_bib(path.read_text(encoding="utf-8"), path)
