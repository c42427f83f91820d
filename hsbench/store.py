"""The result store: the append-only ``rows.jsonl`` of a run folder, and its lock.

The driver alone writes rows (``docs/design.md`` principle 3). Each row is one line
of JSON written by ``os.write`` calls on a descriptor opened with ``O_APPEND``
(short writes are continued until the whole line is out), then ``fsync``-ed, so a
row is either wholly on disk or, after a crash or a full disk mid-write, a *torn
tail*: a last line without its newline. Guarantees:

- **Torn tail.** Reading ignores it and says so. Opening the store for writing
  moves it into ``rows.jsonl.torn`` (appended, never overwritten), says so once,
  and truncates the store to its last complete line, so the next row starts on a
  fresh line instead of being glued onto the fragment. A write that fails part-way
  (``ENOSPC``) is cut back to where the line began.
- **Unparsable lines** (edited or damaged by hand, or glued rows written by hsbench
  before 0.1.1) are reported with their count and line numbers, never skipped
  silently; a glued line whose end is a whole row gets that row back.
- **The lock.** A run holds ``.hsbench.lock`` in the folder while it writes: an
  exclusive ``flock`` (released by the kernel when the process dies, even by
  ``kill -9``) on a file that names the PID, host and start time. A second run into
  the same folder refuses with that PID; a lock file left by a dead run is taken
  over (and said so). Where ``flock`` is not supported the PID is checked instead.
- **Writable before the first job.** Opening creates the folder, the lock and a
  probe block of :data:`PROBE_BYTES`, so a read-only or full folder is a clear
  :class:`StoreError` before any job runs; a write that fails during the run
  raises :class:`StoreWriteError` (the rows before it are kept).

The latest row of a job key wins, so a job retried after a failure never counts twice.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hsbench.errors import HsbenchError

ROWS_FILE = "rows.jsonl"
#: Where a torn last line is set aside (``rows.jsonl.torn``).
TORN_SUFFIX = ".torn"
LOCK_FILE = ".hsbench.lock"
#: Bytes written (and removed) when a store opens, to find a full disk before the first job.
PROBE_BYTES = 16384


#: Problems already warned about in this process (:meth:`ResultStore.read`).
_WARNED: set[str] = set()


class StoreError(HsbenchError):
    """The run folder cannot be used: not writable, full, or locked by another run."""


class StoreWriteError(StoreError):
    """Writing a row failed (disk full, I/O error); the rows written before are kept."""


class StoreWarning(UserWarning):
    """Something in ``rows.jsonl`` needed attention (torn tail, unparsable lines)."""


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _line_numbers(numbers: list[int], shown: int = 10) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


@dataclass
class StoreContents:
    """What :meth:`ResultStore.read` found: the latest row per key and the problems."""

    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: int = 0
    #: 1-based numbers of complete lines that hold no row
    bad_lines: list[int] = field(default_factory=list)
    #: 1-based numbers of damaged lines whose row was recovered from their end
    recovered_lines: list[int] = field(default_factory=list)
    #: bytes of the last line when it has no newline (an interrupted write), else 0
    torn_bytes: int = 0

    def problems(self, path: Path) -> list[str]:
        """One sentence per kind of problem (empty when the file is clean)."""
        out = []
        if self.bad_lines:
            out.append(f"{path}: {len(self.bad_lines)} line(s) are not hsbench rows and were left out "
                       f"(line {_line_numbers(self.bad_lines)}); their jobs run again on the next "
                       "`hsbench run` into this folder")
        if self.recovered_lines:
            out.append(f"{path}: line {_line_numbers(self.recovered_lines)} held a row glued onto the "
                       "fragment of an interrupted write; the row was recovered")
        if self.torn_bytes:
            out.append(f"{path}: the last line ({self.torn_bytes} bytes) is an interrupted write and was "
                       "left out; the next `hsbench run` into this folder sets it aside and re-runs its job")
        return out


def _parse_line(text: str) -> dict[str, Any] | None:
    try:
        row = json.loads(text)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) and isinstance(row.get("key"), str) else None


def _recover_glued(text: str) -> dict[str, Any] | None:
    """The row at the end of ``fragment + row`` (an append glued onto a torn tail), if there is one."""
    start = text.find('{"', 1)
    while start != -1:
        row = _parse_line(text[start:])
        if row is not None:
            return row
        start = text.find('{"', start + 1)
    return None


def parse_rows(data: bytes) -> StoreContents:
    """Parse the bytes of a ``rows.jsonl`` (see the module docstring for what counts as a problem)."""
    contents = StoreContents()
    body, sep, tail = data.rpartition(b"\n")
    if not sep:
        body, tail = b"", data
    contents.torn_bytes = len(tail)
    if not body:
        return contents
    for number, raw in enumerate(body.split(b"\n"), start=1):
        contents.lines = number
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        row = _parse_line(text)
        if row is None:
            row = _recover_glued(text)
            if row is None:
                contents.bad_lines.append(number)
                continue
            contents.recovered_lines.append(number)
        contents.latest[row["key"]] = row
    return contents


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultStore:
    """Append-only JSON-lines store of rows in a run folder (see the module docstring).

    Reading (:meth:`rows`, :meth:`read`) never changes the folder. Writing goes
    through :meth:`open` (or ``with store:``), which takes the lock, sets a torn
    tail aside and probes the disk; :meth:`append` opens the store itself when it
    is not open yet. :meth:`close` releases the lock.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / ROWS_FILE
        self.torn_path = self.folder / (ROWS_FILE + TORN_SUFFIX)
        self.lock_path = self.folder / LOCK_FILE
        self._fd: int | None = None
        self._lock_fd: int | None = None
        #: what opening the store had to say (a torn tail set aside, a stale lock taken over)
        self.notes: list[str] = []

    # -- reading -------------------------------------------------------------------
    def read(self, warn: bool = True) -> StoreContents:
        """Every row (latest per key) and the problems found; ``warn`` emits them as :class:`StoreWarning`."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return StoreContents()
        contents = parse_rows(data)
        if warn:
            for problem in contents.problems(self.path):
                if problem not in _WARNED:  # once per process, whichever code reads the rows
                    _WARNED.add(problem)
                    warnings.warn(problem, StoreWarning, stacklevel=3)
        return contents

    def rows(self) -> dict[str, dict[str, Any]]:
        """Latest row of every job key in the store (problems are warned about)."""
        return self.read().latest

    def finished_keys(self) -> set[str]:
        """Keys of jobs that finished successfully (skipped on resume)."""
        return {k for k, r in self.rows().items() if r.get("status") == "ok"}

    # -- opening and closing --------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> "ResultStore":
        """Lock the folder for this process, set a torn tail aside and check the disk takes writes.

        Raises :class:`StoreError` with what to do when the folder cannot be created or
        written, is full, or another live run holds its lock.
        """
        if self._fd is not None:
            return self
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the run folder {self.folder} ({_why(exc)}); give --out a folder "
                             "you can write to") from None
        self._lock()
        try:
            self._set_torn_tail_aside()
            self._probe()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            self._unlock()
            raise StoreError(self._unwritable(exc)) from None
        except BaseException:
            self._unlock()
            raise
        return self

    def close(self) -> None:
        """Close the rows file and release the lock (safe to call twice)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._unlock()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "ResultStore":
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _unwritable(self, exc: OSError) -> str:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return (f"the run folder {self.folder} has no space left ({_why(exc)}); free some space or give "
                    "--out a folder on another disk")
        return (f"cannot write into the run folder {self.folder} ({_why(exc)}); give --out a folder you can "
                "write to")

    def _probe(self) -> None:
        probe = self.folder / f".hsbench-probe-{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, b"\0" * PROBE_BYTES)
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            try:
                probe.unlink()
            except OSError:
                pass

    def _set_torn_tail_aside(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                return
            # find the last newline, reading backwards in blocks
            end, tail_start = size, None
            while end > 0 and tail_start is None:
                start = max(0, end - 65536)
                block = os.pread(fd, end - start, start)
                cut = block.rfind(b"\n")
                if cut != -1:
                    tail_start = start + cut + 1
                end = start
            tail_start = tail_start or 0
            if tail_start == size:
                return
            tail = os.pread(fd, size - tail_start, tail_start)
            if _parse_line(tail.decode("utf-8", errors="replace")) is not None:
                _write_all(fd, b"\n", offset=size)  # a whole row whose newline was lost: keep it
                os.fsync(fd)
                self.notes.append(f"{self.path}: the last row had lost its newline; it was completed")
                return
            with open(self.torn_path, "ab") as fh:
                fh.write(tail + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.ftruncate(fd, tail_start)
            os.fsync(fd)
            self.notes.append(
                f"{self.path}: its last line ({len(tail)} bytes) was cut short by an interrupted write; it was "
                f"moved to {self.torn_path.name} and its job runs again"
            )
        finally:
            os.close(fd)

    # -- the lock --------------------------------------------------------------------
    def _lock(self) -> None:
        for _ in range(10):
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreError(self._unwritable(exc)) from None
            try:
                held = _flock(fd)
                if held is False:
                    raise StoreError(self._locked_message(self._lock_owner(fd)))
                if held is None:  # no flock on this file system: trust a live PID on this host
                    owner = self._lock_owner(fd)
                    if owner.get("host") == socket.gethostname() and _pid_alive(int(owner.get("pid", 0) or 0)) \
                            and int(owner.get("pid", 0) or 0) != os.getpid():
                        raise StoreError(self._locked_message(owner))
                # the file may have been removed by its last holder between our open and flock: retry
                try:
                    same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
                owner = self._lock_owner(fd)
                if owner.get("pid"):
                    self.notes.append(f"{self.lock_path}: took over the lock left by run PID {owner['pid']} on "
                                      f"{owner.get('host', '?')} (started {owner.get('started', '?')}), which "
                                      "is no longer running")
                text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                   "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n"
                os.ftruncate(fd, 0)
                _write_all(fd, text.encode(), offset=0)
                os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                raise StoreError(self._unwritable(exc)) from None
            except BaseException:
                os.close(fd)
                raise
            self._lock_fd = fd
            return
        raise StoreError(f"cannot take the lock {self.lock_path}: it keeps being replaced by another run")

    @staticmethod
    def _lock_owner(fd: int) -> dict[str, Any]:
        try:
            data = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
            owner = json.loads(data) if data else {}
            return owner if isinstance(owner, dict) else {}
        except (OSError, json.JSONDecodeError):
            return {}

    def _locked_message(self, owner: dict[str, Any]) -> str:
        who = (f"PID {owner.get('pid', '?')} on {owner.get('host', '?')}, started {owner.get('started', '?')}"
               if owner else "another process")
        return (f"another hsbench run ({who}) is writing into {self.folder}; wait for it to finish (then run "
                f"again to resume), or give another --out. The lock is {self.lock_path}")

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        try:
            os.unlink(self.lock_path)  # while still holding the flock (see _lock's inode check)
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None

    # -- writing -----------------------------------------------------------------------
    def append(self, row: dict[str, Any]) -> None:
        """Write one row as one line, fsynced; opens the store first when needed.

        Raises :class:`StoreWriteError` when the line cannot be written whole (the
        file is cut back to where the line began, so no torn tail is left).
        """
        if self._fd is None:
            self.open()
        assert self._fd is not None
        line = (json.dumps(row, sort_keys=True, default=str) + "\n").encode("utf-8")
        start = os.fstat(self._fd).st_size
        try:
            _write_all(self._fd, line)
            os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass  # the torn tail is set aside when the store is next opened
            raise StoreWriteError(f"cannot write a row to {self.path} ({_why(exc)})") from None


def _write_all(fd: int, data: bytes, offset: int | None = None) -> None:
    """``os.write`` (or ``os.pwrite`` at ``offset``) until every byte is out; a write of 0 bytes is ``ENOSPC``."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]
        if offset is not None:
            offset += n


def _flock(fd: int) -> bool | None:
    """Try an exclusive non-blocking ``flock``: True taken, False held by another process, None unsupported."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return None
        raise
    return True
