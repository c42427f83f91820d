"""Executors: where the runner's jobs run (this process, local processes, a Dask cluster).

Every executor has the same small interface: ``run(fn, jobs)`` yields one row per
job, in completion order, and ``close()`` releases what it holds (and is what a
Ctrl-C ends with). The driver alone writes the rows it yields
(:class:`hsbench.store.ResultStore`); the executors only compute. A job is small
(dataset reference + image id, never an array), so it travels to any worker
that can read the data root.

Faults are handled the same way by every backend:

* **A job that raises** is not a fault of the executor: ``execute_job`` turns it
  into a failed row itself.
* **A worker that dies mid-job** (segfault, ``os._exit``, out-of-memory kill, a
  killed process or machine) costs the job one attempt: it is run again, up to
  ``retries`` more times, and then recorded with status ``failed`` and a
  ``WorkerDied`` error. Jobs that were running elsewhere are not charged.
* **A job that runs longer than** ``job_timeout`` seconds is stopped and recorded
  with status ``timeout`` (not retried: it would time out again). The process
  and Dask backends kill the worker that runs it (a fresh one takes its place);
  the serial backend interrupts the job with ``SIGALRM``, which takes effect
  when the job next runs Python code (a long call inside a C library finishes first).

Backends: :class:`SerialExecutor`, :class:`ProcessExecutor` (a pool of ``spawn``
processes it manages itself, so it knows which process runs which job) and
:class:`DaskExecutor` (``dask.distributed``; an existing cluster at
``tcp://HOST:PORT`` or a ``LocalCluster`` it starts for ``local:N``).
:func:`make_executor` picks one from the command-line options.
"""

from __future__ import annotations

import collections
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue as queue_module
import signal
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

from hsbench.errors import HsbenchError

if TYPE_CHECKING:  # pragma: no cover
    from hsbench.jobs import Job

#: Row-producing function an executor applies to each job (``hsbench.jobs.execute_job``).
JobFn = Callable[["Job"], dict[str, Any]]

#: Extra tries of a job whose worker died, by default (so 2 attempts in all).
DEFAULT_RETRIES = 1

#: Status of a row whose job exceeded the job timeout.
TIMEOUT_STATUS = "timeout"

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class Executor(Protocol):
    """What the runner needs from a backend."""

    name: str

    def run(self, fn: JobFn, jobs: Sequence["Job"]) -> Iterator[dict[str, Any]]:
        """Yield one row per job (any order)."""
        ...  # pragma: no cover

    def close(self) -> None:
        """Stop the workers and free resources; safe to call twice."""
        ...  # pragma: no cover


