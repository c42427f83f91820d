"""Check that two runs of the same command wrote the same rows, timings aside.

For speed work: run a sweep on the code before and after a change (same command, same
``--workers``), then::

    python benchmarks/same_rows.py RUN_BEFORE RUN_AFTER

Every column of every row must be equal except those that measure the run rather than the
codec's output (:data:`VARYING`: times, MB/s, peak resident memory, process id, host,
finish time). Exits 1, listing the differences, when a key or a value differs. (Rows of
runs with different ``--workers`` can differ in ``warmup`` too: which job of a process
warms a codec up depends on the schedule.)
"""

from __future__ import annotations

import sys

from hsbench.analysis import TIMING_COLUMNS
from hsbench.store import ResultStore

#: Columns that differ between identical runs: the timing table's, the single runs' times, the job's wall
#: time, the worker's resident peak and where and when it ran.
VARYING = frozenset({*TIMING_COLUMNS, "encode_s_runs", "decode_s_runs", "job_s", "worker_peak_rss_mb", "pid",
                     "host", "finished_at"})


def differences(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """One line per job key found in only one run and per differing value of a shared key."""
    out = [f"{key}: only in the {'first' if key in before else 'second'} run"
           for key in sorted(before.keys() ^ after.keys())]
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        for col in sorted((a.keys() | b.keys()) - VARYING):
            if a.get(col, "<missing>") != b.get(col, "<missing>"):
                out.append(f"{key} {col}: {a.get(col, '<missing>')!r} != {b.get(col, '<missing>')!r}"[:300])
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python benchmarks/same_rows.py RUN_BEFORE RUN_AFTER (two run folders)", file=sys.stderr)
        return 2
    before, after = (ResultStore(folder).rows() for folder in argv)
    if not before:
        print(f"{argv[0]} holds no rows (is it a run folder?)", file=sys.stderr)
        return 2
    found = differences(before, after)
    for line in found:
        print(line)
    columns = len(set().union(*(row.keys() for row in before.values())))
    print(f"{len(before)} / {len(after)} rows, {columns} columns ({len(VARYING)} not compared): "
          f"{len(found)} difference(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
