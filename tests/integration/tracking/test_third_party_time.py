"""Third-party time (RFC 3161) on every chain checkpoint: the token job, the sweep, the flag, and
``songda verify`` (bundle and ``--db``) — real PostgreSQL/SQLite, Redis, and a TSA stand-in on
loopback that issues real tokens (pyHanko's DummyTimeStamper)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from api_client import Api
from cli_runner import cli_env, songda
from conftest import COURT, SECRETS_KEY, eventually, settled
from helpers import log_in, staff_account
from standins import TSA_NAME, Tsa
from webhook_receiver import Receiver, receiving

from delivery.clock import ManualClock
from delivery.config import ConfigError, load_settings
from delivery.context import Context
from delivery.sandbox.tsa_standin import create_tsa_identity
from delivery.services.sweep import sweep
from delivery.services.timestamps import timestamp_checkpoint
from delivery.storage.schema import checkpoint_timestamps
from tracking.chain import GENESIS, link_hash
from tracking.signing import PublicKey, parse_key_set
from tracking.timestamps import load_certificates, timestamp_request, token_from_reply
from tracking.verify import Report, UnusableInput, check_chain, verify_bundle

pytestmark = pytest.mark.usefixtures("tsa", "worker")


async def stamped(api: Api, **options: Any) -> tuple[str, dict[str, Any]]:
    """A dispatch served at once (e-mail to a confirmed address) and its token event's data."""
    created = await api.new_dispatch(**options)
    await api.until(
        created["id"],
        lambda d: any(e["type"] == "checkpoint_timestamped" for e in d["events"]),
    )
    await settled(api.ctx)
    chain = await api.events(created["id"])
    return str(created["id"]), next(e.data for e in chain if e.type == "checkpoint_timestamped")


async def download(api: Api, dispatch_id: str) -> bytes:
    response = await api.client.get(
        f"/api/v1/dispatches/{dispatch_id}/evidence.zip", headers=api.auth
    )
    assert response.status == 200, await response.text()
    return await response.read()


async def court_keys(api: Api) -> dict[str, PublicKey]:
    response = await api.client.get("/.well-known/songda-keys.json")
    return parse_key_set(await response.json())


def tsa_env(ctx: Context, tsa_cert: Path) -> dict[str, str]:
    return cli_env(ctx, SONGDA_TSA_URL=str(ctx.settings.tsa_url), SONGDA_TSA_CERT=str(tsa_cert))


@pytest.mark.both_databases
async def test_every_checkpoint_gets_a_token_and_verify_names_the_tsa(
    api: Api, ctx: Context, tsa: Tsa, other_tsa: Tsa, tmp_path: Path
) -> None:
    dispatch_id, data = await stamped(api)
    chain = await api.events(dispatch_id)
    checkpoint = next(e for e in chain if e.type == "chain_checkpoint")
    stamp_event = next(e for e in chain if e.type == "checkpoint_timestamped")
    assert data["checkpoint_seq"] == checkpoint.seq
    assert data["checkpoint_hash"] == checkpoint.hash
    assert data["tsa"] == TSA_NAME
    assert data["gen_time"] == "2026-11-23T02:00:00.000000Z"  # the stand-in's (test) clock
    assert stamp_event.source == "tsa" and stamp_event.occurred_at == ctx.clock.now()
    assert tsa.standin.issued == 2  # this token and the certificate's (PAdES-B-T)
    async with ctx.engine.connect() as conn:
        row = (await conn.execute(sa.select(checkpoint_timestamps))).mappings().one()
    assert row["timestamped_at"] is not None and row["next_attempt_at"] is None

    # The bundle carries the token (in events.json) and the TSA certificate, listed and signed.
    bundle = await download(api, dispatch_id)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        assert archive.read("tsa/certificate.pem") == tsa.cert.read_bytes()
        manifest = json.loads(archive.read("manifest.json"))
    assert "tsa/certificate.pem" in [f["path"] for f in manifest["files"]]
    report = verify_bundle(bundle, await court_keys(api))
    assert report.valid, report.render()
    line = f"checkpoint seq {checkpoint.seq}: timestamped by {TSA_NAME} at {data['gen_time']}"
    assert line in report.render()
    # Unpacked and packed again by a zip tool (which adds a folder entry "tsa/"): still valid.
    repacked = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(bundle)) as original,
        zipfile.ZipFile(repacked, "w") as copy,
    ):
        copy.writestr(zipfile.ZipInfo("tsa/"), b"")
        for info in original.infolist():
            copy.writestr(info.filename, original.read(info))
    assert verify_bundle(repacked.getvalue(), await court_keys(api)).valid

    # The same through the CLI, offline: the bundle, then the database rows.
    bundle_file, keys_file = tmp_path / "evidence.zip", tmp_path / "keys.json"
    bundle_file.write_bytes(bundle)
    keys_file.write_bytes(await (await api.client.get("/.well-known/songda-keys.json")).read())
    env = tsa_env(ctx, tsa.cert)
    offline = await asyncio.to_thread(
        songda, "verify", str(bundle_file), "--keys", str(keys_file), env={}
    )
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert line in offline.stdout and "tsa/certificate.pem" in offline.stdout
    by_db = await asyncio.to_thread(songda, "verify", "--db", dispatch_id, env=env)
    assert by_db.returncode == 0, by_db.stdout + by_db.stderr
    assert line in by_db.stdout

    # Checked against another TSA's certificate (same name, other key), the token is INVALID.
    wrong = await asyncio.to_thread(
        songda,
        "verify",
        str(bundle_file),
        "--keys",
        str(keys_file),
        "--tsa-cert",
        str(other_tsa.cert),
        env={},
    )
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert wrong.stdout.startswith("INVALID") and "not the configured TSA" in wrong.stdout
    wrong_db = await asyncio.to_thread(
        songda, "verify", "--db", dispatch_id, env=tsa_env(ctx, other_tsa.cert)
    )
    assert wrong_db.returncode == 1 and "not the configured TSA" in wrong_db.stdout

    # The QR page shows the third-party time (in the court's zone).
    head = next(e for e in chain if e.type == "dispatch_served").hash
    page = await api.client.get(f"/verify/{dispatch_id}?h={head}&lang=en")
    html = await page.text()
    assert page.status == 200
    assert f"timestamped by {TSA_NAME} at 2026-11-23 10:00" in html


