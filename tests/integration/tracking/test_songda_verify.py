"""``songda verify``: its exit codes on a bundle offline, and ``--db`` finding an event row edited
directly in the database."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from api_client import Api
from cli_runner import cli_env, songda

from delivery.context import Context
from delivery.domain import Event
from delivery.ids import new_id
from delivery.storage.schema import events
from integration.tracking.support import (
    add_certificate,
    chain_of,
    download,
    served_dispatch,
    unzip,
    with_events,
)
from tracking.chain import event_fields, link_hash

pytestmark = pytest.mark.usefixtures("worker")


async def test_songda_verify_cli_exit_codes(api: Api, ctx: Context, tmp_path: Path) -> None:
    dispatch_id = await served_dispatch(api)
    await add_certificate(ctx, dispatch_id)
    bundle = tmp_path / "evidence.zip"
    bundle.write_bytes(await download(api, dispatch_id))
    keys_file = tmp_path / "songda-keys.json"
    response = await api.client.get("/.well-known/songda-keys.json")
    keys_file.write_bytes(await response.read())
    env = {"SONGDA_DATA_DIR": str(tmp_path / "elsewhere")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return songda("verify", *args, env=env)

    valid = await asyncio.to_thread(run, str(bundle), "--keys", str(keys_file))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.startswith("VALID")

    files = unzip(bundle.read_bytes())
    chain = chain_of(files)
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(with_events(files, chain[:1] + chain[2:]))
    invalid = await asyncio.to_thread(run, str(tampered), "--keys", str(keys_file))
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    assert invalid.stdout.startswith("INVALID")
    assert f"event seq 3 (id {chain[2]['id']})" in invalid.stdout

    not_zip = tmp_path / "not.zip"
    not_zip.write_text("hello")
    unusable = await asyncio.to_thread(run, str(not_zip), "--keys", str(keys_file))
    assert unusable.returncode == 2 and "not a zip" in unusable.stderr
    no_keys = await asyncio.to_thread(run, str(bundle), "--keys", str(tmp_path / "none.json"))
    assert no_keys.returncode == 2 and "cannot be read" in no_keys.stderr
    no_key_dir = await asyncio.to_thread(run, str(bundle))
    assert no_key_dir.returncode == 2 and "--keys" in no_key_dir.stderr


@pytest.mark.both_databases
async def test_songda_verify_db_detects_a_direct_edit_of_an_event_row(
    api: Api, ctx: Context
) -> None:
    dispatch_id = await served_dispatch(api)
    await add_certificate(ctx, dispatch_id)
    env = cli_env(ctx)
    intact = await asyncio.to_thread(songda, "verify", "--db", dispatch_id, env=env)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "signed by a checkpoint" in intact.stdout

    chain = await api.events(dispatch_id)
    served = next(e for e in chain if e.type == "dispatch_served")
    forged = {**served.data, "service_date": "2026-12-01"}
    async with ctx.engine.begin() as conn:
        await conn.execute(
            events.update()
            .where(events.c.id == served.id)
            .values(data=json.dumps(forged, ensure_ascii=False, sort_keys=True))
        )
    edited = await asyncio.to_thread(songda, "verify", "--db", dispatch_id, env=env)
    assert edited.returncode == 1, edited.stdout + edited.stderr
    assert f"event seq {served.seq} (id {served.id}): hash does not match" in edited.stdout

    # Rewriting the row's hash too moves the break to the link after it.
    fields = {**_fields(served), "data": forged}
    async with ctx.engine.begin() as conn:
        await conn.execute(
            events.update()
            .where(events.c.id == served.id)
            .values(hash=link_hash(served.prev_hash, fields))
        )
    relinked = await asyncio.to_thread(songda, "verify", "--db", dispatch_id, env=env)
    assert relinked.returncode == 1
    assert f"event seq {served.seq + 1}" in relinked.stdout

    missing = await asyncio.to_thread(songda, "verify", "--db", new_id(), env=env)
    assert missing.returncode == 2 and "no dispatch" in missing.stderr


def _fields(event: Event) -> dict[str, Any]:
    return event_fields(event)
