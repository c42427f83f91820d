"""The result store: torn tails, short writes, unparsable lines, full and read-only folders, the lock, kill -9.

The full-disk tests run on a real size-capped file system (a small tmpfs mounted for
the test, which needs root) and, everywhere, on a monkeypatched ``os.write`` that
fails with ENOSPC.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from hsbench.analysis import load_rows
from hsbench.runner import execute_plan, plan_run
from hsbench.store import LOCK_FILE, ResultStore, StoreError, StoreWarning, parse_rows


def _lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "rows.jsonl").read_text().splitlines()]


def _run_cmd(images: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hsbench", "run", "--codecs", "testraw", "--dataset", f"folder:{images}",
            "--out", str(out), "--quiet", "--no-plots", *extra]


# -- torn tails, short writes, unparsable lines -----------------------------------------------


def test_torn_tail_is_set_aside_once_and_the_next_row_starts_a_fresh_line(tmp_path):
    store = ResultStore(tmp_path)
    store.append({"key": "a", "status": "ok"})
    store.close()
    with open(store.path, "ab") as fh:
        fh.write(b'{"key": "b", "sta')  # a crash mid-write
    with pytest.warns(StoreWarning, match="interrupted write"):
        assert set(store.rows()) == {"a"}  # reading ignores it and says so, and changes nothing
    assert store.path.read_bytes().endswith(b'"sta')

    again = ResultStore(tmp_path)
    again.append({"key": "c", "status": "ok"})
    assert any("moved to rows.jsonl.torn" in n for n in again.notes)
    again.close()
    assert (tmp_path / "rows.jsonl.torn").read_bytes() == b'{"key": "b", "sta\n'
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file is clean now: no warning
        assert set(ResultStore(tmp_path).rows()) == {"a", "c"}
    third = ResultStore(tmp_path).open()
    assert third.notes == []  # said once
    third.close()


def test_a_row_that_lost_only_its_newline_is_kept(tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"key": "a", "status": "ok"}')
    store = ResultStore(tmp_path).open()
    store.append({"key": "b", "status": "ok"})
    store.close()
    assert [r["key"] for r in _lines(tmp_path)] == ["a", "b"]
    assert not (tmp_path / "rows.jsonl.torn").exists()


def test_short_writes_are_continued(tmp_path, monkeypatch):
    real_write = os.write

    def short_write(fd, data):
        return real_write(fd, bytes(data[:7]))  # the kernel may write less than asked

    monkeypatch.setattr(os, "write", short_write)
    store = ResultStore(tmp_path)
    rows = [{"key": f"k{i}", "status": "ok", "value": "x" * 50} for i in range(5)]
    for row in rows:
        store.append(row)
    store.close()
    monkeypatch.undo()
    assert _lines(tmp_path) == rows


def test_unparsable_lines_are_reported_with_their_numbers_and_glued_rows_recovered(tmp_path):
    good = [json.dumps({"key": k, "status": "ok"}, sort_keys=True) for k in "abcd"]
    text = "\n".join([good[0], "not json at all", '{"no_key": 1}', '{"key": "b", "sta' + good[1],
                      "", good[2], "[1, 2]", good[3]]) + "\n"
    (tmp_path / "rows.jsonl").write_text(text)
    contents = parse_rows(text.encode())
    assert contents.bad_lines == [2, 3, 7] and contents.recovered_lines == [4]
    with pytest.warns(StoreWarning) as caught:
        df = load_rows(tmp_path)
    messages = " ".join(str(w.message) for w in caught)
    assert "3 line(s) are not hsbench rows" in messages and "line 2, 3, 7" in messages
    assert "line 4 held a row glued" in messages
    assert sorted(df["key"]) == ["a", "b", "c", "d"]


# -- unusable folders ------------------------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path):
    """Mount a tmpfs of the given size at a fresh folder (root only); yields a function(size) -> Path."""
    mounts: list[Path] = []

    def mount(size: str, *options: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a size-capped tmpfs needs root")
        point = tmp_path / f"fs{len(mounts)}"
        point.mkdir()
        opts = ",".join((f"size={size}", *options))
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], capture_output=True,
                              text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in reversed(mounts):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _read_only_folder(tmp_path: Path, small_fs) -> Path:
    if os.geteuid() == 0:  # root writes through file modes: use a read-only mount
        return small_fs("1m", "ro")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def test_read_only_folder_is_refused_before_any_job(plugin, images, tmp_path, small_fs, capsys):
    folder = _read_only_folder(tmp_path, small_fs)
    t0 = time.monotonic()
    rc = run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--param", "sleep=30",
                 "--out", str(folder / "run"), "--quiet")
    err = capsys.readouterr().err
    assert rc == 2 and time.monotonic() - t0 < 20  # no job ran (each would sleep 30 s)
    assert "cannot create the run folder" in err and "Traceback" not in err
    rc = run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--out", str(folder), "--quiet")
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write into the run folder" in err and "give --out" in err


def test_full_disk_is_refused_before_any_job(plugin, images, small_fs, capsys):
    fs = small_fs("64k")
    (fs / "filler").write_bytes(b"\0" * (64 * 1024 - 8192))  # leaves less than the probe needs
    rc = run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--out", str(fs / "run"), "--quiet")
    err = capsys.readouterr().err
    assert rc == 2 and "no space left" in err and "Traceback" not in err
    assert not (fs / "run" / "rows.jsonl").exists()


def test_disk_filling_up_mid_run_ends_cleanly_and_resumes(plugin, images, small_fs):
    fs = small_fs("32k")  # the lock and the probe fit, 40 rows of ~1.4 kB do not
    out = fs / "run"
    cmd = _run_cmd(images, out, "--param", "level=0,1,2,3,4,5,6,7,8,9")
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 2, done.stderr
    assert "No space left" in done.stderr and "run the same command again to resume" in done.stderr
    assert "Traceback" not in done.stderr
    first = _lines(out)  # every line parses: the failed write was cut back
    assert 1 <= len(first) < 40 and len({r["key"] for r in first}) == len(first)
    assert not (out / LOCK_FILE).exists()

    subprocess.run(["mount", "-o", "remount,size=4m", str(fs)], check=True)
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    rows = _lines(out)
    assert len(rows) == 40 == len({r["key"] for r in rows})  # nothing finished was recomputed
    assert [r["key"] for r in rows[: len(first)]] == [r["key"] for r in first]


def test_enospc_from_os_write_mid_run_keeps_the_finished_rows(plugin, images, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real_write = os.write
    state = {"rows": 0}

    def failing_write(fd, data):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target.endswith("rows.jsonl"):
            state["rows"] += 1
            if state["rows"] == 4:  # half a row gets out, then the disk is full
                real_write(fd, bytes(data[: len(data) // 2]))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing_write)
    plan = plan_run(["testraw"], [f"folder:{images}"], out)
    with pytest.raises(StoreError, match="resume with the 5 job"):
        execute_plan(plan, progress=False)
    monkeypatch.undo()
    rows = _lines(out)
    assert len(rows) == 3 and not (out / "rows.jsonl.torn").exists()
    summary = execute_plan(plan_run(["testraw"], [f"folder:{images}"], out), progress=False)
    assert summary.skipped == 3 and summary.ok == 5
    assert len(_lines(out)) == 8 == load_rows(out)["key"].nunique()


# -- the lock --------------------------------------------------------------------------------


def test_a_second_run_into_the_same_folder_refuses_and_a_killed_runs_lock_is_taken_over(plugin, images, tmp_path,
                                                                                        capsys):
    out = tmp_path / "run"
    cmd = _run_cmd(images, out, "--param", "sleep=0.3", "--param", "level=1,2,3")
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=os.environ.copy())
    deadline = time.time() + 60
    while time.time() < deadline and not ((out / "rows.jsonl").exists() and len(_lines(out)) >= 2):
        time.sleep(0.05)
    rc = run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--param", "sleep=0.3",
                 "--param", "level=1,2,3", "--out", str(out), "--quiet", "--no-plots")
    err = capsys.readouterr().err
    assert rc == 2 and f"another hsbench run (PID {first.pid}" in err and "give another --out" in err
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == first.pid  # left behind by kill -9
    before = _lines(out)
    assert 2 <= len(before) < 12
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert f"took over the lock left by run PID {first.pid}" in done.stderr
    rows = _lines(out)
    assert len(rows) == 12 == len({r["key"] for r in rows})  # every finished row readable exactly once
    assert not (out / LOCK_FILE).exists()


def test_pid_lock_without_flock(tmp_path, monkeypatch):
    import hsbench.store as store_module

    monkeypatch.setattr(store_module, "_flock", lambda fd: None)  # a file system without flock
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        import socket

        lock = tmp_path / LOCK_FILE
        lock.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(), "started": "t"}))
        with pytest.raises(StoreError, match=f"PID {sleeper.pid}"):
            ResultStore(tmp_path).open()
    finally:
        sleeper.kill()
        sleeper.wait()
    store = ResultStore(tmp_path).open()  # that PID is dead now: its lock is stale
    assert any(f"PID {sleeper.pid}" in n and "no longer running" in n for n in store.notes)
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    store.close()
    assert not lock.exists()