def _rehashed(chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chain with every link recomputed, as an insider without the TSA's key would."""
    prev, out = GENESIS, []
    for entry in chain:
        fields = {k: v for k, v in entry.items() if k not in ("prev_hash", "hash")}
        out.append({**fields, "prev_hash": prev, "hash": link_hash(prev, fields)})
        prev = out[-1]["hash"]
    return out


async def _token_from(tsa: Tsa, digest: str) -> str:
    query, nonce = timestamp_request(digest)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            tsa.url, data=query, headers={"Content-Type": "application/timestamp-query"}
        ) as response,
    ):
        reply = await response.read()
    return base64.b64encode(token_from_reply(reply, nonce)).decode()


async def test_a_forged_or_misplaced_token_is_invalid(api: Api, tsa: Tsa, other_tsa: Tsa) -> None:
    """An insider rewrites the token event and rehashes the chain: the chain recomputes and the
    court's checkpoint still holds, but the token gives the forgery away."""
    first, _ = await stamped(api)
    _second, second_data = await stamped(api, reference="case-sys-0002")
    with zipfile.ZipFile(io.BytesIO(await download(api, first))) as archive:
        chain = json.loads(archive.read("events.json"))
    keys = await court_keys(api)
    trusted = load_certificates(tsa.cert.read_bytes())
    position = next(i for i, e in enumerate(chain) if e["type"] == "checkpoint_timestamped")
    genuine = chain[position]["data"]

    def check(**changes: Any) -> Report:
        forged = [dict(e) for e in chain]
        forged[position] = {**forged[position], "data": {**genuine, **changes}}
        report = Report("rewritten chain")
        check_chain(_rehashed(forged), first, keys, report, trusted)
        return report

    assert check().valid, check().render()  # rehashing alone changes nothing
    token = bytearray(base64.b64decode(genuine["token"]))
    token[-10] ^= 0x01  # inside the TSA's signature
    altered = check(token=base64.b64encode(bytes(token)).decode())
    assert "the TSA's signature does not verify" in altered.render()
    # The other dispatch's genuine token, moved here: it stamps another checkpoint.
    moved = check(token=second_data["token"])
    assert not moved.valid and "covers another message" in moved.render()
    assert second_data["checkpoint_hash"] != genuine["checkpoint_hash"]
    # A token for this very checkpoint from a TSA that is not the configured one.
    foreign = check(token=await _token_from(other_tsa, genuine["checkpoint_hash"]))
    assert not foreign.valid and "not the configured TSA certificate" in foreign.render()
    # The event claiming another time than its token says.
    redated = check(gen_time="2026-11-22T02:00:00.000000Z")
    assert "its TSA or time is not what its token says" in redated.render()
    # The checkpoint re-dated a day later and stamped again (a real token of the same TSA): the
    # TSA saw it before the time the chain records.
    redated_chain = [dict(e) for e in chain]
    at = genuine["checkpoint_seq"] - 1
    redated_chain[at] = {**redated_chain[at], "recorded_at": "2026-11-24T02:00:00.000000Z"}
    new_hash = _rehashed(redated_chain)[at]["hash"]
    redated_chain[position] = {
        **redated_chain[position],
        "data": {
            **genuine,
            "checkpoint_hash": new_hash,
            "token": await _token_from(tsa, new_hash),
        },
    }
    report = Report("checkpoint re-dated")
    check_chain(_rehashed(redated_chain), first, keys, report, trusted)
    assert "the TSA's time is before the checkpoint's recorded time" in report.render()
    # A token event pointing at something that is not a checkpoint.
    misplaced = check(checkpoint_seq=1)
    assert "not a chain checkpoint" in misplaced.render()
    # Without any TSA certificate a token cannot be taken on trust, nor called forged: the
    # reader lacks what checks it (exit 2, unusable input).
    with pytest.raises(UnusableInput, match="no TSA certificate to check it with"):
        check_chain(chain, first, keys, Report("no certificate"))


