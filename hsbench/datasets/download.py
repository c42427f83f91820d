"""Verified downloads of catalog datasets into the data root, through pooch.

``download_dataset(name)`` fetches every file of a catalog entry into
``DATA_ROOT/NAME`` with a progress bar, retries (pooch's ``retry_if_failed``,
with its growing pause), resume of a partial file (HTTP ``Range`` requests on
``FILE.part``), the hash check (pooch: a file whose hash differs is deleted and
the error names both hashes), unpacking of archives, and the content checks
hsbench adds (Kodak pixel hashes; shape and type of single-scene sets). The
SHA-256 of every file is written to ``SHA256SUMS`` so ``verify_dataset`` can
recheck files nobody publishes a hash for.

``HSBENCH_OFFLINE=1`` forbids any download. ``HSBENCH_MIRROR_<NAME>`` (or the
``mirror`` argument) replaces a dataset's server: a file is then fetched from
``MIRROR/<last segment of its URL>``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsbench.datasets.base import resolve_data_root
from hsbench.datasets.catalog import CatalogEntry, RemoteFile, get_entry, mirror_env
from hsbench.errors import DatasetError

OFFLINE_ENV = "HSBENCH_OFFLINE"
SUMS_FILE = "SHA256SUMS"
CHUNK = 1 << 16


def is_offline() -> bool:
    """True when ``HSBENCH_OFFLINE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 64 KiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def missing_message(entry: CatalogEntry, data_root: Path, missing: list[str]) -> str:
    """The error text for a dataset that is not (completely) in the data root."""
    folder = entry.folder(data_root)
    return (
        f"dataset {entry.name!r} is not in the data root: {len(missing)} of {len(entry.files)} files missing "
        f"in {folder} (first: {missing[0]}). Put the files at {folder} or run "
        f"`hsbench datasets download {entry.name}` (data root: --data-root / HSBENCH_DATA)"
    )


class ResumableDownloader:
    """A pooch downloader that appends to ``partial`` with an HTTP ``Range`` request.

    An interrupted transfer leaves ``partial`` behind; the next attempt (a pooch
    retry, or a later ``hsbench datasets download``) asks only for the missing
    bytes. A server that ignores ``Range`` (status 200) restarts the file.
    On success the partial file becomes pooch's temporary file, which pooch then
    hash-checks and moves into place (or deletes).
    """

    def __init__(self, partial: Path, progress: bool = True, timeout: float = 60.0) -> None:
        self.partial = Path(partial)
        self.progress = progress
        self.timeout = timeout

    def __call__(self, url: str, output_file: Any, pooch: Any = None, check_only: bool = False) -> Any:
        import requests

        if check_only:
            response = requests.head(url, allow_redirects=True, timeout=self.timeout)
            return response.status_code == 200
        start = self.partial.stat().st_size if self.partial.exists() else 0
        headers = {"Range": f"bytes={start}-"} if start else {}
        with requests.get(url, headers=headers, stream=True, timeout=(15, self.timeout), allow_redirects=True) as r:
            if start and r.status_code == 416:
                # Nothing left to send: the partial file is complete (the hash check decides).
                os.replace(self.partial, output_file)
                return None
            r.raise_for_status()
            if start and r.status_code != 206:
                start = 0  # the server ignored Range: start over
            length = r.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            with open(self.partial, "ab" if start else "wb") as f, _progress(
                self.progress, total, start, self.partial.name.removesuffix(".part")
            ) as bar:
                for chunk in r.iter_content(chunk_size=CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
        if total is not None and self.partial.stat().st_size < total:
            import requests.exceptions

            raise requests.exceptions.ChunkedEncodingError(
                f"connection closed after {self.partial.stat().st_size} of {total} bytes"
            )
        os.replace(self.partial, output_file)
        return None


def _progress(enabled: bool, total: int | None, initial: int, name: str) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
        disable=not enabled, file=sys.stderr, leave=False,
    )


def source_url(entry: CatalogEntry, remote: RemoteFile, mirror: str | None = None) -> str:
    """Where to fetch ``remote`` from: the mirror (argument, else ``HSBENCH_MIRROR_<NAME>``) or its URL."""
    base = mirror or entry.mirror()
    if not base:
        return remote.url
    return base.rstrip("/") + "/" + remote.remote_name


