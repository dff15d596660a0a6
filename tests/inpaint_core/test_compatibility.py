"""The library must stay importable on Python 3.10 (hosts and farms lag behind)."""

from __future__ import annotations

import ast

import pytest

from tests import ROOT

LIBRARY_FILES = sorted([*(ROOT / "inpaint_core").rglob("*.py"), *(ROOT / "inpaint_eval").rglob("*.py")])


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_library_parses_as_python_3_10(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 10))


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_annotations_are_postponed(path):
    """`X | None` in annotations needs postponed evaluation on 3.9 and older hosts."""
    source = path.read_text()
    if "|" in source and "->" in source:
        assert "from __future__ import annotations" in source, path.name
