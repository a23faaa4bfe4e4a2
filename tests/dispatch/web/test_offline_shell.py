"""The squad tablet starts offline only if the service worker keeps every file it loads:
each module of the page (and each module those import) must be in the worker's SHELL."""

from __future__ import annotations

import re

from dispatch.web.controllers import STATIC

IMPORT = re.compile(r'^import .* from "(/static/js/[\w/.-]+\.js)";$', re.M)


def _shell() -> set[str]:
    worker = (STATIC / "js" / "sw.js").read_text(encoding="utf-8")
    block = worker[worker.index("const SHELL = [") : worker.index("];", worker.index("SHELL"))]
    return set(re.findall(r'"(/[^"]+)"', block))


def _loaded_by(entry: str) -> set[str]:
    """Every module the entry module pulls in, following imports."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        source = (STATIC / path.removeprefix("/static/")).read_text(encoding="utf-8")
        todo.extend(IMPORT.findall(source))
    return seen


def test_every_module_of_the_squad_page_is_kept_for_offline_use() -> None:
    loaded = _loaded_by("/static/js/squad/main.js")
    assert "/static/js/vocabulary.js" in loaded
    assert len(loaded) > 8
    assert loaded - _shell() == set()
