"""The `dispatch` command: set-up, reference data, users, the server, benchmarks and scenarios.

The CLI issues the same service commands as the API, as the built-in system actor, so it
obeys the same rules and writes the same audit rows.

ARCHITECTURE: `base` holds the command tree (`app` and its groups), the console and `run`
(a refusal → its message, exit 2); each other module adds one group of commands to it:
`setup` (migrate, load-reference, load-roads, db stop, serve), `users` (users …), `demo`
(demo), `benchmarks` (bench …), `scenarios` (scenario check, replay). Importing this package
registers them all; `python -m dispatch.cli` and the `dispatch` script call `main`.
"""

from __future__ import annotations

from dispatch.cli import benchmarks, demo, scenarios, setup, users
from dispatch.cli.base import app

__all__ = ["app", "benchmarks", "demo", "main", "scenarios", "setup", "users"]


def main() -> None:
    """The console script's entry point."""
    app()
