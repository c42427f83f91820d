"""Planning a run: the job grid codec x rate point x image, from the command-line options."""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from hsbench.datasets import Dataset, open_dataset
from hsbench.errors import HsbenchError
from hsbench.jobs import Job


def parse_param_options(items: Iterable[str]) -> dict[str | None, dict[str, list[Any]]]:
    """Parse ``--param`` values: ``NAME=v1,v2`` (any codec with that parameter) or ``CODEC.NAME=v``.

    Returns ``{codec or None: {name: [values]}}``.
    """
    from hsbench.codecs.base import parse_value

    out: dict[str | None, dict[str, list[Any]]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise HsbenchError(f"--param {item!r}: expected NAME=v1,v2 or CODEC.NAME=v1,v2")
        codec, dot, pname = name.strip().rpartition(".")
        target = codec if dot else None
        out.setdefault(target, {})[pname] = [parse_value(v) for v in values.split(",") if v.strip()]
    return out


def codec_points(codec_cls: type, user: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The parameter sets of one codec: its default sweep crossed with the user's values.

    Values the user gives replace the sweep's values of the same parameter; the
    user's lists are crossed with each other; duplicates are dropped.
    """
    names = sorted(user)
    combos = [dict(zip(names, values)) for values in itertools.product(*(user[n] for n in names))]
    points: list[dict[str, Any]] = []
    seen: set[str] = set()
    sweeps = [codec_cls.sweep(combo) for combo in combos]  # a combo may change the knob (Codec.option_knobs)
    for i in range(max(len(s) for s in sweeps)):
        for combo, sweep in zip(combos, sweeps):
            if i >= len(sweep):
                continue
            point = {**sweep[i], **combo}
            for name in codec_cls.inactive_params(point):
                point.pop(name, None)
            ident = json.dumps(point, sort_keys=True, default=str)
            if ident not in seen:
                seen.add(ident)
                points.append(point)
    return points


@dataclass
class RunPlan:
    """The planned grid and where its results go."""

    out: Path
    datasets: list[Dataset]
    jobs: list[Job]
    notes: list[str] = field(default_factory=list)


def plan_run(
    codecs: Sequence[str] | None,
    datasets: Sequence[str],
    out: str | os.PathLike[str],
    params: Sequence[str] = (),
    data_root: str | None = None,
    dataset_options: dict[str, Any] | None = None,
    targets: Sequence[tuple[str, float]] = (),
    tolerance: float | None = None,
    max_iter: int | None = None,
    repeat: int = 1,
    warmup: str | None = None,
) -> RunPlan:
    """Build the job grid codec x rate point x image for ``datasets``.

    ``codecs=None`` selects every available codec (unavailable ones are skipped
    with a note); a codec named explicitly that is unavailable is an error.
    ``targets`` (``[("cr", 16.0), ("bpppc", 0.5), ...]``) replaces each codec's knob
    sweep with one job per target whose knob is found by :mod:`hsbench.ratecontrol`
    (``tolerance``, ``max_iter``: its stopping rule). ``repeat`` timed runs per job,
    after the warm-up ``warmup`` asks for (:mod:`hsbench.timing`; default by ``repeat``).
    """
    from hsbench.codecs.learned.models import has_shipped_model, is_model_codec, provision
    from hsbench.codecs.registry import codec_names, get_codec
    from hsbench.timing import WARMUP_MODES

    if warmup is not None and warmup not in WARMUP_MODES:
        raise HsbenchError(f"--warmup must be one of {', '.join(WARMUP_MODES)}, got {warmup!r}")

    notes: list[str] = []
    user = parse_param_options(params)
    if codecs is None:
        selected = []
        for name in codec_names():
            try:
                get_codec(name).check_available()
                if get_codec(name).default_run is not None:
                    notes.append(f"skipped codec {name} (not in the default run): {get_codec(name).default_run}")
                    continue
                selected.append(name)
            except HsbenchError as exc:
                notes.append(f"skipped codec {name}: {exc}")
    else:
        selected = list(codecs)
        for name in selected:
            get_codec(name).check_available()
    classes = {name: get_codec(name) for name in selected}
    user = {t: classes[t].resolve_aliases(v) if t in classes else v for t, v in user.items()}  # old names warn

    for target, values in user.items():
        if target is not None:
            if target not in classes:
                raise HsbenchError(f"--param {target}.…: codec {target!r} is not in this run ({', '.join(selected)})")
            unknown = set(values) - set(classes[target].params)
            if unknown:
                raise HsbenchError(
                    f"codec {target!r} has no parameter {', '.join(sorted(unknown))}; "
                    f"it takes: {', '.join(sorted(classes[target].params))}"
                )
        else:
            for pname in values:
                if not any(pname in cls.params for cls in classes.values()):
                    raise HsbenchError(f"--param {pname}=…: no codec in this run has a parameter {pname!r}")

    opened = [open_dataset(spec, data_root, **(dataset_options or {})) for spec in datasets]
    jobs: list[Job] = []
    for name, cls in classes.items():
        mine = {k: v for k, v in user.get(None, {}).items() if k in cls.params}
        mine.update(user.get(name, {}))
        for knob in {cls.knob, *cls.option_knobs.values()} - {None}:
            if targets and knob.name in mine:
                raise HsbenchError(
                    f"--param {knob.name}=… and --ratios / --bpppc both set the rate of {name}; give one of them"
                )
        points = codec_points(cls, mine)
        unused = set(user.get(name, {})) - {k for point in points for k in point}
        if unused:  # given for this codec, but dropped from every point (Codec.inactive_params)
            raise HsbenchError(
                f"--param {name}.{sorted(unused)[0]}=…: the parameter has no effect on {name} with the other "
                f"parameters given (e.g. lmbda needs entropy=factorized); add the option it needs, or leave it out"
            )
        for point in points:
            cls(**point)  # validate early, in the driver, with a clear message
        for dataset in opened:
            if targets:
                from hsbench.ratecontrol import DEFAULT_MAX_ITER, DEFAULT_TOLERANCE, plan_targets

                pairs = plan_targets(cls, points, dataset, list(targets),
                                     DEFAULT_TOLERANCE if tolerance is None else tolerance,
                                     DEFAULT_MAX_ITER if max_iter is None else max_iter, notes)
                for prepared, target in pairs:
                    frozen = tuple(sorted(prepared.items()))
                    jobs.extend(Job(name, frozen, dataset.ref, image_id, target, repeat, warmup)
                                for image_id in dataset.image_ids())
                continue
            if codecs is None and is_model_codec(cls):  # the default run trains nothing
                unserved = [p for p in points if not has_shipped_model(cls, dict(p), dataset)]
                if unserved:
                    notes.append(f"skipped codec {name} on {dataset.name} (not in the default run): no shipped model "
                                 f"for {len(unserved)} of its {len(points)} points on this data; name it in --codecs "
                                 "to train a quick model, or train a recipe (`hsbench models --recipes`)")
                    continue
            for point in points:
                prepared = provision(cls, dict(point), dataset)
                frozen = tuple(sorted(prepared.items()))
                jobs.extend(Job(name, frozen, dataset.ref, image_id, repeat=repeat, warmup=warmup)
                            for image_id in dataset.image_ids())
    return RunPlan(Path(out), opened, jobs, notes)
