"""``songda calendar import``: the holiday data periods are counted with.

Reads only the data directory from the environment: the court's holiday file lives there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from delivery.cli.language import _
from delivery.cli.settings import EXIT_USAGE
from delivery.config import calendar_file_in, data_dir_from_env
from delivery.infra.private_files import private_dir


def add_parser(commands: Any) -> None:
    calendar = commands.add_parser("calendar", help=_("the holiday data periods are counted with"))
    calendar_commands = calendar.add_subparsers(
        dest="calendar_command", required=True, metavar="ACTION"
    )
    calendar_import = calendar_commands.add_parser(
        "import",
        help=_("merge holiday data into the court's file (default: the chinese-calendar package)"),
    )
    calendar_import.add_argument(
        "--file", help=_("a TOML file with [years.YYYY] holidays = [...] workdays = [...]")
    )


def run(file: str | None) -> int:
    """Merge years into the court's holiday file; years in the import replace the same years."""
    from escalation.calendar import (
        CalendarError,
        from_chinese_calendar_package,
        load_calendar,
        parse_calendar,
        render_calendar,
    )

    target = calendar_file_in(data_dir_from_env())
    try:
        if file is None:
            incoming = from_chinese_calendar_package()
        else:
            incoming = parse_calendar(Path(file).read_text(encoding="utf-8"), file)
        merged = load_calendar(target).merged(incoming)
    except (CalendarError, OSError) as exc:
        print(f"songda: {exc}", file=sys.stderr)
        return EXIT_USAGE
    private_dir(target.parent)
    target.write_text(render_calendar(merged), encoding="utf-8")
    years = ", ".join(str(y) for y in sorted(merged.years))
    print(_("%(file)s: years %(years)s", file=target, years=years))
    return 0
