"""Policies are data: TOML files in ``escalation/policies``, checked when they are loaded.

A policy is an ordered ladder of steps; a step names the channels tried together, how long to
wait for completion, how many attempts per address, and which completion rules apply.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from delivery.domain import ELECTRONIC_CHANNELS
from delivery.vocabulary import Channel
from escalation.notice_period import NOTICE_PERIOD, NOTICE_PERIOD_ABROAD
from escalation.rules import RULES

POLICY_DIR = Path(__file__).parent / "policies"
NOTICE_CHANNEL = Channel.PUBLIC_NOTICE
KNOWN_CHANNELS = frozenset(Channel)


WINDOW_UNITS = ("calendar_days", "working_days")


class PolicyError(Exception):
    """A policy file that cannot be used; the message names the file, key and reason."""


@dataclass(frozen=True)
class Step:
    name: str
    channels: tuple[str, ...]
    window: timedelta
    max_attempts: int
    completion: tuple[str, ...]
    # "calendar_days" (the default) or "working_days" (counted with the court's holiday data)
    window_unit: str = "calendar_days"

    @property
    def electronic(self) -> bool:
        return any(c in ELECTRONIC_CHANNELS for c in self.channels)

    @property
    def timed(self) -> bool:
        """Whether the step ends when its window elapses (every step but public notice)."""
        return NOTICE_CHANNEL not in self.channels


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    steps: tuple[Step, ...]
    # Why the dispatch fails when the ladder runs out (cn-simplified: a case in simplified
    # procedure cannot use public notice and must convert first, CPL-INT-140).
    exhausted_reason: str = "exhausted"
    # When the hearing's deadline cannot be met, start the next step alongside this one.
    parallel_when_at_risk: bool = False
    # Public notice: deemed served this long after the last publication (CPL-95, CPL-283).
    notice_period: timedelta = NOTICE_PERIOD
    notice_period_abroad: timedelta = NOTICE_PERIOD_ABROAD
    # Whether a notice period ending on a holiday ends on the next working day (CPL-85 read onto
    # the notice's own period; domain.md leaves it to the court, off by default).
    notice_period_rolls_forward: bool = False


def _require(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise PolicyError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise PolicyError(f"{where}: key {key!r} must be {kind.__name__}")
    return value


def parse_policy(data: dict[str, Any], where: str) -> Policy:
    name = _require(data, "name", str, where)
    raw_steps = _require(data, "steps", list, where)
    if not raw_steps:
        raise PolicyError(f"{where}: key 'steps' must list at least one step")
    steps = []
    for i, raw in enumerate(raw_steps):
        at = f"{where}: steps[{i}]"
        if not isinstance(raw, dict):
            raise PolicyError(f"{at}: must be a table ([[steps]])")
        channels = tuple(_require(raw, "channels", list, at))
        unknown = [c for c in channels if c not in KNOWN_CHANNELS]
        if not channels or unknown:
            raise PolicyError(f"{at}: key 'channels' has unknown or no channels {unknown}")
        # A public-notice step has no window: it waits for approval, then for its period.
        untimed = channels == (NOTICE_CHANNEL,)
        window_days = 0 if untimed else _require(raw, "window_days", int, at)
        if window_days < 1 and not untimed:
            raise PolicyError(f"{at}: key 'window_days' must be at least 1")
        window_unit = raw.get("window_unit", "calendar_days")
        if window_unit not in WINDOW_UNITS:
            raise PolicyError(f"{at}: key 'window_unit' must be one of {', '.join(WINDOW_UNITS)}")
        max_attempts = raw.get("max_attempts", 1)
        if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
            raise PolicyError(f"{at}: key 'max_attempts' must be a whole number of at least 1")
        completion = tuple(_require(raw, "completion", list, at))
        missing = [r for r in completion if r not in RULES]
        if missing:
            raise PolicyError(f"{at}: key 'completion' names unknown rules {missing}")
        steps.append(
            Step(
                name=_require(raw, "name", str, at),
                channels=channels,
                window=timedelta(days=window_days),
                window_unit=window_unit,
                max_attempts=max_attempts,
                completion=completion,
            )
        )
    exhausted = data.get("exhausted_reason", "exhausted")
    if not isinstance(exhausted, str) or not exhausted:
        raise PolicyError(f"{where}: key 'exhausted_reason' must be a non-empty string")
    return Policy(
        name=name,
        description=str(data.get("description", "")),
        steps=tuple(steps),
        exhausted_reason=exhausted,
        parallel_when_at_risk=_flag(data, "parallel_when_at_risk", where),
        notice_period=_days(data, "notice_period_days", NOTICE_PERIOD, where),
        notice_period_abroad=_days(data, "notice_period_abroad_days", NOTICE_PERIOD_ABROAD, where),
        notice_period_rolls_forward=_flag(data, "notice_period_rolls_forward", where),
    )


def _flag(data: dict[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise PolicyError(f"{where}: key {key!r} must be true or false")
    return value


def _days(data: dict[str, Any], key: str, default: timedelta, where: str) -> timedelta:
    value = data.get(key, default.days)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PolicyError(f"{where}: key {key!r} must be a whole number of days, at least 1")
    return timedelta(days=value)


def load_policy_file(path: Path) -> Policy:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    policy = parse_policy(data, str(path))
    if policy.name != path.stem:
        raise PolicyError(f"{path}: key 'name' must equal the file name {path.stem!r}")
    return policy


@cache
def shipped_policies() -> dict[str, Policy]:
    """Every policy in ``escalation/policies``; a malformed one fails here, at start-up."""
    return {p.stem: load_policy_file(p) for p in sorted(POLICY_DIR.glob("*.toml"))}


def get_policy(name: str) -> Policy:
    try:
        return shipped_policies()[name]
    except KeyError:
        raise PolicyError(f"unknown policy {name!r}") from None


@dataclass(frozen=True)
class PolicyBook:
    """The shipped policies with a deployment's overrides.

    ``SONGDA_POLICY_DIR`` may hold ``<name>.toml`` (replaces or adds a policy for every court)
    and ``<court>/<name>.toml`` (for that court only, e.g. longer windows where post is slow).
    """

    general: dict[str, Policy]
    by_court: dict[str, dict[str, Policy]]

    def names_for(self, court: str | None) -> frozenset[str]:
        """The policies a dispatch of ``court`` may name."""
        return frozenset(self.general) | frozenset(self.by_court.get(court or "", {}))

    def get(self, name: str, court: str) -> Policy:
        policy = self.by_court.get(court, {}).get(name) or self.general.get(name)
        if policy is None:
            raise PolicyError(f"unknown policy {name!r}")
        return policy


def load_policy_book(override_dir: Path | None = None) -> PolicyBook:
    """Every policy a deployment uses; a malformed file fails here, at start-up, named."""
    general = dict(shipped_policies())
    by_court: dict[str, dict[str, Policy]] = {}
    if override_dir is not None:
        general.update({p.stem: load_policy_file(p) for p in sorted(override_dir.glob("*.toml"))})
        for court_dir in sorted(d for d in override_dir.iterdir() if d.is_dir()):
            by_court[court_dir.name] = {
                p.stem: load_policy_file(p) for p in sorted(court_dir.glob("*.toml"))
            }
    return PolicyBook(general, by_court)
