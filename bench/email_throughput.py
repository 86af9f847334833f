"""E-mail throughput: how close Songda comes to the raw speed of its own SMTP connections.

Run: ``.venv/bin/python bench/email_throughput.py [--n 2000] [--clients 50]
[--databases sqlite,postgresql] [--topologies run,split] [--profile]``.

For each database and each topology this measures, in one run:

1. **Songda**, in one of two topologies, each through :func:`delivery.cli.main` wrapped by
   ``bench/counted_songda.py`` only to count database round trips:

   - ``run``: ``songda run`` (web + arq worker in one process) in one *child process*, which also
     migrates the database itself (a no-op here);
   - ``split``: ``songda web`` and ``songda worker`` in two child processes with the same
     environment (database, data directory, Redis URL and queue name), as ``compose.yaml`` deploys
     them on PostgreSQL. They do not migrate; the bench has already done it (as ``songda db
     upgrade`` would). ``songda web``/``worker`` need an external Redis and refuse SQLite, so
     ``split`` only runs on PostgreSQL and is skipped, with a note, for SQLite.

   Either way the service runs on a fresh data directory, a freshly migrated database, the local
   Redis with its own queue name, and an SMTP sink on loopback; the clock starts only once the web
   server answers ``/healthz`` and the arq worker has polled its queue (its health-check key is in
   Redis). This process plays the case system: C concurrent aiohttp clients create N dispatches
   through ``POST /api/v1/dispatches`` (unique reference, one recipient-confirmed address each, one
   shared uploaded PDF). The clock runs from the first request until the N-th distinct recipient's
   message has arrived in the sink: **dispatches/s**. Afterwards every dispatch must be ``served``
   in the database, every request must have got 201 and the sink must hold all N recipients, or the
   run counts as failed (exit code 1).
2. **Raw.** The same rendered messages (:func:`channels.email.adapter.build_email` on the same
   :class:`~delivery.channel_api.ServiceMessage` shape, rendered before the clock starts) are sent
   with plain aiosmtplib over the same number of reused connections (``SONGDA_SMTP_POOL_SIZE``,
   default 4) from one child process to the same kind of sink in this process: **raw sends/s**.
   It is measured once per database, before its topologies, and is the baseline of all of them:
   the ``split`` row (web, worker and this process: three busy processes on two cores) is
   compared with the same single raw sender as the ``run`` row.
3. **Ratio** = dispatches/s ÷ raw sends/s; target ≥ 0.1 now, ≥ 0.25 long-term.
4. **DB round trips per dispatch**, counted inside the service process(es) between two snapshots
   (just before the first request, and once all dispatches are served) through SQLAlchemy events:
   statements, plus on PostgreSQL each ``BEGIN`` and the 3 round trips of each pool pre-ping, plus
   commits and rollbacks (see ``counted_songda.py``); statements are also shown by kind. With
   ``split`` both processes get ``SIGUSR1`` and their counters are summed. On PostgreSQL the
   server's own count of transactions (``pg_stat_database``, over the service's whole life) is
   shown as a cross-check.
5. **CPU** of each service process (``run``; or ``web`` and ``worker``) as a share of one core
   from the first request until all dispatches are served.
6. **Certificates** (issue 16, item 1: they may finish after the mail, off the send path, but
   the batch's must all be issued within (N ÷ raw certificate rate) × 1.2). The **raw
   certificate rate** is measured once per run, first: min(N, 200) sample certificates through
   the service's own certificate function and render pool (``certificate_rate.py``; B-B, as the
   service here runs without a TSA). In each (database, topology) run, after the figures above,
   the bench polls the ``certificates`` table until every served dispatch has its certificate
   (or none has been issued for 30 s, or twice the allowance has passed): the seconds from the
   first request, the allowance, PASS/SHORT.

``--profile`` (or ``--profile cprofile``) runs cProfile in each service process during the measured
window and prints the top 25 functions (for ``split``: one profile for ``web`` and one for
``worker``); ``--profile sample`` samples each main thread's stack per millisecond of CPU instead
(``bench/stack_sampler.py``) and prints the CPU time per stage of Songda's work. Figures of a
profiled run are slower and only show where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from certificate_rate import CertificateRate, describe, measure_certificates
from throughput_cases import address, create_dispatches, upload_pdf
from throughput_raw import RawResult, measure_raw
from throughput_report import (
    Result,
    certificate_allowance,
    profile_summary,
    report,
    sample_summary,
    summary,
    topology_label,
)
from throughput_service import (
    BenchKey,
    Database,
    Options,
    Service,
    ServiceProcess,
    counts_path,
    difference,
    forget_queue,
    free_port,
    fresh_database,
    new_api_key,
    profile_path,
    running_process,
    server_transactions,
    service_env,
    summed,
    wait_ready,
    wait_until_certified,
    wait_until_served,
)
from throughput_sink import STALL_SECONDS, CountingSink, Stalled, sink_server

TOPOLOGIES = {"run": ("run",), "split": ("web", "worker")}  # topology → its `songda` processes
CERTIFICATE_SAMPLE = 200  # at most this many certificates for the raw certificate rate
CERTIFICATE_WAIT = 2.0  # wait for the certificates until this many times their allowance


# --- one database, one topology ---------------------------------------------------------------


async def measure_songda(opts: Options, database: Database, workdir: Path, result: Result) -> None:
    """Start the service (its topology's processes) and the sink, drive the run, collect figures.

    The database is already migrated (:func:`fresh_database`, as ``songda db upgrade`` does);
    ``songda run`` migrates once more itself, ``songda web`` and ``songda worker`` do not.
    """
    key = await new_api_key(database.url)
    queue = f"songda:bench:{uuid.uuid4().hex}"
    port = free_port()
    sink = CountingSink(opts.n)
    transactions_before = await server_transactions(database)
    commands = TOPOLOGIES[result.topology]
    try:
        async with AsyncExitStack() as stack:
            smtp_port = await stack.enter_async_context(sink_server(sink))
            processes = []
            for command in commands:
                env = service_env(opts, database.url, workdir, port, smtp_port, queue, command)
                log = workdir / f"{command}.log"
                proc = await stack.enter_async_context(running_process(command, env, log))
                processes.append(ServiceProcess(command, proc, log, counts_path(workdir, command)))
            session = await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=opts.clients))
            )
            service = Service(tuple(processes), f"http://127.0.0.1:{port}", queue)
            await wait_ready(session, service)
            states = await drive(opts, service, session, key, sink, database.url, result)
        result.failures += check_outcome(opts.n, sink, states)
    finally:
        await forget_queue(queue)
    if transactions_before is not None:
        await asyncio.sleep(1.0)  # backends publish their statistics as they exit
        transactions_after = await server_transactions(database)
        result.server_transactions = (transactions_after or 0) - transactions_before
    if opts.profile:
        summarise = profile_summary if opts.profile == "cprofile" else sample_summary
        result.profile = "\n".join(
            summarise(profile_path(workdir, command, opts.profile), f"songda {command}")
            for command in commands
        )


async def drive(
    opts: Options,
    service: Service,
    session: aiohttp.ClientSession,
    key: BenchKey,
    sink: CountingSink,
    url: str,
    result: Result,
) -> dict[str, int]:
    """The timed part: create, wait for the N-th mail, wait for ``served``; returns the states."""
    auth = {"Authorization": f"Bearer {key.token}"}
    document_id = await upload_pdf(session, service.base, auth)
    before = await service.counters()
    cpu_before, client_cpu_before = service.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    result.failures += await create_dispatches(session, service.base, auth, document_id, opts)
    result.create_rate = opts.n / (time.perf_counter() - started)
    await sink.wait(STALL_SECONDS)
    result.dispatch_rate = opts.n / (sink.completed_at - started)
    states = await wait_until_served(url, opts.n, key.id)
    elapsed = time.perf_counter() - started
    result.served_rate = opts.n / elapsed
    cpu_after = service.cpu_seconds()
    result.service_cpu = {k: (cpu_after[k] - cpu_before[k]) / elapsed for k in cpu_after}
    result.client_cpu = (time.process_time() - client_cpu_before) / elapsed
    after = await service.counters([b["snapshot"] for b in before])
    result.counts = summed([difference(a, b) for a, b in zip(after, before, strict=True)])
    result.statements = summed(
        [
            difference(a["by_statement"], b["by_statement"])
            for a, b in zip(after, before, strict=True)
        ]
    )
    result.certified = await wait_until_certified(
        url,
        states.get("served", 0),
        key.id,
        started + certificate_wait(opts, result.certificates),
    )
    result.certified_seconds = time.perf_counter() - started
    cpu_certified = service.cpu_seconds()
    result.certified_cpu_ms = {
        k: (cpu_certified[k] - cpu_before[k]) / opts.n * 1000 for k in cpu_certified
    }
    return states


def certificate_wait(opts: Options, certificates: CertificateRate | None) -> float:
    """How long after the first request the bench waits for the certificates at most."""
    if certificates is None:
        return opts.timeout
    return CERTIFICATE_WAIT * certificate_allowance(opts.n, certificates)


def check_outcome(n: int, sink: CountingSink, states: dict[str, int]) -> list[str]:
    failures = []
    if states.get("served", 0) != n or sum(states.values()) != n:
        failures.append(f"expected {n} served dispatches, found {states}")
    if sink.recipients != {address(i) for i in range(n)}:
        failures.append(f"sink holds {len(sink.recipients)} of {n} recipients")
    if sink.messages != n:
        failures.append(f"sink received {sink.messages} messages for {n} dispatches")
    return failures


async def bounded(
    opts: Options, failures: list[str], work: Awaitable[None], extra: float = 0.0
) -> None:
    """``work`` within ``--timeout`` (plus ``extra`` seconds); a timeout, stall or error becomes
    a line in ``failures``."""
    seconds = opts.timeout + extra
    try:
        async with asyncio.timeout(seconds):
            await work
    except TimeoutError:
        failures.append(f"timed out after {seconds:.0f}s")
    except Stalled as exc:
        failures.append(f"stalled for {STALL_SECONDS:.0f}s: {exc}")
    except Exception as exc:  # report it as a failed run rather than a traceback
        failures.append(f"{type(exc).__name__}: {exc}")


async def run_topology(
    opts: Options, kind: str, topology: str, certificates: CertificateRate | None
) -> Result:
    """One topology on a fresh data directory and a fresh migrated database; it may take the
    longest wait for the certificates beyond ``--timeout``."""
    result = Result(kind, topology, certificates=certificates)
    workdir = Path(tempfile.mkdtemp(prefix=f"songda-bench-{kind}-{topology}-"))

    async def work() -> None:
        async with fresh_database(kind, workdir) as database:
            await measure_songda(opts, database, workdir, result)

    try:
        await bounded(opts, result.failures, work(), certificate_wait(opts, certificates))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def topologies_for(opts: Options, kind: str) -> tuple[tuple[str, ...], list[str]]:
    """The topologies that apply to a database, and a note for each one skipped."""
    if kind != "sqlite" or "split" not in opts.topologies:
        return opts.topologies, []
    note = (
        "sqlite: `split` skipped — `songda web` and `songda worker` refuse SQLite (one process "
        "only) and need an external Redis; it applies to PostgreSQL"
    )
    return tuple(t for t in opts.topologies if t != "split"), [note]


async def run_database(
    opts: Options, kind: str, topologies: tuple[str, ...], certificates: Certificates
) -> list[Result]:
    """The raw baseline, then each topology in turn, all compared with that one baseline (and
    with the run's raw certificate rate)."""
    raw: list[RawResult] = []
    raw_failures: list[str] = []

    async def measure() -> None:
        raw.append(await measure_raw(opts.n, opts.pool_size))

    await bounded(opts, raw_failures, measure())
    results = []
    for topology in topologies:
        result = await run_topology(opts, kind, topology, certificates.rate)
        result.raw = raw[0] if raw else None
        result.failures += [f"raw run: {failure}" for failure in raw_failures]
        result.failures += [f"raw certificates: {failure}" for failure in certificates.failures]
        report(opts, result)
        results.append(result)
    return results


@dataclass
class Certificates:
    """The run's raw certificate rate, or what kept it from being measured."""

    rate: CertificateRate | None = None
    failures: list[str] = field(default_factory=list)


async def raw_certificates(opts: Options) -> Certificates:
    """min(N, 200) certificates through Songda's render pool (``certificate_rate.py``)."""
    certificates = Certificates()

    async def measure() -> None:
        certificates.rate = await measure_certificates(min(opts.n, CERTIFICATE_SAMPLE))

    await bounded(opts, certificates.failures, measure())
    if certificates.rate is not None:
        print(f"raw certificates: {describe(certificates.rate)}")
    return certificates


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="dispatches (and raw messages)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--topologies",
        default="run,split",
        help="run: `songda run`, one process; split: `songda web` + `songda worker` "
        "(PostgreSQL only)",
    )
    parser.add_argument("--pool-size", type=int, default=4, help="SMTP connections, both sides")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds per database and topology (plus twice the certificates' allowance) and "
        "for each raw run",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="cprofile",
        choices=["cprofile", "sample"],
        help="profile the service process(es) during the measured window (split: both)",
    )
    args = parser.parse_args(argv)
    databases = _names(args.databases)
    topologies = _names(args.topologies)
    unknown = set(databases) - {"sqlite", "postgresql"} | set(topologies) - set(TOPOLOGIES)
    if (
        unknown
        or not databases
        or not topologies
        or args.n < 1
        or args.clients < 1
        or args.pool_size < 1
    ):
        parser.error(f"bad arguments (unknown databases or topologies: {sorted(unknown)})")
    return Options(
        args.n, args.clients, databases, topologies, args.pool_size, args.timeout, args.profile
    )


def _names(value: str) -> tuple[str, ...]:
    """A comma-separated list, stripped, duplicates dropped, order kept."""
    return tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))


async def main(opts: Options) -> int:
    print(
        f"Songda e-mail throughput: {opts.n} dispatches, {opts.clients} HTTP clients, "
        f"{opts.pool_size} SMTP connections{' — PROFILED (slower)' if opts.profile else ''}\n"
        f"topologies: {', '.join(f'{t} = {topology_label(t)}' for t in opts.topologies)}; "
        "service in child processes, HTTP clients and SMTP sink in this process"
    )
    certificates = await raw_certificates(opts)
    results: list[Result] = []
    notes: list[str] = []
    for kind in opts.databases:
        topologies, skipped = topologies_for(opts, kind)
        for note in skipped:
            print(f"\n== {kind} ==\n  note: {note}")
        notes += skipped
        results += await run_database(opts, kind, topologies, certificates) if topologies else []
    summary(opts, results, notes)
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
