"""The settings a command runs with, or exit 2 naming every problem.

Shared by the commands that need the whole configuration; commands that only need a directory
(``keys``, ``calendar``) read it alone so they work before the rest is configured.
"""

from __future__ import annotations

import sys

from delivery.config import ConfigError, Settings, load_settings

EXIT_USAGE = 2


def settings_or_exit(sandbox: bool = False) -> Settings:
    try:
        return load_settings(sandbox=sandbox)
    except ConfigError as exc:
        print("songda: the configuration is not usable:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        print("Run `songda config check` after fixing it.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
