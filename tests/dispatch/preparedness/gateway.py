"""A small SMS gateway for tests: a real HTTP server on a thread of the test process.

It takes messages as the service posts them (bearer token, `Idempotency-Key`), keeps one
per key (a repeated key gets the first answer back, as a real gateway's idempotency does),
records every post it saw, and can be switched down (503), made to lose its answers (it
keeps the message and answers 500, as if the connection dropped), or to refuse (400). It
sends replies and delivery reports to the service's webhook, and can replay one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

TOKEN = "test-gateway-token-0123456789"


@dataclass
class Post:
    key: str | None
    to: str
    text: str
    answered: int


@dataclass
class Gateway:
    url: str = ""
    mode: str = "up"  # up | down | lose_answer | refuse
    posts: list[Post] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency key
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.mode == "down":
                status, answer = 503, {"error": "down"}
            elif self.mode == "refuse":
                status, answer = 400, {"error": "bad number"}
            else:
                known = self.messages.get(key or "")
                if known is None:
                    known = {**body, "id": f"gw-{len(self.messages) + 1}"}
                    self.messages[key or ""] = known
                status, answer = (500, {}) if self.mode == "lose_answer" else (200, known)
            self.posts.append(Post(key, body.get("to", ""), body.get("text", ""), status))
            return status, answer

    def to(self, phone: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages.values() if m["to"] == phone]


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, answer = 401, {"error": "token"}
            else:
                status, answer = gateway.take(self.headers.get("Idempotency-Key"), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the phones it receives stay out of the test output."""

    return Handler


@contextmanager
def running_gateway() -> Iterator[Gateway]:
    gateway = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gateway))
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/send"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def webhook(base_url: str, body: dict[str, Any], token: str | None = TOKEN) -> httpx.Response:
    """What the gateway posts to the service: a reply or a delivery report."""
    headers = {} if token is None else {"X-Gateway-Token": token}
    return httpx.post(f"{base_url}/api/callouts/sms/inbound", json=body, headers=headers)


def reply(base_url: str, reply_id: str, phone: str, text: str, **extra: Any) -> httpx.Response:
    body = {"kind": "reply", "id": reply_id, "phone": phone, "text": text, **extra}
    return webhook(base_url, body)
