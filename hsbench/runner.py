"""The runner: execute a planned grid of jobs and persist their rows.

The pieces live in their own modules: :mod:`hsbench.jobs` (a job and the function
that runs it into a row), :mod:`hsbench.planning` (the grid codec x rate point x
image), :mod:`hsbench.store` (``rows.jsonl`` and its lock) and
:mod:`hsbench.executors` (where jobs run). This module is the driver that joins
them: it alone writes rows, one per job as it finishes, so an interrupted run
resumes where it stopped and never recomputes a finished job
(``docs/design.md`` principle 3). The names of those modules that callers used
from here (``Job``, ``execute_job``, ``plan_run``, ``ResultStore``, ...) are
re-exported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from hsbench.executors import DEFAULT_RETRIES, TIMEOUT_STATUS, make_executor
from hsbench.jobs import Job, execute_job
from hsbench.planning import RunPlan, codec_points, parse_param_options, plan_run
from hsbench.store import ROWS_FILE, ResultStore, StoreWriteError

__all__ = ["ROWS_FILE", "Job", "ResultStore", "RunPlan", "RunSummary", "codec_points", "execute_job",
           "execute_plan", "parse_param_options", "plan_run"]


@dataclass
class RunSummary:
    """What a run did: counts, the failed (or timed-out) rows, and what the store had to say."""

    total: int
    skipped: int
    ok: int
    failed: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

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
    store: ResultStore | None = None,
    after_first_row: Callable[[], Any] | None = None,
) -> RunSummary:
    """Run the jobs of ``plan`` not yet finished in its run folder, appending rows as they come.

    ``store`` is the run folder's :class:`~hsbench.store.ResultStore`, opened (locked,
    checked writable) by the caller; without it one is opened here, before the first
    job, and closed at the end. The executor is ``executor`` if given, else
    :func:`hsbench.executors.make_executor` of ``workers`` / ``scheduler`` /
    ``retries`` / ``job_timeout``. Only this function (the driver) writes rows, one
    per job of this run: a row an executor delivers twice for a key is dropped.

    On Ctrl-C (``KeyboardInterrupt``) the executor is closed (workers stopped, jobs
    in flight abandoned) and the interrupt propagates; every row written so far
    stays, so running the same plan again resumes with the unfinished jobs. A row
    that cannot be written (disk full) ends the run the same way, with an
    :class:`~hsbench.store.StoreWriteError` that says how to resume.

    ``after_first_row`` is called once, when the first row of this run is written: by then
    the jobs' own imports are done, so the caller can start importing what it needs after
    the run in the background (:func:`hsbench.outputs.prefetch`) without racing them.
    """
    own_store = store is None
    store = store or ResultStore(plan.out)
    store.open()
    try:
        return _execute(plan, store, workers, progress, executor, scheduler, retries, job_timeout, after_first_row)
    finally:
        if own_store:
            store.close()


def _execute(
    plan: RunPlan,
    store: ResultStore,
    workers: int,
    progress: bool,
    executor: Any | None,
    scheduler: str | None,
    retries: int,
    job_timeout: float | None,
    after_first_row: Callable[[], Any] | None = None,
) -> RunSummary:
    done = store.finished_keys()
    notes = list(store.notes)
    todo = [job for job in plan.jobs if job.key not in done]
    # A job listed twice (same key) runs once.
    todo = list({job.key: job for job in todo}.values())
    ok = 0
    failed: list[dict[str, Any]] = []
    if not todo:
        return RunSummary(total=len(plan.jobs), skipped=len(plan.jobs), ok=0, failed=[], notes=notes)
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
            try:
                store.append(row)
            except StoreWriteError as exc:
                left = len(todo) - len(written)
                raise StoreWriteError(
                    f"{exc}. The run stopped; the {len(written)} row(s) of this run written before are kept "
                    f"({len(plan.jobs) - len(todo)} were done earlier). Free some space (or fix the folder) and "
                    f"run the same command again to resume with the {left} job(s) not yet recorded"
                ) from None
            written.add(row["key"])
            if after_first_row is not None and len(written) == 1:
                after_first_row()
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
    return RunSummary(total=len(plan.jobs), skipped=len(plan.jobs) - len(todo), ok=ok, failed=failed, notes=notes)
