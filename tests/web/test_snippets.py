"""The API page's client snippets send the body they show: run, not read.

The Python snippet once wrote JSON's `true`, `false` and `null` into Python code, a
`NameError` the moment it was run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.web.api_page import snippets

# Every kind of JSON value, and text that needs escaping in each language.
BODY: dict[str, Any] = {
    "flag": True,
    "off": False,
    "nothing": None,
    "count": 3,
    "ratio": -0.25,
    "text": "Quotes ' and \" and `ticks` and ${dollars} and \\ and a\nnew line",
    "unicode": "naïve café — 日本",
    "list": [1, "two", None, {"deep": [False, {}]}],
    "empty": {},
}


class _Echo(BaseHTTPRequestHandler):
    received: list[tuple[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        _Echo.received.append((self.headers["authorization"], json.loads(self.rfile.read(length))))
        payload = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Echo.received = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/agents/demo"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _run(command: list[str]) -> None:
    env = {**os.environ, "SPECLOOM_API_KEY": "sk-test"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_python_snippet_sends_the_body(echo: str) -> None:
    _run([sys.executable, "-c", snippets(echo, BODY)["python"]])
    assert _Echo.received == [("Bearer sk-test", BODY)]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_javascript_snippet_sends_the_body(echo: str) -> None:
    node = shutil.which("node")
    assert node is not None
    _run([node, "--input-type=module", "-e", snippets(echo, BODY)["javascript"]])
    assert _Echo.received == [("Bearer sk-test", BODY)]


def test_the_curl_snippet_sends_the_body(echo: str) -> None:
    if shutil.which("curl") is None or shutil.which("sh") is None:
        pytest.skip("curl is not installed")
    _run(["sh", "-c", snippets(echo, BODY)["curl"]])
    assert _Echo.received == [("Bearer sk-test", BODY)]
