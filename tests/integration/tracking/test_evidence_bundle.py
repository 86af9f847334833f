"""Proof that cannot be altered unnoticed: court keys, the checkpoint signed at service, the
evidence bundle, and ``songda verify`` (offline, and ``--db``) — on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import COURT, OTHER_COURT, settled
from helpers import Api, cli_env, log_in, songda, staff_account

from delivery.clock import ManualClock
from delivery.context import Context
from delivery.domain import Event
from delivery.ids import new_id
from delivery.infra.keys import create_key, load_signing_key, published_keys
from delivery.services.api_keys import create_api_key
from delivery.services.transactions import dispatch_transaction
from delivery.staff import Role
from delivery.storage.schema import certificates, events
from tracking.chain import GENESIS, canonical, event_fields, link_hash
from tracking.evidence import write_zip
from tracking.signing import (
    PublicKey,
    SigningKey,
    checkpoint_data,
    checkpoint_statement,
    key_id,
    parse_key_set,
)
from tracking.verify import Report, UnusableInput, check_chain, verify_bundle

pytestmark = pytest.mark.usefixtures("worker")
CERT_PDF = b"%PDF-1.4\n% certificate of service\n%%EOF\n"


async def served_dispatch(api: Api) -> str:
    """A dispatch served at once: e-mail to an address the recipient confirmed (CPL-INT-135)."""
    created = await api.new_dispatch()
    await api.until_state(created["id"], "served")
    await settled(api.ctx)
    # The renderer issued the real certificate; these tests put stand-ins (known bytes, shifted
    # fields) in its place. the last test checks a real one in its bundle.
    async with api.ctx.engine.begin() as conn:
        await conn.execute(certificates.delete().where(certificates.c.dispatch_id == created["id"]))
    return str(created["id"])


async def add_certificate(
    ctx: Context,
    dispatch_id: str,
    content: bytes = CERT_PDF,
    *,
    superseded: bool = False,
    supersedes_id: str | None = None,
    served_at_shift: bool = False,
) -> str:
    """A certificate row pinning the dispatch_served event, its PDF in the document store
    (what the certificate renderer stores; stand-in bytes here)."""
    digest = hashlib.sha256(content).hexdigest()
    path = ctx.documents.path_for(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(events).where(
                events.c.dispatch_id == dispatch_id, events.c.type == "dispatch_served"
            )
        )
        served = list(rows.mappings())[-1]  # the service now standing
    data = json.loads(served["data"])
    cert_id = new_id()
    async with ctx.engine.begin() as conn:
        await conn.execute(
            certificates.insert().values(
                id=cert_id,
                dispatch_id=dispatch_id,
                locale="zh-CN",
                sha256=digest,
                size=len(content),
                chain_head=served["hash"],
                chain_seq=served["seq"],
                served_at=ctx.clock.now() if served_at_shift else served["occurred_at"],
                service_date=date.fromisoformat(data["service_date"]),
                legal_basis=data["legal_basis"],
                created_at=ctx.clock.now(),
                superseded_at=ctx.clock.now() if superseded else None,
                supersedes_id=supersedes_id,
            )
        )
    return cert_id


async def download(api: Api, dispatch_id: str, query: str = "") -> bytes:
    response = await api.client.get(
        f"/api/v1/dispatches/{dispatch_id}/evidence.zip{query}", headers=api.auth
    )
    assert response.status == 200, await response.text()
    assert response.content_type == "application/zip"
    return await response.read()


async def court_keys(api: Api) -> dict[str, PublicKey]:
    response = await api.client.get("/.well-known/songda-keys.json")
    assert response.status == 200
    return parse_key_set(await response.json())


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def chain_of(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return list(json.loads(files["events.json"]))


def with_events(files: dict[str, bytes], chain: list[dict[str, Any]]) -> bytes:
    return write_zip({**files, "events.json": canonical(chain)})


def rehashed(chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chain with every link recomputed, as a forger without the key would."""
    prev, out = GENESIS, []
    for entry in chain:
        fields = {k: v for k, v in entry.items() if k not in ("prev_hash", "hash")}
        digest = link_hash(prev, fields)
        out.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    return out


def expect_invalid(report: Report, *fragments: str) -> None:
    text = report.render()
    assert not report.valid, text
    assert text.startswith("INVALID"), text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


