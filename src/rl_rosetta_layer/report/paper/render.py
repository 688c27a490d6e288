"""Filling the paper template: placeholders, citations and the reference list.

:func:`render` replaces every placeholder of the template (:data:`PLACEHOLDER`) with its
text from the context (:func:`.context.context`), every ``[CITE key, ...]``
with links to the reference list, and ``[fill: references]`` with that list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ...errors import CorruptFileError
from .bib import BibEntry

#: Placeholders of the template: ``[fill: key]``, ``[X%: key]``, ``[quantify: key]``,
#: ``[hypothesis]``, ``[baseline layer]``, ``[CITE key, key]``.
PLACEHOLDER = re.compile(r"\[(fill|X%|quantify|CITE|hypothesis|baseline layer)"
                         r"(?:(?::\s*|\s+)([^\]]*))?\]")
#: Placeholders without a key, and the context key that fills them.
_NAMED = {"hypothesis": "hypothesis", "baseline layer": "baseline_layer"}


def _cite(keys: Sequence[str], bib: Mapping[str, BibEntry], where: str) -> str:
    """'(Author, year; ...)' linking each key to its reference; CorruptFileError naming
    ``where`` for a key missing from ``bib``."""
    missing = [k for k in keys if k not in bib]
    if missing:
        raise CorruptFileError(f"{where} cites {', '.join(missing)}, not in the bibliography; "
                               f"known keys: {', '.join(sorted(bib))}")
    links = [f"[{bib[k].cite_text()}](#ref-{k})" for k in keys]
    return "(" + "; ".join(links) + ")"


def references(keys: Sequence[str], bib: Mapping[str, BibEntry]) -> str:
    """The reference list of ``keys``, sorted by first author and year."""
    entries = sorted((bib[k] for k in dict.fromkeys(keys) if k in bib), key=lambda e: (
        e.cite_text().lower(), e.key))
    return "\n".join(f'- <a id="ref-{e.key}"></a>{e.reference_text()}' for e in entries)


#: An HTML comment (the template's notes): never rendered, never checked.
COMMENT = re.compile(r"<!--.*?-->", re.S)


def blank_keeping_lines(m: re.Match) -> str:
    """A space and the match's line ends: what is removed keeps the line numbers."""
    return " " + "\n" * m.group(0).count("\n")


def _check_template(template: str, context: Mapping[str, str], bib: Mapping[str, BibEntry],
                    template_name: str) -> None:
    """Raise CorruptFileError, naming the line of ``template`` (comments left in place),
    for a placeholder the context does not know or a citation missing from ``bib``."""
    text = COMMENT.sub(blank_keeping_lines, template)
    for m in PLACEHOLDER.finditer(text):
        kind, arg = m.group(1), (m.group(2) or "").strip()
        line = text.count("\n", 0, m.start()) + 1
        if kind == "CITE":
            keys = [k.strip() for k in arg.split(",") if k.strip()]
            _cite(keys, bib, f"{template_name} line {line}")
            continue
        key = _NAMED.get(kind, arg)
        if key != "references" and key not in context:
            raise CorruptFileError(f"{template_name} line {line}: placeholder {m.group(0)!r} "
                                   f"names no known value; known: {', '.join(sorted(context))}")


def render(template: str, context: Mapping[str, str], bib: Mapping[str, BibEntry],
           template_name: str = "template") -> str:
    """Fill every placeholder of ``template``: values, then citations, then references.

    Raises CorruptFileError for a placeholder the context does not know or a citation
    missing from ``bib`` (a broken template), naming its line in ``template``.
    """
    _check_template(template, context, bib, template_name)
    text = re.sub(r"<!--.*?-->\n?", "", template, flags=re.S)

    def value(m: re.Match) -> str:
        kind, arg = m.group(1), (m.group(2) or "").strip()
        key = _NAMED.get(kind, arg)
        return m.group(0) if kind == "CITE" or key == "references" else context[key]

    text = PLACEHOLDER.sub(value, text)
    cited: list[str] = []

    def cite(m: re.Match) -> str:
        if m.group(1) != "CITE":
            return m.group(0)
        keys = [k.strip() for k in (m.group(2) or "").split(",") if k.strip()]
        cited.extend(k for k in keys if k not in cited)
        return _cite(keys, bib, template_name)

    text = PLACEHOLDER.sub(cite, text)
    text = text.replace("[fill: references]", references(cited, bib))
    return text.strip() + "\n"

