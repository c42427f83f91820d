"""Target-rate search: find the knob value that makes a codec reach a compression ratio or bpppc.

``hsbench run --ratios 4,8,16,32`` (or ``--bpppc 0.5,1,2``) gives every codec
points at the *same* rates, so curves line up and can be compared point by
point and with BD-rate (:mod:`hsbench.bdrate`). For each codec and image the
knob declared by the codec (:class:`~hsbench.codecs.base.Knob`) is searched by
bisection on the measured rate of real bitstreams (``docs/conventions.md`` section 1):

- a knob should be monotone: its rate rises (or, per ``Knob.increases_rate``,
  falls) with its value over its whole range. The search checks it: the bracket
  must be ordered once oriented, the middle of the range must lie between the
  ends before a target is called unreachable, and every bisection midpoint must
  lie inside its bracket. Where one of these fails, the rate is not monotone on
  that image and the search falls back to a scan of the knob (an even grid, then
  bisection between the two neighbouring values that straddle the target), which
  the row's note says; the best point seen is always the one used;
- ``Knob.log_scale`` knobs are bisected in log space, integer knobs on integers
  (on ``log(1 + v)`` when they span more than 1000 steps from 0, e.g. an error limit);
- the search stops when ``|rate / target - 1| <= tolerance`` or after
  ``max_iter`` encodes (both recorded in the row);
- a target outside what the codec can reach ends at the nearest end of the knob
  range and says so (``target_reached = False``);
- codecs whose knob is *discrete* (``Knob.discrete``: learned codecs with one
  trained model per rate) are coded at each of their prepared operating points
  and the one nearest the target (in log rate) is used, which the row states.

The search compares rates in bpppc (a CR target ``c`` is ``D / c`` bpppc for a
cube of nominal bit depth ``D``), in log space so that tolerance is relative.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from hsbench.cube import Cube
from hsbench.errors import HsbenchError
from hsbench.metrics import bpppc

#: Rate measures a target can be given in.
MEASURES = ("cr", "bpppc")
DEFAULT_TOLERANCE = 0.02
DEFAULT_MAX_ITER = 16

Params = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class RateTarget:
    """A target rate for a job: ``measure`` (``"cr"`` or ``"bpppc"``) and its value.

    ``tolerance`` is relative (``0.02``: within 2 % of the target) and ``max_iter``
    caps the number of encodes of the search. ``candidates`` lists the prepared
    parameter sets of a codec with a discrete knob (empty for continuous knobs).
    """

    measure: str
    value: float
    tolerance: float = DEFAULT_TOLERANCE
    max_iter: int = DEFAULT_MAX_ITER
    candidates: tuple[Params, ...] = ()

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise HsbenchError(f"rate target measure must be one of {', '.join(MEASURES)}, got {self.measure!r}")
        if not (isinstance(self.value, (int, float)) and math.isfinite(self.value) and self.value > 0):
            raise HsbenchError(f"target {self.measure} must be a positive number, got {self.value!r}")
        if not 0 < self.tolerance < 1:
            raise HsbenchError(f"rate tolerance must be in (0, 1) (relative), got {self.tolerance!r}")
        if int(self.max_iter) < 2:
            raise HsbenchError(f"the rate search needs at least 2 iterations, got max_iter={self.max_iter!r}")

    @property
    def label(self) -> str:
        """``"cr=16"`` / ``"bpppc=0.5"``: the target as rows and legends show it."""
        return f"{self.measure}={self.value:g}"

    def ident(self) -> list[Any]:
        """JSON-able identity (part of the job key)."""
        return [self.measure, float(self.value), float(self.tolerance), int(self.max_iter),
                [[list(kv) for kv in c] for c in self.candidates]]

    def bpppc(self, cube: Cube) -> float:
        """The target in bits per pixel per channel for ``cube``: ``bpppc = D / CR`` (``docs/conventions.md`` 1)."""
        if self.measure == "bpppc":
            return float(self.value)
        return float(cube.bit_depth) / float(self.value)  # type: ignore[arg-type]


def parse_targets(text: str | None, measure: str) -> list[float]:
    """Parse ``"4,8,16"`` into positive floats (a clear error otherwise)."""
    if not text:
        return []
    values = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            v = float(item)
        except ValueError:
            raise HsbenchError(f"--{measure}: {item!r} is not a number (expected e.g. 4,8,16,32)") from None
        if not (math.isfinite(v) and v > 0):
            raise HsbenchError(f"--{measure}: targets must be positive, got {item!r}")
        values.append(v)
    return values


@dataclass
class RateSearch:
    """Outcome of a target-rate search: the parameters to use and how close they came."""

    params: dict[str, Any]
    knob_value: Any
    bpppc: float
    target_bpppc: float
    iterations: int
    reached: bool
    note: str = ""
    tried: list[tuple[Any, float]] = field(default_factory=list)

    @property
    def rel_error(self) -> float:
        """``rate / target - 1`` of the chosen point."""
        return self.bpppc / self.target_bpppc - 1.0

    def row_columns(self, target: RateTarget) -> dict[str, Any]:
        """Columns this search adds to a result row."""
        return {
            "target": target.label,
            "target_measure": target.measure,
            "target_value": float(target.value),
            "target_bpppc": self.target_bpppc,
            "target_tolerance": float(target.tolerance),
            "target_max_iter": int(target.max_iter),
            "target_iterations": self.iterations,
            "target_reached": bool(self.reached),
            "target_rel_error": self.rel_error,
            "target_note": self.note,
            "knob_value": self.knob_value,
            "params_used": json.dumps(self.params, sort_keys=True, default=str),
        }


def search_rate(
    codec_cls: type,
    params: dict[str, Any],
    cube: Cube,
    target: RateTarget,
    make: Callable[..., Any] | None = None,
) -> RateSearch:
    """Find the parameters of ``codec_cls`` whose bitstream for ``cube`` is closest to ``target``.

    ``make(**params)`` builds a codec instance (default: the class itself). See the
    module docstring for the algorithm (bisection on a monotone knob, discrete
    candidates, codecs without a knob).
    """
    make = make or codec_cls
    goal = target.bpppc(cube)
    log_goal = math.log(goal)
    cache: dict[Any, float] = {}
    tried: list[tuple[Any, float]] = []

    def rate_of(p: dict[str, Any], key: Any) -> float:
        if key not in cache:
            cache[key] = bpppc(len(make(**p).encode(cube)), cube.shape)
            tried.append((key, cache[key]))
        return cache[key]

    def dist(r: float) -> float:
        return abs(math.log(r) - log_goal)

    def within(r: float) -> bool:
        return abs(r / goal - 1.0) <= target.tolerance

    knob = codec_cls.knob_for(params)
    if target.candidates:
        best = None
        for cand in target.candidates:
            p = dict(cand)
            r = rate_of(p, json.dumps(p, sort_keys=True, default=str))
            if best is None or dist(r) < dist(best[1]):
                best = (p, r)
        assert best is not None
        p, r = best
        kv = p.get(knob.name) if knob is not None else None
        return RateSearch(p, kv, r, goal, len(tried), within(r),
                          f"discrete operating points: nearest of {len(target.candidates)} trained points used "
                          f"({knob.name if knob else 'point'}={kv})", tried)
    if knob is None:
        r = rate_of(dict(params), None)
        return RateSearch(dict(params), None, r, goal, 1, within(r),
                          "codec has no rate knob: its single operating point is used", tried)

    lo, hi = float(knob.low), float(knob.high)
    use_log = bool(knob.log_scale) and lo > 0
    # integer knobs spanning orders of magnitude from 0 (an error limit 0..32767): bisect on log(1 + v)
    use_log1p = not use_log and knob.integer and lo >= 0 and hi - lo > 1000

    def to_u(v: float) -> float:
        return math.log(v) if use_log else math.log1p(v) if use_log1p else v

    def from_u(u: float) -> float | int:
        v = math.exp(u) if use_log else math.expm1(u) if use_log1p else u
        v = min(max(v, lo), hi)
        return int(round(v)) if knob.integer else v

    def rate_at(v: float | int) -> float:
        return rate_of({**params, knob.name: v}, v)

    def result(v: Any, why: str = "") -> RateSearch:
        r = cache[v]
        return RateSearch({**params, knob.name: v}, v, r, goal, len(tried), within(r), why, tried)

    def closest() -> Any:
        return min(cache, key=lambda v: dist(cache[v]))

    def scan() -> RateSearch:
        """Search a knob whose rate is not monotone: scan it on an even grid (in the bisection's
        space), then bisect between the two neighbouring grid values that straddle the target
        and are closest to it, keeping the best point seen."""
        budget = max(0, target.max_iter - len(cache))
        steps = max(2, min(budget, 8))
        grid = sorted({from_u(u_lo + (u_hi - u_lo) * i / steps) for i in range(steps + 1)} | set(cache))
        for v in grid:
            if len(cache) >= target.max_iter and v not in cache:
                continue
            rate_at(v)
        scanned = [v for v in grid if v in cache]
        brackets = [(a, b) for a, b in zip(scanned, scanned[1:]) if (cache[a] - goal) * (cache[b] - goal) <= 0]
        if brackets and not within(cache[min(cache, key=lambda v: dist(cache[v]))]):
            a, b = min(brackets, key=lambda ab: min(dist(cache[ab[0]]), dist(cache[ab[1]])))
            ua, ub = to_u(float(a)), to_u(float(b))
            while len(cache) < target.max_iter:
                vm = from_u((ua + ub) / 2.0)
                if vm in (a, b):
                    break
                rm = rate_at(vm)
                if within(rm):
                    break
                if (rm - goal) * (cache[a] - goal) > 0:
                    a, ua = vm, to_u(float(vm))
                else:
                    b, ub = vm, to_u(float(vm))
        v = min(cache, key=lambda v: dist(cache[v]))
        rates = [cache[k] for k in scanned]
        what = (f"the rate is not monotone in {knob.name} on this image (a rate knob should be monotone, see hsbench.ratecontrol); searched by a "
                f"scan of {len(scanned)} values")
        if within(cache[v]):
            return result(v, what)
        if not brackets:
            return result(v, f"{what}: target {target.label} outside the rates reached ({min(rates):.4g}.."
                             f"{max(rates):.4g} bpppc): nearest used")
        return result(v, f"{what}: closest rate within {len(cache)} encodes: {cache[v]:.4g} bpppc for a target of "
                         f"{goal:.4g}")

    u_lo, u_hi = to_u(lo), to_u(hi)
    v_lo, v_hi = from_u(u_lo), from_u(u_hi)
    r_lo, r_hi = rate_at(v_lo), rate_at(v_hi)
    # orient so that "a" has the lower rate
    (va, ra), (vb, rb) = ((v_lo, r_lo), (v_hi, r_hi)) if knob.increases_rate else ((v_hi, r_hi), (v_lo, r_lo))
    monotone = ra <= rb  # a reversed bracket: the rate does not move the way the knob declares
    if monotone and (goal <= ra or goal >= rb):
        v = closest()
        if within(cache[v]):
            return result(v)
        # before calling the target unreachable, check the middle of the range lies between the ends
        vm = from_u((u_lo + u_hi) / 2.0)
        rm = rate_at(vm)
        if ra <= rm <= rb:
            return result(v, f"target {target.label} outside what {codec_cls.name} reaches on this image "
                             f"({ra:.4g}..{rb:.4g} bpppc over {knob.name} in [{knob.low:g}, {knob.high:g}]): "
                             "nearest end used")
        monotone = False
    if monotone:
        ua, ub = to_u(float(va)), to_u(float(vb))
        while len(tried) < target.max_iter:
            vm = from_u((ua + ub) / 2.0)
            if vm in (va, vb):  # an integer bracket that cannot shrink any more
                break
            rm = rate_at(vm)
            if not ra <= rm <= rb:  # outside its own bracket: the rate is not monotone here
                monotone = False
                break
            if within(rm):
                break
            if rm < goal:
                va, ra, ua = vm, rm, to_u(float(vm))
            else:
                vb, rb, ub = vm, rm, to_u(float(vm))
        if monotone:
            v = closest()
            if within(cache[v]):
                return result(v)
            why = "iteration cap reached" if len(tried) >= target.max_iter else f"{knob.name} steps too coarse"
            return result(v, f"closest rate within {len(tried)} encodes ({why}): {cache[v]:.4g} bpppc for a "
                             f"target of {goal:.4g}")
    return scan()


def has_discrete_knob(codec_cls: type, params: dict[str, Any] | None = None) -> bool:
    """Whether a target-rate search must pick among prepared points instead of bisecting.

    True for a knob declared ``discrete`` (learned codecs: one trained model per knob value, found
    by the planner, :func:`hsbench.codecs.learned.models.provision`); ``params`` choose the knob
    (:meth:`~hsbench.codecs.base.Codec.knob_for`).
    """
    knob = codec_cls.knob_for(params)
    return knob is not None and bool(knob.discrete)


def plan_targets(
    codec_cls: type,
    points: list[dict[str, Any]],
    dataset: Any,
    targets: list[tuple[str, float]],
    tolerance: float = DEFAULT_TOLERANCE,
    max_iter: int = DEFAULT_MAX_ITER,
    notes: list[str] | None = None,
) -> list[tuple[dict[str, Any], RateTarget | None]]:
    """The (prepared parameters, target) pairs of one codec on one dataset for a target-rate sweep.

    ``points`` are the codec's parameter sets as :func:`hsbench.planning.codec_points`
    builds them; their knob values are dropped (the search sets the knob). A
    codec with a discrete knob has every trained point prepared in the driver and
    handed to the search as candidates (see :func:`has_discrete_knob`); a codec with no knob keeps its single
    operating point (no target) and a note says so.
    """
    from hsbench.codecs.learned.models import provision

    knob = codec_cls.knob
    if knob is None:
        if notes is not None:
            notes.append(f"{codec_cls.name} has no rate knob: coded once at its single operating point, "
                         "not at the target rates")
        return [(provision(codec_cls, dict(p), dataset), None) for p in points]
    bases: list[dict[str, Any]] = []
    for p in points:
        base = {k: v for k, v in p.items() if k != codec_cls.knob_for(p).name}
        if base not in bases:
            bases.append(base)
    out: list[tuple[dict[str, Any], RateTarget | None]] = []
    noted: set[str] = set()
    for base in bases:
        knob = codec_cls.knob_for(base)
        discrete = has_discrete_knob(codec_cls, base)
        if discrete and notes is not None and knob.name not in noted:
            noted.add(knob.name)
            notes.append(f"{codec_cls.name}: discrete rate points {knob.name}={list(knob.default_points)} (one model "
                         "each): each target uses the nearest one")
        candidates: tuple[Params, ...] = ()
        if discrete:
            candidates = tuple(
                tuple(sorted(provision(codec_cls, {**base, knob.name: v}, dataset).items()))
                for v in knob.default_points
            )
            prepared = dict(base)
        else:
            prepared = provision(codec_cls, dict(base), dataset)
        for measure, value in targets:
            out.append((prepared, RateTarget(measure, float(value), float(tolerance), int(max_iter), candidates)))
    return out
