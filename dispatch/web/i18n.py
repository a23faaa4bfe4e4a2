"""Page text in Chinese first and English second.

One table of messages serves the templates (`t('key')`) and the page scripts (the same
table is embedded in each page as JSON), so a label never exists in only one language.
Each page keeps its keys in its own `messages/<page>.yaml`; a missing key shows as
the key itself, which the browser tests catch as untranslated text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import yaml

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DEFAULT_LANGUAGE: Language = "zh"
COOKIE = "lang"

# key -> (zh-CN, en)
MESSAGES_DIR = Path(__file__).resolve().parent / "messages"


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _pairs(path: Path) -> list[tuple[object, object]]:
    """A file's keys and values in order, each key as often as it is written (a plain YAML
    load keeps only the last of two, silently)."""
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode):
        raise ValueError(f"{path.name}: expected `key: [zh, en]` lines")
    loader = yaml.SafeLoader("")
    return [
        (loader.construct_object(k), loader.construct_object(v, deep=True)) for k, v in node.value
    ]


def load_messages(folder: Path = MESSAGES_DIR) -> dict[str, tuple[str, str]]:
    """Every `messages/*.yaml` (`key: [zh, en]`); a key defined twice, in one file or in
    two, is an error, so two pages can never silently disagree on a label."""
    table: dict[str, tuple[str, str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for key, pair in _pairs(path):
            if key in table:
                raise ValueError(f"{path.name}: message {key!r} is defined twice")
            if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_text, pair))):
                raise ValueError(f"{path.name}: message {key!r} must be [zh, en]")
            table[str(key)] = (pair[0], pair[1])
    return table


MESSAGES = load_messages()


def language_of(query_lang: str | None, cookie_lang: str | None) -> Language:
    """`?lang=` wins (and the page then sets the cookie), then the cookie, then Chinese."""
    for candidate in (query_lang, cookie_lang):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def messages_for(language: Language) -> dict[str, str]:
    index = LANGUAGES.index(language)
    return {key: pair[index] for key, pair in MESSAGES.items()}


def translator(messages: Mapping[str, str]) -> Callable[[str], str]:
    def t(key: str) -> str:
        return messages.get(key, key)

    return t
