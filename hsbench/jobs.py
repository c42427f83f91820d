"""Jobs: one codec x parameter set x image, and the function that runs one into a row.

One job codes one image with one codec at one parameter set and yields one tidy
row (``docs/design.md`` principle 2). Jobs carry a :class:`~hsbench.datasets.DatasetRef`
and an image id, never arrays, so any executor (in-process, a process pool, a
cluster) can run them. :func:`execute_job` never raises: a job that fails is
recorded with its error and the sweep goes on.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import platform
import resource
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Imported here, not in execute_job: a job interrupted by the serial executor's SIGALRM timeout
# while it imported one of these (scipy for the metrics) would leave it half-initialised for
# every later job of the process.
from hsbench import __version__, metrics
from hsbench.codecs.registry import create_codec, get_codec
from hsbench.datasets import DatasetRef
from hsbench.errors import HsbenchError
from hsbench.timing import time_codec

#: tile of the normalised-domain PSNR column ``psnr_norm`` (:func:`hsbench.metrics.psnr_norm`): the
#: 64-pixel tiles of SSCNet's VIRTIS experiments (seed 001); recorded in ``psnr_norm_tile``
PSNR_NORM_TILE = 64

if TYPE_CHECKING:  # pragma: no cover
    from hsbench.ratecontrol import RateTarget


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    """SHA-256 of a file (cached per path, modification time and size)."""
    from hsbench.datasets.download import file_hash

    return file_hash(Path(path))


def _checkpoint_identity(value: Any) -> Any:
    """``sha256:<digest>`` of a checkpoint file; the value itself when it names no file."""
    try:
        st = os.stat(value)
    except (TypeError, ValueError, OSError):
        return _jsonable(value)
    return "sha256:" + _file_sha256(os.path.abspath(value), st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class Job:
    """One codec x parameter set x image. Small and picklable.

    ``target`` (a :class:`~hsbench.ratecontrol.RateTarget`) makes the job search its
    knob for a target rate first and is part of the key; ``repeat`` (the number of
    timed encode / decode runs) and ``warmup`` (the warm-up mode, default by
    ``repeat``) are how it is timed (:mod:`hsbench.timing`) and are not.
    """

    codec: str
    params: tuple[tuple[str, Any], ...]
    dataset: DatasetRef
    image_id: str
    target: "RateTarget | None" = None
    repeat: int = 1
    warmup: str | None = None

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def key(self) -> str:
        """Stable identity of the job (codec, params, dataset spec + options, image).

        A ``checkpoint`` counts by its content (SHA-256), not its path: the same model found at
        another install path (another checkout, a wheel) is the same job, and a model retrained
        into the same file is a new one, so a resumed run never keeps rows of superseded weights.
        """
        params = [[k, _checkpoint_identity(v) if k == "checkpoint" else _jsonable(v)] for k, v in self.params]
        parts = [self.codec, params, self.dataset.spec,
                 [[k, _jsonable(v)] for k, v in self.dataset.options], self.image_id]
        if self.target is not None:
            parts.append(self.target.ident())
        ident = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(ident.encode()).hexdigest()[:16]

    def identity_columns(self) -> dict[str, Any]:
        """The row columns that name the job: the first columns of every row, whether
        the job wrote it (:func:`execute_job`) or its executor did (a dead worker, a timeout)."""
        return {
            "key": self.key,
            "codec": self.codec,
            "params": json.dumps({k: _jsonable(v) for k, v in self.params}, sort_keys=True, default=str),
            "dataset": self.dataset.spec,
            "dataset_options": json.dumps({k: _jsonable(v) for k, v in self.dataset.options}, sort_keys=True,
                                          default=str),
            "image": self.image_id,
        }


def _reset_peak_rss() -> None:
    """Start a new peak-memory window for this job (Linux >= 4.0: writing ``5`` to
    ``/proc/self/clear_refs`` resets ``VmHWM`` to the current RSS; see proc(5)).

    Without it a long-lived worker would report the peak of its biggest job so far.
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    """Peak resident memory (MiB) since :func:`_reset_peak_rss`: ``VmHWM`` of
    ``/proc/self/status`` on Linux, else the process's peak from ``getrusage``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if platform.system() != "Darwin" else peak / 1e6


def execute_job(job: Job) -> dict[str, Any]:
    """Run one job and return its row; never raises (errors become a failed row)."""
    started = time.time()
    _reset_peak_rss()
    row: dict[str, Any] = {
        **job.identity_columns(),
        "target": job.target.label if job.target is not None else "",
        "hsbench_version": __version__,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    try:
        dataset = job.dataset.open()
        row["dataset"] = dataset.name
        cube = dataset.load(job.image_id)
        row.update(cube.describe())
        row["source"] = str(cube.meta.get("source", ""))  # the file it was read from, named by row errors
        row["image"] = job.image_id
        row["image_sha256"] = cube.sha256()
        params = job.param_dict
        if job.target is not None:
            from hsbench.ratecontrol import search_rate

            search = search_rate(get_codec(job.codec), params, cube, job.target,
                                 make=lambda **p: create_codec(job.codec, **p))
            row.update(search.row_columns(job.target))
            params = search.params
        codec = create_codec(job.codec, **params)
        row["codec_label"] = codec.label
        row["kind"] = str(codec.kind)
        row["codec_version"] = codec.version
        row["library_versions"] = json.dumps(type(codec).library_versions(), sort_keys=True)
        row.update(codec.row_columns(cube))

        timed = time_codec(codec, cube, job.repeat, job.warmup)
        stream, decoded = timed.stream, timed.decoded

        row.update(metrics.rate_columns(cube, len(stream)))
        row.update(metrics.timing_columns(cube, timed.encode_s, timed.decode_s))
        row.update(timed.row_columns())
        row.update(metrics.evaluate(cube, decoded))
        row["psnr_norm"] = metrics.psnr_norm(cube.data, getattr(decoded, "data", decoded), tile=PSNR_NORM_TILE)
        row["psnr_norm_tile"] = PSNR_NORM_TILE
        bound = codec.max_error(cube)
        row["error_bound"] = bound
        if bound is not None and row["max_abs_error"] > bound + 1e-9 * max(1.0, cube.peak):
            raise HsbenchError(
                f"{codec.label} broke its guaranteed error bound on {job.image_id}: "
                f"max |error| = {row['max_abs_error']:g} > {bound:g}"
            )
        row["status"] = "ok"
        row["error"] = ""
    except Exception as exc:  # failure isolation: the sweep goes on
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}" + (
            f" (file {row['source']})" if row.get("source") and row["source"] not in str(exc) else "")
        row["traceback"] = "".join(traceback.format_exception(exc)[-6:])
    row["worker_peak_rss_mb"] = _peak_rss_mb()
    row["job_s"] = time.time() - started
    row["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return {k: _jsonable(v) for k, v in row.items()}
