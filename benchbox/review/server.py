"""The local review server: one page, the clips by opaque id, and a JSON tag endpoint.

Routes (every one needs the session token as ``?t=TOKEN`` or an ``X-Review-Token``
header; without it the answer is 403):

* ``GET /`` - the review page (``page.html``, self-contained, works offline);
* ``GET /api/state`` - the rater's blinded order, current decisions and resume position;
* ``GET /clip/<id>.wav`` - the decoded clip as a plain wav; ``GET /spec/<id>.png`` - its
  spectrogram. Only ids of the review set resolve; any other path is 404;
* ``POST /api/tag`` - ``{"id", "tag", "reasons", "note"}``; committed before the reply.

The server binds 127.0.0.1 on a free port by default and runs in a daemon thread, so
tests and the CLI both hold the returned :class:`ReviewServer` and call ``shutdown()``.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
import secrets
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from benchbox.errors import BenchboxError, ReviewError
from benchbox.review.clips import spectrogram_png, wav_bytes
from benchbox.review.session import ReviewSession
from benchbox.runs import sha256_file
from benchbox.review.store import MAX_NOTE_CHARS

LOOPBACK_HOST = "127.0.0.1"
MAX_BODY_BYTES = 16 * 1024
TOKEN_BYTES = 24
MEDIA_CACHE_ITEMS = 64
SHUTDOWN_POLL_SECONDS = 0.1
_MEDIA_RE = re.compile(r"^/(clip|spec)/([0-9a-f]{1,64})\.(wav|png)$")
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'"
)


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


@functools.lru_cache(maxsize=1)
def page_html() -> bytes:
    return resources.files("benchbox.review").joinpath("page.html").read_bytes()


class ReviewServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one :class:`ReviewSession` and one random token."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, session: ReviewSession, host: str = LOOPBACK_HOST, port: int = 0):
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.session = session
        self.token = secrets.token_urlsafe(TOKEN_BYTES)
        self.thread: threading.Thread | None = None
        self.errors: list[str] = []
        self._media = functools.lru_cache(maxsize=MEDIA_CACHE_ITEMS)(self._render)
        if not 0 <= int(port) <= 65535:
            raise ReviewError(f"--port {port} is not a port number", hint="use 1-65535, or leave --port out for a free one")
        try:
            super().__init__((host, port), _Handler)
        except (OSError, OverflowError) as e:
            unknown_host = isinstance(e, socket.gaierror)
            hint = "check --host: it must be an address of this machine (127.0.0.1 by default)" if unknown_host else \
                "pick another --port, or leave it out for a free one"
            raise ReviewError(f"cannot listen on {host}:{port} ({getattr(e, 'strerror', None) or e})", hint=hint) from None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = self.server_address[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/?t={self.token}"

    def media(self, kind: str, clip_id: str) -> bytes:
        """The clip's audio or spectrogram from a copy that holds its audio now.

        Cached by content: the clip's audio hash and the served file's byte hash, so a
        file rewritten on disk is never answered from the cache (ReviewError -> 404 when
        no copy holds the reviewed audio any more; the next page state lists the clips as they are).
        """
        clip = self.session.clip(clip_id)  # unknown id -> ReviewError -> 404
        for path, _, _ in clip.all_copies:
            try:
                return self._media(kind, clip.sha256, str(path), sha256_file(path))
            except (OSError, BenchboxError):  # gone or changed: try the next copy
                continue
        self.session.refresh()
        raise ReviewError(f"clip {clip_id} changed on disk since the page loaded", hint="reload the page")

    def _render(self, kind: str, sha256: str, path: str, file_sha256: str) -> bytes:
        return wav_bytes(path, sha256) if kind == "clip" else spectrogram_png(path, sha256)

    def handle_error(self, request, client_address) -> None:
        """Keep unexpected handler errors for the CLI to report; a client hanging up is not one."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            self.errors.append(f"{type(error).__name__}: {error}")

    def stop(self) -> None:
        """Stop serving and close the socket (committed tags are already on disk)."""
        self.shutdown()
        self.server_close()
        if self.thread is not None:
            self.thread.join()


