"""Target-rate sweeps: bisection on the knob, discrete points, limits, planning and the runner."""

from __future__ import annotations

import json

import pytest

import rdcodecs
from hsbench.errors import HsbenchError
from hsbench.ratecontrol import RateTarget, parse_targets, search_rate


def _bpppc(codec_cls, params, cube):
    return 8 * len(codec_cls(**params).encode(cube)) / cube.num_samples


@pytest.mark.parametrize("cr", [4.0, 8.0, 16.0])
def test_bisection_reaches_target_ratio(cr):
    cube = rdcodecs.smooth_cube()
    target = RateTarget("cr", cr, tolerance=0.02, max_iter=20)
    res = search_rate(rdcodecs.QuantCodec, {}, cube, target)
    assert res.reached, res.note
    # the rate of the chosen parameters, measured again from a fresh encode
    achieved = _bpppc(rdcodecs.QuantCodec, res.params, cube)
    assert achieved == pytest.approx(res.bpppc)
    assert abs(cube.bit_depth / achieved / cr - 1) <= 0.021
    assert 2 <= res.iterations <= 20 and res.iterations == len(res.tried)
    cols = res.row_columns(target)
    assert cols["target"] == f"cr={cr:g}" and cols["target_reached"] is True
    assert json.loads(cols["params_used"])["step"] == res.knob_value


def test_bpppc_target_and_integer_knob():
    class IntStep(rdcodecs.QuantCodec):
        name = "testquant-int"
        knob = rdcodecs.Knob("step", 1, 512, increases_rate=False, default_points=(4,), integer=True)
        params = {"step": 4}

    cube = rdcodecs.smooth_cube(seed=1)
    res = search_rate(IntStep, {}, cube, RateTarget("bpppc", 1.5, tolerance=0.001, max_iter=30))
    assert isinstance(res.knob_value, int)
    # integer steps: the best integer found is at least as close as its neighbours
    here = abs(res.bpppc / 1.5 - 1)
    for nb in (res.knob_value - 1, res.knob_value + 1):
        if 1 <= nb <= 512:
            assert here <= abs(_bpppc(IntStep, {"step": nb}, cube) / 1.5 - 1) + 1e-12


def test_iteration_cap_and_unreachable_target():
    cube = rdcodecs.smooth_cube()
    res = search_rate(rdcodecs.QuantCodec, {}, cube, RateTarget("cr", 10.0, tolerance=1e-7, max_iter=5))
    assert res.iterations == 5 and not res.reached and "iteration cap" in res.note
    # a ratio beyond the coarsest step: the nearest end of the knob range, flagged
    res = search_rate(rdcodecs.QuantCodec, {}, cube, RateTarget("cr", 1e6))
    assert not res.reached and "outside" in res.note and res.knob_value == pytest.approx(4096.0)


def test_discrete_knob_uses_nearest_trained_point():
    cube = rdcodecs.smooth_cube()
    cands = tuple((("step", s),) for s in rdcodecs.DiscreteQuantCodec.knob.default_points)
    target = RateTarget("cr", 9.0, candidates=cands)
    res = search_rate(rdcodecs.DiscreteQuantCodec, {}, cube, target)
    rates = {s: _bpppc(rdcodecs.DiscreteQuantCodec, {"step": s}, cube) for (( _, s),) in cands}
    import math

    goal = cube.bit_depth / 9.0
    nearest = min(rates, key=lambda s: abs(math.log(rates[s] / goal)))
    assert res.knob_value == nearest and "nearest of 4 trained points" in res.note
    assert res.iterations == 4


def test_codec_without_knob_keeps_its_point():
    cube = rdcodecs.smooth_cube()
    res = search_rate(rdcodecs.FixedQuantCodec, {}, cube, RateTarget("cr", 8.0))
    assert res.knob_value is None and "no rate knob" in res.note and res.iterations == 1


def test_target_validation_and_parsing():
    assert parse_targets("4, 8,16", "ratios") == [4.0, 8.0, 16.0]
    with pytest.raises(HsbenchError, match="not a number"):
        parse_targets("4,x", "ratios")
    with pytest.raises(HsbenchError, match="positive"):
        parse_targets("4,-2", "ratios")
    with pytest.raises(HsbenchError, match="measure"):
        RateTarget("psnr", 4.0)
    with pytest.raises(HsbenchError, match="tolerance"):
        RateTarget("cr", 4.0, tolerance=2.0)


def test_plan_run_with_targets():
    from hsbench.runner import plan_run

    plan = plan_run(["testquant", "testquant-discrete", "testquant-fixed"], ["samples"], "unused",
                    targets=[("cr", 4.0), ("cr", 16.0)], tolerance=0.05, max_iter=9, repeat=3)
    n_images = len(plan.datasets[0].image_ids())
    by_codec = {}
    for job in plan.jobs:
        by_codec.setdefault(job.codec, []).append(job)
    assert len(by_codec["testquant"]) == 2 * n_images
    assert len(by_codec["testquant-discrete"]) == 2 * n_images
    assert len(by_codec["testquant-fixed"]) == n_images  # no knob: one point, and a note says so
    assert any("testquant-fixed has no rate knob" in n for n in plan.notes)
    assert len({j.key for j in plan.jobs}) == len(plan.jobs)  # the target is part of the key
    job = by_codec["testquant"][0]
    assert job.target.tolerance == 0.05 and job.target.max_iter == 9 and job.repeat == 3
    assert "step" not in job.param_dict  # the search sets the knob
    assert len(by_codec["testquant-discrete"][0].target.candidates) == 4
    with pytest.raises(HsbenchError, match="give one of them"):
        plan_run(["testquant"], ["samples"], "unused", params=["step=4"], targets=[("cr", 4.0)])


def test_execute_job_with_target_and_repeat(tmp_path):
    pytest.importorskip("hsbench.metrics", reason="hsbench.metrics arrives with the metrics branch")
    from hsbench.runner import execute_job, plan_run

    plan = plan_run(["testquant"], ["samples"], tmp_path, targets=[("cr", 8.0)], repeat=3)
    row = execute_job(plan.jobs[0])
    assert row["status"] == "ok", row.get("error")
    assert row["target"] == "cr=8" and row["target_reached"] is True
    assert abs(row["cr"] / 8.0 - 1) <= 0.02
    assert row["repeat"] == 3 and row["warmup"] is True and len(row["encode_s_runs"].split(",")) == 3
    assert row["traced_peak_mb"] > 0


def test_codec_with_a_discrete_knob_is_searched_among_its_points():
    # a codec with one trained model per knob value cannot be bisected in a worker: the planner
    # provisions its default points and they are the candidates (learned codecs declare it)
    from hsbench.codecs.registry import get_codec
    from hsbench.ratecontrol import has_discrete_knob, plan_targets

    assert has_discrete_knob(rdcodecs.DiscreteQuantCodec)
    assert not has_discrete_knob(rdcodecs.QuantCodec) and not has_discrete_knob(rdcodecs.FixedQuantCodec)
    assert all(has_discrete_knob(get_codec(n)) for n in ("sscnet", "vgg16-baseline", "factorized", "hyperprior"))
    notes: list[str] = []
    pairs = plan_targets(rdcodecs.DiscreteQuantCodec, [{"step": 2.0}], None, [("cr", 8.0)], notes=notes)
    [(params, target)] = pairs
    assert [dict(c)["step"] for c in target.candidates] == [4.0, 16.0, 64.0, 256.0]
    assert any("nearest" in n for n in notes)