def fetch_file(
    entry: CatalogEntry,
    remote: RemoteFile,
    data_root: Path,
    mirror: str | None = None,
    retries: int = 3,
    progress: bool = True,
) -> Path:
    """Download one file of ``entry`` (if missing or with a wrong known hash) and return its path."""
    import pooch
    import requests.exceptions

    folder = entry.folder(data_root)
    target = folder / remote.path
    if target.exists() and (remote.known_hash is None or pooch.file_hash(str(target), remote.known_hash.split(":")[0]) == remote.known_hash.split(":")[1]):
        return target
    if is_offline():
        raise DatasetError(
            f"{OFFLINE_ENV}=1 forbids downloads and {target} is missing or damaged. Put the file there "
            f"or unset {OFFLINE_ENV} and run `hsbench datasets download {entry.name}`"
        )
    url = source_url(entry, remote, mirror)
    target.parent.mkdir(parents=True, exist_ok=True)
    fetcher = pooch.create(
        path=str(folder),
        base_url="",
        registry={remote.path: remote.known_hash},
        urls={remote.path: url},
        retry_if_failed=retries,
    )
    partial = Path(str(target) + ".part")
    downloader = ResumableDownloader(partial, progress=progress)
    try:
        path = Path(fetcher.fetch(remote.path, downloader=downloader, progressbar=False))
    except ValueError as exc:  # pooch: hash mismatch; it has deleted the bad file
        partial.unlink(missing_ok=True)
        raise DatasetError(
            f"{entry.name}: {remote.path} from {url} failed its hash check and was removed ({exc}). "
            f"The server or mirror serves other bytes than the catalog expects; try again, or set "
            f"{mirror_env(entry.name)} to a trusted mirror"
        ) from exc
    except requests.exceptions.RequestException as exc:
        kept = f" ({partial.stat().st_size} bytes kept in {partial.name}; the next try resumes)" if partial.exists() else ""
        raise DatasetError(
            f"{entry.name}: could not download {url}: {exc}{kept}. Check the network, set "
            f"{mirror_env(entry.name)} to a mirror, or put the file at {target}"
        ) from exc
    return path


def unpack(entry: CatalogEntry, remote: RemoteFile, data_root: Path) -> None:
    """Extract an archive of ``entry`` into its folder once (a marker records that it was done)."""
    if not remote.unpack:
        return
    folder = entry.folder(data_root)
    marker = folder / f".{remote.path}.unpacked"
    if marker.exists() and (remote.unpacked is None or (folder / remote.unpacked).exists()):
        return
    archive = folder / remote.path
    try:
        if remote.unpack == "zip":
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise DatasetError(f"{archive}: unsafe member path {member!r}; not extracting")
                z.extractall(folder)
        else:
            with tarfile.open(archive) as t:
                try:
                    t.extractall(folder, filter="data")  # Python >= 3.10.12 / 3.11.4: safe extraction
                except TypeError:  # older Python: refuse absolute paths, "..", and links by hand
                    for member in t.getmembers():
                        if member.name.startswith("/") or ".." in Path(member.name).parts or member.issym() or member.islnk():
                            raise DatasetError(f"{archive}: unsafe member {member.name!r}; not extracting") from None
                    t.extractall(folder)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{archive}: cannot be unpacked ({exc}); delete it and download again") from exc
    marker.write_text("unpacked\n")


def read_sums(folder: Path) -> dict[str, str]:
    """The ``SHA256SUMS`` that hsbench wrote in a dataset folder: ``{relative path: sha256}``."""
    sums_path = folder / SUMS_FILE
    if not sums_path.exists():
        return {}
    out = {}
    for line in sums_path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(None, 1)
            out[name.strip().lstrip("*")] = digest
    return out


def _write_sums(folder: Path, sums: dict[str, str]) -> None:
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    tmp = folder / (SUMS_FILE + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, folder / SUMS_FILE)