@pytest.mark.both_databases
async def test_a_tsa_that_is_down_delays_nothing_and_the_token_follows(
    api: Api, ctx: Context, tsa: Tsa, clock: ManualClock
) -> None:
    tsa.standin.failing = True
    async with receiving(Receiver()) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.served"])
        created = await api.new_dispatch()
        await api.until_state(created["id"], "served")
        await eventually(receiver.has("dispatch.served"), within=20)
    await settled(ctx)
    types = await api.event_types(created["id"])
    assert "chain_checkpoint" in types and "checkpoint_timestamped" not in types
    row = await _row(ctx)
    assert row["tries"] == 1 and row["next_attempt_at"] == clock.now() + timedelta(minutes=1)

    # Nothing is asked again before the retry is due; then the sweep asks, and it arrives.
    tsa.standin.failing = False
    assert (await sweep(ctx)).timestamps == 0
    clock.advance(timedelta(minutes=1))
    assert (await sweep(ctx)).timestamps == 1
    await api.until(
        created["id"], lambda d: any(e["type"] == "checkpoint_timestamped" for e in d["events"])
    )
    await settled(ctx)
    assert (await _row(ctx))["timestamped_at"] == clock.now()
    assert (await sweep(ctx)).timestamps == 0
    # Asked again (a duplicate job), the checkpoint keeps its one token.
    async with aiohttp.ClientSession() as http:
        assert not await timestamp_checkpoint(ctx, http, created["id"], row["checkpoint_seq"])
    assert (await api.event_types(created["id"])).count("checkpoint_timestamped") == 1


async def test_a_slow_tsa_times_out_without_holding_up_service(
    api: Api, ctx: Context, tsa: Tsa
) -> None:
    tsa.standin.delay = 5.0  # longer than the configured timeout (2 s)
    async with receiving(Receiver()) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.served"])
        created = await api.new_dispatch()
        await eventually(receiver.has("dispatch.served"), within=20)
        assert tsa.standin.issued == 0  # served and told before the TSA answered anything
    await settled(ctx)
    row = await _row(ctx)
    assert row["tries"] == 1 and row["timestamped_at"] is None
    assert "checkpoint_timestamped" not in await api.event_types(created["id"])


