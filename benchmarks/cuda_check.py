"""Learned codecs on a CUDA GPU: encode there, decode on the CPU in another process, and time both devices.

For every learned codec on one synthetic hyperspectral scene and one RGB photograph, with the
model a default run picks (shipped, cached or quick-trained: on the GPU when it trains), this
script

1. encodes on ``cuda`` and decodes there, then encodes and decodes on the CPU, timing each
   (median of ``--repeat`` runs after one untimed warm-up; MB/s of raw image data);
2. decodes every CUDA stream in a second process that sees no GPU (``CUDA_VISIBLE_DEVICES=``)
   and compares the pixels with the GPU process's own decode: the rate-distortion codecs run
   their synthesis in float64 on the CPU (``exact=true``), so those must be identical; the
   autoencoders without an entropy model decode with their network on the device, so their
   difference is reported, not required to be zero.

Run on a machine with a GPU::

    python benchmarks/cuda_check.py --out cuda-check --repeat 3

It writes ``cuda-check/cuda_check.json`` and ``cuda_check.md`` and exits with status 1 when a
stream fails to decode on the CPU or an exact codec's pixels differ.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

#: (dataset spec, image index) of the two test images
IMAGES = (("synthetic-hsi", 0), ("samples", 0))
#: the codecs checked first (a run cut short still has them)
FIRST = ("factorized", "hyperprior", "cae1d", "hycot", "sscnet", "sscnet-linear", "cnn-lstm-ae", "two-path-ae")
#: codec options checked besides each codec's defaults
VARIANTS = (("sscnet", {"entropy": "factorized"}),)


def _timed(fn: Any, repeat: int, warm: bool = True) -> tuple[Any, float]:
    """``fn()``'s last result and the median wall-clock seconds of ``repeat`` calls (after an untimed one: ``warm``)."""
    import torch

    out = fn() if warm else None
    times = []
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def _psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    err = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(peak**2 / err)


def encode_all(out: Path, repeat: int, codecs: list[str], gpu: str = "cuda",
               max_seconds: float = float("inf")) -> list[dict[str, Any]]:
    """Phase 1 (GPU process): streams, GPU decodes and timings of every codec and image.

    Once ``max_seconds`` have passed, the remaining jobs are listed as skipped, not run.
    """
    import torch

    from hsbench.codecs.learned.models import has_shipped_model, is_model_codec, provision
    from hsbench.codecs.registry import codec_names, create_codec, get_codec
    from hsbench.datasets import open_dataset

    names = codecs or sorted((n for n in codec_names() if is_model_codec(get_codec(n))),
                             key=lambda n: (FIRST.index(n) if n in FIRST else len(FIRST), n))
    jobs = [(n, {}) for n in names] + [(n, dict(o)) for n, o in VARIANTS if n in names]
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    images = []
    for spec, index in IMAGES:
        ds = open_dataset(spec)
        images.append((spec, ds, ds.load(ds.image_ids()[index])))
    for name, options in jobs:
        for spec, ds, cube in images:
            if spec != IMAGES[0][0] and not has_shipped_model(get_codec(name), options, ds):
                continue  # the RGB photograph only for codecs with a shipped RGB model (no quick training)
            row: dict[str, Any] = {"codec": name, "options": options, "dataset": spec, "image": cube.name,
                                   "shape": list(cube.shape)}
            rows.append(row)
            t0 = time.perf_counter()
            if t0 - start > max_seconds:
                row["skipped"] = f"the check's time budget ({max_seconds:g} s) was spent"
                continue
            try:
                cls = get_codec(name)
                params = provision(cls, {**options, "device": gpu}, ds)
                row.update(model_source=params.get("model_source"), checkpoint=params.get("checkpoint"),
                           provision_seconds=round(time.perf_counter() - t0, 2))
                mb = cube.nominal_bytes / 1e6
                for key, device in (("cuda", gpu), ("cpu", "cpu")):
                    codec = create_codec(name, **{**params, "device": device})
                    # the CPU side is timed once, without a warm-up (the model loads in the encode)
                    warm, n = (True, repeat) if key == "cuda" else (False, 1)
                    stream, enc = _timed(lambda: codec.encode(cube), n, warm)
                    decoded, dec = _timed(lambda: codec.decode(stream), n, warm)
                    row[key] = {"bytes": len(stream), "encode_MBps": mb / enc, "decode_MBps": mb / dec,
                                   "psnr": _psnr(cube.data, decoded.data, float(cube.peak))}
                    if key == "cuda":
                        base = out / "-".join([name, *map(str, options.values()), spec])
                        base.with_suffix(".hsb").write_bytes(stream)
                        np.save(base.with_suffix(".npy"), decoded.data)
                        row["stream"] = str(base.with_suffix(".hsb"))
                        row["exact"] = bool(getattr(codec, "config", {}).get("exact", False)) or (
                            getattr(codec, "config", {}).get("entropy") == "factorized")
                        row["gpu_name"] = torch.cuda.get_device_name(0) if gpu != "cpu" else "none (dry run)"
                    else:
                        row["cpu_threads"] = torch.get_num_threads()
            except Exception as exc:  # one codec's failure is a finding, not the end of the check
                row["error"] = f"{type(exc).__name__}: {exc}"
                row["traceback"] = traceback.format_exc()
            print(json.dumps({k: v for k, v in row.items() if k != "traceback"}), flush=True)
    return rows


