"""The tables of choices (`adnet_cli.tables`): every row's implementation exists, the names the rest of
the package uses come from them, and the README shows them as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from adnet_cli import choices, tables

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
TABLES = {"formats": tables.FORMATS, "tone operators": tables.TONE_OPERATORS, "merge methods": tables.METHODS,
          "bases": tables.BASES}


@pytest.mark.parametrize("kind", TABLES)
def test_every_row_names_an_implementation_that_exists(kind):
    table = TABLES[kind]
    assert len(set(tables.names(table))) == len(table)
    for row in table:
        loaders = [row.read, row.write, row.tagger] if kind == "formats" else [row.load]
        found = [load() for load in loaders]
        assert all(f is None or callable(f) for f in found), row
        assert kind == "formats" or row.name == "none" or found[0] is not None, row
    if kind != "formats":  # and no two rows share one: a new name never runs another's code
        references = [row.implementation for row in table if row.implementation]
        assert len(set(references)) == len(references)


@pytest.mark.parametrize("kind", TABLES)
def test_the_readme_shows_each_table_as_it_is(kind):
    assert tables.markdown(TABLES[kind]) in README, f"README.md: regenerate the {kind} table with tables.markdown"


def test_the_choice_names_come_from_the_tables():
    assert choices.MERGE_METHODS == tables.names(tables.METHODS)
    assert choices.BASES == tables.names(tables.BASES)
    assert choices.TONEMAP_OPERATORS == tables.names(tables.TONE_OPERATORS)
    assert set(choices.HDR_SUFFIXES) == {s for f in tables.FORMATS if f.hdr for s in f.suffixes}
    assert set(choices.PREVIEW_SUFFIXES_16BIT) <= set(choices.PREVIEW_SUFFIXES)
    assert choices.FUSION == "mertens" and choices.FUSION not in choices.CLASSICAL_METHODS


def test_an_unknown_name_is_refused_with_the_choices_named():
    with pytest.raises(ValueError, match="unknown base 'sharp'; expected one of none, reference"):
        tables.row(tables.BASES, "sharp", "base")
    assert tables.format_for(".EXR").name == "exr" and tables.format_for(".bmp") is None
