"""The help text and the Markdown reference (docs/parameters.md)."""

import re

import pytest
from helpers.paths import DOCS_DIR

from gpudriz.pipeline.config.definitions import PARAMETERS, STEPS
from gpudriz.pipeline.config.reference import help_text, reference_markdown
from gpudriz.pipeline.config.values import format_value


def test_help_text_mentions_every_parameter():
    text = help_text()
    for step, title in STEPS.items():
        assert f"{title} [{step}]" in text
    for name, p in PARAMETERS.items():
        assert f"  {name} ({p.kind_label}, default {format_value(p.default)})" in text
    assert "combine_nsigma (pair of numbers, default 4 3)" in text
    assert "INDEF: the undistorted pixel scale of the first input." in text
    assert max(len(line) for line in text.splitlines()) <= 100
    shown = help_text({"final_pixfrac": 0.8})
    assert "final_pixfrac (number, default 1) = 0.8" in shown


def test_reference_markdown_has_one_table_per_step_and_a_row_per_parameter():
    md = reference_markdown()
    for step, title in STEPS.items():
        assert f"## {title} (`{step}`)" in md
    assert md.count("| Parameter | Kind | Default | Accepted values | Description |") == len(STEPS)
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert [re.match(r"\| `(\w+)`", r).group(1) for r in rows] == list(PARAMETERS)
    for row in rows:
        # five cells: any '|' inside a cell is escaped
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row
    assert "| `combine_nsigma` | pair of numbers | `4 3` |" in md


def test_docs_parameter_reference_is_generated_from_the_definitions():
    """docs/parameters.md is reference_markdown()'s output: one source of truth."""

    from gpudriz.pipeline.config.parameters import reference_markdown

    doc = DOCS_DIR / "parameters.md"
    if not doc.exists():
        pytest.skip("docs/ is not in this checkout")
    assert doc.read_text() == reference_markdown(), (
        "docs/parameters.md is stale: regenerate it with "
        "python -c \"from gpudriz.pipeline.config.parameters import reference_markdown as r; "
        "open('docs/parameters.md', 'w').write(r())\""
    )