def decode_on_cpu(rows_file: Path) -> None:
    """Phase 2 (a process that sees no GPU): decode every CUDA stream and compare with the GPU decode."""
    import torch

    from hsbench.codecs.registry import create_codec

    assert not torch.cuda.is_available(), "phase 2 must not see a GPU"
    rows = json.loads(rows_file.read_text())
    for row in rows:
        if "stream" not in row:
            continue
        try:
            codec = create_codec(row["codec"], **row["options"], checkpoint=row["checkpoint"], device="cpu")
            got = codec.decode(Path(row["stream"]).read_bytes()).data
            want = np.load(Path(row["stream"]).with_suffix(".npy"))
            row["cpu_decode_identical"] = bool(np.array_equal(got, want))
            row["cpu_decode_max_abs_diff"] = float(np.max(np.abs(got.astype(np.float64) - want)))
        except Exception as exc:
            row["cpu_decode_error"] = f"{type(exc).__name__}: {exc}"
    rows_file.write_text(json.dumps(rows, indent=1))


def _label(row: dict[str, Any]) -> str:
    return " ".join([row["codec"], *(f"{k}={v}" for k, v in row.get("options", {}).items())])


def report(rows: list[dict[str, Any]]) -> tuple[str, bool]:
    """The markdown table and whether every check passed."""
    ok = True
    lines = ["| codec | image | model | CUDA enc / dec MB/s | CPU enc / dec MB/s | bytes CUDA / CPU | "
             "PSNR CUDA / CPU | CPU decode of the CUDA stream |", "|" + "---|" * 8]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {_label(r)} | {r['dataset']} | | skipped: {r['skipped']} | | | | |")
            continue
        if "error" in r:
            ok = False
            lines.append(f"| {_label(r)} | {r['dataset']} | | error: {r['error'][:120]} | | | | |")
            continue
        g, c = r["cuda"], r["cpu"]
        if "cpu_decode_error" in r:
            verdict, ok = f"error: {r['cpu_decode_error'][:80]}", False
        elif r.get("cpu_decode_identical"):
            verdict = "identical"
        else:
            verdict = f"max diff {r.get('cpu_decode_max_abs_diff', float('nan')):g}"
            ok = ok and not r.get("exact")
        lines.append(f"| {_label(r)} | {r['dataset']} | {r.get('model_source')} | {g['encode_MBps']:.2f} / "
                     f"{g['decode_MBps']:.2f} | {c['encode_MBps']:.2f} / {c['decode_MBps']:.2f} | {g['bytes']} / "
                     f"{c['bytes']} | {g['psnr']:.3f} / {c['psnr']:.3f} | {verdict} |")
    return "\n".join(lines) + "\n", ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="cuda-check", help="folder for the streams and the report")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per encode / decode (median)")
    p.add_argument("--codecs", default="", help="comma-separated learned codecs (default: all)")
    p.add_argument("--max-seconds", type=float, default=float("inf"),
                   help="start no new codec after this many seconds (the rest are listed as skipped)")
    p.add_argument("--device", default="cuda", help="the GPU device (cpu: a dry run of the script itself)")
    p.add_argument("--phase", choices=("all", "decode"), default="all", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_file = out / "cuda_check.json"
    if args.phase == "decode":
        decode_on_cpu(rows_file)
        return 0
    import torch

    if args.device != "cpu" and not torch.cuda.is_available():
        print("cuda_check: this torch sees no CUDA GPU; run it on a machine with one", file=sys.stderr)
        return 2
    rows = encode_all(out, args.repeat, [c for c in args.codecs.split(",") if c], args.device,
                      args.max_seconds)
    rows_file.write_text(json.dumps(rows, indent=1))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, __file__, "--out", str(out), "--phase", "decode"], env=env, check=True)
    rows = json.loads(rows_file.read_text())
    table, ok = report(rows)
    gpu = torch.cuda.get_device_name(0) if args.device != "cpu" else "none (dry run)"
    head = (f"GPU {gpu}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
            f"`python benchmarks/cuda_check.py --repeat {args.repeat}`\n\n")
    (out / "cuda_check.md").write_text(head + table)
    print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
