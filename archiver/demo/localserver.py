"""A tiny static HTTP server on 127.0.0.1, used by ``archiver demo`` (and by the tests).

It serves files from ``root`` (which can be switched while it runs, to serve a site "after an
edit"), with a strong ETag computed from the content and 304 answers to ``If-None-Match``, the
way a real static host behaves. It never binds anything but loopback.
"""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit


class StaticHandler(BaseHTTPRequestHandler):
    """Serves ``server.root``; subclasses may add routes by overriding :meth:`route`."""

    server: StaticServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the demo and the tests print their own output

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        try:
            if not self.route():
                self.serve_file()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (timed out, or was killed)

    def route(self) -> bool:
        """Handle special paths; return True if the request was answered."""
        return False

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def serve_file(self) -> None:
        root = self.server.root.resolve()
        rel = posixpath.normpath(unquote(urlsplit(self.path).path)).lstrip("/")
        target = (root / rel).resolve()
        if target.is_dir():
            target = target / "index.html"
        if root not in target.parents and target != root or not target.is_file():
            self.send_body(404, b"<h1>Not found</h1>", "text/html; charset=utf-8")
            return
        body = target.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/"):
            ctype += "; charset=utf-8"
        self.send_body(200, body, ctype, {"ETag": etag})


class StaticServer(ThreadingHTTPServer):
    """A threaded server on 127.0.0.1 (an ephemeral port unless given) serving ``root``.

    >>> with StaticServer(Path("site_v1")) as server:      # doctest: +SKIP
    ...     print(server.url)                               # http://127.0.0.1:PORT/
    ...     server.root = Path("site_v2")                   # now serve the edited site
    """

    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, handler: type[StaticHandler] = StaticHandler) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.root = root
        self._thread = threading.Thread(target=self.serve_forever, name="static-server", daemon=True)

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client disconnects mid-answer (timeouts and kills are the point here)."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def __enter__(self) -> StaticServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
