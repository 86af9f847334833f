"""Issue 12, item 6: Schemathesis against ``/api/v1/openapi.json`` finds no 500 and no status
the document does not name.

The application runs on a real port (``web.AppRunner`` in the test's loop, on the test's
PostgreSQL and Redis); Schemathesis, synchronous, calls it from a thread with an API key, on
every operation, with data that fits the document (positive) and data that does not
(negative). Bounded: :data:`EXAMPLES` per operation and mode, no shrinking, well under a minute.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from aiohttp import web
from api_client import Api
from cli_runner import free_port
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from delivery.api.app import create_app

EXAMPLES = 25
# ``POST /api/v1/replies`` takes a raw e-mail: headers that may or may not answer one of ours.
schemathesis.openapi.media_type(
    "message/rfc822",
    st.builds(
        lambda answers, text: (
            f"From: a@example.com\r\nIn-Reply-To: {answers}\r\n\r\n{text}".encode()
        ),
        st.sampled_from(["<nope@court.example>", "", "<>", "garbage"]),
        st.text(max_size=40),
    ),
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _fuzz(spec: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Every operation's failures, as ``"<operation>: <why>"``."""
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = st.one_of(
            operation.as_strategy(mode, headers=headers)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        )

        @FUZZ
        @given(case=cases)
        def check(case: Any) -> None:
            response = case.call(base_url=base_url, timeout=10)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # a failed check: name it, go on
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


async def test_schemathesis_finds_no_server_error_and_no_undocumented_status(
    api: Api, api_key: str
) -> None:
    await api.new_dispatch()  # something to read, act on and cancel
    runner = web.AppRunner(create_app(api.ctx))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        spec = await (await api.client.get("/api/v1/openapi.json")).json()
        base_url = f"http://127.0.0.1:{port}"
        failures = await asyncio.to_thread(_fuzz, spec, base_url, api_key)
    finally:
        await runner.cleanup()
    assert failures == [], "\n\n".join(failures)
