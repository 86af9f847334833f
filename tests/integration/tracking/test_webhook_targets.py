"""Webhooks never go where they must not (issue 12, item 5): refused at registration with a 422
naming the rule, refused again at delivery on every resolved address, no redirect followed, and
no socket error text shown to the integrator."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable
from ipaddress import ip_network
from typing import Any

import pytest
from aiohttp import ClientTimeout, web
from aiohttp.abc import AbstractResolver, ResolveResult
from api_client import Api
from cli_runner import cli_env, free_port
from conftest import eventually
from webhook_receiver import Receiver, receiving

from delivery.api.app import create_app
from delivery.config import load_settings
from delivery.services.webhook_delivery import TIMEOUT, deliver_webhook
from delivery.storage.schema import webhook_endpoints
from tracking.webhook_targets import TargetPolicy
from tracking.webhooks import WebhookClient

# The 17 the issue found accepted or probed, and more of the same kind: (URL, rule).
HOSTILE_URLS = [
    ("http://127.0.0.1:1/", "forbidden-address"),
    ("http://169.254.169.254/latest/meta-data/", "forbidden-address"),
    ("http://[::1]/", "forbidden-address"),
    ("http://10.0.0.1/", "forbidden-address"),
    ("http://2130706433/", "forbidden-address"),
    ("http://0177.0.0.1/", "forbidden-address"),
    ("http://localhost/", "no-localhost"),
    ("http://LOCALHOST./hook", "no-localhost"),
    ("http://hooks.localhost/", "no-localhost"),
    ("http://0x7f000001/", "forbidden-address"),
    ("http://0x7f.1/", "forbidden-address"),
    ("http://127.1/", "forbidden-address"),
    ("http://017700000001/", "forbidden-address"),
    ("http://127.0.0.1.:8080/", "forbidden-address"),
    ("http://０x7f.0.0.1/", "forbidden-address"),  # full-width digits, IDNA-normalised
    ("http://[::ffff:127.0.0.1]/", "forbidden-address"),
    ("http://[::ffff:a9fe:a9fe]/", "forbidden-address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "forbidden-address"),  # NAT64 of 169.254.169.254
    ("http://[2002:7f00:1::]/", "forbidden-address"),  # 6to4 of 127.0.0.1
    ("http://[::127.0.0.1]/", "forbidden-address"),
    ("http://[fe80::1%25eth0]/", "forbidden-address"),
    ("http://[fc00::1]/", "forbidden-address"),
    ("http://0.0.0.0:8080/", "forbidden-address"),
    ("http://0/", "forbidden-address"),
    ("http://[::]/", "forbidden-address"),
    ("http://192.168.1.1/", "forbidden-address"),
    ("http://172.16.0.1/", "forbidden-address"),
    ("http://100.64.0.1/", "forbidden-address"),
    ("http://224.0.0.1/", "forbidden-address"),
    ("http://255.255.255.255/", "forbidden-address"),
    ("https://192.0.2.1/", "forbidden-address"),
    ("http://1.2.3.4.5/", "host-syntax"),
    ("http://%31%32%37.0.0.1/", "host-syntax"),
    ("http://user:secret@hooks.example.com/", "no-credentials"),
    ("https://token@hooks.example.com/", "no-credentials"),
    ("ftp://hooks.example.com/", "absolute-url"),
    ("/relative/hook", "absolute-url"),
]


@pytest.fixture
async def strict_api(api: Api, aiohttp_client: Callable[..., Any]) -> Api:
    """The API under a production-like rule set (http allowed, as in tests, but no allow-list)."""
    settings = load_settings(cli_env(api.ctx, SONGDA_WEBHOOK_ALLOW_HTTP="true"))
    app = create_app(dataclasses.replace(api.ctx, settings=settings))
    return dataclasses.replace(api, client=await aiohttp_client(app))


async def _register(api: Api, url: str) -> tuple[int, Any]:
    response = await api.client.post(
        "/api/v1/webhook-endpoints", json={"url": url}, headers=api.auth
    )
    return response.status, await response.json()


@pytest.mark.parametrize(("url", "rule"), HOSTILE_URLS)
async def test_hostile_urls_are_refused_at_registration_naming_the_rule(
    strict_api: Api, url: str, rule: str
) -> None:
    status, body = await _register(strict_api, url)
    assert status == 422, body
    [error] = body["errors"]
    assert (error["field"], error["rule"]) == ("url", rule)
    assert (await strict_api.table_counts())["webhook_endpoints"] == 0


async def test_https_only_unless_the_operator_allows_http(
    api: Api, aiohttp_client: Callable[..., Any]
) -> None:
    production = load_settings(cli_env(api.ctx))
    app = create_app(dataclasses.replace(api.ctx, settings=production))
    production_api = dataclasses.replace(api, client=await aiohttp_client(app))
    status, body = await _register(production_api, "http://hooks.example.com/songda")
    assert status == 422
    assert body["errors"][0]["rule"] == "https-required"
    status, body = await _register(production_api, "https://hooks.example.com/songda")
    assert status == 201, body


class MappedResolver(AbstractResolver):
    """A DNS answer of the test's choosing (what a rebinding server would send)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.answers[host]
        ]

    async def close(self) -> None:
        return None


