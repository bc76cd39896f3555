"""`LocalOnly`: the studio answers this machine's own browser, and says what a page may load.

The studio has no authentication; bound to 127.0.0.1 only local programs reach it. Two
things could still reach it through the user's browser: a web page on another site
that names the studio's address (its requests carry that site in `Origin`), and DNS
rebinding (a site's own name made to point at 127.0.0.1: its requests carry that name
in `Host`). Both are refused with a 403, unless the user bound the studio to another
address on purpose (`allow_any_host`). Every response also carries a Content Security
Policy that lets the page load only its own files (no CDN, no inline script).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
          "form-action 'self'")
_HEADERS = [(b"content-security-policy", POLICY.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer")]


def _host_name(value: str) -> str:
    """The name in a Host header or an origin URL, without port or brackets."""
    if "://" in value:
        return (urlsplit(value).hostname or "").lower()
    return (urlsplit("//" + value).hostname or "").lower()


class LocalOnly:
    """ASGI middleware: refuse foreign Host and Origin headers, add the security headers."""

    def __init__(self, app, allow_any_host: bool = False):
        self.app, self.allow_any_host = app, allow_any_host

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in scope.get("headers", [])}
        problem = None
        if not self.allow_any_host:
            if _host_name(headers.get("host", "")) not in LOCAL_NAMES:
                problem = "Host: the studio answers requests to 127.0.0.1 or localhost only"
            elif "origin" in headers and headers["origin"] != "null" and \
                    _host_name(headers["origin"]) not in LOCAL_NAMES:
                problem = "Origin: requests from other sites are refused"
        if problem is not None:
            body = json.dumps({"error": problem}).encode()
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()), *_HEADERS]})
            await send({"type": "http.response.body", "body": body})
            return None

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS]}
            await send(message)

        return await self.app(scope, receive, send_with_headers)
