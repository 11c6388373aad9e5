"""A small OpenID Connect provider for the single sign-on tests: discovery, JWKS, authorize
(answers at once with a code for whoever the test says signs in), token (client secret, code
once, PKCE S256) and userinfo, with RS256-signed id_tokens. A real HTTP server on a free
loopback port, in a thread of the test process.

    with OpenIDProvider(client_id="portal", client_secret="s3cret") as provider:
        provider.next_sign_in = {"sub": "u-1", "groups": ["imaging-dev"]}
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


class OpenIDProvider:
    def __init__(self, *, client_id: str, client_secret: str):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        # Who signs in at the next authorization: claims for the id_token (sub required).
        self.next_sign_in: dict[str, Any] = {}
        # What the id_token says besides the claims, for tests of a forged or misdirected one.
        self.id_token_overrides: dict[str, Any] = {}
        self.signing_key = self.key  # another key here: a signature the JWKS does not verify
        self.log: list[str] = []
        self._codes: dict[str, dict[str, Any]] = {}
        self._access_tokens: dict[str, dict[str, Any]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.provider = self  # type: ignore[attr-defined]
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OpenIDProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the endpoints --------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, {"error": "invalid_request"}
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "claims": dict(self.next_sign_in),
            "nonce": query.get("nonce"),
            "redirect_uri": query["redirect_uri"],
            "challenge": query.get("code_challenge"),
        }
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": target}, None

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return 401, {}, {"error": "invalid_client"}
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {}, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if grant["challenge"] and digest.rstrip(b"=").decode() != grant["challenge"]:
            return 400, {}, {"error": "invalid_grant", "error_description": "PKCE"}
        access_token = secrets.token_urlsafe(24)
        self._access_tokens[access_token] = grant["claims"]
        now = int(time.time())
        id_token = jwt.encode(
            {
                "iss": self.issuer,
                "aud": self.client_id,
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                **grant["claims"],
                **self.id_token_overrides,
            },
            self.signing_key,
            algorithm="RS256",
            headers={"kid": self.kid},
        )
        body = {"access_token": access_token, "token_type": "Bearer", "id_token": id_token}
        return 200, {}, {**body, "expires_in": 300}

    def userinfo(self, authorization: str) -> tuple[int, dict[str, str], Any]:
        claims = self._access_tokens.get(authorization.removeprefix("Bearer "))
        if claims is None:
            return 401, {}, {"error": "invalid_token"}
        # The profile claims only; the groups are in the id_token.
        return 200, {}, {k: v for k, v in claims.items() if k != "groups"}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        provider: OpenIDProvider = self.server.provider  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        provider.log.append(f"GET {url.path}")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self._answer(200, {}, provider.discovery())
        elif url.path == "/jwks":
            self._answer(200, {}, provider.jwks())
        elif url.path == "/authorize":
            self._answer(*provider.authorize(query))
        elif url.path == "/userinfo":
            self._answer(*provider.userinfo(self.headers.get("Authorization", "")))
        else:
            self._answer(404, {}, {"error": "not_found"})

    def do_POST(self) -> None:
        provider: OpenIDProvider = self.server.provider  # type: ignore[attr-defined]
        provider.log.append(f"POST {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.path == "/token":
            self._answer(*provider.token(form))
        else:
            self._answer(404, {}, {"error": "not_found"})

    def _answer(self, status: int, headers: dict[str, str], body: Any) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
