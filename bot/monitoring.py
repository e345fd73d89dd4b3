"""``GET /healthz`` and ``GET /metrics`` over aiohttp, for a running bot.

``routes(application)`` are the two routes, to mount on any aiohttp server (the webhook
server mounts them beside its own); ``monitoring_app(application)`` is an
``aiohttp.web.Application`` serving them with the event-loop lag probe running while it
runs; ``serving(application, host, port)`` runs that on its own address (polling mode:
``workledger run --metrics 127.0.0.1:9100``).

``/healthz`` answers 200 when the store answers, its schema is the code's Alembic head
and the outbox sender is running and recorded its heartbeat in the store within the
last ``bot.delivery.DEAD_AFTER`` (after which other processes take its messages over);
otherwise 503, with the reasons, as JSON.
``/metrics`` is the text format of ``prometheus_client`` (``bot.metrics``), the outbox
depth counted when scraped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest

from bot.delivery import DEAD_AFTER
from bot.metrics import LoopLagProbe, Metrics, metrics_of
from handlers.context import WorkledgerApplication
from storage import migrate

log = logging.getLogger(__name__)

# ``generate_latest`` writes the classic text format, 0.0.4, whatever the library's
# CONTENT_TYPE_LATEST says (1.0.0 in recent versions): name the format it really is.
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
# A check or the outbox count waits this long for the store, then gives up.
STORE_TIMEOUT = 2.0
SENDER_TASK = "outbox-sender"


async def health(application: WorkledgerApplication) -> dict[str, Any]:
    """Each check's result (``"ok"`` or why not), and ``healthy`` if all are ok."""
    checks: dict[str, str] = {}
    data = application.bot_data
    try:
        database = data.database
    except RuntimeError:
        checks["database"] = "not open: the bot has not started, or is stopping"
        checks["schema"] = "unknown"
    else:
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                current = await migrate.current_revision(database.engine)
        except TimeoutError:
            checks["database"] = f"no answer within {STORE_TIMEOUT:g} s"
            checks["schema"] = "unknown"
        except Exception as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
            checks["schema"] = "unknown"
        else:
            checks["database"] = "ok"
            head = migrate.head_revision()
            checks["schema"] = (
                "ok" if current == head else f"at {current or 'nothing'}, the code needs {head}"
            )
    senders = [task for task in data.background if task.get_name() == SENDER_TASK]
    if not senders:
        checks["sender"] = "not running"
    elif senders[0].done():
        checks["sender"] = "stopped"
    else:
        # Running is not enough: a sender that cannot record its heartbeat (the store
        # refusing its writes, a stall) is taken for dead by the other processes.
        age = metrics_of(application).sender_beat_age()
        limit = DEAD_AFTER.total_seconds()
        if age is None:
            checks["sender"] = "not started"
        elif age > limit:
            checks["sender"] = f"no heartbeat for {age:.0f} s (dead after {limit:g} s)"
        else:
            checks["sender"] = "ok"
    return {"healthy": all(value == "ok" for value in checks.values()), "checks": checks}


async def count_outbox(application: WorkledgerApplication, metrics: Metrics) -> None:
    """Count the outbox's unfinished messages into ``metrics`` (kept as they were on failure)."""
    try:
        database = application.bot_data.database
    except RuntimeError:
        return
    try:
        async with asyncio.timeout(STORE_TIMEOUT):
            async with database.uow() as uow:
                counts = await uow.outbox.depth()
    except Exception as error:
        log.warning("could not count the outbox for /metrics: %s", type(error).__name__)
        return
    metrics.set_outbox(counts)


def routes(application: WorkledgerApplication) -> list[web.RouteDef]:
    """``GET /healthz`` and ``GET /metrics`` for ``application``."""
    metrics = metrics_of(application)

    async def healthz(request: web.Request) -> web.Response:
        result = await health(application)
        status = 200 if result["healthy"] else 503
        body = {"status": "ok" if result["healthy"] else "unavailable", **result}
        return web.json_response(body, status=status)

    async def scrape(request: web.Request) -> web.Response:
        await count_outbox(application, metrics)
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": TEXT_FORMAT}
        )

    return [web.get("/healthz", healthz), web.get("/metrics", scrape)]


def monitoring_app(application: WorkledgerApplication) -> web.Application:
    """An aiohttp application serving ``routes``, probing the event loop while it runs."""
    app = web.Application()
    app.add_routes(routes(application))
    probe = LoopLagProbe(metrics_of(application))

    async def lag_probe(app: web.Application) -> AsyncIterator[None]:
        probe.start()
        yield
        await probe.stop()

    app.cleanup_ctx.append(lag_probe)
    return app


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9100`` for IPv6) as a host and a port."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


@contextlib.asynccontextmanager
async def serving(application: WorkledgerApplication, host: str, port: int) -> AsyncIterator[int]:
    """Serve ``monitoring_app`` on ``host:port`` while inside; yields the port (0: any)."""
    runner = web.AppRunner(monitoring_app(application), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = port
        for address in runner.addresses:
            bound = int(address[1])
            break
        log.info("health and metrics on http://%s:%d/ (/healthz, /metrics)", host, bound)
        yield bound
    finally:
        await runner.cleanup()