async def _only_delivery(api: Api) -> Any:
    response = await api.client.get("/api/v1/webhook-deliveries", headers=api.auth)
    [delivery] = (await response.json())["items"]
    return delivery


async def _first_try(api: Api) -> Any:
    """The only delivery, once the worker has tried it."""

    async def tried() -> Any:
        delivery = await _only_delivery(api)
        return delivery if delivery["tries"] else None

    return await eventually(tried)


async def _deliver_once(api: Api, client: WebhookClient) -> Any:
    delivery = await _only_delivery(api)
    try:
        await deliver_webhook(api.ctx, client, delivery["id"])
    finally:
        await client.close()
    return await _only_delivery(api)


async def _endpoint_named(api: Api, receiver: Receiver) -> None:
    """An endpoint at a public-looking name that reaches ``receiver``'s port, and a delivery."""
    port = receiver.url.rsplit(":", 1)[1]
    await api.register_webhook(f"http://hooks.example.test:{port}", ["dispatch.created"])
    await api.new_dispatch(consent=False)


@pytest.mark.parametrize(
    "answer", [["127.0.0.1"], ["93.184.216.34", "127.0.0.1"], ["::ffff:127.0.0.1"]]
)
async def test_a_name_resolving_to_loopback_at_delivery_is_refused_and_never_connected(
    api: Api, answer: list[str]
) -> None:
    async with receiving(Receiver()) as receiver:
        await _endpoint_named(api, receiver)
        resolver = MappedResolver({"hooks.example.test": answer})
        client = WebhookClient(TargetPolicy(allow_http=True), TIMEOUT, resolver)
        refused = await _deliver_once(api, client)
    assert (refused["state"], refused["last_error"], refused["last_status"]) == (
        "pending",
        "refused",
        None,
    )
    assert receiver.calls == []


async def test_the_same_answer_is_delivered_to_an_allow_listed_network(api: Api) -> None:
    """The control: the test's resolver does reach the receiver, so the refusal above was the
    rule (and an operator's allow-list is what lets an intranet case system through)."""
    async with receiving(Receiver()) as receiver:
        await _endpoint_named(api, receiver)
        resolver = MappedResolver({"hooks.example.test": ["127.0.0.1"]})
        policy = TargetPolicy(allow_http=True, allowed_networks=(ip_network("127.0.0.0/8"),))
        delivered = await _deliver_once(api, WebhookClient(policy, TIMEOUT, resolver))
    assert delivered["state"] == "delivered"
    assert len(receiver.calls) == 1


@pytest.mark.usefixtures("worker")
async def test_an_endpoint_stored_before_the_rules_is_refused_at_delivery(api: Api) -> None:
    endpoint = await api.register_webhook("https://hooks.example.com/songda", ["dispatch.created"])
    async with api.ctx.engine.begin() as conn:
        await conn.execute(
            webhook_endpoints.update()
            .where(webhook_endpoints.c.id == endpoint["id"])
            .values(url="http://169.254.169.254/latest/meta-data/")
        )
    await api.new_dispatch(consent=False)

    delivery = await _first_try(api)
    assert (delivery["last_error"], delivery["last_status"]) == ("refused", None)


@pytest.mark.usefixtures("worker")
async def test_a_closed_port_shows_connection_failed_not_the_socket_error(api: Api) -> None:
    await api.register_webhook(f"http://127.0.0.1:{free_port()}/hook", ["dispatch.created"])
    await api.new_dispatch(consent=False)

    delivery = await _first_try(api)
    assert delivery["last_error"] == "connection failed"


@pytest.mark.usefixtures("worker")
async def test_a_redirect_is_not_followed(api: Api) -> None:
    async with receiving(Receiver()) as target:
        redirected: list[str] = []

        async def redirect(request: web.Request) -> web.Response:
            redirected.append(request.path)
            raise web.HTTPFound(target.url)

        app = web.Application()
        app.router.add_post("/hook", redirect)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            await api.register_webhook(f"http://127.0.0.1:{port}/hook", ["dispatch.created"])
            await api.new_dispatch(consent=False)
            delivery = await _first_try(api)
        finally:
            await runner.cleanup()
        assert redirected == ["/hook"]
        assert (delivery["last_status"], delivery["last_error"]) == (302, "HTTP 302")
        assert delivery["state"] == "pending"  # a failed try, retried on schedule
        assert target.calls == []


async def test_a_slow_receiver_shows_timeout() -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    client = WebhookClient(
        TargetPolicy(allow_http=True, allowed_networks=(ip_network("127.0.0.1/32"),)),
        ClientTimeout(total=0.3),
    )
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        result = await client.post(url, {}, b"{}")
    finally:
        await client.close()
        await runner.cleanup()
    assert (result.status, result.error) == (None, "timeout")