def serve(session: ReviewSession, *, host: str = LOOPBACK_HOST, port: int = 0) -> ReviewServer:
    """Start serving ``session`` in a daemon thread; return the server (``.url``, ``.stop()``)."""
    server = ReviewServer(session, host, port)
    loop = functools.partial(server.serve_forever, poll_interval=SHUTDOWN_POLL_SECONDS)
    server.thread = threading.Thread(target=loop, name="benchbox-review", daemon=True)
    server.thread.start()
    return server


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "benchbox-review"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - http.server signature; the library stays quiet
        pass

    # ---------------------------------------------------------------- routing

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path = self._authorised_path()
        if path is None:
            return
        if path == "/":
            return self._send(HTTPStatus.OK, page_html(), "text/html; charset=utf-8")
        if path == "/api/state":
            return self._send_json(HTTPStatus.OK, self.server.session.state())
        match = _MEDIA_RE.match(path)
        if match is None or (match.group(1), match.group(3)) not in (("clip", "wav"), ("spec", "png")):
            return self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})
        try:
            body = self.server.media(match.group(1), match.group(2))
        except BenchboxError:
            return self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})
        self._send(HTTPStatus.OK, body, "audio/wav" if match.group(1) == "clip" else "image/png")

    def do_POST(self) -> None:  # noqa: N802
        path = self._authorised_path(drain=True)
        if path is None:
            return
        if path != "/api/tag":
            self._drain()
            return self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})
        body = self._read_json()
        if body is None:
            return
        status, reply = _tag_request(self.server.session, body)
        self._send_json(status, reply)

    # ---------------------------------------------------------------- helpers

    def _authorised_path(self, drain: bool = False) -> str | None:
        parts = urlsplit(self.path)
        given = parse_qs(parts.query).get("t", [""])[0] or self.headers.get("X-Review-Token", "")
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            if drain:
                self._drain()
            self._send_json(HTTPStatus.FORBIDDEN, {"error": "missing or wrong session token"})
            return None
        return parts.path

    def _content_length(self) -> int | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None
        return length if length >= 0 else None

    def _drain(self) -> None:
        length = self._content_length()
        if length is None or length > MAX_BODY_BYTES:
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    def _read_json(self) -> dict | None:
        length = self._content_length()
        if length is None:
            self.close_connection = True
            self._send_json(HTTPStatus.LENGTH_REQUIRED, {"error": "a Content-Length header is required"})
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return None
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        if not isinstance(body, dict):
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object"})
            return None
        return body

    def _send_json(self, status: HTTPStatus, obj: dict) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", _CSP)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _tag_request(session: ReviewSession, body: dict) -> tuple[HTTPStatus, dict]:
    """Validate and commit one POSTed decision; map problems to 4xx answers."""
    unknown = sorted(set(body) - {"id", "tag", "reasons", "note"})
    if unknown:
        return HTTPStatus.BAD_REQUEST, {"error": f"unknown field {unknown[0]!r}"}
    clip_id, note = body.get("id"), body.get("note", "")
    if not isinstance(clip_id, str):
        return HTTPStatus.BAD_REQUEST, {"error": "'id' must be a clip id string"}
    try:
        session.clip(clip_id)
    except ReviewError as e:
        return HTTPStatus.NOT_FOUND, {"error": e.message}
    if isinstance(note, str) and len(note) > MAX_NOTE_CHARS:
        return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"note over {MAX_NOTE_CHARS} characters"}
    reasons = body.get("reasons", [])
    if not isinstance(reasons, list):
        return HTTPStatus.BAD_REQUEST, {"error": "'reasons' must be a list"}
    try:
        saved = session.tag(clip_id, body.get("tag"), reasons, note)
    except ReviewError as e:
        return HTTPStatus.BAD_REQUEST, {"error": e.message}
    return HTTPStatus.OK, {"ok": True, **saved}
