"""What ``email_throughput.py`` prints: the figures per run, the profiles, the summary table."""

from __future__ import annotations

import json
import pstats
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from certificate_rate import CertificateRate
from throughput_raw import RawResult
from throughput_service import Options

TARGET_NOW = 0.1
TARGET_LONG_TERM = 0.25
# Issue 16, item 1: a batch's certificates all issued within (N ÷ raw certificate rate) × 1.2.
CERTIFICATE_MARGIN = 1.2
PING_ROUND_TRIPS = 3  # SQLAlchemy's asyncpg pre-ping: BEGIN, ";", ROLLBACK


@dataclass
class Result:
    database: str
    topology: str
    failures: list[str] = field(default_factory=list)
    dispatch_rate: float = 0.0
    create_rate: float = 0.0
    raw: RawResult | None = None
    counts: dict[str, int] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)
    server_transactions: int | None = None
    served_rate: float = 0.0
    # cores used per service process ("run", or "web" and "worker") from the first request
    # until all were served
    service_cpu: dict[str, float] = field(default_factory=dict)
    client_cpu: float = 0.0
    profile: str | None = None
    certificates: CertificateRate | None = None  # the raw certificate rate of the run
    certified: int = 0  # certificates issued when the wait ended
    certified_seconds: float = 0.0  # first request → the wait ended
    # CPU ms per dispatch of each service process, first request → the wait ended
    certified_cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def raw_rate(self) -> float:
        return self.raw.rate if self.raw else 0.0

    @property
    def ratio(self) -> float:
        return self.dispatch_rate / self.raw_rate if self.raw_rate else 0.0

    def allowance(self, n: int) -> float | None:
        """The certificates' allowance; None without a raw certificate rate."""
        return None if self.certificates is None else certificate_allowance(n, self.certificates)


def certificate_allowance(n: int, certificates: CertificateRate) -> float:
    """(N ÷ raw certificates/s) × 1.2, in seconds."""
    return n / certificates.rate * CERTIFICATE_MARGIN


def profile_summary(path: Path, process: str, top: int = 25) -> str:
    """The top functions by cumulative time, by own time, and own time summed per package."""
    stats = pstats.Stats(str(path))
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in rows.values())
    lines = [f"profile of the `{process}` process: {total:.2f}s in the event-loop thread"]
    packages: Counter[str] = Counter()
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in rows.items():
        packages[_package(filename, name)] += tt
    shares = (f"{package} {seconds / total:.0%}" for package, seconds in packages.most_common(16))
    lines.append(labelled("own time by package: ", ", ".join(shares)))
    for title, index, count in (("cumulative", 3, top), ("own time", 2, 15)):
        lines.append(f"top {count} by {title}:  cumtime  tottime    calls  function")
        ranked = sorted(rows.items(), key=lambda item: item[1][index], reverse=True)[:count]
        for (filename, line, name), (_cc, nc, tt, ct, _callers) in ranked:
            lines.append(f"  {ct:8.2f} {tt:8.2f} {nc:8d}  {_where(filename, line)} {name}")
    return "\n".join(lines)


def sample_summary(path: Path, process: str, top: int = 25) -> str:
    """Share of the event-loop thread's time per stage, with the libraries it was spent in."""
    data: dict[str, dict[str, int]] = json.loads(path.read_text())
    total = sum(sum(layers.values()) for layers in data.values())
    lines = [f"`{process}` CPU by stage: {total} samples, one per ms of CPU [libraries inside]"]
    stages = sorted(data.items(), key=lambda item: -sum(item[1].values()))
    for stage, layers in stages[:top]:
        count = sum(layers.values())
        inside = sorted(layers.items(), key=lambda item: -item[1])[:4]
        detail = ", ".join(f"{layer} {n / count:.0%}" for layer, n in inside)
        lines.append(labelled(f"  {count / total:6.1%}  ", f"{stage}  [{detail}]"))
    by_layer: Counter[str] = Counter()
    for layers in data.values():
        by_layer.update(layers)
    shares = (f"{layer} {n / total:.0%}" for layer, n in by_layer.most_common(14))
    lines.append(labelled("  by library: ", ", ".join(shares)))
    return "\n".join(lines)


def _package(filename: str, name: str) -> str:
    """The top-level package (or kind of built-in) a profiled function belongs to."""
    if filename == "~":
        if "epoll" in name:
            return "(idle: epoll)"
        return "(socket calls)" if "socket" in name else "(other built-ins)"
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    return filename


def _where(filename: str, line: int) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}" if line else filename


def labelled(label: str, text: str) -> str:
    """``text`` wrapped to 100 columns after ``label``."""
    return textwrap.fill(
        text, 100, initial_indent=label, subsequent_indent=" " * len(label), break_on_hyphens=False
    )


def round_trips(kind: str, counts: dict[str, int]) -> dict[str, int]:
    """Round trips by kind, from the service's counters (see ``counted_songda.py``)."""
    trips = {
        "statements": counts.get("statements", 0),
        "commits": counts.get("commits", 0),
        "rollbacks": counts.get("rollbacks", 0),
    }
    if kind == "postgresql":
        trips["begins"] = counts.get("begins", 0)
        trips["pre-pings"] = PING_ROUND_TRIPS * counts.get("pings", 0)
    return trips


