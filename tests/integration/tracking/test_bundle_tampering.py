"""An evidence bundle altered after the fact: every tampering (events deleted, reordered,
inserted, re-dated, re-signed or rehashed; files added or unsigned; repeated zip entries) is
detected and named by the verifier."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_client import Api

from delivery.clock import ManualClock
from delivery.context import Context
from delivery.ids import new_id
from delivery.infra.keys import create_key, load_signing_key
from integration.tracking.support import (
    CERT_PDF,
    add_certificate,
    chain_of,
    court_keys,
    download,
    served_dispatch,
    unzip,
    with_events,
)
from tracking.chain import GENESIS, canonical, link_hash
from tracking.evidence import write_zip
from tracking.signing import checkpoint_statement
from tracking.verify import Report, UnusableInput, check_chain, verify_bundle

pytestmark = pytest.mark.usefixtures("worker")


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