def download_dataset(
    name: str,
    data_root: str | os.PathLike[str] | None = None,
    mirror: str | None = None,
    retries: int = 3,
    progress: bool = True,
) -> Path:
    """Download, check and unpack the catalog dataset ``name``; return its folder.

    Files already present with the right hash are not fetched again. After the
    files, the content checks of :func:`check_content` run; a file that fails
    them is deleted.
    """
    entry = get_entry(name)
    root = resolve_data_root(data_root)
    folder = entry.folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    sums = read_sums(folder)
    for remote in entry.files:
        path = fetch_file(entry, remote, root, mirror=mirror, retries=retries, progress=progress)
        problem = check_content(entry, remote, path)
        if problem:
            path.unlink(missing_ok=True)
            raise DatasetError(
                f"{entry.name}: {path} was downloaded but its content is wrong ({problem}); the file was removed"
            )
        sums[remote.path] = file_hash(path)
        _write_sums(folder, sums)
        unpack(entry, remote, root)
    return folder


def check_content(entry: CatalogEntry, remote: RemoteFile, path: Path) -> str | None:
    """hsbench's own check of a downloaded file's content; the problem as text, or None.

    Kodak: SHA-256 of the decoded RGB pixels (``../shared/datasets/kodak/README.md``).
    Single-scene MAT sets: the variable exists with the catalog's shape and integer values.
    """
    if entry.name == "kodak":
        import numpy as np
        from PIL import Image

        from hsbench.datasets.catalog import KODAK_PIXEL_SHA256

        try:
            with Image.open(path) as im:
                pixels = np.asarray(im.convert("RGB"))
        except Exception as exc:
            return f"not a readable PNG ({exc})"
        digest = hashlib.sha256(pixels.tobytes()).hexdigest()
        expected = KODAK_PIXEL_SHA256.get(path.stem)
        if digest != expected:
            return f"pixel SHA-256 {digest} differs from the published {expected}"
        return None
    if "key" in entry.extra and path.suffix == ".mat":
        from hsbench.datasets.matlab import read_mat

        try:
            cube = read_mat(path, key=entry.extra["key"], dtype=entry.extra.get("dtype"))
        except Exception as exc:
            return str(exc)
        if tuple(cube.shape) != tuple(entry.extra["shape"]):
            return f"shape {cube.shape} instead of {tuple(entry.extra['shape'])} (bands, rows, cols)"
    return None


@dataclass
class FileCheck:
    """One line of ``hsbench datasets verify``."""

    path: str
    status: str  # "ok", "missing", "mismatch", "unchecked"
    detail: str = ""


def verify_dataset(name: str, data_root: str | os.PathLike[str] | None = None) -> list[FileCheck]:
    """Recheck every file of a catalog dataset in the data root.

    Known hashes (SHA-256 or the published MD5) are compared first; files without
    one are compared with the SHA-256 recorded at download; then the content checks
    of :func:`check_content` run (Kodak pixel hashes, scene shapes).
    """
    entry = get_entry(name)
    root = resolve_data_root(data_root)
    folder = entry.folder(root)
    sums = read_sums(folder)
    results = []
    for remote in entry.files:
        path = folder / remote.path
        if not path.exists():
            status = "missing"
            if remote.unpacked and (folder / remote.unpacked).exists():
                results.append(FileCheck(remote.path, "unchecked", "archive removed after unpacking"))
            else:
                results.append(FileCheck(remote.path, status, f"not at {path}"))
            continue
        if remote.known_hash:
            algorithm, expected = remote.known_hash.split(":")
            actual = file_hash(path, algorithm)
            if actual != expected:
                results.append(FileCheck(remote.path, "mismatch", f"{algorithm} {actual}, expected {expected}"))
                continue
            detail = f"{algorithm} matches the published hash"
        elif remote.path in sums:
            actual = file_hash(path)
            if actual != sums[remote.path]:
                results.append(FileCheck(remote.path, "mismatch", f"sha256 {actual} differs from the one recorded at download"))
                continue
            detail = "sha256 matches the one recorded at download"
        else:
            detail = "no published hash and none recorded"
        problem = check_content(entry, remote, path)
        if problem:
            results.append(FileCheck(remote.path, "mismatch", problem))
        elif entry.name == "kodak":
            results.append(FileCheck(remote.path, "ok", "decoded pixels match the published SHA-256"))
        else:
            results.append(FileCheck(remote.path, "ok" if "matches" in detail else "unchecked", detail))
    return results
