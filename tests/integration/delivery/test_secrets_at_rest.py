"""Secrets and files at rest (issue 12, item 9): webhook secrets sealed under SONGDA_SECRETS_KEY
and shown once, a rotation command, plaintext secrets of older rows sealed after migrating, and
the data directory's files owner-only whatever the umask."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api
from cli_runner import cli_env, songda
from conftest import SECRETS_KEY, eventually
from cryptography.fernet import Fernet
from standardwebhooks import Webhook
from webhook_receiver import Receiver, receiving

from delivery.infra.document_store import DocumentStore
from delivery.storage.engine import create_engine
from delivery.storage.schema import webhook_endpoints

OLD_KEY = SECRETS_KEY
NEW_KEY = "xM3ySxSl3HRcaXnxmTxZmcHpKm1JtAwsiOQ_xPPfM3E="


async def _stored(api: Api) -> list[Any]:
    async with api.ctx.engine.connect() as conn:
        query = sa.select(webhook_endpoints.c.id, webhook_endpoints.c.secret).order_by(
            webhook_endpoints.c.id
        )
        return list((await conn.execute(query)).all())


async def _stored_text(api: Api) -> str:
    async with api.ctx.engine.connect() as conn:
        rows = (await conn.execute(sa.select(webhook_endpoints))).all()
    return repr([tuple(r) for r in rows])


@pytest.mark.usefixtures("worker")
async def test_the_secret_is_shown_once_stored_encrypted_and_still_signs(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with receiving(Receiver()) as receiver:
        created = await api.register_webhook(receiver.url, ["dispatch.created"])
        secret = created["secret"]
        assert secret.startswith("whsec_")
        listed = await api.client.get("/api/v1/webhook-endpoints", headers=api.auth)
        assert "secret" not in (await listed.json())["items"][0]

        stored = await _stored_text(api)
        assert secret not in stored and secret.removeprefix("whsec_") not in stored
        [(_id, plaintext)] = await _stored(api)
        assert plaintext is None

        await api.new_dispatch(consent=False)
        await eventually(receiver.has("dispatch.created"))
    headers, body = receiver.calls[0]
    Webhook(secret).verify(body, headers)  # signed with the secret the integrator was shown
    assert secret.removeprefix("whsec_") not in caplog.text


async def _plaintext_endpoint(api: Api, secret: str) -> str:
    """An endpoint as it was stored before migration 0010: the secret in plaintext."""
    endpoint = await api.register_webhook("https://hooks.example.com/old")
    async with api.ctx.engine.begin() as conn:
        await conn.execute(
            webhook_endpoints.update()
            .where(webhook_endpoints.c.id == endpoint["id"])
            .values(secret=secret, sealed_secret=None)
        )
    return str(endpoint["id"])


async def test_db_upgrade_seals_plaintext_secrets_of_older_endpoints(api: Api) -> None:
    secret = "whsec_" + "A" * 44
    await _plaintext_endpoint(api, secret)
    upgraded = songda("db", "upgrade", env=cli_env(api.ctx))
    assert upgraded.returncode == 0, upgraded.stderr
    [(_id, plaintext)] = await _stored(api)
    assert plaintext is None
    assert secret not in await _stored_text(api)


async def test_rotation_reencrypts_under_the_newest_key_and_is_idempotent(api: Api) -> None:
    await api.register_webhook("https://hooks.example.com/a")
    await api.register_webhook("https://hooks.example.com/b")
    plaintext = "whsec_" + "B" * 44
    await _plaintext_endpoint(api, plaintext)

    both = cli_env(api.ctx, SONGDA_SECRETS_KEY=f"{NEW_KEY},{OLD_KEY}")
    rotated = songda("secrets", "rotate", env=both)
    assert rotated.returncode == 0, rotated.stderr
    assert "2 re-encrypted" in rotated.stdout
    assert "1 plaintext encrypted" in rotated.stdout
    again = songda("secrets", "rotate", env=both)
    assert again.returncode == 0
    assert "0 re-encrypted" in again.stdout and "3 already under the newest key" in again.stdout
    assert "whsec_" not in rotated.stdout + rotated.stderr + again.stdout + again.stderr

    # The old key can now go: every secret opens with the new one alone.
    async with api.ctx.engine.connect() as conn:
        sealed = (await conn.execute(sa.select(webhook_endpoints.c.sealed_secret))).scalars().all()
    opened = [Fernet(NEW_KEY.encode()).decrypt(s.encode()).decode() for s in sealed]
    assert plaintext in opened and all(s.startswith("whsec_") for s in opened)

    # A key dropped too early: named, exit 1, nothing changed.
    only_old = songda("secrets", "rotate", env=cli_env(api.ctx, SONGDA_SECRETS_KEY=OLD_KEY))
    assert only_old.returncode == 1
    assert "3 unreadable" in only_old.stdout and "put the key" in only_old.stderr


@pytest.mark.parametrize("value", ["", "not-a-fernet-key", NEW_KEY + ",short"])
def test_config_check_names_a_missing_or_invalid_key(api: Api, value: str) -> None:
    checked = songda("config", "check", env=cli_env(api.ctx, SONGDA_SECRETS_KEY=value))
    assert checked.returncode == 2
    assert "error: SONGDA_SECRETS_KEY:" in checked.stdout
    assert NEW_KEY not in checked.stdout


def test_new_key_prints_a_usable_key() -> None:
    printed = songda("secrets", "new-key", env={})
    assert printed.returncode == 0
    Fernet(printed.stdout.strip().encode())


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_documents_and_the_sqlite_database_are_owner_only_under_umask_022(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var"
    with umask(0o022):
        store = DocumentStore(data_dir / "documents")
        stored = await store.store_bytes(b"%PDF-1.4 a court document")
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'songda.db'}")
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            # -wal and -shm exist while a connection is open (the last close removes them)
            database_files = [data_dir / f"songda.db{suffix}" for suffix in ("", "-wal", "-shm")]
            database_modes = [mode(p) for p in database_files]
        await engine.dispose()
    document = store.path_for(stored.sha256)
    assert stored.sha256 == hashlib.sha256(b"%PDF-1.4 a court document").hexdigest()
    assert mode(document) == 0o600
    for directory in (data_dir, data_dir / "documents", document.parent, document.parent.parent):
        assert mode(directory) == 0o700, directory
    assert database_modes == [0o600] * 3


def test_songda_commands_create_owner_only_files_under_umask_022(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = {
        "SONGDA_DATA_DIR": str(data_dir),
        "SONGDA_SECRET_KEY": "x" * 40,
        "SONGDA_SECRETS_KEY": SECRETS_KEY,
        "SONGDA_SMTP_HOST": "127.0.0.1",
        "SONGDA_SMTP_SENDER": "service@court.example",
        "SONGDA_COURT_NAME": "杭州市西湖区人民法院",
    }
    for args in (["db", "upgrade"], ["keys", "create"], ["calendar", "import"]):
        done = songda(*args, env=env, umask=0o022, timeout=120)
        assert done.returncode == 0, done.stderr
    sandbox_env = {"SONGDA_DATA_DIR": str(data_dir)}
    sandbox = songda("config", "check", "--sandbox", env=sandbox_env, umask=0o022)
    assert sandbox.returncode == 0, sandbox.stdout
    everything = [data_dir, *data_dir.rglob("*")]
    assert len(everything) > 5
    loose = [
        f"{p.relative_to(tmp_path)} {oct(mode(p))}"
        for p in everything
        if mode(p) & (stat.S_IRWXG | stat.S_IRWXO)
    ]
    assert loose == []
    assert mode(data_dir / "sandbox_secrets_key") == 0o600
