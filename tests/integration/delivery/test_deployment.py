"""The deployment files (Dockerfile, compose.yaml) agree with the code they run.

No Docker engine runs on the development and CI machines, so the images are never built here; these
tests check instead that every command is a real ``songda`` subcommand, that every ``SONGDA_*``
variable is one the configuration reads, and that the compose environment is a usable configuration.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from delivery.cli.main import build_parser
from delivery.config import deployment_warnings, load_settings
from delivery.infra.secret_box import new_key

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
# Settings are read in delivery/config.py and, one check each, in delivery/config_checks.py.
CONFIG_SOURCES = (ROOT / "delivery" / "config.py", ROOT / "delivery" / "config_checks.py")

EXPECTED_SERVICES = {"web", "worker", "postgres", "redis", "migrate", "mailpit"}
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _songda_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in _services().items() if svc.get("build") == "."}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "NAME=value" list form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Resolve ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}`` as compose would."""

    def resolve(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if given.get(name):
            return given[name]
        if op in (":-", "-"):
            return arg or ""
        if op in (":?", "?"):
            raise AssertionError(f"{name} is required by compose.yaml: {arg}")
        return ""

    return INTERPOLATION.sub(resolve, value)


def _dockerfile_lines() -> list[str]:
    """Instructions with backslash continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = (line.strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _instructions(keyword: str) -> list[str]:
    prefix = keyword.upper() + " "
    return [line[len(prefix) :].strip() for line in _dockerfile_lines() if line.startswith(prefix)]


def _assert_subcommand(command: list[str]) -> None:
    assert command and command[0] == "songda", command
    try:
        build_parser().parse_args(command[1:])
    except SystemExit:  # argparse exits on an unknown command or missing argument
        pytest.fail(f"{command!r} is not a valid songda command")


def test_compose_parses_and_has_the_services() -> None:
    assert set(_services()) >= EXPECTED_SERVICES


def test_songda_services_are_built_from_the_dockerfile() -> None:
    assert set(_songda_services()) >= {"web", "worker", "migrate"}


def test_every_built_service_runs_a_real_subcommand() -> None:
    for name, service in _songda_services().items():
        command = service.get("command")
        assert isinstance(command, list), f"{name}: command must be a list"
        _assert_subcommand([str(part) for part in command])


def test_compose_variables_are_read_by_the_configuration() -> None:
    source = "".join(path.read_text(encoding="utf-8") for path in CONFIG_SOURCES)
    named: set[str] = set()
    for service in _services().values():
        named |= {key for key in _environment(service) if key.startswith("SONGDA_")}
    assert named, "compose.yaml sets no SONGDA_* variables"
    unknown = sorted(name for name in named if f'"{name.removeprefix("SONGDA_")}"' not in source)
    assert not unknown, f"not read by delivery/config.py: {unknown}"


@pytest.mark.parametrize("command", ["web", "worker"])
def test_compose_environment_is_a_usable_configuration(command: str) -> None:
    env = _environment(_songda_services()[command])
    given = {"SONGDA_SECRET_KEY": "x" * 48, "SONGDA_SECRETS_KEY": new_key()}
    resolved = {key: _interpolate(value, given) for key, value in env.items()}
    settings = load_settings(resolved)
    assert deployment_warnings(settings, command) == []
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.host == "0.0.0.0"


def test_compose_secret_key_has_no_default() -> None:
    value = _environment(_songda_services()["web"])["SONGDA_SECRET_KEY"]
    with pytest.raises(AssertionError, match="SONGDA_SECRET_KEY"):
        _interpolate(value, {})


def test_migrate_runs_once_before_web_and_worker() -> None:
    services = _services()
    assert services["migrate"].get("restart") == "no"  # quoted: a bare `no` is YAML false
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"


def test_web_and_worker_run_two_replicas() -> None:
    """Several of each share one database, Redis and data volume (test_two_of_each.py); a
    published host port per web replica (a range as long as the replicas), so that they do not
    collide."""
    services = _services()
    for name in ("web", "worker"):
        assert services[name]["deploy"]["replicas"] == 2
    [ports] = services["web"]["ports"]
    host, _, container = ports.partition(":")
    first, _, last = host.partition("-")
    assert (first, container) == ("8080", "8080")
    assert int(last) - int(first) + 1 == services["web"]["deploy"]["replicas"]


def test_dockerfile_cmd_is_a_real_subcommand() -> None:
    (cmd,) = _instructions("CMD")
    command = json.loads(cmd)
    assert isinstance(command, list)
    _assert_subcommand(command)
    assert not _instructions("ENTRYPOINT")


def test_dockerfile_installs_what_pdfs_need_and_no_font() -> None:
    """Pango and HarfBuzz's subsetter for WeasyPrint; no font package: the fonts are bundled
    (decision 0019), and a font installed in the image would hide a missing one."""
    installs = " ".join(line for line in _instructions("RUN") if "apt-get install" in line)
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"):
        assert package in installs
    assert "fonts-" not in installs


def test_dockerfile_does_not_run_as_root() -> None:
    users = _instructions("USER")
    assert users, "no USER line: the container would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_env_is_read_by_the_configuration() -> None:
    source = "".join(path.read_text(encoding="utf-8") for path in CONFIG_SOURCES)
    names = {
        match
        for line in _instructions("ENV")
        for match in re.findall(r"\bSONGDA_([A-Z0-9_]+)=", line)
    }
    assert names >= {"DATA_DIR", "HOST"}
    unknown = sorted(name for name in names if f'"{name}"' not in source)
    assert not unknown, f"not read by delivery/config.py: {unknown}"


def test_dockerfile_copies_only_files_that_exist() -> None:
    missing = []
    for line in _instructions("COPY"):
        parts = json.loads(line) if line.startswith("[") else line.split()
        sources = [p for p in parts[:-1] if not p.startswith("--")]
        missing += [src for src in sources if not (ROOT / src).exists()]
    assert not missing, f"the image build would fail, COPY sources missing: {missing}"