def verdict(result: Result) -> str:
    if result.failures:
        return "FAILED"
    return "PASS" if result.ratio >= TARGET_NOW else "SHORT"


def certificate_verdict(result: Result, n: int) -> str:
    """PASS: every served dispatch's certificate issued within the allowance."""
    allowance = result.allowance(n)
    if allowance is None or result.failures or not result.certified_seconds:
        return "—"
    return "PASS" if result.certified >= n and result.certified_seconds <= allowance else "SHORT"


def report(opts: Options, result: Result) -> None:
    """The figures for one database (only the failures if the run did not complete)."""
    print(f"\n== {result.database}, {result.topology}: {topology_label(result.topology)} ==")
    for failure in result.failures[:10]:
        print(f"  FAILURE: {failure}")
    if not (result.counts and result.raw):
        return
    n = opts.n
    trips = round_trips(result.database, result.counts)
    print(f"  dispatches/s           {result.dispatch_rate:9.1f}   (first request → N-th mail)")
    print(f"  raw sends/s            {result.raw_rate:9.1f}   (aiosmtplib, {opts.pool_size} conns)")
    print(
        f"  ratio                  {result.ratio:9.3f}   target ≥ {TARGET_NOW} now, "
        f"≥ {TARGET_LONG_TERM} long-term: {verdict(result)}"
    )
    print(f"  DB round trips/disp.   {sum(trips.values()) / n:9.1f}   " + _per(trips, n))
    kinds = sorted(
        ((k, v) for k, v in result.statements.items() if v / n >= 0.05), key=lambda kv: -kv[1]
    )
    print(labelled("  statements/dispatch    ", ", ".join(f"{k} {v / n:.1f}" for k, v in kinds)))
    if result.server_transactions is not None:
        print(
            f"  PG transactions/disp.  {result.server_transactions / n:9.1f}   "
            "(pg_stat_database, whole service life incl. start-up and sweeps)"
        )
    print(f"  API creates/s          {result.create_rate:9.1f}   (all {n} POSTs answered)")
    print(f"  served/s               {result.served_rate:9.1f}   (first request → all served)")
    allowance = result.allowance(n)
    issued = "all" if result.certified >= n else f"{result.certified} of {n}"
    print(
        f"  certificates s         {result.certified_seconds:9.1f}   (first request → {issued} "
        "certificates issued)"
    )
    if allowance is not None:
        print(
            f"  allowance s            {allowance:9.1f}   (N ÷ raw certificates/s × "
            f"{CERTIFICATE_MARGIN}): {certificate_verdict(result, n)}"
        )
    cpu = ", ".join(f"{k} {ms:.1f}" for k, ms in result.certified_cpu_ms.items())
    print(f"  CPU ms/dispatch        {cpu} (service, first request → certificates issued)")
    print(
        f"  CPU until all served   {cpu_shares(result)} (share of one core), "
        f"clients+sink+polling {result.client_cpu:4.0%}"
    )
    print(
        f"  raw run CPU            sender {result.raw.sender_cpu:4.0%} of a core, "
        f"sink {result.raw.sink_cpu:4.0%}; rendering {result.raw.render_ms:.2f} ms/message "
        "(before the clock)"
    )
    if result.profile:
        print(result.profile)


def _per(trips: dict[str, int], n: int) -> str:
    return "(" + ", ".join(f"{k} {v / n:.1f}" for k, v in trips.items()) + ")"


def topology_label(topology: str) -> str:
    if topology == "run":
        return "`songda run` (web + worker, one process)"
    return "`songda web` + `songda worker` (two processes)"


def cpu_shares(result: Result) -> str:
    """``run 98%`` or ``web 60%, worker 85%``: each service process's share of one core."""
    return ", ".join(f"{process} {share:.0%}" for process, share in result.service_cpu.items())


def summary(opts: Options, results: list[Result], notes: list[str]) -> None:
    print(
        "\ndatabase    topology  dispatches/s  raw sends/s   ratio  target  result  "
        "round trips/disp.  certificates s/allowance  service CPU"
    )
    for r in results:
        trips = sum(round_trips(r.database, r.counts).values()) / opts.n
        allowance = r.allowance(opts.n)
        certified = f"{r.certified_seconds:.0f}/{allowance:.0f} s" if allowance else "—"
        certified += f" {certificate_verdict(r, opts.n)}"
        print(
            f"{r.database:<11} {r.topology:<8} {r.dispatch_rate:13.1f} {r.raw_rate:12.1f} "
            f"{r.ratio:7.3f}  ≥{TARGET_NOW:<5} {verdict(r):<7} {trips:17.1f}  "
            f"{certified:<24}  {cpu_shares(r)}"
        )
    print(
        f"(raw: one aiosmtplib process over {opts.pool_size} reused connections, measured once "
        f"per database and shared by its rows; long-term target: ratio ≥ {TARGET_LONG_TERM}; "
        "certificates: first request → every served dispatch's certificate, against (N ÷ raw "
        f"certificates/s) × {CERTIFICATE_MARGIN}, the raw rate measured once per run)"
    )
    for note in notes:
        print(f"note: {note}")
