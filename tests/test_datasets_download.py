"""Downloads against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import scipy.io

from hsbench.cli import main
from hsbench.datasets import catalog, open_dataset
from hsbench.datasets.catalog import CatalogEntry, RemoteFile
from hsbench.datasets.download import download_dataset, verify_dataset
from hsbench.errors import DatasetError

PAYLOAD = bytes(np.random.default_rng(5).integers(0, 256, size=300_000, dtype=np.uint8))


class Server:
    """Serves ``files`` with Range support; ``cut`` makes the first GET of a file stop halfway."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cut: set[str] = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append((name, self.headers.get("Range")))
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if name in server.cut:
                    server.cut.discard(name)
                    self.wfile.write(body[start : start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _entry(url: str, sha256: str | None = None, md5: str | None = None) -> CatalogEntry:
    return CatalogEntry(
        name="toy", title="toy", description="toy set", files=(RemoteFile("toy.bin", url + "toy.bin", sha256=sha256, md5=md5),),
        dataset_class="hsbench.datasets.scenes:MatSceneDataset", format="bin", bit_depth=8, bands="1",
        band_selection="all", value_range="-", split_policy="none", license="CC0", citation="-", homepage=url,
    )


@pytest.fixture()
def toy(monkeypatch: pytest.MonkeyPatch, server: Server) -> CatalogEntry:
    server.files["toy.bin"] = PAYLOAD
    entry = _entry(server.url, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    monkeypatch.setitem(catalog.CATALOG, "toy", entry)
    monkeypatch.delenv("HSBENCH_OFFLINE", raising=False)
    return entry


def test_download_success_then_verify(tmp_path: Path, toy: CatalogEntry, server: Server) -> None:
    folder = download_dataset("toy", tmp_path, retries=0, progress=False)
    assert (folder / "toy.bin").read_bytes() == PAYLOAD
    assert [r.status for r in verify_dataset("toy", tmp_path)] == ["ok"]
    download_dataset("toy", tmp_path, retries=0, progress=False)
    assert len(server.requests) == 1  # present with the right hash: not fetched again
    (folder / "toy.bin").write_bytes(PAYLOAD[:-1] + b"x")
    assert [r.status for r in verify_dataset("toy", tmp_path)] == ["mismatch"]


def test_resume_of_a_partial_file(tmp_path: Path, toy: CatalogEntry, server: Server) -> None:
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "toy.bin.part").write_bytes(PAYLOAD[:100_000])
    download_dataset("toy", tmp_path, retries=0, progress=False)
    assert server.requests == [("toy.bin", "bytes=100000-")]
    assert (folder / "toy.bin").read_bytes() == PAYLOAD
    assert not (folder / "toy.bin.part").exists()


def test_interrupted_transfer_resumes_on_retry(tmp_path: Path, toy: CatalogEntry, server: Server) -> None:
    server.cut.add("toy.bin")
    download_dataset("toy", tmp_path, retries=1, progress=False)
    assert server.requests[0] == ("toy.bin", None)
    resumed_at = int(str(server.requests[1][1]).removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= len(PAYLOAD) // 2  # only the missing bytes were asked for
    assert (tmp_path / "toy" / "toy.bin").read_bytes() == PAYLOAD


def test_hash_mismatch_is_a_clear_error_and_removes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Server) -> None:
    server.files["toy.bin"] = PAYLOAD
    monkeypatch.setitem(catalog.CATALOG, "toy", _entry(server.url, md5="0" * 32))
    with pytest.raises(DatasetError, match="failed its hash check and was removed"):
        download_dataset("toy", tmp_path, retries=0, progress=False)
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == []


def test_server_down_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(catalog.CATALOG, "toy", _entry(f"http://127.0.0.1:{port}/"))
    with pytest.raises(DatasetError, match=r"could not download http://127\.0\.0\.1.*HSBENCH_MIRROR_TOY"):
        download_dataset("toy", tmp_path, retries=0, progress=False)


def test_offline_refuses_to_download(tmp_path: Path, toy: CatalogEntry, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HSBENCH_OFFLINE", "1")
    with pytest.raises(DatasetError, match="HSBENCH_OFFLINE=1 forbids downloads"):
        download_dataset("toy", tmp_path, retries=0, progress=False)
    assert server.requests == []


def test_indian_pines_via_mirror_then_open(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog entry end to end: mirror setting, content check, SHA256SUMS, open + tiles."""
    import io

    scene = np.random.default_rng(2).integers(0, 9000, size=(145, 145, 200)).astype(np.uint16)
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"indian_pines_corrected": scene})
    server.files["Indian_pines_corrected.mat"] = buf.getvalue()
    monkeypatch.delenv("HSBENCH_OFFLINE", raising=False)
    monkeypatch.setenv("HSBENCH_MIRROR_INDIAN_PINES", server.url + "mirror/")
    with pytest.raises(DatasetError, match="hsbench datasets download indian-pines"):
        open_dataset("indian-pines", tmp_path / "elsewhere")
    assert main(["datasets", "download", "indian-pines", "--data-root", str(tmp_path), "--quiet", "--retries", "0"]) == 0
    assert "Indian_pines_corrected.mat" in (tmp_path / "indian-pines" / "SHA256SUMS").read_text()
    ds = open_dataset("indian-pines", tmp_path, tile=64, bands="0:100")
    assert len(ds.image_ids()) == 9
    np.testing.assert_array_equal(ds.load("indian_pines@t64_128").data, np.moveaxis(scene, -1, 0)[:100, 64:128, 128:145])
    assert main(["datasets", "verify", "indian-pines", "--data-root", str(tmp_path)]) == 0
    # a wrong scene is rejected by the content check and removed
    server.files["Indian_pines_corrected.mat"] = buf.getvalue()
    bad = io.BytesIO()
    scipy.io.savemat(bad, {"indian_pines_corrected": scene[:100]})
    server.files["Indian_pines_corrected.mat"] = bad.getvalue()
    with pytest.raises(DatasetError, match="content is wrong"):
        download_dataset("indian-pines", tmp_path / "b", retries=0, progress=False)
    assert not (tmp_path / "b" / "indian-pines" / "Indian_pines_corrected.mat").exists()


def test_kodak_download_verifies_decoded_pixels(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch,
                                                kodak: Path) -> None:
    for i in range(1, 25):
        server.files[f"kodim{i:02d}.png"] = (kodak / f"kodim{i:02d}.png").read_bytes()
    server.files["kodim05.png"] = server.files["kodim06.png"]  # a wrong image under a right name
    monkeypatch.delenv("HSBENCH_OFFLINE", raising=False)
    with pytest.raises(DatasetError, match="kodim05.png.*pixel SHA-256"):
        download_dataset("kodak", tmp_path, mirror=server.url, retries=0, progress=False)
    assert not (tmp_path / "kodak" / "kodim05.png").exists()
    server.files["kodim05.png"] = (kodak / "kodim05.png").read_bytes()
    download_dataset("kodak", tmp_path, mirror=server.url, retries=0, progress=False)
    assert all(r.status == "ok" for r in verify_dataset("kodak", tmp_path))
    assert len(open_dataset("kodak", tmp_path)) == 24


def test_archives_are_unpacked_once(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo("inner/a.txt")
        info.size = 5
        t.addfile(info, io.BytesIO(b"hello"))
    server.files["pack.tar.gz"] = buf.getvalue()
    entry = CatalogEntry(
        name="packed", title="p", description="p", dataset_class="x:y", format="tar", bit_depth=8, bands="1",
        band_selection="all", value_range="-", split_policy="none", license="CC0", citation="-", homepage=server.url,
        files=(RemoteFile("pack.tar.gz", server.url + "pack.tar.gz", sha256=hashlib.sha256(buf.getvalue()).hexdigest(), unpack="tar", unpacked="inner"),),
    )
    monkeypatch.setitem(catalog.CATALOG, "packed", entry)
    monkeypatch.delenv("HSBENCH_OFFLINE", raising=False)
    folder = download_dataset("packed", tmp_path, retries=0, progress=False)
    assert (folder / "inner" / "a.txt").read_text() == "hello"
    assert entry.missing(tmp_path) == []
