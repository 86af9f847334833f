"""The ``songda`` command line, run as a real process against a real SQLite file."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from api_client import Api
from cli_runner import read_until, sandbox_process, songda, sqlite_cli_env
from sqlalchemy.ext.asyncio import create_async_engine

from delivery.config_checks import SANDBOX_COURT
from delivery.storage.schema import api_keys


def test_config_check_names_every_problem(tmp_path: Path) -> None:
    result = songda(
        "config",
        "check",
        env={
            "SONGDA_DATA_DIR": str(tmp_path),
            "SONGDA_SMTP_TLS": "ssl3",
            "SONGDA_PORT": "http",
            "SONGDA_OTP_SENDS_PER_DAY": "0",
            "SONGDA_PUBLIC_REQUESTS_PER_MINUTE": "many",
        },
    )
    assert result.returncode == 2
    names = ("SECRET_KEY", "SMTP_HOST", "SMTP_SENDER", "COURT_NAME", "SMTP_TLS", "PORT")
    for name in (*names, "OTP_SENDS_PER_DAY", "PUBLIC_REQUESTS_PER_MINUTE"):
        assert f"SONGDA_{name}" in result.stdout


def test_config_check_passes_in_sandbox_and_flags_sqlite_for_separate_processes(
    tmp_path: Path,
) -> None:
    env = {"SONGDA_DATA_DIR": str(tmp_path)}
    assert songda("config", "check", "--sandbox", env=env).returncode == 0
    split = songda("config", "check", "--sandbox", "--for", "worker", env=env)
    assert split.returncode == 2
    assert "SQLite is for one process" in split.stdout


def test_db_upgrade_and_apikey_create(tmp_path: Path) -> None:
    db = tmp_path / "songda.db"
    env = sqlite_cli_env(tmp_path)
    upgraded = songda("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    created = songda(
        "apikey",
        "create",
        "--name",
        "case system",
        "--court",
        "A court",
        "--court",
        "B court",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sdk_")

    bounces = songda("apikey", "create", "--name", "bounces", "--scope", "bounces", env=env)
    assert bounces.returncode == 0, bounces.stderr
    assert "may: bounces" in bounces.stderr
    unknown = songda("apikey", "create", "--name", "x", "--scope", "everything", env=env)
    assert unknown.returncode == 2

    async def stored() -> list[tuple[str, list[str], list[str]]]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
        async with engine.connect() as conn:
            k = api_keys.c
            query = sa.select(k.key_hash, k.courts, k.scopes).order_by(k.created_at, k.name)
            rows = (await conn.execute(query)).all()
        await engine.dispose()
        return [(r.key_hash, r.courts, r.scopes) for r in rows]

    [(key_hash, courts, scopes), (_hash, _courts, granted)] = asyncio.run(stored())
    assert key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (courts, scopes) == (["A court", "B court"], [])
    assert granted == ["bounces"]  # only where the operator granted it
    assert token not in db.read_bytes().decode("latin-1")


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert songda("frobnicate", env={}).returncode == 2
    assert songda("apikey", "create", env={}).returncode == 2  # --name missing
    unconfigured = songda("db", "upgrade", env={"SONGDA_DATA_DIR": str(tmp_path)})
    assert unconfigured.returncode == 2
    assert "SONGDA_SECRET_KEY" in unconfigured.stderr


def test_calendar_import_seeds_and_merges_the_courts_holiday_file(tmp_path: Path) -> None:
    env = {"SONGDA_DATA_DIR": str(tmp_path)}
    seeded = songda("calendar", "import", env=env)
    assert seeded.returncode == 0, seeded.stderr
    court_file = tmp_path / "calendar" / "cn.toml"
    assert "[years.2026]" in court_file.read_text()

    next_year = tmp_path / "2027.toml"
    next_year.write_text("[years.2027]\nholidays = [2027-01-01]\nworkdays = []\n")
    merged = songda("calendar", "import", "--file", str(next_year), env=env)
    assert merged.returncode == 0, merged.stderr
    assert "2026, 2027" in merged.stdout
    assert "2027-01-01" in court_file.read_text()

    broken = tmp_path / "bad.toml"
    broken.write_text("[years.2027]\nholidays = [2026-10-01]\n")
    refused = songda("calendar", "import", "--file", str(broken), env=env)
    assert refused.returncode == 2
    assert "years.2027.holidays" in refused.stderr
    assert "2027-01-01" in court_file.read_text()  # nothing lost


async def test_database_commands_run_against_a_sandbox_data_dir(tmp_path: Path) -> None:
    """``apikey``, ``user``, ``keys``, ``report`` and ``verify --db`` need the database alone:
    with nothing but SONGDA_DATA_DIR pointing at what ``songda run --sandbox`` made, they run
    (no SMTP server, secret or court asked for: the sandbox court is the default)."""
    data_dir = tmp_path / "var"
    with sandbox_process(data_dir, "cli-sandbox") as (process, port):
        lines = await asyncio.wait_for(
            asyncio.to_thread(read_until, process, "Sandbox staff accounts"), 60
        )
        token = next(m for ln in lines if (m := re.search(r"API key .*: (\S+)", ln)))
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            api = Api(http, {"Authorization": f"Bearer {token.group(1)}"}, None)  # type: ignore[arg-type]
            created = await api.create(await api.new_dispatch_body(court=SANDBOX_COURT))
            await api.until(
                created["id"],
                lambda d: any(e["type"] == "checkpoint_timestamped" for e in d["events"]),
            )
    env = {"SONGDA_DATA_DIR": str(data_dir)}

    key = songda("apikey", "create", "--name", "second case system", env=env)
    assert key.returncode == 0, key.stderr
    assert key.stdout.startswith("sdk_") and f"scoped to: {SANDBOX_COURT}" in key.stderr
    users = songda("user", "list", env=env)
    assert users.returncode == 0, users.stderr
    assert {line.split("\t")[0] for line in users.stdout.splitlines()} == {
        "admin",
        "clerk",
        "field",
        "supervisor",
    }
    added = songda("user", "create", "--username", "li", "--name", "李", "--role", "clerk", env=env)
    assert added.returncode == 0, added.stderr
    assert f"scoped to: {SANDBOX_COURT}" in added.stderr
    listed = songda("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "active" in listed.stdout
    rotated = songda("keys", "create", env=env)
    assert rotated.returncode == 0, rotated.stderr
    today = date.today()
    report = songda(
        "report",
        "--from",
        (today - timedelta(days=1)).isoformat(),
        "--to",
        (today + timedelta(days=1)).isoformat(),
        "--by",
        "court",
        env=env,
    )
    assert report.returncode == 0, report.stderr
    assert SANDBOX_COURT in report.stdout
    verified = songda("verify", "--db", created["id"], env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "timestamped by Songda Sandbox TSA at" in verified.stdout


def test_database_commands_without_a_court_ask_for_one(tmp_path: Path) -> None:
    """Outside a sandbox's data directory a key or an account needs a court named."""
    env = {"SONGDA_DATA_DIR": str(tmp_path)}
    refused = songda("apikey", "create", "--name", "case system", env=env)
    assert refused.returncode == 2
    assert "--court" in refused.stderr and "SONGDA_COURT_NAME" in refused.stderr
