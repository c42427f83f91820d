"""asv benchmarks of the runner's own cost and of the comparison tools.

- ``RunnerOverhead``: one job of :func:`hsbench.runner.execute_job` on a tiny image
  (3 x 64 x 64 PNG, JPEG at quality 75): what the runner adds around encode / decode
  (dataset open and load, hashing, metrics, row building), tracked per job.
- ``Comparisons``: BD-rate (PCHIP and cubic) over a 10-codec table and
  ``rd_table`` aggregation of 5,000 rows.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


class RunnerOverhead:
    timeout = 120
    number = 1
    repeat = (3, 10, 20.0)

    def setup(self) -> None:
        import skimage.data
        from PIL import Image

        from hsbench.runner import plan_run

        self.tmp = tempfile.TemporaryDirectory()
        folder = Path(self.tmp.name) / "imgs"
        folder.mkdir()
        Image.fromarray(skimage.data.astronaut()[200:264, 200:264]).save(folder / "tile.png")
        self.plan = plan_run(["jpeg"], [f"folder:{folder}"], Path(self.tmp.name) / "run", params=["quality=75"])
        self.job = self.plan.jobs[0]

    def teardown(self) -> None:
        self.tmp.cleanup()

    def time_execute_job(self) -> None:
        from hsbench.runner import execute_job

        execute_job(self.job)

    def track_overhead_ms(self) -> float:
        """Job wall time minus its encode + decode time, in ms (median of 5 jobs)."""
        from hsbench.runner import execute_job

        overheads = []
        for _ in range(5):
            row = execute_job(self.job)
            if row["status"] != "ok":
                raise RuntimeError(row["error"])
            overheads.append(1e3 * (row["job_s"] - row["encode_s"] - row["decode_s"]))
        return float(np.median(overheads))

    track_overhead_ms.unit = "ms"  # type: ignore[attr-defined]

    def time_plan_run(self) -> None:
        from hsbench.runner import plan_run

        plan_run(["jpeg", "jpeg2000"], ["samples"], Path(self.tmp.name) / "plan", targets=[("cr", 8.0), ("cr", 16.0)])


class Comparisons:
    timeout = 120

    def setup(self) -> None:
        rng = np.random.default_rng(0)
        rows = []
        for c in range(10):
            for k, r in enumerate(np.geomspace(0.1, 4, 8)):
                for image in range(60):
                    rate = r * (1 + 0.05 * c) * rng.uniform(0.95, 1.05)
                    rows.append({"dataset": "d", "codec": f"c{c}", "params": json.dumps({"q": k}), "image": str(image),
                                 "status": "ok", "bpppc": rate, "psnr": 30 + 6 * np.log2(rate),
                                 "ms_ssim_db": 12 + 4 * np.log2(rate), "sam_deg": 4 / rate})
        self.rows = pd.DataFrame(rows)
        from hsbench.analysis import rd_table

        self.rd = rd_table(self.rows)

    def time_rd_table(self) -> None:
        from hsbench.analysis import rd_table

        rd_table(self.rows)

    def time_bd_table_pchip(self) -> None:
        from hsbench.bdrate import bd_table

        bd_table(self.rd, "c0", method="pchip")

    def time_bd_table_cubic(self) -> None:
        from hsbench.bdrate import bd_table

        bd_table(self.rd, "c0", method="cubic")
