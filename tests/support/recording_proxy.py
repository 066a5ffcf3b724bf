"""A recording HTTP proxy in front of an OpenAI-compatible server (a real llama.cpp one):
every JSON request body is kept in ``requests``, answers (SSE streams too) pass through
as they come. For tests that check what the server sent a real model."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class RecordingProxy:
    def __init__(self, upstream: str) -> None:
        """``upstream``: the server's base URL (``http://host:port/v1``)."""
        self.upstream = urllib.parse.urlsplit(upstream)
        self.requests: list[dict[str, Any]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._forward(self, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    proxy.requests.append(json.loads(body or b"{}"))
                except ValueError:
                    proxy.requests.append({"invalid": body.decode(errors="replace")})
                proxy._forward(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.upstream.path}"

    def start(self) -> RecordingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        assert self.upstream.hostname and self.upstream.port
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=600)
        headers = {
            k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}
        }
        conn.request(handler.command, handler.path, body=body or None, headers=headers)
        response = conn.getresponse()
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            while True:
                piece = response.read1(65536)
                if not piece:
                    break
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        finally:
            conn.close()
