"""Presentation helpers the templates and pages share."""

from __future__ import annotations

from digest.render.present import category_summary


def test_category_summary() -> None:
    assert category_summary(["A"]) == "A"
    assert category_summary(["A", "B"]) == "A and B"
    assert category_summary(["A", "B", "C", "D"]) == "A, B and 2 more"
    assert category_summary([]) == ""