async def test_the_checkpoint_signs_the_head_of_service_in_the_same_transaction(
    api: Api, court_key: SigningKey
) -> None:
    dispatch_id = await served_dispatch(api)
    chain = await api.events(dispatch_id)
    served = next(e for e in chain if e.type == "dispatch_served")
    checkpoint = chain[served.seq]  # the very next event
    assert checkpoint.type == "chain_checkpoint"
    assert checkpoint.recorded_at == served.recorded_at  # one transaction, one instant
    data = checkpoint.data
    assert data["head"] == served.hash and data["seq"] == served.seq
    assert data["key_id"] == court_key.kid and data["alg"] == "Ed25519"
    statement = canonical(checkpoint_statement(dispatch_id, served.seq, served.hash))
    assert PublicKey(court_key.kid, court_key.public_key, court_key.created_at, True).verify(
        data["signature"], statement
    )


async def test_court_keys_are_published_and_rotation_keeps_old_keys(
    api: Api, ctx: Context, court_key: SigningKey, clock: ManualClock
) -> None:
    first = await court_keys(api)
    assert list(first) == [court_key.kid]
    assert first[court_key.kid].active
    response = await api.client.get("/.well-known/songda-keys.json")
    entry = (await response.json())["keys"][0]
    assert set(entry) == {"kid", "alg", "public_key", "created_at", "active"}
    assert entry["kid"] == key_id(court_key.public_key)
    assert len(entry["public_key"]) == 43  # base64url of 32 raw bytes, unpadded
    newer = create_key(ctx.settings.keys_dir, clock)
    rotated = await court_keys(api)
    assert set(rotated) == {court_key.kid, newer.kid}
    assert rotated[newer.kid].active and not rotated[court_key.kid].active
    assert load_signing_key(ctx.settings.keys_dir).kid == newer.kid
    private = ctx.settings.keys_dir / f"{newer.kid}.key"
    assert private.stat().st_mode & 0o777 == 0o600


@pytest.mark.both_databases
async def test_the_bundle_is_deterministic_complete_and_verifies(api: Api, ctx: Context) -> None:
    dispatch_id = await served_dispatch(api)
    old_cert = await add_certificate(ctx, dispatch_id, CERT_PDF + b"% v1\n", superseded=True)
    # Served again after a reversal (stand-in: the second service's event, recorded directly).
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        again = next(e for e in await tx.events() if e.type == "dispatch_served")
        tx.record("dispatch_served", source="test", data=again.data)
        key = ctx.require_signing_key()
        pinned = checkpoint_data(key, dispatch_id, tx.chain_seq, tx.chain_head)
        tx.record("chain_checkpoint", source="test", data=pinned)
    cert_id = await add_certificate(ctx, dispatch_id, supersedes_id=old_cert)
    keys = await court_keys(api)

    first = await download(api, dispatch_id)
    second = await download(api, dispatch_id)
    assert first == second  # byte-identical with no new event in between
    files = unzip(first)
    assert list(files) == sorted(files)
    assert set(files) == {
        "certificate.json",
        "certificate.pdf",
        f"certificates/{old_cert}.pdf",
        "events.json",
        "manifest.json",
        "manifest.sig",
    }
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert files["certificate.pdf"] == CERT_PDF
    manifest = json.loads(files["manifest.json"])
    assert files["manifest.json"] == canonical(manifest)
    chain = await api.events(dispatch_id)
    assert manifest["dispatch_id"] == dispatch_id and manifest["court"] == COURT
    assert manifest["chain"]["head"] == chain[-1].hash
    assert manifest["chain"]["length"] == len(chain)
    assert {f["path"] for f in manifest["files"]} == set(files) - {"manifest.json", "manifest.sig"}
    detail = await api.dispatch(dispatch_id)
    assert [(d["id"], d["sha256"], d["included"]) for d in manifest["documents"]] == [
        (d["id"], d["sha256"], False) for d in detail["documents"]
    ]
    cert = json.loads(files["certificate.json"])
    assert cert["id"] == cert_id and cert["supersedes_id"] == old_cert
    served = [e for e in chain if e.type == "dispatch_served"][-1]
    assert (cert["chain_head"], cert["chain_seq"]) == (served.hash, served.seq)
    assert [e["hash"] for e in chain_of(files)] == [e.hash for e in chain]

    report = verify_bundle(first, keys)
    assert report.valid, report.render()
    assert "signed by a checkpoint" in report.render()

    with_docs = unzip(await download(api, dispatch_id, "?include=documents"))
    doc_sha = detail["documents"][0]["sha256"]
    assert hashlib.sha256(with_docs[f"documents/{doc_sha}.pdf"]).hexdigest() == doc_sha
    assert verify_bundle(write_zip(with_docs), keys).valid

    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        tx.record("consent_recorded", source="test")
    assert await download(api, dispatch_id) != first  # a new event, a new bundle


