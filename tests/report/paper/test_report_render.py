"""Line numbers in the errors of the paper template and of the paper check (no outputs)."""

import pytest

from rl_rosetta_layer.errors import CorruptFileError
from rl_rosetta_layer.report import paper as P
from rl_rosetta_layer.report.paper.bib import parse_bib

BIB = parse_bib("@misc{k, author = {A}, title = {T}, year = {2020}}\n")
#: A comment of 4 lines (1-4), then the placeholders on lines 6 and 8.
TEMPLATE = ("<!-- a comment\n   over\n   four lines -->\n<!-- and one more -->\n\n"
            "We [fill: known] it [CITE k].\n\n{bad}\n")


def test_render_fills_known_placeholders():
    text = P.render(TEMPLATE.format(bad="done"), {"known": "did"}, BIB)
    assert text.startswith("We did it (") and "#ref-k" in text


def test_unknown_placeholder_names_its_line_in_the_template():
    with pytest.raises(CorruptFileError, match=r"^t\.md line 8: placeholder "
                                               r"'\[fill: nope\]' names no known value"):
        P.render(TEMPLATE.format(bad="[fill: nope]"), {"known": "did"}, BIB, "t.md")


def test_unknown_citation_names_its_line_in_the_template():
    with pytest.raises(CorruptFileError, match=r"^t\.md line 8 cites zz, not in the "
                                               r"bibliography"):
        P.render(TEMPLATE.format(bad="[CITE zz]"), {"known": "did"}, BIB, "t.md")


def test_placeholders_in_comments_are_ignored():
    text = P.render("<!-- [fill: nope] -->\nplain\n", {}, BIB)
    assert text == "plain\n"


def test_check_paper_names_the_line_in_the_paper(tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text("@misc{k, author = {A}, title = {T}, year = {2020}}\n")
    paper = "<!-- one\ntwo\nthree -->\n```\ncode\n```\n\nText [fill: left] here.\n"
    problems = P.check_paper(paper, tmp_path, bib)
    assert problems == ["placeholder '[fill: left]' remains (line 8)"]