async def test_a_token_missing_after_the_flag_window_is_flagged(
    api: Api, ctx: Context, tsa: Tsa, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    tsa.standin.failing = True
    created = await api.new_dispatch()
    await api.until_state(created["id"], "served")
    await settled(ctx)
    user, password = await staff_account(ctx)
    await log_in(api.client, user.username, password)

    clock.advance(timedelta(hours=5, minutes=59))
    assert (await sweep(ctx)).timestamps_flagged == 0
    assert 'data-flag="timestamp_overdue"' not in await queue_html(api)
    await settled(ctx)

    clock.advance(timedelta(minutes=1))  # SONGDA_TSA_FLAG_HOURS = 6 (the default)
    with caplog.at_level(logging.WARNING, logger="delivery.services.timestamps"):
        report = await sweep(ctx)
        await settled(ctx)
    assert report.timestamps_flagged == 1
    warned = [r for r in caplog.records if "without third-party time" in r.getMessage()]
    assert len(warned) == 1 and getattr(warned[0], "dispatch_id", None) == created["id"]
    assert (await sweep(ctx)).timestamps_flagged == 0  # warned once
    await settled(ctx)
    assert 'data-flag="timestamp_overdue"' in await queue_html(api)
    health = await (await api.client.get("/healthz")).json()
    assert health["status"] == "ok" and health["timestamps_overdue"] == 1

    # The TSA is back: the next retry gets the token (dated now) and the flag goes.
    tsa.standin.failing = False
    clock.advance(timedelta(hours=1))
    await sweep(ctx)
    await api.until(
        created["id"], lambda d: any(e["type"] == "checkpoint_timestamped" for e in d["events"])
    )
    await settled(ctx)
    assert 'data-flag="timestamp_overdue"' not in await queue_html(api)
    assert (await (await api.client.get("/healthz")).json())["timestamps_overdue"] == 0
    # Stamped 7 h after the checkpoint: within the 24 h tolerance.
    report_text = verify_bundle(await download(api, created["id"]), await court_keys(api))
    assert report_text.valid and "(within 24 h of its recorded time)" in report_text.render()


async def queue_html(api: Api) -> str:
    response = await api.client.get("/staff/queue")
    assert response.status == 200
    return await response.text()


async def _row(ctx: Context) -> Any:
    async with ctx.engine.connect() as conn:
        return (await conn.execute(sa.select(checkpoint_timestamps))).mappings().one()


async def test_the_stand_in_answers_only_timestamp_queries(tsa: Tsa) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(tsa.url, data=b"hello", headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 415
        async with http.post(
            tsa.url,
            data=b"\x30\x03\x02\x01",
            headers={"Content-Type": "application/timestamp-query"},
        ) as r:
            assert r.status == 400


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SONGDA_DATA_DIR": str(tmp_path / "var"),
        "SONGDA_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SONGDA_SECRETS_KEY": SECRETS_KEY,
        "SONGDA_SMTP_HOST": "127.0.0.1",
        "SONGDA_SMTP_SENDER": "service@court.example",
        "SONGDA_COURT_NAME": COURT,
        # Set, so that the only advice config check gives here is about the TSA.
        "SONGDA_COURT_PHONE": "0571-00000000",
        "SONGDA_COURT_ADDRESS": "杭州市西湖区示例路 1 号",
        "SONGDA_COURT_HOURS": "周一至周五 9:00–17:00",
        **extra,
    }


async def test_configuration_of_the_tsa(tsa: Tsa, tmp_path: Path) -> None:
    settings = load_settings(_env(tmp_path, SONGDA_TSA_URL=tsa.url, SONGDA_TSA_CERT=str(tsa.cert)))
    assert settings.tsa_url == tsa.url and settings.tsa_flag_hours == 6
    with pytest.raises(ConfigError) as no_cert:
        load_settings(_env(tmp_path, SONGDA_TSA_URL=tsa.url))
    assert any(p.startswith("SONGDA_TSA_CERT: required") for p in no_cert.value.problems)
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    with pytest.raises(ConfigError) as bad:
        load_settings(_env(tmp_path, SONGDA_TSA_URL="ftp://tsa", SONGDA_TSA_CERT=str(not_pem)))
    assert [p.split(":")[0] for p in bad.value.problems] == ["SONGDA_TSA_URL", "SONGDA_TSA_CERT"]

    # Production without a TSA runs, but config check says what that costs.
    (tmp_path / "keys").mkdir()
    keys = {"SONGDA_KEYS_DIR": str(tmp_path / "keys")}
    await asyncio.to_thread(songda, "keys", "create", env=_env(tmp_path, **keys))
    plain = await asyncio.to_thread(songda, "config", "check", env=_env(tmp_path, **keys))
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "warning: SONGDA_TSA_URL is unset: proofs carry no third-party time" in plain.stdout
    configured = await asyncio.to_thread(
        songda,
        "config",
        "check",
        env=_env(tmp_path, SONGDA_TSA_URL=tsa.url, SONGDA_TSA_CERT=str(tsa.cert), **keys),
    )
    assert configured.returncode == 0 and "warning" not in configured.stdout
    missing = await asyncio.to_thread(
        songda, "config", "check", env=_env(tmp_path, SONGDA_TSA_URL=tsa.url, **keys)
    )
    assert missing.returncode == 2 and "SONGDA_TSA_CERT: required" in missing.stdout


async def test_the_sandbox_tsa_identity_is_kept(clock: ManualClock, tmp_path: Path) -> None:
    cert, key = create_tsa_identity(tmp_path, "Sandbox", clock)
    assert (key.stat().st_mode & 0o777) == 0o600
    again = create_tsa_identity(tmp_path, "Sandbox", clock)
    assert again == (cert, key) and load_certificates(cert.read_bytes())
