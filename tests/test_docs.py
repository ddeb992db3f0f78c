"""The syllabus links every lecture, and no relative link in the docs points nowhere."""

from __future__ import annotations

import re

import pytest

from coursebuild.catalog import REPO

DOCS = ["README.md", "syllabus.md", "CONTRIBUTING.md", "docs/grading.md", "docs/authoring.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_resolve(doc):
    targets = [t.split("#")[0] for t in LINK.findall((REPO / doc).read_text())
               if not t.startswith(("http://", "https://", "#", "mailto:"))]
    missing = [t for t in targets if t and not (REPO / doc).parent.joinpath(t).exists()]
    assert not missing, f"{doc} links to missing files: {missing}"


def test_syllabus_links_every_lecture():
    syllabus = (REPO / "syllabus.md").read_text()
    unlinked = [p.name for p in sorted((REPO / "notebooks").glob("*.ipynb"))
                if f"(notebooks/{p.name})" not in syllabus]
    assert not unlinked, f"syllabus.md does not link these lectures: {unlinked}"
