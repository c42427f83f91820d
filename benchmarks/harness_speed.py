"""What the harness costs on top of the codecs: ``hsbench run`` against its jobs' own work.

The sweep of issue 14: jpeg2000 at 4 ratios on 6 Kodak images (24 jobs). Measured:

- ``work``: the jobs' own work, in this process, warm (after one untimed job):
  load the image, encode, decode, the metric suite (``hsbench.metrics.evaluate``),
  summed over the 24 jobs; and the same without the metrics (``codec``);
- ``run_1``: wall time of ``hsbench run --workers 1`` in a fresh process, start-up,
  planning, storing, tables, plots and manifest included; ``run_2`` with 2 workers.

Printed ratios: ``run_1 / work`` (target at most 1.15) and the parallel efficiency
``run_1 / (2 * run_2)`` (target at least 0.85 with 2 cores), the best of ``--repeat``
measurements each, then where the harness's time goes: a run into a finished folder
(start-up, planning, tables, manifest; with plots, which it keeps as they are, and
without), the plots' cost in a fresh run and the cost per job beyond its own work. Run::

    python benchmarks/harness_speed.py [--data-root ../shared/datasets] [--repeat 2]

``--parts`` prints instead the CPU seconds of each part of a 1-worker run (imports, planning,
the first job, the other jobs, rows, tables, plots, manifest), the least of ``--repeat`` runs.

Needs the Kodak images in the data root (``hsbench datasets download kodak``).

Measured on the shared 2-core development machine (Intel, 2 CPUs) while other engineers'
jobs loaded it, with ``nice -n 0 python benchmarks/harness_speed.py --repeat 2``; load
average 4.1 (1 min) / 5.1 (5 min) before, 4.2 / 4.8 after, i.e. about two other busy
processes per core, so wall times are inflated and the 2-worker run never had two free
cores: its efficiency figure is not meaningful here, the CPU figures are more so.
Work 9.87 s (codec alone 6.98 s; 6.52 CPU s); ``hsbench run`` 1 worker 17.07 s (ratio
1.73; 11.30 CPU s, ratio 1.73), 2 workers 20.69 s (efficiency 0.41; 13.36 CPU s: the pool
costs 2.06 CPU s more, so with 2 free cores the efficiency could reach at most
11.30 / 13.36 = 0.85); a run into a finished folder 1.39 s without plots, 1.72 s with them
(kept, not redrawn); plots in a fresh run 3.5 s; a run without plots 13.55 s (ratio 1.37).
Where the 1-worker run's ~4.8 CPU s beyond the work go (``time.process_time`` of the parts,
same load): start-up imports ~0.5 s, planning 0.13 s, the first job's one-time costs
(numba kernels from the cache, OpenJPEG set-up) ~0.6 s, pandas + matplotlib imports
~1.3 s (imported in a background thread while the jobs run, so hidden in wall time when a
core is free), the 12 plot files ~2 s, tables and manifest ~0.15 s.
The same script on the code before the speed work (commit 0dbe4f9, ``--repeat 1``, load
6.4 / 6.5 before, 6.8 / 6.6 after): work 12.35 s (5.74 CPU s), 1 worker 19.84 s (ratio
1.61; 9.92 CPU s, 1.73), 2 workers 25.01 s (efficiency 0.40; 12.36 CPU s, bound 0.80), a
run into a finished folder 2.63 s without plots, plots 4.6 s more. Neither target is met:
at ratio 1.15 the harness could spend ~1 s on top of ~6.5 s of work, less than its
imports and plots take.

On the same machine with no other job running (``python benchmarks/harness_speed.py
--data-root ../shared/datasets --repeat 2``, load 0.9 / 2.3 before, 1.1 / 1.9 after, at main
after the speed work): work 6.44 s (codec alone 4.49 s); 1 worker 11.05 s (ratio 1.72; CPU
ratio 1.81), 2 workers 8.27 s (efficiency 0.67; the pool's extra 2.26 CPU s bound it at 0.84);
fixed cost of a run with every job done 1.13 s, plots 1.24 s, a run without plots 9.80 s
(ratio 1.52). Still short of both targets.

Issue 14, second pass (AMD EPYC VM, 2 vCPUs, shared: an asv run and a model training of other
engineers kept the load at 2.8 to 4.8 throughout, so the wall figures swing by 30 % between
identical runs and only the CPU figures are worth comparing). ``python benchmarks/harness_speed.py
--data-root ../shared/datasets --repeat 2`` twice on commit d83e386 (with this script): 1 worker
ratio 2.13 / 2.69 (CPU 2.11 / 2.24), efficiency 0.45 / 0.42. The "per job beyond its work" of
the earlier passes is not per job: in CPU seconds it is 40 to 60 ms a job, of which ~40 ms is
the first job's one-time costs spread over the 24 jobs (0.93 to 1.02 s: importing numba,
~0.4 s, and numba's target set-up when the first kernel is loaded from the cache, ~0.5 s,
which imports scipy.linalg; measured by this script as the untimed first job less a warm one);
the remaining 0 to 20 ms a job is noise around the row's own costs (``psnr_norm`` 3.5 ms, the
row's fsync 0.4 ms, image SHA-256 1 ms, library versions 2 ms). Where a 1-worker run's CPU
goes: ``python benchmarks/harness_speed.py --data-root ../shared/datasets --parts --repeat 3``
(``time.thread_time`` of each part, the least of 3 runs; load 2.8 to 3.4), commit d83e386:

==========================================  ==========
part                                        CPU (s)
==========================================  ==========
imports: CLI, numpy, glymur, pandas, ...    0.55
planning                                    0.13
first job (its one-time costs: numba ...)   1.00
the other 23 jobs                           4.75
rows written (24 x JSON + fsync)            0.01
matplotlib import (background thread)       0.54
tables (rows.csv, rd, timing)               0.07
plots, 6 figures x PNG + SVG                1.43
manifest                                    0.02
whole process, interpreter included         9.05
==========================================  ==========

So, of the ~3.6 CPU s a run spends beyond its jobs' work, ~2.0 s are one-time costs of the
libraries (numba's set-up, pandas and matplotlib imports, the other imports), ~1.5 s the
figures and ~0.2 s planning, tables and manifest; no cost grows with the jobs beyond the
row's few milliseconds. The figure keys now look up matplotlib's version once (6 x 7 ms
less). Drawing the figures in forked processes, one per core, was tried: each of 2 children
drew for 0.8 to 0.9 CPU s against 1.4 to 1.6 s in one process, but the wall-time gain could not
be measured (no core was free), and forking while the run's threads are alive (the progress
bar's monitor, the background imports, Dask's threads) can deadlock a child, so it was not
kept. The rows do not change with such work: ``python benchmarks/same_rows.py BEFORE AFTER``
compares two run folders outside the timing, memory and process columns (24 rows, 0
differences for the change above). The targets stay out of reach at this sweep's size: the
one-time costs alone are ~2 s, a third of its 5 to 6.5 s of work where the 1.15 target leaves
15 %, and with 2 workers each pool process pays them again (imports 0.65 s + numba 0.8 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODEC = "jpeg2000"
PARAM = "ratio=8,16,32,64"
IMAGES = 6


def _work(data_root: str) -> tuple[float, float, float, int, float]:
    """Seconds of load + encode + decode + metrics (and without metrics) over the sweep's jobs, warm;
    the CPU seconds of the former; and the CPU seconds of the untimed first job (with the process's
    one-time costs when this is the first call: imports, numba kernels from the cache, OpenJPEG)."""
    from hsbench import metrics
    from hsbench.codecs.registry import create_codec
    from hsbench.planning import plan_run

    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_run([CODEC], ["kodak"], tmp, params=[PARAM], data_root=data_root,
                        dataset_options={"max_images": IMAGES})
    datasets = {}

    def one(job) -> tuple[float, float]:
        t0 = time.perf_counter()
        ds = datasets.setdefault(job.dataset, job.dataset.open())
        cube = ds.load(job.image_id)
        codec = create_codec(job.codec, **job.param_dict)
        decoded = codec.decode(codec.encode(cube))
        t1 = time.perf_counter()
        metrics.evaluate(cube, decoded)
        return t1 - t0, time.perf_counter() - t0

    cpu0 = time.process_time()
    one(plan.jobs[0])  # warm-up: imports, library loading
    first_cpu = time.process_time() - cpu0
    codec_s = total_s = 0.0
    cpu0 = time.process_time()
    for job in plan.jobs:
        c, t = one(job)
        codec_s += c
        total_s += t
    return total_s, codec_s, time.process_time() - cpu0, len(plan.jobs), first_cpu


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes, their own children included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(data_root: str, workers: int, *extra: str, again: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds of ``hsbench run`` in a fresh process (CPU: its workers included);
    ``again``: of a second run into the same folder (every job already done: start-up, planning,
    tables, plots and manifest only)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "hsbench", "run", "--codecs", CODEC, "--dataset", "kodak", "--max-images",
               str(IMAGES), "--param", PARAM, "--data-root", data_root, "--workers", str(workers),
               "--out", str(Path(tmp) / "run"), "--quiet", *extra]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        for _ in range(2 if again else 1):
            cpu0 = _children_cpu()
            t0 = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            cpu = _children_cpu() - cpu0
            if done.returncode != 0:
                raise SystemExit(f"hsbench run failed ({done.returncode}):\n{done.stderr}")
        return wall, cpu


#: (module, function, part) timed by ``--parts``: main-thread CPU of each call, summed per part
PARTS = (("hsbench.runner", "plan_run", "planning"), ("hsbench.runner", "execute_job", "jobs"),
         ("hsbench.store", "ResultStore.append", "rows written"), ("hsbench.analysis", "write_tables", "tables"),
         ("hsbench.plotting", "plot_rd", "plots (this process)"), ("hsbench.manifest", "build_manifest", "manifest"))


def _parts_child(argv: list[str]) -> None:
    """Run ``hsbench run argv`` here with the :data:`PARTS` timed; print them as JSON."""
    import functools
    import importlib
    import json
    import threading

    cpu = {"imports (CLI, runner, jobs, outputs)": -time.thread_time()}
    import hsbench.analysis  # noqa: F401  (pandas: imported before the run, so the thread imports matplotlib only)
    import hsbench.cli
    import hsbench.manifest  # noqa: F401
    import hsbench.plotting  # noqa: F401
    import hsbench.runner  # noqa: F401
    cpu["imports (CLI, runner, jobs, outputs)"] += time.thread_time()

    def timed(fn, part):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                name = part if part != "jobs" or "first job" in cpu else "first job"
                cpu[name] = cpu.get(name, 0.0) + time.thread_time() - t0
        return call

    for module, name, part in PARTS:
        owner = importlib.import_module(module)
        *cls, attr = name.split(".")
        owner = getattr(owner, cls[0]) if cls else owner
        setattr(owner, attr, timed(getattr(owner, attr), part))
    run = threading.Thread.run

    def thread_run(self):  # the background import of matplotlib (hsbench.outputs.prefetch)
        t0 = time.thread_time()
        try:
            run(self)
        finally:
            if self.name == "hsbench-prefetch":
                cpu["background thread (matplotlib import)"] = time.thread_time() - t0

    threading.Thread.run = thread_run
    hsbench.cli.main(argv)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["child processes (git)"] = children.ru_utime + children.ru_stime
    cpu["whole process"] = time.process_time() + cpu["child processes (git)"]
    print(json.dumps(cpu))


def _parts(data_root: str, repeat: int) -> None:
    """Print the least CPU seconds of each part of a 1-worker run over ``repeat`` fresh runs."""
    import json

    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, __file__, "--parts-child", "run", "--codecs", CODEC, "--dataset", "kodak",
                   "--max-images", str(IMAGES), "--param", PARAM, "--data-root", data_root, "--workers", "1",
                   "--out", str(Path(tmp) / "run"), "--quiet"]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"hsbench run failed ({done.returncode}):\n{done.stderr}")
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"CPU seconds of the parts of `hsbench run --workers 1` (main thread unless said), least of {repeat}:")
    for part in runs[0]:
        print(f"  {part:45s} {min(r.get(part, 0.0) for r in runs):6.3f}")


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=os.environ.get("HSBENCH_DATA", str(REPO.parent / "shared" / "datasets")))
    parser.add_argument("--repeat", type=int, default=2, help="measurements of each figure; the best is kept")
    parser.add_argument("--parts", action="store_true", help="only the CPU seconds of each part of a 1-worker run")
    if sys.argv[1:2] == ["--parts-child"]:
        return _parts_child(sys.argv[2:])
    args = parser.parse_args()
    if args.parts:
        print(f"load average (1/5/15 min) {_load()} before")
        _parts(args.data_root, args.repeat)
        print(f"load average (1/5/15 min) {_load()} after")
        return
    load_before = _load()
    # One round measures every figure once; the rounds repeat, so that each figure's best comes
    # from the same stretch of machine load as the others'.
    rounds = []
    for _ in range(args.repeat):
        rounds.append({
            "work": _work(args.data_root),
            "run_1": _run(args.data_root, 1),
            "run_2": _run(args.data_root, 2),
            "no_plots": _run(args.data_root, 1, "--no-plots"),
            "fixed": _run(args.data_root, 1, again=True),
            "fixed_no_plots": _run(args.data_root, 1, "--no-plots", again=True),
        })

    def best(name: str, i: int = 0) -> float:
        return min(r[name][i] for r in rounds)

    work, codec_s, _, jobs, _ = min(r["work"] for r in rounds)
    first_cpu = rounds[0]["work"][4]  # the first round's: this process's one-time costs included
    run_1, run_2, no_plots = best("run_1"), best("run_2"), best("no_plots")
    fixed, fixed_no_plots = best("fixed"), best("fixed_no_plots")
    cpu_1, cpu_2, work_cpu = best("run_1", 1), best("run_2", 1), min(r["work"][2] for r in rounds)
    cpu_no_plots, cpu_fixed_no_plots = best("no_plots", 1), best("fixed_no_plots", 1)
    print(f"{jobs} {CODEC} jobs ({PARAM}) on {IMAGES} Kodak images, {os.cpu_count()} CPUs, best of {args.repeat}; "
          f"load average (1/5/15 min) {load_before} before, {_load()} after")
    print(f"  jobs' own work (load + encode + decode + metrics): {work:.2f} s  (without metrics: {codec_s:.2f} s)")
    print(f"  hsbench run, 1 worker:  {run_1:.2f} s   ratio to the work: {run_1 / work:.3f}  (target <= 1.15)")
    print(f"  hsbench run, 2 workers: {run_2:.2f} s   parallel efficiency: {run_1 / (2 * run_2):.3f}  "
          "(target >= 0.85)")
    print(f"  CPU seconds (less sensitive to other load): work {work_cpu:.2f}, run with 1 worker {cpu_1:.2f} "
          f"(ratio {cpu_1 / work_cpu:.3f}), with 2 workers {cpu_2:.2f} (extra CPU of the pool "
          f"{cpu_2 - cpu_1:+.2f} s; so with 2 free cores the efficiency is at most {cpu_1 / cpu_2:.3f})")
    print("  where the rest goes (1 worker):")
    print(f"    start-up + planning + tables + manifest (a run with every job done, --no-plots): {fixed_no_plots:.2f} s"
          f"; with the plots, kept as drawn from the same rows: {fixed:.2f} s")
    print(f"    plots (PNG + SVG; a run with them less one without): {run_1 - no_plots:.2f} s;  run without plots: "
          f"{no_plots:.2f} s, ratio {no_plots / work:.3f}")
    print(f"    per job beyond its work (warm-up, row, store): "
          f"{(no_plots - fixed_no_plots - work) / jobs * 1000:.1f} ms; in CPU seconds "
          f"{(cpu_no_plots - cpu_fixed_no_plots - work_cpu) / jobs * 1000:.1f} ms, of which the first job's "
          f"one-time costs (imports, numba kernels from the cache, OpenJPEG) spread over the {jobs} jobs: "
          f"{(first_cpu - work_cpu / jobs) / jobs * 1000:.1f} ms ({first_cpu - work_cpu / jobs:.2f} s)")
    print(f"    CPU seconds: run with every job done {best('fixed', 1):.2f} ({cpu_fixed_no_plots:.2f} without "
          f"plots), run without plots {cpu_no_plots:.2f}, plots {cpu_1 - cpu_no_plots:.2f}")


if __name__ == "__main__":
    main()
