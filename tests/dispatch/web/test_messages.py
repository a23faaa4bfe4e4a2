"""The message tables: every key once, in one file or across files, each [zh, en]."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dispatch.web.i18n import load_messages


def test_a_key_written_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text('x.y: ["甲", "A"]\nx.y: ["乙", "B"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("'x.y' is defined twice")):
        load_messages(tmp_path)


def test_a_key_in_two_files_is_refused_and_a_good_table_loads(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text('x.y: ["甲", "A"]\n', encoding="utf-8")
    assert load_messages(tmp_path) == {"x.y": ("甲", "A")}
    (tmp_path / "b.yaml").write_text('x.y: ["乙", "B"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("b.yaml: message 'x.y' is defined twice")):
        load_messages(tmp_path)


def test_the_shipped_tables_load() -> None:
    assert len(load_messages()) > 1000
