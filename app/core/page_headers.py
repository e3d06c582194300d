"""Headers that keep pages from being framed, leaking their URLs or running foreign scripts.

Every HTML response gets a Content-Security-Policy (scripts only from this server; frames
of this app nowhere: clickjacking a Publish or Revoke button is off the table),
`X-Frame-Options: DENY` for browsers without CSP, a same-origin Referrer-Policy (a page's
URL may name agents and executions) and `nosniff`. Pure ASGI: the headers are added as the
response starts, whatever route made it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Styles may be inline (htmx injects its indicator style, templates use style attributes);
# scripts may not, except on the Swagger UI page, whose start-up script is inline.
_POLICY = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_PAGE_POLICY = _POLICY.format(scripts="").encode()
_DOCS_POLICY = _POLICY.format(scripts=" 'unsafe-inline'").encode()
_FIXED = [
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
]


class PageHeadersMiddleware:
    """Add the page security headers to every text/html response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = _DOCS_POLICY if scope["path"] == "/docs" else _PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and _is_html(message):
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"content-security-policy", policy),
                    *_FIXED,
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_html(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if name == b"content-type":
            return bool(value.startswith(b"text/html"))
    return False
