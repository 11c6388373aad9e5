"""HTTP front: routing, token checks, injected HTTP faults, request ids, the request log.

Every answer (errors, control calls, unknown paths) carries `x-openstack-request-id`, and
nothing a client sends can produce a traceback: unexpected exceptions become a 500 in the
service's own error shape and are logged on stderr.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import blockstorage, compute, control, identity, image, snapshots, versions
from .clock import zulu_time
from .errors import CONTROL, UNAUTHENTICATED, ApiError, error_body, family_of
from .faults import Fault
from .requestlog import RequestLog
from .state import World
from .web import Call, Reply, Route

MAX_BODY = 16 * 1024 * 1024


class App:
    """The simulator: a world, its routes and its request log."""

    def __init__(
        self,
        scenario: dict[str, Any],
        speed: float,
        *,
        quiet: bool = True,
        glance_release: str = "legacy",
    ) -> None:
        self.initial_scenario = scenario
        self.initial_speed = speed
        self.initial_glance_release = glance_release
        self.world = World(scenario, speed, glance_release)
        self.log = RequestLog()
        self.quiet = quiet
        self.routes: list[Route] = [
            *versions.ROUTES,
            *identity.ROUTES,
            *blockstorage.ROUTES,
            *snapshots.ROUTES,
            *image.ROUTES,
            *compute.ROUTES,
            *control.ROUTES,
        ]

    # -- one request ----------------------------------------------------------------------

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        received_at = self.world.now()
        generation = self.log.generation
        split = urlsplit(handler.path)
        path = unquote(split.path) or "/"
        call = Call(
            method=handler.command,
            path=path,
            query=parse_qs(split.query, keep_blank_values=True),
            query_string=split.query,
            headers=handler.headers,
            body=b"",
            base_url=self._base_url(handler),
            request_id=f"req-{uuid.uuid4()}",
            world=self.world,
            app=self,
            received_at=received_at,
            generation=generation,
        )
        match = self._match(call.method, path)
        reply = None
        try:
            call.body = _read_body(handler)
        except ValueError as error:
            handler.close_connection = True
            reply = self._error(match.family, ApiError(400, str(error)))
        # A call received before a reset takes none of the faults set up after it.
        stale = not self.log.current(generation)
        taking = match.family != CONTROL and reply is None and not stale
        fault = self._take_fault(call) if taking else None
        if fault:
            time.sleep(fault.spec.get("latency") or 0)
            if fault.spec.get("reset"):
                self._record(call, match.template, None, started)
                _reset_connection(handler)
                return
            if fault.spec.get("status") and not fault.spec.get("acted"):
                reply = self._injected_error(match.family, fault)
        if reply is None:
            reply = self._dispatch(call, match)
        if fault and fault.spec.get("acted"):
            # K5 did what was asked, then something failed before the answer: the client sees
            # an error for a call that took effect.
            reply = self._injected_error(match.family, fault)
        if fault and fault.spec.get("answer_html") is not None:
            # K5 acted, but what comes back is a page from something in front of it (a proxy,
            # a gateway), whatever K5 answered.
            reply = _html_page(fault.spec["answer_html"])
        if fault and fault.spec.get("delay_answer") is not None:
            # K5 acted; only its answer is late (a slow gateway, a stalled connection): the log
            # shows the request as handled now, and a client that gives up meanwhile finds the
            # effect in K5 anyway.
            self._record(call, match.template, reply.status, started)
            time.sleep(fault.spec["delay_answer"])
            self._send(handler, call, reply)
            return
        # Logged before the answer leaves: a client that reads the log right after its call
        # returns must find that call there.
        if match.family != CONTROL:
            self._record(call, match.template, reply.status, started)
        self._send(handler, call, reply)

    def _match(self, method: str, path: str) -> Match:
        normalized = path.rstrip("/") or "/"
        lookup = "GET" if method == "HEAD" else method
        other_method = None
        for route in self.routes:
            found = route.regex.fullmatch(normalized)
            if found:
                if route.method == lookup:
                    return Match(route, found.groupdict(), route.template, route.family)
                other_method = other_method or route
        if other_method:
            return Match(
                None, {}, other_method.template, other_method.family, method_not_allowed=True
            )
        return Match(None, {}, path, family_of(path))

    def _take_fault(self, call: Call) -> Fault | None:
        with self.world.lock:
            return self.world.faults.take_http(call.method, call.path, action_of(call))

    def _injected_error(self, family: str, fault: Fault) -> Reply:
        status = fault.spec["status"]
        return self._error(
            family, ApiError(status, f"Injected fault {fault.id}: simulated {status}")
        )

    def _dispatch(self, call: Call, match: Match) -> Reply:
        family, route = match.family, match.route
        try:
            if match.method_not_allowed:
                raise ApiError(405, f"The method {call.method} is not allowed for this resource.")
            if route is None:
                raise ApiError(404, f"The resource could not be found: {call.path}")
            call.params = match.params
            call.project_id = call.params.get("project_id")
            with self.world.lock:
                self.world.catch_up()
                if route.auth:
                    self._authenticate(call)
                return route.handler(call)
        except ApiError as error:
            return self._error(error.family or family, error)
        except Exception:  # a simulator bug must not become a traceback
            print(
                f"k5sim: error handling {call.method} {call.path} ({call.request_id})",
                file=sys.stderr,
            )
            traceback.print_exc()
            return self._error(
                family,
                ApiError(
                    500,
                    "The server has either erred or is "
                    "incapable of performing the requested "
                    "operation.",
                ),
            )

    def _authenticate(self, call: Call) -> None:
        token = self.world.valid_token(call.headers.get("X-Auth-Token", "").strip())
        if token is None:
            raise ApiError(
                401,
                UNAUTHENTICATED,
                headers={"WWW-Authenticate": f'Keystone uri="{call.url("/identity/v3")}"'},
            )
        call.token = token
        url_project = call.params.get("project_id")
        if url_project and url_project != token.project_id:
            # What cinder/nova `api/openstack/wsgi.py` answer for another project's URL.
            raise ApiError(
                400,
                f"Malformed request URL: URL's project_id '{url_project}' "
                f"doesn't match Context's project_id '{token.project_id}'",
            )
        call.project_id = call.project_id or token.project_id

    def _error(self, family: str, error: ApiError) -> Reply:
        return Reply(
            error.status,
            error_body(family, error.status, error.message, error.extra),
            dict(error.headers),
        )

    # -- the wire -------------------------------------------------------------------------

    def _base_url(self, handler: BaseHTTPRequestHandler) -> str:
        host = handler.headers.get("Host")
        if not host:
            address, port = handler.server.server_address[:2]
            host = f"{address}:{port}"
        return f"http://{host}"

    def _send(self, handler: BaseHTTPRequestHandler, call: Call, reply: Reply) -> int:
        body = reply.body
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        try:
            handler.send_response(reply.status)
            if data and "Content-Type" not in reply.headers:
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("x-openstack-request-id", call.request_id)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if call.method != "HEAD" and data:
                handler.wfile.write(data)
        except OSError:
            handler.close_connection = True
        return reply.status

    def _record(self, call: Call, template: str, status: int | None, started: float) -> None:
        elapsed = time.monotonic() - started
        self.log.record(
            {
                "method": call.method,
                "path": call.path,
                "query": call.query_string,
                "template": template,
                "status": status,
                "reset": status is None,
                "project_id": call.project_id,
                "user_id": call.user_id,
                "auth_method": call.auth_method,
                "action": action_of(call),
                "request_id": call.request_id,
                "time": zulu_time(time.time()),
                "received_at": call.received_at,
                "duration_ms": round(elapsed * 1000, 1),
            },
            call.generation,
        )
        if not self.quiet:
            print(
                f"{call.method} {call.path} {status if status else 'RESET'} "
                f"{elapsed * 1000:.0f}ms {call.request_id}",
                file=sys.stderr,
                flush=True,
            )


@dataclass
class Match:
    route: Route | None
    params: dict[str, str]
    template: str  # the request-log key; the raw path when nothing matched
    family: str
    method_not_allowed: bool = False


def action_of(call: Call) -> str | None:
    """The action a POST to `.../action` asks for (`os-stop`, `fcx-restore`,
    `os-volume_upload_image`): the body's one top-level key; None for anything else."""
    if call.method != "POST" or not call.path.rstrip("/").endswith("/action"):
        return None
    try:
        body = json.loads(call.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return next(iter(body)) if isinstance(body, dict) and len(body) == 1 else None


def _html_page(status: int) -> Reply:
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>proxy</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    # HTTP forbids a body on 204 and 304: those come back empty, still labelled HTML.
    body = b"" if status in (204, 304) else page.encode()
    return Reply(status, body, {"Content-Type": "text/html"})


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks, total = [], 0
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise ValueError("Request body too large")
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    try:
        length = int(handler.headers.get("Content-Length") or 0)
    except ValueError:
        raise ValueError("Invalid Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise ValueError("Request body too large")
    return handler.rfile.read(length) if length else b""


def _reset_connection(handler: BaseHTTPRequestHandler) -> None:
    """Drop the connection with a TCP RST, without answering (a load balancer reset)."""
    handler.close_connection = True
    sock = handler.connection
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # a benchmark opens hundreds of connections at once
    allow_reuse_address = True


def make_server(app: App, host: str, port: int) -> SimServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "k5sim"
        timeout = 300  # idle keep-alive connections are dropped after this
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def do_GET(self) -> None:
            app.serve(self)

        do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            # Malformed request lines and unknown verbs: still JSON with a request id.
            body = json.dumps(
                error_body(
                    family_of(getattr(self, "path", "/") or "/"), code, message or "Bad request"
                )
            ).encode()
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-openstack-request-id", f"req-{uuid.uuid4()}")
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # App._record writes one line per request instead

    return SimServer((host, port), Handler)
