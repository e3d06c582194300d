"""Webhooks: a signed summary POSTed when a job finishes, each attempt recorded.

Signature header: `Specloom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
with the secret SPECLOOM_WEBHOOK_SECRET (unset: generated once, kept under the data dir).

SSRF: a webhook URL must be http(s), and every address its host resolves to must be public
(not loopback, private, link-local, multicast, reserved) unless the host is listed in
SPECLOOM_WEBHOOK_ALLOWED_HOSTS. Checked at submission and again before every delivery, and
the delivery connects to the address that was checked (the Host header and TLS name stay the
URL's): a name that resolves to a public address for the check and to an internal one a
moment later (DNS rebinding) never reaches the internal one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import InvalidInput, Issue
from app.core.setting_groups import WebhookSettings
from app.core.settings import Settings
from app.jobs.service import counts
from app.models import Job, WebhookDelivery

SIGNATURE_HEADER = "Specloom-Signature"


class WebhookRefused(InvalidInput):
    slug = "webhook-url-refused"
    title = "Webhook URL refused"


class DeliveryFailed(Exception):
    """The receiver did not take the webhook (procrastinate retries the task)."""


def load_secret(settings: Settings) -> str:
    """The signing secret: the setting, or one generated on first use under the data dir."""
    if settings.webhooks.secret:
        return settings.webhooks.secret
    path = settings.data_dir / "webhook_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: float = 300) -> bool:
    """Whether `header` signs `body` with `secret` within `tolerance_s` of now."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    fresh = abs(time.time() - timestamp) <= tolerance_s
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


async def check_url(url: str, allowed_hosts: list[str]) -> str | None:
    """422 unless `url` is http(s) to a public address (or an allowed host); returns the
    checked address to connect to (None for an allowed host: resolved as usual)."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise _refused(url, "must be an http or https URL with a host")
    if host in allowed_hosts:
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise _refused(url, f"the host {host!r} does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not is_public(ipaddress.ip_address(address)):
            raise _refused(
                url,
                f"{host!r} resolves to the non-public address {address}; list the host in "
                "SPECLOOM_WEBHOOK_ALLOWED_HOSTS to allow it",
            )
    if not addresses:
        raise _refused(url, f"the host {host!r} does not resolve")
    return addresses[0]


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be sent to `address`."""
    return address.is_global and not address.is_multicast


async def post_checked(
    client: httpx.AsyncClient, url: str, allowed_hosts: list[str], **request: Any
) -> httpx.Response:
    """Check `url` and POST to the very address that passed the check."""
    address = await check_url(url, allowed_hosts)
    if address is None:
        return await client.post(url, **request)
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + literal
    if parts.port is not None:
        netloc += f":{parts.port}"
    headers = dict(request.pop("headers", {}))
    headers["Host"] = parts.netloc.rpartition("@")[2]
    # TLS still checks the certificate against the URL's name.
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    pinned = urlunsplit(parts._replace(netloc=netloc))
    return await client.post(pinned, headers=headers, extensions=extensions, **request)


def _refused(url: str, why: str) -> WebhookRefused:
    return WebhookRefused(f"webhook_url {why}", issues=[Issue("/webhook_url", f"{url!r}: {why}")])


async def summary(session: AsyncSession, job: Job) -> dict[str, Any]:
    """The body POSTed to the webhook."""
    tally = await counts(session, job.id)
    return {
        "id": str(job.id),
        "agent": job.agent,
        "version": job.version,
        "status": job.status,
        "total": job.total,
        "succeeded": tally["succeeded"],
        "failed": tally["failed"],
        "cancelled": tally["cancelled"],
        "cost_usd": float(tally.cost_usd),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "results_url": f"/v1/jobs/{job.id}/results",
    }


async def deliver(
    sessionmaker: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    *,
    config: WebhookSettings,
    secret: str,
) -> None:
    """POST the job's summary once; record the attempt; raise DeliveryFailed to be retried."""
    async with sessionmaker() as session:
        job = await session.get_one(Job, job_id)
        body = json.dumps(await summary(session, job), separators=(",", ":")).encode()
        earlier = await session.scalar(select(func.count()).where(WebhookDelivery.job_id == job_id))
        attempt = 1 + (earlier or 0)
    url = job.webhook_url
    assert url is not None
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    try:
        timestamp = int(time.time())
        async with httpx.AsyncClient(timeout=config.timeout_s) as client:
            response = await post_checked(
                client,
                url,
                config.allowed_hosts,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(secret, timestamp, body),
                    "Specloom-Job-Id": str(job_id),
                    "Specloom-Delivery-Attempt": str(attempt),
                },
            )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"the receiver answered {status_code}"
    except (httpx.HTTPError, WebhookRefused) as exc:
        error = str(exc) or type(exc).__name__
    async with sessionmaker() as session, session.begin():
        session.add(
            WebhookDelivery(
                job_id=job_id,
                attempt=attempt,
                succeeded=error is None,
                status_code=status_code,
                error=error,
                latency_ms=(time.monotonic() - started) * 1000,
            )
        )
    if error is not None:
        raise DeliveryFailed(error)
