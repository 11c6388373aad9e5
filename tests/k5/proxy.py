"""A reverse proxy in front of the simulator that can rewrite K5's answers.

Real clouds misbehave in ways the simulator does not (next links naming an internal host,
relative links, a marker that never advances). The proxy passes every request to the
simulator over real HTTP, points the catalog at itself, and lets a test edit JSON answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

Tamper = Callable[[str, dict], dict]  # (path with query, JSON body) -> JSON body

_HOP_BY_HOP = {
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "content-encoding",
}


class TamperingProxy:
    def __init__(self, upstream: str, tamper: Tamper):
        self.upstream = upstream.rstrip("/")
        self.tamper = tamper
        self.http = requests.Session()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}
                }
                answer = proxy.http.request(
                    self.command,
                    proxy.upstream + self.path,
                    headers=headers,
                    data=body,
                    timeout=30,
                    allow_redirects=False,
                )
                content = answer.content.replace(proxy.upstream.encode(), proxy.url.encode())
                if answer.headers.get("Content-Type", "").startswith("application/json"):
                    edited = proxy.tamper(self.path, json.loads(content))
                    content = json.dumps(edited).encode()
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in _HOP_BY_HOP | {"date", "server"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TamperingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.http.close()
