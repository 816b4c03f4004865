"""utils.data.acquire.download: resumes an interrupted download, restarts when the server ignores
ranges.

Served from this machine's loopback only.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from utils.data import acquire

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB


class _Handler(http.server.BaseHTTPRequestHandler):
    honour_range = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        start = 0
        header = self.headers.get("Range")
        if header and self.honour_range:
            start = int(header.split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(params=[True, False], ids=["range", "no-range"])
def server(request):
    handler = type("H", (_Handler,), {"honour_range": request.param})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/sample.zip"
    httpd.shutdown()


def test_download_resumes_or_restarts_and_is_complete(server, tmp_path: Path) -> None:
    target = tmp_path / "sample.zip"
    target.with_name("sample.zip.part").write_bytes(PAYLOAD[:300_000])  # an interrupted earlier run
    acquire.download(server, target)
    assert target.read_bytes() == PAYLOAD
    assert not target.with_name("sample.zip.part").exists()
