"""Checking a dispatch's events: the chain recomputed, every checkpoint's signature and pinned
head, every RFC 3161 token, and a certificate against the ``dispatch_served`` event it pins.

Shared by the offline check of an evidence bundle (:mod:`tracking.verify`) and the check of the
database's rows (``songda verify --db``): both hand the events over as plain records. Problems are
listed in the order they were found; the first is the verdict.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import x509

from delivery.clock import rfc3339
from delivery.vocabulary import EventType
from templates.i18n import SOURCE_LOCALE, translate
from tracking.chain import GENESIS, canonical, link_hash
from tracking.signing import ALG, PublicKey, checkpoint_statement
from tracking.timestamps import EVENT, TOLERANCE, TokenError, beyond_tolerance, check_token

HASHED_FIELDS = (
    "id",
    "dispatch_id",
    "seq",
    "type",
    "occurred_at",
    "recorded_at",
    "source",
    "actor",
    "attempt_id",
    "data",
)


class UnusableInput(Exception):
    """The input cannot be checked at all (exit 2): not a zip, no manifest, keys unreadable."""


@dataclass
class Report:
    """What a verification found: ``problems`` empty means valid."""

    subject: str
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def render(self, locale: str = SOURCE_LOCALE) -> str:
        """The report for a person: its verdict and frame in ``locale`` (``songda verify``
        speaks the operator's language), what was checked or found as recorded."""
        if self.valid:
            lines = [translate(locale, "VALID: %(subject)s", subject=self.subject)]
            lines += [
                "  " + translate(locale, "ok  %(check)s", check=line) for line in self.checked
            ]
        else:
            lines = [
                translate(locale, "INVALID: %(subject)s", subject=self.subject),
                "  " + translate(locale, "first problem: %(problem)s", problem=self.problems[0]),
            ]
            lines += [
                "  " + translate(locale, "also: %(problem)s", problem=line)
                for line in self.problems[1:]
            ]
        return "\n".join(lines)


def _event_label(entry: Any, position: int) -> str:
    if isinstance(entry, dict):
        return f"event seq {entry.get('seq')} (id {entry.get('id')})"
    return f"event #{position}"


def check_chain(
    entries: Sequence[Any],
    dispatch_id: str,
    keys: Mapping[str, PublicKey],
    report: Report,
    tsa_certs: Sequence[x509.Certificate] | None = None,
) -> dict[int, dict[str, Any]]:
    """Recompute the chain, then check every checkpoint and its third-party time (under
    ``tsa_certs``, the TSA certificates trusted); returns the intact events by seq."""
    prev = GENESIS
    by_seq: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(entries, start=1):
        label = _event_label(entry, position)
        if not isinstance(entry, dict) or set(entry) != {*HASHED_FIELDS, "prev_hash", "hash"}:
            report.problems.append(f"{label}: not an event record (fields missing or extra)")
            break
        if entry["dispatch_id"] != dispatch_id:
            report.problems.append(f"{label}: belongs to dispatch {entry['dispatch_id']}")
            break
        if entry["seq"] != position:
            report.problems.append(
                f"{label} is at position {position}: an event was removed, inserted or moved "
                f"(expected seq {position})"
            )
            break
        if entry["prev_hash"] != prev:
            report.problems.append(f"{label}: prev_hash does not link to the event before it")
            break
        try:
            digest = link_hash(prev, {name: entry[name] for name in HASHED_FIELDS})
        except (TypeError, ValueError):
            digest = ""
        if digest != entry["hash"]:
            report.problems.append(f"{label}: hash does not match its content (changed)")
            break
        by_seq[position] = entry
        prev = entry["hash"]
    else:
        report.checked.append(f"chain of {len(entries)} events recomputed, head {prev}")
    signed = _check_checkpoints(by_seq, dispatch_id, keys, report)
    check_timestamps(by_seq, signed, tsa_certs, report)
    return by_seq


def _check_checkpoints(
    by_seq: Mapping[int, dict[str, Any]],
    dispatch_id: str,
    keys: Mapping[str, PublicKey],
    report: Report,
) -> list[int]:
    """Check every checkpoint; the seqs of those that are valid."""
    count = 0
    signed: set[int] = set()
    valid: list[int] = []
    for seq, entry in by_seq.items():
        if entry["type"] != EventType.CHAIN_CHECKPOINT:
            continue
        label = _event_label(entry, seq)
        data = entry["data"]
        if not isinstance(data, dict):
            report.problems.append(f"{label}: checkpoint without data")
            continue
        pinned_seq = data.get("seq")
        pinned = by_seq.get(pinned_seq) if isinstance(pinned_seq, int) else None
        if pinned is None or pinned["seq"] >= seq:
            report.problems.append(f"{label}: checkpoint pins seq {data.get('seq')}, not an event")
            continue
        if pinned["hash"] != data.get("head"):
            report.problems.append(
                f"{label}: checkpoint head does not match event seq {pinned['seq']}'s hash"
            )
            continue
        key = keys.get(str(data.get("key_id")))
        if key is None:
            report.problems.append(
                f"{label}: checkpoint signed by key {data.get('key_id')!r}, "
                "not among the court's published keys"
            )
            continue
        statement = canonical(checkpoint_statement(dispatch_id, pinned["seq"], pinned["hash"]))
        if data.get("alg") != ALG or not key.verify(str(data.get("signature")), statement):
            report.problems.append(f"{label}: checkpoint signature does not verify")
            continue
        count += 1
        signed.add(pinned["seq"])
        valid.append(seq)
    # Every service is pinned by a signed checkpoint: without one, a rewritten chain (events
    # edited, the checkpoint dropped, the rest rehashed) would recompute cleanly.
    for seq, entry in by_seq.items():
        if entry["type"] == EventType.DISPATCH_SERVED and seq not in signed:
            label = _event_label(entry, seq)
            report.problems.append(f"{label}: a dispatch_served event with no signed checkpoint")
    if count:
        report.checked.append(f"{count} chain checkpoint(s) signed by the court key")
    return valid


def check_timestamps(
    by_seq: Mapping[int, dict[str, Any]],
    checkpoints: Sequence[int],
    tsa_certs: Sequence[x509.Certificate] | None,
    report: Report,
) -> None:
    """Each RFC 3161 token against the checkpoint it names and the trusted TSA certificates;
    per checkpoint, "timestamped by <TSA> at <time>" or "no third-party time"."""
    stamped: set[int] = set()
    for seq, entry in by_seq.items():
        if entry["type"] != EVENT:
            continue
        label = _event_label(entry, seq)
        data = entry["data"] if isinstance(entry["data"], dict) else {}
        target = data.get("checkpoint_seq")
        checkpoint = by_seq.get(target) if isinstance(target, int) and target < seq else None
        if checkpoint is None or checkpoint["type"] != EventType.CHAIN_CHECKPOINT:
            report.problems.append(f"{label}: a token for seq {target}, not a chain checkpoint")
            continue
        if data.get("checkpoint_hash") != checkpoint["hash"]:
            report.problems.append(f"{label}: names a hash that is not checkpoint seq {target}'s")
            continue
        if tsa_certs is None:
            # Not a fault of the record: the reader lacks what checks it (exit 2, not 1).
            raise UnusableInput(
                f"{label}: a token, but no TSA certificate to check it with "
                "(give --tsa-cert FILE, or set SONGDA_TSA_CERT)"
            )
        try:
            recorded_at = datetime.fromisoformat(str(checkpoint["recorded_at"]))
        except ValueError:
            report.problems.append(f"{label}: checkpoint seq {target} has no recorded time")
            continue
        try:
            token = base64.b64decode(str(data.get("token")), validate=True)
            stamp = check_token(token, checkpoint["hash"], recorded_at, tsa_certs)
        except (TokenError, binascii.Error) as exc:
            report.problems.append(f"{label}: the token of checkpoint seq {target} is bad: {exc}")
            continue
        if data.get("tsa") != stamp.tsa or data.get("gen_time") != rfc3339(stamp.gen_time):
            report.problems.append(f"{label}: its TSA or time is not what its token says")
            continue
        line = f"checkpoint seq {target}: timestamped by {stamp.tsa} at {rfc3339(stamp.gen_time)}"
        if beyond_tolerance(stamp, recorded_at):
            line += (
                f" — more than {_hours(TOLERANCE)} h after its recorded time: it proves the "
                "checkpoint existed by then, not at its recorded time"
            )
        else:
            line += f" (within {_hours(TOLERANCE)} h of its recorded time)"
        report.checked.append(line)
        stamped.add(checkpoint["seq"])
    for seq in checkpoints:
        if seq not in stamped:
            report.checked.append(f"checkpoint seq {seq}: no third-party time")


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)


