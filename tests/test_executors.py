"""Executors: serial, local processes and Dask give the same rows; worker deaths, timeouts, Ctrl-C, resume.

The Dask tests run a real ``LocalCluster`` of two single-threaded worker
processes on 127.0.0.1, reached through its ``tcp://`` address exactly as an
existing cluster would be.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, REPO
from hsbench.analysis import load_rows
from hsbench.errors import HsbenchError
from hsbench.executors import DaskExecutor, ProcessExecutor, SerialExecutor, make_executor, parse_scheduler
from hsbench.runner import execute_plan, plan_run

COMPARED = ["key", "codec", "params", "image", "bytes", "bpppc", "mse", "psnr", "ssim", "exact", "image_sha256",
            "status"]


def _lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "rows.jsonl").read_text().splitlines()]


def _table(run: Path):
    return load_rows(run)[COMPARED].sort_values("key").reset_index(drop=True)


@pytest.fixture
def warmed(plugin, images, tmp_path):
    """Run the jobs once without a timeout first, so that the timed run's first job does not carry
    the first imports and numba's compilation of the metric kernels (over 3 s in a fresh
    environment: an ok job timed out there)."""
    summary = execute_plan(plan_run([plugin], [f"folder:{images}"], tmp_path / "warm", params=["level=1"]),
                           progress=False, executor=SerialExecutor())
    assert summary.ok == 4
    return plugin


# -- serial and processes -------------------------------------------------------------------


def test_serial_timeout_interrupts_the_slow_job_only(warmed, images, tmp_path):
    plan = plan_run(["testraw"], [f"folder:{images}"], tmp_path / "run",
                    params=["level=1", "sleep=30", "sleep_on=img2"])
    t0 = time.monotonic()
    # 3 s: the first job's imports count too (0.5 s timed out an ok job when run alone under load)
    summary = execute_plan(plan, progress=False, executor=SerialExecutor(job_timeout=3))
    assert time.monotonic() - t0 < 20
    assert summary.ok == 3 and summary.timed_out == 1
    (row,) = summary.failed
    assert row["image"] == "img2" and row["status"] == "timeout" and "--job-timeout 3 s" in row["error"]


def test_processes_timeout_and_death_charge_only_the_guilty_job(warmed, images, tmp_path):
    run = tmp_path / "run"
    plan = plan_run(["testraw"], [f"folder:{images}"], run,
                    params=["level=1", "sleep=60", "sleep_on=img2", "crash_on=img0"])
    t0 = time.monotonic()
    # the timeout counts from dispatch, a restarted worker's imports included: 8 s leaves room for
    # them on a loaded 2-core machine (3 s timed out an ok job there)
    summary = execute_plan(plan, progress=False, executor=ProcessExecutor(2, retries=2, job_timeout=8))
    assert time.monotonic() - t0 < 50  # the sleeping job was stopped, not waited for
    by_image = {r["image"]: r for r in _lines(run)}
    assert len(_lines(run)) == 4 == len(by_image)
    assert by_image["img2"]["status"] == "timeout"
    assert by_image["img0"]["status"] == "failed" and "died 3 time(s)" in by_image["img0"]["error"]
    assert by_image["img1"]["status"] == by_image["img3"]["status"] == "ok"
    assert summary.ok == 2 and summary.timed_out == 1


def test_pool_started_early_runs_the_jobs_on_its_processes(plugin, images, tmp_path):
    """start() launches the processes (idempotent); run() uses them rather than new ones."""
    pool = ProcessExecutor(2)
    try:
        pool.start()
        pids = {slot.process.pid for slot in pool._slots}
        pool.start()
        assert {slot.process.pid for slot in pool._slots} == pids and len(pids) == 2
        run = tmp_path / "run"
        summary = execute_plan(plan_run(["testraw"], [f"folder:{images}"], run, params=["level=1,2"]),
                               progress=False, executor=pool)
        assert summary.ok == 8
        assert {r["pid"] for r in _lines(run)} <= pids
    finally:
        pool.close()


def test_make_executor_choices_and_errors():
    assert isinstance(make_executor(1), SerialExecutor)
    pool = make_executor(3, retries=0, job_timeout=5)
    assert isinstance(pool, ProcessExecutor) and pool.workers == 3 and pool.retries == 0
    pool.close()
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("local") == ("local", None)
    assert parse_scheduler("tcp://10.0.0.5:8786") == ("address", None)
    with pytest.raises(HsbenchError, match="local:N with N >= 1"):
        parse_scheduler("local:zero")
    with pytest.raises(HsbenchError, match="--retries must be 0 or more"):
        make_executor(2, retries=-1)
    with pytest.raises(HsbenchError, match="the cluster's own workers run the jobs"):
        make_executor(4, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(HsbenchError, match="--job-timeout must be a positive"):
        make_executor(1, job_timeout=0)


def test_missing_dask_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(HsbenchError, match=r"pip install 'hsbench\[dask\]'"):
        make_executor(scheduler="local:2")


def test_unreachable_scheduler_is_a_clear_error():
    pytest.importorskip("distributed")
    with pytest.raises(HsbenchError, match="cannot reach a Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1)


# -- Dask ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two single-threaded worker processes on 127.0.0.1 that can import the test plugin."""
    distributed = pytest.importorskip("distributed")
    import dask

    with pytest.MonkeyPatch.context() as mp:
        # spawned workers (also those the nanny restarts) start with the driver's sys.path
        mp.syspath_prepend(str(PLUGIN_DIR))
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                          dashboard_address=None, silence_logs=40)
        client = distributed.Client(lc.scheduler_address, set_as_default=False)
        yield lc, client
        client.close()
        lc.close()