async def test_every_tampering_is_detected_and_named(
    api: Api, ctx: Context, clock: ManualClock, tmp_path: Path
) -> None:
    dispatch_id = await served_dispatch(api)
    await add_certificate(ctx, dispatch_id)
    keys = await court_keys(api)
    bundle = await download(api, dispatch_id, "?include=documents")
    files = unzip(bundle)
    assert verify_bundle(bundle, keys).valid

    # One byte flipped in any file.
    for name, content in files.items():
        flipped = bytearray(content)
        flipped[len(flipped) // 2] ^= 0x01
        report = verify_bundle(write_zip({**files, name: bytes(flipped)}), keys)
        expected = "manifest.sig" if name in ("manifest.json", "manifest.sig") else name
        expect_invalid(report, expected)

    chain = chain_of(files)
    # An event deleted, two reordered, one inserted.
    deleted = chain[:2] + chain[3:]
    expect_invalid(
        verify_bundle(with_events(files, deleted), keys),
        "events.json: SHA-256 does not match",
        f"event seq 4 (id {chain[3]['id']}) is at position 3",
    )
    reordered = [chain[0], chain[2], chain[1], *chain[3:]]
    expect_invalid(
        verify_bundle(with_events(files, reordered), keys),
        f"event seq 3 (id {chain[2]['id']}) is at position 2",
    )
    forged = {**chain[1], "id": new_id(), "type": "attempt_read", "prev_hash": chain[1]["hash"]}
    fields = {k: v for k, v in forged.items() if k not in ("prev_hash", "hash")}
    forged |= {"seq": 3, "hash": link_hash(forged["prev_hash"], {**fields, "seq": 3})}
    inserted = chain[:2] + [forged] + [{**e, "seq": e["seq"] + 1} for e in chain[2:]]
    expect_invalid(
        verify_bundle(with_events(files, inserted), keys),
        f"event seq 4 (id {chain[2]['id']}): prev_hash does not link",
    )
    # A date changed in events.json.
    served_index = next(i for i, e in enumerate(chain) if e["type"] == "dispatch_served")
    redated = [dict(e) for e in chain]
    redated[served_index]["data"] = {**chain[served_index]["data"], "service_date": "2026-12-01"}
    expect_invalid(
        verify_bundle(with_events(files, redated), keys),
        f"event seq {served_index + 1} (id {chain[served_index]['id']}): hash does not match",
    )
    # Signed by a foreign key: under its own kid, or passing itself off as the court's.
    foreign = Path(tmp_path / "foreign")
    create_key(foreign, clock)
    stranger = load_signing_key(foreign)
    for kid in (stranger.kid, next(iter(keys))):
        sig = {"kid": kid, "alg": "Ed25519", "signature": stranger.sign(files["manifest.json"])}
        report = verify_bundle(write_zip({**files, "manifest.sig": canonical(sig)}), keys)
        expect_invalid(report, "manifest.sig")
    # A checkpoint signed by a foreign key, its chain rehashed to match: the chain holds, the
    # checkpoint does not.
    checkpoint_index = served_index + 1
    for key_id_given in (stranger.kid, chain[checkpoint_index]["data"]["key_id"]):
        resigned = [dict(e) for e in chain]
        resigned[checkpoint_index]["data"] = {
            **chain[checkpoint_index]["data"],
            "key_id": key_id_given,
            "signature": stranger.sign_statement(
                checkpoint_statement(dispatch_id, served_index + 1, chain[served_index]["hash"])
            ),
        }
        report = Report("chain")
        check_chain(rehashed(resigned), dispatch_id, keys, report)
        expect_invalid(report, f"event seq {checkpoint_index + 1} (id ", "checkpoint")
    # The signature removed.
    unsigned = {k: v for k, v in files.items() if k != "manifest.sig"}
    expect_invalid(verify_bundle(write_zip(unsigned), keys), "manifest.sig: missing")
    # A file added that the manifest does not list.
    expect_invalid(
        verify_bundle(write_zip({**files, "extra.pdf": CERT_PDF}), keys), "extra.pdf: in the zip"
    )
    # Unusable input.
    with pytest.raises(UnusableInput):
        verify_bundle(b"not a zip", keys)
    with pytest.raises(UnusableInput):
        verify_bundle(write_zip({"events.json": files["events.json"]}), keys)


async def test_a_certificate_that_does_not_match_its_event_is_caught(
    api: Api, ctx: Context, clock: ManualClock
) -> None:
    dispatch_id = await served_dispatch(api)
    clock.advance(timedelta(hours=1))
    await add_certificate(ctx, dispatch_id, served_at_shift=True)
    report = verify_bundle(await download(api, dispatch_id), await court_keys(api))
    expect_invalid(report, "certificate.json: served_at", "dispatch_served")


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


async def test_the_bundle_is_court_scoped_and_for_clerks(
    api: Api, ctx: Context, aiohttp_client: Callable[..., Any]
) -> None:
    dispatch_id = await served_dispatch(api)
    _key, other = await create_api_key(ctx.engine, ctx.clock, "other", [OTHER_COURT])
    response = await api.client.get(
        f"/api/v1/dispatches/{dispatch_id}/evidence.zip",
        headers={"Authorization": f"Bearer {other}"},
    )
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    anonymous = await api.client.get(f"/api/v1/dispatches/{dispatch_id}/evidence.zip")
    assert anonymous.status == 401
    bad = await api.client.get(
        f"/api/v1/dispatches/{dispatch_id}/evidence.zip?include=everything", headers=api.auth
    )
    assert bad.status == 422

    from delivery.api.app import create_app

    clerk, password = await staff_account(ctx, Role.CLERK)
    browser = await aiohttp_client(create_app(ctx))
    await log_in(browser, clerk.username, password)
    as_clerk = await browser.get(f"/api/v1/dispatches/{dispatch_id}/evidence.zip")
    assert as_clerk.status == 200
    assert await as_clerk.read() == await download(api, dispatch_id)
    field, field_password = await staff_account(ctx, Role.FIELD_SERVER)
    courier = await aiohttp_client(create_app(ctx))
    await log_in(courier, field.username, field_password)
    assert (await courier.get(f"/api/v1/dispatches/{dispatch_id}/evidence.zip")).status == 403
    assert [k.kid for k in published_keys(ctx.settings.keys_dir)] == [ctx.require_signing_key().kid]


async def test_the_rendered_certificate_of_a_real_service_verifies_in_its_bundle(api: Api) -> None:
    created = await api.new_dispatch()
    await api.until(
        created["id"], lambda d: any(e["type"] == "certificate_issued" for e in d["events"])
    )
    await settled(api.ctx)
    bundle = await download(api, created["id"])
    files = unzip(bundle)
    assert files["certificate.pdf"].startswith(b"%PDF-")
    report = verify_bundle(bundle, await court_keys(api))
    assert report.valid, report.render()


async def test_a_rewritten_chain_without_its_checkpoint_is_caught(api: Api) -> None:
    """An insider edits an event, drops the signed checkpoint and rehashes the rest: the chain
    recomputes, but the service is no longer pinned by the court key."""
    dispatch_id = await served_dispatch(api)
    files = unzip(await download(api, dispatch_id))
    chain = [e for e in chain_of(files) if e["type"] != "chain_checkpoint"]
    for position, entry in enumerate(chain, start=1):
        entry["seq"] = position
    report = Report("chain")
    check_chain(rehashed(chain), dispatch_id, await court_keys(api), report)
    assert not report.valid
    assert "a dispatch_served event with no signed checkpoint" in report.render()


async def test_a_repeated_entry_name_in_the_zip_is_caught(api: Api) -> None:
    """Unzip tools show the first of two same-named entries: a forged events.json put in front
    of the genuine one must not pass."""
    dispatch_id = await served_dispatch(api)
    bundle = await download(api, dispatch_id)
    out = io.BytesIO()
    with (
        pytest.warns(UserWarning, match="Duplicate name"),
        zipfile.ZipFile(io.BytesIO(bundle)) as genuine,
        zipfile.ZipFile(out, "w") as forged,
    ):
        forged.writestr("events.json", b'[{"forged": true}]')
        for info in genuine.infolist():
            forged.writestr(info, genuine.read(info))
    report = verify_bundle(out.getvalue(), await court_keys(api))
    expect_invalid(report, "events.json: a repeated or unsafe entry name")
