"""The runner: build the job grid codec x rate point x image, execute it, persist rows.

One job codes one image with one codec at one parameter set and yields one tidy
row (``DESIGN.md`` principle 2). Jobs carry a :class:`~hsbench.datasets.DatasetRef`
and an image id, never arrays, so any executor (in-process, a process pool, a
cluster) can run them. The driver alone writes results: rows are appended to
``rows.jsonl`` in the run folder as they finish (one ``write`` of one line,
flushed and fsynced), so an interrupted run resumes where it stopped and never
recomputes a finished job (principle 3). A job that raises is recorded with its
error and the sweep goes on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import platform
import resource
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from hsbench import __version__
from hsbench.datasets import Dataset, DatasetRef, open_dataset
from hsbench.errors import HsbenchError
from hsbench.executors import DEFAULT_RETRIES, TIMEOUT_STATUS, make_executor

if TYPE_CHECKING:  # pragma: no cover
    from hsbench.ratecontrol import RateTarget

ROWS_FILE = "rows.jsonl"
#: tile of the normalised-domain PSNR column ``psnr_norm`` (:func:`hsbench.metrics.psnr_norm`): the
#: 64-pixel tiles of SSCNet's VIRTIS experiments (seed 001); recorded in ``psnr_norm_tile``
PSNR_NORM_TILE = 64


# --------------------------------------------------------------------------------------
# jobs
# --------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class Job:
    """One codec x parameter set x image. Small and picklable.

    ``target`` (a :class:`~hsbench.ratecontrol.RateTarget`) makes the job search its
    knob for a target rate first and is part of the key; ``repeat`` is the number of
    timed encode / decode runs (:mod:`hsbench.timing`) and is not.
    """

    codec: str
    params: tuple[tuple[str, Any], ...]
    dataset: DatasetRef
    image_id: str
    target: "RateTarget | None" = None
    repeat: int = 1

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def key(self) -> str:
        """Stable identity of the job (codec, params, dataset spec + options, image)."""
        parts = [self.codec, [[k, _jsonable(v)] for k, v in self.params], self.dataset.spec,
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
    from hsbench import metrics
    from hsbench.codecs.registry import create_codec, get_codec
    from hsbench.timing import time_codec

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

        timed = time_codec(codec, cube, job.repeat)
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
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = "".join(traceback.format_exception(exc)[-6:])
    row["peak_rss_mb"] = _peak_rss_mb()
    row["job_s"] = time.time() - started
    row["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return {k: _jsonable(v) for k, v in row.items()}


# --------------------------------------------------------------------------------------
# the results store
# --------------------------------------------------------------------------------------
class ResultStore:
    """Append-only JSON-lines store of rows in a run folder.

    Each row is written with a single ``write`` of one line, then flushed and
    fsynced; a line cut short by a crash is ignored when reading. The latest row
    of a job key wins, so a job retried after a failure never duplicates a row.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / ROWS_FILE

    def rows(self) -> dict[str, dict[str, Any]]:
        """Latest row of every job key in the store."""
        latest: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return latest
        with self.path.open("r", encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # torn last line of an interrupted write
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                latest[row["key"]] = row
        return latest

    def finished_keys(self) -> set[str]:
        """Keys of jobs that finished successfully (skipped on resume)."""
        return {k for k, r in self.rows().items() if r.get("status") == "ok"}

    def append(self, row: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps(row, sort_keys=True, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------------------
def parse_param_options(items: Iterable[str]) -> dict[str | None, dict[str, list[Any]]]:
    """Parse ``--param`` values: ``NAME=v1,v2`` (any codec with that parameter) or ``CODEC.NAME=v``.

    Returns ``{codec or None: {name: [values]}}``.
    """
    from hsbench.codecs.base import parse_value

    out: dict[str | None, dict[str, list[Any]]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise HsbenchError(f"--param {item!r}: expected NAME=v1,v2 or CODEC.NAME=v1,v2")
        codec, dot, pname = name.strip().rpartition(".")
        target = codec if dot else None
        out.setdefault(target, {})[pname] = [parse_value(v) for v in values.split(",") if v.strip()]
    return out


def codec_points(codec_cls: type, user: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The parameter sets of one codec: its default sweep crossed with the user's values.

    Values the user gives replace the sweep's values of the same parameter; the
    user's lists are crossed with each other; duplicates are dropped.
    """
    names = sorted(user)
    combos = [dict(zip(names, values)) for values in itertools.product(*(user[n] for n in names))]
    points: list[dict[str, Any]] = []
    seen: set[str] = set()
    for base in codec_cls.sweep():
        for combo in combos:
            point = {**base, **combo}
            ident = json.dumps(point, sort_keys=True, default=str)
            if ident not in seen:
                seen.add(ident)
                points.append(point)
    return points


@dataclass
class RunPlan:
    """The planned grid and where its results go."""

    out: Path
    datasets: list[Dataset]
    jobs: list[Job]
    notes: list[str] = field(default_factory=list)


def plan_run(
    codecs: Sequence[str] | None,
    datasets: Sequence[str],
    out: str | os.PathLike[str],
    params: Sequence[str] = (),
    data_root: str | None = None,
    dataset_options: dict[str, Any] | None = None,
    targets: Sequence[tuple[str, float]] = (),
    tolerance: float | None = None,
    max_iter: int | None = None,
    repeat: int = 1,
) -> RunPlan:
    """Build the job grid codec x rate point x image for ``datasets``.

    ``codecs=None`` selects every available codec (unavailable ones are skipped
    with a note); a codec named explicitly that is unavailable is an error.
    ``targets`` (``[("cr", 16.0), ("bpppc", 0.5), ...]``) replaces each codec's knob
    sweep with one job per target whose knob is found by :mod:`hsbench.ratecontrol`
    (``tolerance``, ``max_iter``: its stopping rule). ``repeat`` timed runs per job.
    """
    from hsbench.codecs.learned.models import provision
    from hsbench.codecs.registry import codec_names, get_codec

    notes: list[str] = []
    user = parse_param_options(params)
    if codecs is None:
        selected = []
        for name in codec_names():
            try:
                get_codec(name).check_available()
                if get_codec(name).default_run is not None:
                    notes.append(f"skipped codec {name} (not in the default run): {get_codec(name).default_run}")
                    continue
                selected.append(name)
            except HsbenchError as exc:
                notes.append(f"skipped codec {name}: {exc}")
    else:
        selected = list(codecs)
        for name in selected:
            get_codec(name).check_available()
    classes = {name: get_codec(name) for name in selected}

    for target, values in user.items():
        if target is not None:
            if target not in classes:
                raise HsbenchError(f"--param {target}.…: codec {target!r} is not in this run ({', '.join(selected)})")
            unknown = set(values) - set(classes[target].params)
            if unknown:
                raise HsbenchError(
                    f"codec {target!r} has no parameter {', '.join(sorted(unknown))}; "
                    f"it takes: {', '.join(sorted(classes[target].params))}"
                )
        else:
            for pname in values:
                if not any(pname in cls.params for cls in classes.values()):
                    raise HsbenchError(f"--param {pname}=…: no codec in this run has a parameter {pname!r}")

    opened = [open_dataset(spec, data_root, **(dataset_options or {})) for spec in datasets]
    jobs: list[Job] = []
    for name, cls in classes.items():
        mine = {k: v for k, v in user.get(None, {}).items() if k in cls.params}
        mine.update(user.get(name, {}))
        if targets and cls.knob is not None and cls.knob.name in mine:
            raise HsbenchError(
                f"--param {cls.knob.name}=… and --ratios / --bpppc both set the rate of {name}; give one of them"
            )
        points = codec_points(cls, mine)
        for point in points:
            cls(**point)  # validate early, in the driver, with a clear message
        for dataset in opened:
            if targets:
                from hsbench.ratecontrol import DEFAULT_MAX_ITER, DEFAULT_TOLERANCE, plan_targets

                pairs = plan_targets(cls, points, dataset, list(targets),
                                     DEFAULT_TOLERANCE if tolerance is None else tolerance,
                                     DEFAULT_MAX_ITER if max_iter is None else max_iter, notes)
                for prepared, target in pairs:
                    frozen = tuple(sorted(prepared.items()))
                    jobs.extend(Job(name, frozen, dataset.ref, image_id, target, repeat)
                                for image_id in dataset.image_ids())
                continue
            for point in points:
                prepared = provision(cls, dict(point), dataset)
                frozen = tuple(sorted(prepared.items()))
                jobs.extend(Job(name, frozen, dataset.ref, image_id, repeat=repeat)
                            for image_id in dataset.image_ids())
    return RunPlan(Path(out), opened, jobs, notes)


# --------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------
@dataclass
class RunSummary:
    """What a run did: counts and the failed (or timed-out) rows."""

    total: int
    skipped: int
    ok: int
    failed: list[dict[str, Any]]

    @property
    def timed_out(self) -> int:
        """How many of the failed rows are jobs stopped by the job timeout."""
        return sum(1 for row in self.failed if row.get("status") == TIMEOUT_STATUS)

    @property
    def exit_status(self) -> int:
        return 1 if self.failed else 0


def execute_plan(
    plan: RunPlan,
    workers: int = 1,
    progress: bool = True,
    executor: Any | None = None,
    scheduler: str | None = None,
    retries: int = DEFAULT_RETRIES,
    job_timeout: float | None = None,
) -> RunSummary:
    """Run the jobs of ``plan`` not yet finished in its run folder, appending rows as they come.

    The executor is ``executor`` if given, else :func:`hsbench.executors.make_executor`
    of ``workers`` / ``scheduler`` / ``retries`` / ``job_timeout``. Only this
    function (the driver) writes rows, one per job of this run: a row an executor
    delivers twice for a key is dropped. On Ctrl-C (``KeyboardInterrupt``) the
    executor is closed (workers stopped, jobs in flight abandoned) and the
    interrupt propagates; every row written so far stays, so running the same
    plan again resumes with the unfinished jobs.
    """
    store = ResultStore(plan.out)
    done = store.finished_keys()
    todo = [job for job in plan.jobs if job.key not in done]
    # A job listed twice (same key) runs once.
    todo = list({job.key: job for job in todo}.values())
    ok = 0
    failed: list[dict[str, Any]] = []
    if not todo:
        return RunSummary(total=len(plan.jobs), skipped=len(plan.jobs), ok=0, failed=[])
    executor = executor or make_executor(workers, scheduler=scheduler, retries=retries, job_timeout=job_timeout)
    written: set[str] = set()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), unit="job", desc=f"hsbench run ({executor.name})", dynamic_ncols=True)
    try:
        for row in executor.run(execute_job, todo):
            if row["key"] in written:
                continue
            store.append(row)
            written.add(row["key"])
            if row.get("status") == "ok":
                ok += 1
            else:
                failed.append(row)
            if bar is not None:
                bar.set_postfix(ok=ok, failed=len(failed), refresh=False)
                bar.update(1)
    finally:
        executor.close()
        if bar is not None:
            bar.close()
    return RunSummary(total=len(plan.jobs), skipped=len(plan.jobs) - len(todo), ok=ok, failed=failed)