# --------------------------------------------------------------------------------------
# rows the executor writes itself (the job could not write its own)
# --------------------------------------------------------------------------------------
def fault_row(job: "Job", status: str, error: str) -> dict[str, Any]:
    """The row of a job whose worker died or that timed out: its identity, status and error."""
    return {
        **job.identity_columns(),
        "status": status,
        "error": error,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def died_row(job: "Job", attempts: int) -> dict[str, Any]:
    """Failed row of a job whose worker died on every one of its ``attempts``."""
    return fault_row(
        job, "failed",
        f"WorkerDied: the worker process died {attempts} time(s) running this job (a crash or an "
        "out-of-memory kill in the codec, or the worker was killed); raise --retries to try more often",
    )


def timeout_row(job: "Job", seconds: float, how: str) -> dict[str, Any]:
    """Row of a job stopped after exceeding the job timeout."""
    return fault_row(
        job, TIMEOUT_STATUS,
        f"Timeout: the job ran longer than --job-timeout {seconds:g} s and was stopped ({how}); "
        "raise --job-timeout for large images or slow codecs",
    )


# --------------------------------------------------------------------------------------
# serial
# --------------------------------------------------------------------------------------
#: Modules imported before the first job runs: what ``hsbench.jobs.execute_job`` needs (numpy,
#: the metric kernels with numba). A pool process imports them as soon as it starts, so a pool
#: started early (:meth:`ProcessExecutor.start`) pays them while the driver plans; the serial
#: executor imports them before it arms a job's timer, so a timeout cannot interrupt an import
#: and leave the module half-initialised for every later job of the process.
WORKER_PRELOAD = ("hsbench.jobs", "hsbench.metrics_kernels")


def _preload(names: Sequence[str]) -> None:
    """Import ``names``; one that fails is left to fail, with its message, in the job that needs it."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001
            pass


class _JobTimeout(BaseException):
    """Raised by the SIGALRM handler of the serial executor (a BaseException, so the
    job's own ``except Exception`` does not swallow it)."""


class SerialExecutor:
    """Runs jobs one after the other in this process.

    With ``job_timeout`` (POSIX, main thread only) each job is interrupted by a
    ``SIGALRM`` timer; the interruption lands when the job next executes Python
    code, so a long call inside a C library runs to its end first.
    """

    name = "serial"

    def __init__(self, job_timeout: float | None = None) -> None:
        self.job_timeout = job_timeout

    def _can_alarm(self) -> bool:
        return (
            self.job_timeout is not None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        )

    def run(self, fn: JobFn, jobs: Sequence["Job"]) -> Iterator[dict[str, Any]]:
        """Yield ``fn(job)`` for each job in order (timed-out jobs give a timeout row)."""
        if self._can_alarm():
            _preload(WORKER_PRELOAD)
        for job in jobs:
            if not self._can_alarm():
                yield fn(job)
                continue

            def _alarm(signum: int, frame: Any) -> None:
                raise _JobTimeout()

            previous = signal.signal(signal.SIGALRM, _alarm)
            try:
                signal.setitimer(signal.ITIMER_REAL, float(self.job_timeout))  # type: ignore[arg-type]
                try:
                    row = fn(job)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except _JobTimeout:
                row = timeout_row(job, float(self.job_timeout), "interrupted by SIGALRM")  # type: ignore[arg-type]
            finally:
                signal.signal(signal.SIGALRM, previous)
            yield row

    def close(self) -> None:
        """Nothing to release."""


# --------------------------------------------------------------------------------------
# local processes
# --------------------------------------------------------------------------------------
def _worker_main(conn: multiprocessing.connection.Connection, threads: int,
                 preload: Sequence[str] = ()) -> None:
    """Loop of a pool process: receive ``(fn, job)``, send back ``fn(job)``; ``None`` ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's business
    for var in _THREAD_VARS:  # one process per core: no BLAS / OpenMP / numba oversubscription
        os.environ.setdefault(var, str(threads))  # (set before the preload imports numpy / numba)
    _preload(preload)
    try:
        conn.send(_READY)  # the job timeout of the first job counts from here, not from the start-up
    except (EOFError, OSError):
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, job = message
        conn.send(fn(job))


#: What a pool process sends once it has started and imported :data:`WORKER_PRELOAD`.
_READY = "hsbench-worker-ready"


class _Slot:
    """One pool process and the job it runs."""

    def __init__(self) -> None:
        self.process: Any = None
        self.conn: multiprocessing.connection.Connection | None = None
        self.job: "Job | None" = None
        self.started = 0.0
        #: the process has started and imported its preload (sent _READY)
        self.ready = False

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def stop(self, kill: bool) -> None:
        if self.process is None:
            return
        if kill and self.process.is_alive():
            self.process.kill()
        else:
            try:
                self.conn.send(None)  # type: ignore[union-attr]
            except (OSError, ValueError):
                pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        try:
            self.conn.close()  # type: ignore[union-attr]
        except OSError:
            pass
        self.process = self.conn = self.job = None
        self.ready = False


class ProcessExecutor:
    """Runs jobs on ``workers`` local processes (``spawn``: safe with torch and numba).

    The executor starts and watches the processes itself (one pipe each), so it
    knows which job each one runs: a process that dies costs only its own job an
    attempt (retried up to ``retries`` times, then a ``WorkerDied`` failed row), and
    a job past ``job_timeout`` seconds is stopped by killing its process (its time counts
    from when the process is ready to read it: the start-up and the preload imports of a
    fresh process are not the job's). Dead or killed processes are replaced.
    """

    name = "processes"

    def __init__(self, workers: int, retries: int = DEFAULT_RETRIES, job_timeout: float | None = None,
                 preload: Sequence[str] = WORKER_PRELOAD) -> None:
        self.workers = max(1, int(workers))
        self.retries = max(0, int(retries))
        self.job_timeout = job_timeout
        self.preload = tuple(preload)
        self._slots = [_Slot() for _ in range(self.workers)]
        self._ctx = multiprocessing.get_context("spawn")

    def start(self) -> None:
        """Start the processes not yet running now (else the first :meth:`run` does): each
        imports :data:`WORKER_PRELOAD` at once, so this overlaps their start-up with the
        caller's own work (planning). Safe to call again; :meth:`close` stops them."""
        for slot in self._slots:
            if not slot.alive():
                slot.stop(kill=True)
                self._start(slot)

    def _start(self, slot: _Slot) -> None:
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, args=(child, threads, self.preload), daemon=True,
                                    name="hsbench-worker")
        process.start()
        child.close()
        slot.process, slot.conn = process, parent

    def _dispatch(self, slot: _Slot, fn: JobFn, job: "Job") -> None:
        for _ in range(2):
            if not slot.alive():
                slot.stop(kill=True)
                self._start(slot)
            try:
                slot.conn.send((fn, job))  # type: ignore[union-attr]
                break
            except (OSError, ValueError):  # the idle process died: start another
                slot.stop(kill=True)
        else:
            raise HsbenchError("cannot start a worker process for hsbench (see the messages above)")
        slot.job, slot.started = job, time.monotonic()

    def run(self, fn: JobFn, jobs: Sequence["Job"]) -> Iterator[dict[str, Any]]:
        """Yield a row per job as the processes finish them (see the class docstring for faults)."""
        queue = collections.deque(jobs)
        attempts: dict[str, int] = {}
        slots = self._slots
        while queue or any(s.job is not None for s in slots):
            for slot in slots:
                if slot.job is None and queue:
                    self._dispatch(slot, fn, queue.popleft())
            busy = [s for s in slots if s.job is not None]
            wait_s = None
            timed = [s for s in busy if s.ready]  # a job's time counts once its process is ready
            if self.job_timeout is not None and timed:
                now = time.monotonic()
                wait_s = max(0.0, min(s.started + self.job_timeout - now for s in timed)) + 0.01
            ready = set(multiprocessing.connection.wait(
                [s.conn for s in busy] + [s.process.sentinel for s in busy], wait_s))  # type: ignore[misc]
            for slot in busy:
                job = slot.job
                assert job is not None
                if slot.conn in ready:
                    try:
                        row = slot.conn.recv()  # type: ignore[union-attr]
                    except (EOFError, OSError):
                        row = None  # the process died (the sentinel tells the same)
                    else:
                        if row == _READY:  # started and preloaded: it reads its job now
                            slot.ready, slot.started = True, time.monotonic()
                            continue
                        slot.job = None
                        if queue:  # the next job first: the process works while the caller stores the row
                            self._dispatch(slot, fn, queue.popleft())
                        yield row
                        continue
                if slot.conn in ready or slot.process.sentinel in ready:
                    slot.stop(kill=True)
                    attempts[job.key] = attempts.get(job.key, 0) + 1
                    if attempts[job.key] > self.retries:
                        yield died_row(job, attempts[job.key])
                    else:
                        queue.appendleft(job)
                elif (self.job_timeout is not None and slot.ready
                      and time.monotonic() - slot.started > self.job_timeout):
                    slot.stop(kill=True)
                    yield timeout_row(job, self.job_timeout, "its worker process was killed")

    def close(self) -> None:
        """Stop every process: idle ones are asked to exit, busy ones (and ones never given a job,
        which may still be importing) are killed."""
        for slot in self._slots:
            slot.stop(kill=slot.job is not None or not slot.ready)


# --------------------------------------------------------------------------------------
# Dask distributed
# --------------------------------------------------------------------------------------
def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise HsbenchError(
            f"--scheduler needs dask.distributed, which cannot be imported ({exc}); install it with "
            "`pip install 'hsbench[dask]'` (or `pip install 'dask[distributed]'`)"
        ) from exc
    return distributed


def parse_scheduler(spec: str) -> tuple[str, int | None]:
    """Split a ``--scheduler`` value: ``("local", N)`` for ``local`` / ``local:N``, else ``("address", None)``.

    Addresses are what ``distributed.Client`` accepts: ``tcp://HOST:PORT``,
    ``tls://HOST:PORT``, ``HOST:PORT``, or a scheduler file (``*.json``).
    """
    text = spec.strip()
    if text == "local" or text.startswith("local:"):
        count = text[len("local:"):] if ":" in text else ""
        if not count:
            return "local", None
        try:
            n = int(count)
        except ValueError:
            n = 0
        if n < 1:
            raise HsbenchError(f"--scheduler {spec!r}: expected local:N with N >= 1 workers, e.g. local:4")
        return "local", n
    if not text:
        raise HsbenchError("--scheduler is empty: give tcp://HOST:PORT or local:N")
    return "address", None


def _worker_probe() -> dict[str, str]:
    """What a Dask worker reports before the sweep: its hsbench version and host."""
    import socket

    from hsbench import __version__

    return {"hsbench": __version__, "host": socket.gethostname()}


class DaskExecutor:
    """Runs jobs on a Dask distributed cluster.

    ``scheduler``: ``tcp://HOST:PORT`` (or anything ``distributed.Client`` takes) of
    a running cluster whose workers have hsbench (the same version) and the codecs'
    libraries installed and can read the data root under the same path; or
    ``local:N`` to start a ``LocalCluster`` of N single-threaded worker processes on
    127.0.0.1 that closes with the run.

    The driver keeps at most one job per worker thread in flight, so a job starts
    when it is submitted and ``job_timeout`` measures its running time. A worker
    that dies makes Dask report ``KilledWorker`` for the job it ran; the job is
    resubmitted up to ``retries`` times. The local cluster is started with
    ``distributed.scheduler.allowed-failures = 0`` so that every death is counted
    here; an existing cluster applies its own ``allowed-failures`` first (Dask
    re-runs the task that many times before hsbench sees a failure). A job past
    the timeout is cancelled and its worker process told to exit; the worker's
    nanny starts a new one (workers started with ``--no-nanny`` stay gone).
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str,
        retries: int = DEFAULT_RETRIES,
        job_timeout: float | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        distributed = _import_distributed()
        import dask

        self.retries = max(0, int(retries))
        self.job_timeout = job_timeout
        self.scheduler = scheduler
        self._cluster = None
        self._inflight: dict[Any, tuple["Job", float]] = {}
        self._finished: queue_module.Queue[Any] = queue_module.Queue()
        kind, count = parse_scheduler(scheduler)
        if kind == "local":
            n = count or max(1, os.cpu_count() or 1)
            env = {var: "1" for var in _THREAD_VARS}
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=logging.ERROR, env=env,
                )
            self.client = distributed.Client(self._cluster, set_as_default=False)
        else:
            try:
                self.client = distributed.Client(scheduler, timeout=connect_timeout, set_as_default=False)
            except Exception as exc:  # OSError / TimeoutError / ValueError, depending on the failure
                raise HsbenchError(
                    f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({type(exc).__name__}: "
                    f"{exc}); start one with `dask scheduler` and workers with `dask worker {scheduler}`, "
                    "or use --scheduler local:N for a cluster on this machine"
                ) from exc
        self._run_id = uuid.uuid4().hex[:8]
        try:
            self._check_workers(connect_timeout)
        except BaseException:
            self.close()
            raise

    def _check_workers(self, timeout: float) -> None:
        from hsbench import __version__

        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except Exception as exc:
            raise HsbenchError(
                f"--scheduler {self.scheduler}: no Dask worker joined within {timeout:g} s; start workers "
                f"with `dask worker {self.scheduler}`"
            ) from exc
        try:
            reports = self.client.run(_worker_probe)
        except Exception as exc:
            raise HsbenchError(
                f"--scheduler {self.scheduler}: the Dask workers cannot run hsbench ({type(exc).__name__}: "
                f"{exc}); install hsbench {__version__} and the codecs' libraries on every worker"
            ) from exc
        wrong = {addr: r["hsbench"] for addr, r in reports.items() if r["hsbench"] != __version__}
        if wrong:
            listed = ", ".join(f"{a} has {v}" for a, v in sorted(wrong.items()))
            raise HsbenchError(
                f"--scheduler {self.scheduler}: Dask workers run another hsbench version than this driver "
                f"({__version__}): {listed}; install the same version everywhere so the rows are comparable"
            )

    def _capacity(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def _submit(self, fn: JobFn, job: "Job", attempt: int) -> Any:
        key = f"hsbench-{self._run_id}-{job.key}-{attempt}"
        future = self.client.submit(fn, job, key=key, pure=False, retries=0)
        self._inflight[future] = (job, time.monotonic())
        future.add_done_callback(self._finished.put)
        return future

    def _stop_worker_of(self, future: Any) -> str:
        """Free the worker still running ``future`` (cancelled): end its process.

        The process is told to exit from its event loop (``os._exit``), which works while
        the job's thread is busy. A worker under a nanny is then started again by the nanny
        (its automatic restart after a death); one without a nanny is gone. A nanny's
        graceful restart (``Client.restart_workers``) is not used: with the job still
        running, the worker misses its close deadline, and the nanny has been seen to close
        itself with it, which leaves the cluster a worker short.
        """
        processing = self.client.processing()
        owners = [addr for addr, keys in processing.items() if future.key in keys]
        future.cancel()
        if not owners:
            return "cancelled (it had just finished)"
        try:
            self.client.run(os._exit, 1, workers=owners, wait=False)
        except Exception:  # noqa: BLE001 - the worker is already unreachable
            return "its Dask worker was already lost"
        return "its Dask worker process was stopped (a nanny starts a new one)"

    def run(self, fn: JobFn, jobs: Sequence["Job"]) -> Iterator[dict[str, Any]]:
        """Yield a row per job as the cluster finishes them (faults: see the class docstring)."""
        from distributed import KilledWorker

        queue = collections.deque(jobs)
        attempts: dict[str, int] = {}
        inflight = self._inflight
        while queue or inflight:
            capacity = self._capacity()
            while queue and len(inflight) < capacity:
                job = queue.popleft()
                self._submit(fn, job, attempts.get(job.key, 0))
            wait_s = 1.0
            if self.job_timeout is not None:
                now = time.monotonic()
                soonest = min(t0 + self.job_timeout for _, t0 in inflight.values())
                wait_s = min(wait_s, max(0.0, soonest - now) + 0.01)
            done = []
            try:
                done.append(self._finished.get(timeout=wait_s))
                while True:
                    done.append(self._finished.get_nowait())
            except queue_module.Empty:
                pass
            for future in done:
                if future not in inflight:  # cancelled after a timeout: already recorded
                    continue
                job, _ = inflight.pop(future)
                if future.status == "finished":
                    yield future.result()
                    continue
                error: BaseException | None = None
                if future.status == "error":
                    error = future.exception()
                if future.status in ("cancelled", "lost") or isinstance(error, KilledWorker):
                    attempts[job.key] = attempts.get(job.key, 0) + 1
                    if attempts[job.key] > self.retries:
                        yield died_row(job, attempts[job.key])
                    else:
                        queue.appendleft(job)
                else:  # the task could not even start (e.g. a worker cannot unpickle the job)
                    yield fault_row(job, "failed", f"{type(error).__name__}: {error} (raised on the Dask worker)")
            if self.job_timeout is not None:
                now = time.monotonic()
                for future, (job, t0) in list(inflight.items()):
                    if now - t0 > self.job_timeout and future in inflight:
                        del inflight[future]
                        how = self._stop_worker_of(future)
                        yield timeout_row(job, self.job_timeout, how)

    def close(self) -> None:
        """Cancel the jobs in flight; close the client (and the local cluster it started)."""
        client = getattr(self, "client", None)
        if client is not None:
            try:
                if self._inflight:
                    client.cancel(list(self._inflight), force=True)
                self._inflight.clear()
                client.close()
            except Exception:
                pass
            self.client = None
        if self._cluster is not None:
            try:
                self._cluster.close()
            except Exception:
                pass
            self._cluster = None


# --------------------------------------------------------------------------------------
# choosing one
# --------------------------------------------------------------------------------------
def make_executor(
    workers: int = 1,
    scheduler: str | None = None,
    retries: int = DEFAULT_RETRIES,
    job_timeout: float | None = None,
) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """The executor for the ``run`` options: Dask when ``scheduler`` is given, else a process
    pool for ``workers > 1``, else serial. ``scheduler="local"`` starts ``workers`` Dask workers."""
    if retries < 0:
        raise HsbenchError(f"--retries must be 0 or more, got {retries}")
    if job_timeout is not None and not job_timeout > 0:
        raise HsbenchError(f"--job-timeout must be a positive number of seconds, got {job_timeout}")
    if scheduler:
        kind, count = parse_scheduler(scheduler)
        if kind == "local" and count is None and workers > 1:
            scheduler = f"local:{workers}"
        elif kind == "address" and workers > 1:
            raise HsbenchError(
                f"--workers {workers} with --scheduler {scheduler}: the cluster's own workers run the jobs; "
                "drop --workers (size the cluster with `dask worker --nworkers N`), or use --scheduler local:N"
            )
        return DaskExecutor(scheduler, retries=retries, job_timeout=job_timeout)
    if workers <= 1:
        return SerialExecutor(job_timeout=job_timeout)
    return ProcessExecutor(workers, retries=retries, job_timeout=job_timeout)
