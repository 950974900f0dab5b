"""fetch-model.sh against a local HTTP server: a good archive, a corrupt one, interrupted
downloads resumed (within a run and across runs), the offline archive, the pinned checksums."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import zipfile
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.support import DEPLOY, run

NAME = "vosk-model-test-0.1"
FETCH = DEPLOY / "fetch-model.sh"


def make_archive() -> bytes:
    """A small zip laid out like a Vosk model (top folder named after the model)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{NAME}/README", "test model\n")
        archive.writestr(f"{NAME}/conf/model.conf", "--min-active=200\n")
        archive.writestr(f"{NAME}/am/final.mdl", os.urandom(200_000))
    return buffer.getvalue()


@dataclass
class ModelServer:
    """Serves one archive with HTTP Range support; can cut the first response short."""

    body: bytes
    cut_first_at: int | None = None
    ranges: list[str | None] = field(default_factory=list)
    port: int = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                requested = self.headers.get("Range")
                server.ranges.append(requested)
                start = int(requested.split("=")[1].rstrip("-")) if requested else 0
                if start >= len(server.body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(server.body)}")
                    self.end_headers()
                    return
                self.send_response(206 if requested else 200)
                if requested:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.body) - 1}/{len(server.body)}")
                self.send_header("Content-Length", str(len(server.body) - start))
                self.end_headers()
                if server.cut_first_at is not None and len(server.ranges) == 1:
                    # The connection drops mid-download (Wi-Fi in a shop).
                    self.wfile.write(server.body[: server.cut_first_at])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(server.body[start:])

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


Serve = Callable[[ModelServer], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[ThreadingHTTPServer] = []

    def start(model: ModelServer) -> str:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), model.handler())
        servers.append(httpd)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{httpd.server_address[1]}/{NAME}.zip"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def fetch(dest: Path, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([FETCH, "--dest", dest, *args], check=check, timeout=60)


def test_good_archive_is_verified_and_unpacked(tmp_path: Path, serve: Serve) -> None:
    body = make_archive()
    digest = hashlib.sha256(body).hexdigest()
    server = ModelServer(body)
    url = serve(server)
    fetch(tmp_path, "--name", NAME, "--url", url, "--sha256", digest)
    model = tmp_path / NAME
    assert (model / "conf/model.conf").read_text() == "--min-active=200\n"
    assert (model / ".archive-sha256").read_text().strip() == digest
    assert not list((tmp_path / ".downloads").iterdir())  # the download is cleaned up
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".unpack-")]
    # Again: already there, no download.
    result = fetch(tmp_path, "--name", NAME, "--url", url, "--sha256", digest)
    assert "already" in result.stdout
    assert len(server.ranges) == 1


def test_corrupt_archive_is_refused_and_nothing_unpacked(tmp_path: Path, serve: Serve) -> None:
    body = make_archive()
    digest = hashlib.sha256(body).hexdigest()
    corrupt = bytearray(body)
    corrupt[len(corrupt) // 2] ^= 0xFF
    url = serve(ModelServer(bytes(corrupt)))
    result = fetch(tmp_path, "--name", NAME, "--url", url, "--sha256", digest, check=False)
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert not (tmp_path / NAME).exists()
    # A wrong download is not kept to be "resumed" next time.
    assert not (tmp_path / ".downloads" / f"{NAME}.zip.part").exists()


def test_interrupted_download_resumes_in_the_same_run(tmp_path: Path, serve: Serve) -> None:
    body = make_archive()
    cut = len(body) * 2 // 5
    server = ModelServer(body, cut_first_at=cut)
    url = serve(server)
    result = fetch(tmp_path, "--name", NAME, "--url", url, "--sha256", hashlib.sha256(body).hexdigest())
    assert "resuming" in result.stderr
    assert server.ranges == [None, f"bytes={cut}-"]  # the second request asked only for the rest
    assert (tmp_path / NAME / "am/final.mdl").stat().st_size == 200_000


def test_interrupted_download_resumes_on_the_next_run(tmp_path: Path, serve: Serve) -> None:
    body = make_archive()
    digest = hashlib.sha256(body).hexdigest()
    cut = len(body) // 3
    server = ModelServer(body, cut_first_at=cut)
    url = serve(server)
    first = fetch(tmp_path, "--name", NAME, "--url", url, "--sha256", digest, "--attempts", "1", check=False)
    assert first.returncode != 0
    assert (tmp_path / ".downloads" / f"{NAME}.zip.part").stat().st_size == cut
    assert not (tmp_path / NAME).exists()
    fetch(tmp_path, "--name", NAME, "--url", url, "--sha256", digest)
    assert server.ranges == [None, f"bytes={cut}-"]
    assert (tmp_path / NAME / "README").exists()


def test_offline_archive(tmp_path: Path) -> None:
    body = make_archive()
    archive = tmp_path / "model.zip"
    archive.write_bytes(body)
    fetch(tmp_path / "models", "--name", NAME, "--sha256", hashlib.sha256(body).hexdigest(), "--model-archive", archive)
    assert (tmp_path / "models" / NAME / "README").exists()
    assert archive.exists()  # the operator's copy is left alone


@pytest.mark.parametrize("model", ["en", "de"])
def test_pinned_checksums_apply_to_archives_and_mirrors(tmp_path: Path, serve: Serve, model: str) -> None:
    """--model en|de uses the pinned SHA-256: an archive or a mirror serving other bytes is refused."""
    body = make_archive()
    archive = tmp_path / "model.zip"
    archive.write_bytes(body)
    offline = fetch(tmp_path / "a", "--model", model, "--model-archive", archive, check=False)
    assert offline.returncode != 0 and "checksum mismatch" in offline.stderr
    mirror = fetch(tmp_path / "b", "--model", model, "--url", serve(ModelServer(body)), check=False)
    assert mirror.returncode != 0 and "checksum mismatch" in mirror.stderr
    expected = {"en": "vosk-model-small-en-us-0.15", "de": "vosk-model-small-de-0.15"}[model]
    assert expected in mirror.stderr
    assert not (tmp_path / "a" / expected).exists() and not (tmp_path / "b" / expected).exists()