def test_dask_rows_match_serial_and_processes(plugin, images, tmp_path, cluster):
    lc, _ = cluster
    runs = {name: tmp_path / name for name in ("serial", "processes", "dask")}
    spec = [f"folder:{images}"]
    execute_plan(plan_run(["testraw"], spec, runs["serial"]), progress=False)
    execute_plan(plan_run(["testraw"], spec, runs["processes"]), workers=2, progress=False)
    summary = execute_plan(plan_run(["testraw"], spec, runs["dask"]), progress=False, scheduler=lc.scheduler_address)
    assert summary.ok == 8 and not summary.failed
    serial = _table(runs["serial"])
    assert len(serial) == 8
    assert serial.equals(_table(runs["processes"]))
    assert serial.equals(_table(runs["dask"]))
    assert os.getpid() not in set(load_rows(runs["dask"])["pid"]), "the jobs ran on the Dask workers"


def test_dask_worker_killed_mid_job_is_retried_without_duplicates(plugin, images, tmp_path, cluster):
    lc, client = cluster
    run = tmp_path / "run"
    plan = plan_run(["testraw"], [f"folder:{images}"], run, params=["level=1", "sleep=1.5"])
    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            busy = [addr for addr, keys in client.processing().items() if keys]
            if busy:
                time.sleep(0.3)  # let the job get well into its sleep
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    summary = execute_plan(plan, progress=False, scheduler=lc.scheduler_address, retries=1)
    killer.join()
    assert killed, "no worker was killed"
    rows = _lines(run)
    assert len(rows) == 4 == len({r["key"] for r in rows}), "one row per job, none duplicated"
    assert summary.ok == 4 and all(r["status"] == "ok" for r in rows)
    assert killed[0] not in {r["pid"] for r in rows}
    client.wait_for_workers(2, timeout=60)


def test_dask_crashing_job_is_recorded_after_the_retry_limit(plugin, images, tmp_path, cluster):
    lc, client = cluster
    run = tmp_path / "run"
    plan = plan_run(["testraw"], [f"folder:{images}"], run, params=["level=1", "crash_on=img1"])
    summary = execute_plan(plan, progress=False, scheduler=lc.scheduler_address, retries=1)
    rows = _lines(run)
    assert len(rows) == 4 == len({r["key"] for r in rows})
    assert summary.ok == 3
    (bad,) = summary.failed
    assert bad["image"] == "img1" and "WorkerDied" in bad["error"] and "died 2 time(s)" in bad["error"]
    client.wait_for_workers(2, timeout=60)


def test_dask_job_timeout_restarts_the_worker(warmed, images, tmp_path, cluster):
    lc, client = cluster
    run = tmp_path / "run"
    plan = plan_run(["testraw"], [f"folder:{images}"], run, params=["level=1", "sleep=300", "sleep_on=img3"])
    t0 = time.monotonic()
    summary = execute_plan(plan, progress=False, scheduler=lc.scheduler_address, job_timeout=6)  # 2 s: flaky under load
    assert time.monotonic() - t0 < 60  # stopped, not waited for
    by_image = {r["image"]: r for r in _lines(run)}
    assert by_image["img3"]["status"] == "timeout" and "--job-timeout 6" in by_image["img3"]["error"]
    assert summary.ok == 3 and summary.timed_out == 1
    # its process was ended and its nanny started a new one (a graceful restart once closed the
    # nanny as well in CI, which left one worker)
    client.wait_for_workers(2, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [["--workers", "2"], ["--scheduler", "local:2"]], ids=["processes", "dask"])
def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(plugin, images, tmp_path, backend):
    if backend[0] == "--scheduler":
        pytest.importorskip("distributed")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "hsbench", "run", "--codecs", "testraw", "--dataset", f"folder:{images}",
           "--param", "sleep=0.4", "--param", "level=1,2", "--out", str(out), "--quiet", "--no-plots"]
    # SIGINT as at a terminal: a suite started in the background (`cmd &`, nohup) passes it on ignored,
    # and Python then never raises KeyboardInterrupt in the child
    proc = subprocess.Popen(cmd + backend, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=os.environ.copy(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        if (out / "rows.jsonl").exists() and len(_lines(out)) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert "Run the same command again to resume" in err.decode()
    first = _lines(out)
    assert 2 <= len(first) < 8, "the run should have been interrupted part-way"
    # resuming is the driver's business: any backend picks up where the interrupted one stopped
    rerun = subprocess.run(cmd, cwd=REPO, env=os.environ.copy(), capture_output=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr.decode()
    keys = [r["key"] for r in _lines(out)]
    assert len(keys) == 8 == len(set(keys)), "finished jobs were not recomputed, no row is duplicated"
    assert [r["key"] for r in first] == keys[: len(first)]