def check_certificate(
    cert: Mapping[str, Any], by_seq: Mapping[int, dict[str, Any]], name: str, report: Report
) -> None:
    """The certificate's head, date of service and legal basis against the event it pins."""
    seq = cert.get("chain_seq")
    pinned = by_seq.get(seq) if isinstance(seq, int) else None
    if pinned is None:
        report.problems.append(f"{name}: pins seq {seq}, which is not an intact event of the chain")
        return
    label = _event_label(pinned, pinned["seq"])
    if pinned["type"] != EventType.DISPATCH_SERVED:
        report.problems.append(f"{name}: pins {label}, a {pinned['type']}, not dispatch_served")
        return
    label = f"the dispatch_served {label}"
    if cert.get("chain_head") != pinned["hash"]:
        report.problems.append(f"{name}: chain_head does not match {label}'s hash")
        return
    data = pinned["data"] if isinstance(pinned["data"], dict) else {}
    for field_name in ("served_at", "service_date", "legal_basis"):
        if cert.get(field_name) != data.get(field_name):
            report.problems.append(
                f"{name}: {field_name} {cert.get(field_name)!r} does not match {label} "
                f"({data.get(field_name)!r})"
            )
            return
    checkpointed = any(
        e["type"] == EventType.CHAIN_CHECKPOINT
        and isinstance(e["data"], dict)
        and e["data"].get("head") == pinned["hash"]
        for e in by_seq.values()
    )
    report.checked.append(
        f"{name}: served {data.get('service_date')} under {data.get('legal_basis')}, head "
        f"matches {label}" + (", signed by a checkpoint" if checkpointed else "")
    )
