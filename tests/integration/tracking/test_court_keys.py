"""``songda keys``, the checks that want a key before serving, and the sandbox's own key — the
command line run as real processes."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from cli_runner import sandbox_process, songda

from delivery.infra.keys import load_signing_key, published_keys
from integration.tracking.support import production_env
from tracking.signing import parse_key_set


def test_a_missing_key_is_named_with_its_fix_and_keys_create_rotates(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    check = songda("config", "check", env=env)
    assert check.returncode == 2
    assert "court signing key" in check.stdout and "songda keys create" in check.stdout
    refused = songda("run", env=env)
    assert refused.returncode == 2
    assert "songda keys create" in refused.stderr
    assert songda("keys", "list", env=env).returncode == 2

    first = songda("keys", "create", env=env)
    assert first.returncode == 0, first.stderr
    assert "PRIVATE" not in first.stdout + first.stderr
    kid = first.stdout.split("\t")[0]
    keys_dir = tmp_path / "var" / "keys"
    assert (keys_dir / f"{kid}.key").stat().st_mode & 0o777 == 0o600
    assert songda("config", "check", env=env).returncode == 0

    second = songda("keys", "create", env=env)
    newer = second.stdout.split("\t")[0]
    listed = songda("keys", "list", env=env)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [kid, newer]
    assert lines[0].endswith("retired") and lines[1].endswith("active")
    assert load_signing_key(keys_dir).kid == newer
    assert [k.kid for k in published_keys(keys_dir)] == [kid, newer]

    elsewhere = tmp_path / "keys-elsewhere"
    moved = songda("keys", "create", env={**env, "SONGDA_KEYS_DIR": str(elsewhere)})
    assert moved.returncode == 0
    assert load_signing_key(elsewhere).kid == moved.stdout.split("\t")[0]


def test_the_sandbox_creates_its_key_on_first_start_and_publishes_it(tmp_path: Path) -> None:
    with sandbox_process(tmp_path / "var", "keys") as (process, port):
        assert process.stdout is not None
        output = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "Songda is listening" in line or not line:
                break
        assert any("Sandbox court signing key" in line for line in output), output
        url = f"http://127.0.0.1:{port}/.well-known/songda-keys.json"
        with urllib.request.urlopen(url, timeout=10) as response:
            keys = parse_key_set(json.loads(response.read()))
        assert list(keys) == [load_signing_key(tmp_path / "var" / "keys").kid]


def test_keys_create_names_the_court_or_makes_nothing(tmp_path: Path) -> None:
    """The court root names its court for good: without SONGDA_COURT_NAME nothing is made."""
    env = {k: v for k, v in production_env(tmp_path).items() if k != "SONGDA_COURT_NAME"}
    refused = songda("keys", "create", env=env)
    assert refused.returncode == 2
    assert "SONGDA_COURT_NAME is not set" in refused.stderr
    assert not (tmp_path / "var" / "keys").exists() or not any(
        (tmp_path / "var" / "keys").iterdir()
    )
