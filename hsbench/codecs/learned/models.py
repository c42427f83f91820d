"""Which trained model each learned-codec job uses: the planning-stage resolver, shipped models and recipes.

Codecs are pure encode / decode around a loaded model; finding the model is the planner's job.
For each (codec, parameter set, dataset) of a run, :func:`provision` returns the parameters
with ``checkpoint`` and ``model_source`` set, looking in this order:

``checkpoint``  an explicit ``checkpoint=PATH`` (its network and knob value replace the parameters)
``shipped``     a model shipped with hsbench (package data, ``shipped/manifest.json``) for this
                codec, architecture, knob value and training split of the dataset (the size
                parameters a rate-distortion codec is not given come from that model:
                :func:`free_arch_params`)
``cache``       a model a recipe wrote into the cache (``hsbench train --recipe NAME``), or a quick
                model trained by an earlier run
``trained``     none of those: a quick model is trained now (:func:`.quick.quick_model`, bounded by
                steps, deterministic, with progress lines) and cached

so ``model_source`` in every row says where its model came from. Each knob value of a learned
codec is its own model (its knob is discrete: target-rate sweeps pick the nearest trained point).

Recipes (``recipes/NAME.json``, package data) fix everything that defines a set of models: codec,
architecture, knob values, training dataset, image selection and training settings.
``hsbench train --recipe NAME`` trains each point (:func:`train_recipe`) and lists the files in
the output folder's ``manifest.json`` with the recipe, training data, steps, training time and the
validation figures; ``hsbench models`` prints the shipped and cached manifests. The shipped models
were produced by ``hsbench train --recipe NAME --ship``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from hsbench.errors import CodecParameterError, DatasetError, HsbenchError

if TYPE_CHECKING:  # pragma: no cover
    from hsbench.datasets import Dataset

SOURCES = ("checkpoint", "shipped", "cache", "trained")
SHIPPED_DIR = Path(__file__).with_name("shipped")
RECIPES_DIR = Path(__file__).with_name("recipes")
MANIFEST = "manifest.json"


def is_model_codec(cls: type) -> bool:
    """Whether ``cls`` needs a trained model (any learned codec)."""
    from hsbench.codecs.learned.base import LearnedCodec
    from hsbench.codecs.learned.transform import LearnedTransformCodec

    return isinstance(cls, type) and issubclass(cls, (LearnedCodec, LearnedTransformCodec))


# -- manifests -------------------------------------------------------------------------
def read_manifest(folder: Path) -> list[dict[str, Any]]:
    """The entries of ``folder/manifest.json`` with absolute ``path``s (empty when there is none)."""
    f = Path(folder) / MANIFEST
    if not f.is_file():
        return []
    try:
        entries = json.loads(f.read_text())["models"]
    except (ValueError, KeyError, TypeError) as exc:
        raise HsbenchError(f"{f} is not a model manifest ({exc}); delete it and train again") from exc
    return [{**e, "path": str(Path(folder) / e["file"])} for e in entries]


def _add_to_manifest(folder: Path, entry: dict[str, Any]) -> None:
    """Add or replace ``entry`` (by file name) in ``folder/manifest.json``, under a lock (parallel recipes)."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / (MANIFEST + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = [e for e in read_manifest(folder) if e["file"] != entry["file"]] + [entry]
        clean = [{k: v for k, v in e.items() if k != "path"} for e in sorted(entries, key=lambda e: e["file"])]
        tmp = folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps({"format": "hsbench.models", "models": clean}, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, folder / MANIFEST)


def shipped_models() -> list[dict[str, Any]]:
    """Manifest entries of the models shipped with hsbench."""
    return read_manifest(SHIPPED_DIR)


def cached_models() -> list[dict[str, Any]]:
    """Manifest entries of recipe models in the cache folder."""
    from hsbench.codecs.learned.quick import cache_dir

    return read_manifest(cache_dir())


def _same_knob(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return a == b


def find_listed(entries: list[dict[str, Any]], codec: str, arch: dict[str, Any], knob: Any,
                train_spec: str, free: Sequence[str] = ()) -> dict[str, Any] | None:
    """The entry for ``codec`` / ``arch`` / ``knob`` that serves the training split ``train_spec``.

    The architecture parameters named in ``free`` (those the user did not set) may differ from
    ``arch``. Among several matches, a model trained on ``train_spec`` itself comes before one
    that only serves it (Kodak's own model before the one for any photograph), then one of exactly
    ``arch``, then the manifest's order.
    """
    hits = [e for e in entries
            if e.get("codec") == codec and _same_knob(e.get("knob"), knob) and train_spec in e.get("serves", ())
            and set(e.get("arch", {})) == set(arch) and all(e["arch"][k] == v for k, v in arch.items() if k not in free)
            and Path(e["path"]).is_file()]
    return min(hits, key=lambda e: (e.get("train_data") != train_spec, e["arch"] != arch), default=None)


def free_arch_params(cls: type, params: dict[str, Any]) -> tuple[str, ...]:
    """The architecture parameters of a rate-distortion codec that a shipped or cached model may choose.

    Those the user did not set, except ``cluster`` (the data's band grouping). So each point of
    such a codec runs the model shipped for the data, whatever its size (as CompressAI's model zoo
    changes the network with the quality); the autoencoders, whose knob is part of the network,
    keep their exact architecture.
    """
    from hsbench.codecs.learned.transform import LearnedTransformCodec

    if not (isinstance(cls, type) and issubclass(cls, LearnedTransformCodec)):
        return ()
    return tuple(k for k in cls.arch_params if k != "cluster" and k not in params)


# -- the resolver ------------------------------------------------------------------------
def model_arch(cls: type, params: dict[str, Any], dataset: "Dataset | None") -> dict[str, Any]:
    """The architecture a job of ``cls`` with ``params`` needs (with the data's band count for autoencoders and
    rate-distortion codecs whose ``cluster`` is None: one network over all bands, :mod:`.seedcodecs`)."""
    from hsbench.codecs.learned.quick import is_rd, training_dataset

    if is_rd(cls) and params.get("cluster") is not None:
        return cls.arch_from_params(params)
    if dataset is None:
        raise DatasetError(f"{cls.name} needs a dataset to know the band count of its model")
    train_ds = training_dataset(dataset)
    ids = train_ds.image_ids()
    if not ids:
        raise DatasetError(f"training dataset {train_ds.name!r} of {dataset.name!r} has no images")
    probe = train_ds.load(ids[0])
    eval_ids = dataset.image_ids()
    if eval_ids:
        other = dataset.load(eval_ids[0])
        if other.bands != probe.bands or other.is_float != probe.is_float:
            raise DatasetError(
                f"{cls.name}: the training split {train_ds.name!r} of {dataset.name!r} has {probe.bands} bands of "
                f"{probe.dtype}, the evaluated images {other.bands} bands of {other.dtype}; give a checkpoint "
                "trained on matching data"
            )
    return cls.arch_from_params(params, probe.bands)


def _from_checkpoint(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    from hsbench.codecs.learned import checkpoint as ckpt_io

    path = Path(str(params["checkpoint"])).expanduser()
    ck = ckpt_io.load_checkpoint(path)
    if ck.get("codec") != cls.name:
        raise CodecParameterError(f"checkpoint {path} belongs to codec {ck.get('codec')!r}, not {cls.name!r}")
    out = dict(params, checkpoint=str(path.resolve()), model_source="checkpoint")
    out.update({k: ck["arch"][k] for k in cls.arch_params})
    if "entropy" in cls.params:  # the autoencoders: refuse a checkpoint of the other entropy option now
        from hsbench.codecs.learned.base import check_entropy

        check_entropy(cls.name, ck, str({**cls.params, **params}.get("entropy")), path)
    if "lmbda" in ck:
        out["lmbda"] = float(ck["lmbda"])
    if "quick_trained" in cls.params:
        out["quick_trained"] = bool(ck.get("training", {}).get("quick", False))
    return out


def provision(cls: type, params: dict[str, Any], dataset: "Dataset | None") -> dict[str, Any]:
    """The parameters of ``cls``'s jobs on ``dataset`` with their model found (module docstring).

    Codecs that need no model get ``params`` back unchanged. Runs in the planning process only.
    """
    if not is_model_codec(cls):
        return dict(params)
    from hsbench.codecs.learned.quick import quick_model, training_dataset

    merged = {**cls.params, **params}
    if merged.get("checkpoint") is not None:
        return _from_checkpoint(cls, dict(params))
    arch = model_arch(cls, merged, dataset)
    knob = merged[cls.knob_for(merged).name]
    if dataset is None:
        raise DatasetError(f"{cls.name}: a dataset is needed to find the model")
    spec = getattr(dataset, "train_spec", None)
    out = dict(params)
    free = free_arch_params(cls, params)
    for source, entries in (("shipped", shipped_models), ("cache", cached_models)):
        hit = find_listed(entries(), cls.name, arch, knob, spec or "", free)
        if hit is not None:
            out.update(checkpoint=hit["path"], model_source=source)
            break
    else:
        path, source = quick_model(cls, arch, knob, training_dataset(dataset), str(merged.get("device", "cpu")))
        out.update(checkpoint=path, model_source=source)
    if "quick_trained" in cls.params:
        out["quick_trained"] = out["model_source"] in ("trained",) or _is_quick(out["checkpoint"])
    return out


def has_shipped_model(cls: type, params: dict[str, Any], dataset: "Dataset") -> bool:
    """Whether a job of ``cls`` with ``params`` on ``dataset`` finds a shipped model (or is given a checkpoint).

    The default run (``hsbench run`` without ``--codecs``) runs a learned codec only on the datasets
    this holds for, so it never trains (:func:`hsbench.planning.plan_run`).
    """
    merged = {**cls.params, **params}
    if merged.get("checkpoint") is not None:
        return True
    try:
        arch = model_arch(cls, merged, dataset)
    except HsbenchError:  # no training split, or one with other bands: nothing shipped can serve it
        return False
    spec = getattr(dataset, "train_spec", None) or ""
    knob = merged[cls.knob_for(merged).name]
    return find_listed(shipped_models(), cls.name, arch, knob, spec, free_arch_params(cls, params)) is not None


def _is_quick(path: str) -> bool:
    from hsbench.codecs.learned import checkpoint as ckpt_io

    return bool(ckpt_io.load_checkpoint(path).get("training", {}).get("quick", False))


# -- recipes --------------------------------------------------------------------------------
def recipe_names() -> list[str]:
    """Names of the recipes shipped with hsbench."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def load_recipe(name: str) -> dict[str, Any]:
    """The recipe ``name`` (a file name in the package's ``recipes/`` or a path to a JSON file)."""
    path = Path(name) if name.endswith(".json") else RECIPES_DIR / f"{name}.json"
    if not path.is_file():
        raise HsbenchError(f"unknown recipe {name!r}; recipes: {', '.join(recipe_names())}")
    recipe = json.loads(path.read_text())
    missing = {"name", "codec", "params", "points", "train", "serves", "settings"} - set(recipe)
    if missing:
        raise HsbenchError(f"recipe {path} lacks {', '.join(sorted(missing))}")
    return recipe


def recipe_point_digest(recipe: dict[str, Any], point: Any, arch: dict[str, Any]) -> str:
    """The manifest ``digest`` of one recipe point: its settings and the coding-table revision."""
    from hsbench.codecs.learned.checkpoint import TABLE_REVISION
    from hsbench.codecs.learned.quick import model_digest

    return model_digest({"recipe": recipe, "point": point, "arch": arch, "table_revision": TABLE_REVISION})


def _file_facts(path: Path) -> dict[str, Any]:
    """``bytes`` and ``sha256`` of a checkpoint file (its manifest entry's)."""
    return {"bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def rebuild_tables(folder: str | os.PathLike[str] | None = None, ship: bool = False) -> list[dict[str, Any]]:
    """Rebuild the coding tables of the rate-distortion models listed in a manifest, in place.

    For the models of ``folder`` (default: the cache; ``ship``: the package's shipped models) whose
    tables predate :data:`.checkpoint.TABLE_REVISION`, or whose weights are stored otherwise than
    their recipe's ``weights`` setting now says: the trained weights are kept (rounded to float16
    for such a recipe), ``update()`` builds today's tables, the file is rewritten and its manifest
    entry gets the new size, hash, digest and validation figures (the same held-out images). The
    result is what training the recipe again gives, without the training. Returns the entries
    rewritten.
    """
    from hsbench.codecs.learned import checkpoint as ckpt_io
    from hsbench.codecs.learned.quick import cache_dir, is_rd
    from hsbench.codecs.learned.rdtrain import copy_state, validate
    from hsbench.codecs.learned.transform import load_rd_checkpoint
    from hsbench.codecs.registry import get_codec
    from hsbench.datasets import open_dataset

    folder = SHIPPED_DIR if ship else Path(folder) if folder else cache_dir()
    done = []
    for entry in read_manifest(folder):
        path = Path(entry["path"])
        ck = ckpt_io.load_checkpoint(path)
        cls = get_codec(ck["codec"])
        # a shipped recipe says how to store the weights; a recipe file given by path is not at hand
        recipe = load_recipe(entry["recipe"]) if entry.get("recipe") in recipe_names() else None
        weights = str((recipe["settings"] if recipe else ck).get("weights", "float32"))
        if not is_rd(cls, ck["arch"]) or (ck.get("table_revision", 1) >= ckpt_io.TABLE_REVISION
                                          and ck.get("weights", "float32") == weights):
            continue  # an autoencoder without an entropy model, or tables and storage already current
        model = load_rd_checkpoint(cls.name, cls.model_kind, str(path), "cpu").model  # loading builds today's tables
        ckpt_io.round_weights(model, weights)
        model.update()
        ck["state_dict"] = copy_state(model.state_dict())
        ck["table_revision"] = ckpt_io.TABLE_REVISION
        ck["weights"] = weights
        val_names = list(ck["training"].get("val_images") or [])
        if val_names:
            ds = open_dataset(ck["data"]["spec"])
            ck["training"].update(validate(cls, model, [ds.load(i) for i in val_names], dict(ck["arch"])))
        ckpt_io.save_checkpoint(ck, path)
        new = {**entry, **_file_facts(path), **{k: ck["training"].get(k) for k in ("val_psnr", "val_bpppc",
                                                                                   "val_estimated_bpppc")}}
        if recipe is not None:  # a recipe file given by path keeps its digest (trains again)
            new["digest"] = recipe_point_digest(recipe, entry["knob"], entry["arch"])
        _add_to_manifest(folder, new)
        done.append(new)
    return done


def train_recipe(name: str, out: str | os.PathLike[str] | None = None, ship: bool = False,
                 data_root: str | None = None, device: str = "cpu",
                 points: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """Train every point of recipe ``name`` into ``out`` (default: the cache; ``ship``: the package folder).

    ``points`` trains only those of the recipe's points (one process per point, on several GPUs
    or one: the manifest is written under a lock).

    A point whose file already exists with the same recipe settings is not trained again. With a
    ``warm_start`` entry (``{"steps": S}``) a base model trains ``settings.steps`` steps at the first
    point and each point fine-tunes it for ``S`` steps (its ``steps`` in the manifest count both).
    Returns the manifest entries written.
    """
    from hsbench.codecs.learned.checkpoint import save_checkpoint
    from hsbench.codecs.learned.quick import cache_dir, train_point
    from hsbench.codecs.registry import get_codec
    from hsbench.datasets import open_dataset

    recipe = load_recipe(name)
    cls = get_codec(recipe["codec"])
    if not is_model_codec(cls):
        raise HsbenchError(f"recipe {name}: {recipe['codec']} is not a learned codec")
    unknown = [p for p in points or () if not any(_same_knob(p, q) for q in recipe["points"])]
    if unknown:
        raise HsbenchError(f"recipe {name} has no point {', '.join(f'{p:g}' for p in unknown)}; its points: "
                           f"{', '.join(f'{q:g}' for q in recipe['points'])}")
    folder = SHIPPED_DIR if ship else Path(out) if out else cache_dir()
    train_ds = open_dataset(recipe["train"], data_root)
    entries = read_manifest(folder)
    # warm_start {"steps": S}: a base model trains settings.steps steps at the first point, then every
    # point (the first too) fine-tunes a copy of it for S steps, so all points have the same training
    warm = recipe.get("warm_start")
    base: dict[str, Any] | None = None
    written = []
    for point in recipe["points"]:
        if points is not None and not any(_same_knob(point, p) for p in points):
            continue
        knob_name = cls.knob_for({**cls.params, **recipe["params"]}).name
        params = {**cls.params, **recipe["params"], knob_name: point}
        arch = cls.arch_from_params(params, int(recipe["bands"])) if "bands" in recipe else cls.arch_from_params(params)
        settings = dict(recipe["settings"])
        file = f"{cls.name}-{recipe['name']}-{point:g}.pt"
        digest = recipe_point_digest(recipe, point, arch)
        old = next((e for e in entries if e["file"] == file), None)
        if old is not None and old.get("digest") == digest and Path(old["path"]).is_file():
            written.append(old)
            continue
        t0 = time.perf_counter()
        if warm:
            if base is None:
                # the base stays float32 (only the exported points are rounded, as rebuild_tables rounds them)
                base = train_point(cls, arch, recipe["points"][0], train_ds, {**settings, "weights": "float32"},
                                   recipe=recipe["name"] + " (base)", device=device, validate=False)
            ckpt = train_point(cls, arch, point, train_ds, {**settings, "steps": int(warm["steps"])},
                               recipe=recipe["name"], device=device, init=base)
        else:
            ckpt = train_point(cls, arch, point, train_ds, settings, recipe=recipe["name"], device=device)
        seconds = time.perf_counter() - t0
        path = save_checkpoint(ckpt, folder / file)
        t = ckpt["training"]
        init = t.get("init_from")
        entry = {
            "file": file, "codec": cls.name, "arch": arch, "knob": point, "knob_name": knob_name,
            "recipe": recipe["name"], "serves": list(recipe["serves"]), "train_data": ckpt["data"]["spec"],
            "train_images": ckpt["data"]["images"],
            "steps": int(t["steps"]) + (int(init["steps"]) if init else 0),
            "train_seconds": round(seconds, 1), "threads": int(settings["threads"]), "init_from": init,
            "val_images": t.get("val_images"), "val_psnr": t.get("val_psnr"), "val_bpppc": t.get("val_bpppc"),
            "val_estimated_bpppc": t.get("val_estimated_bpppc"), **_file_facts(path),
            "digest": digest,
            "hsbench_version": ckpt.get("hsbench_version"), "path": str(path),
        }
        _add_to_manifest(folder, entry)
        written.append(entry)
    return written


def describe_models() -> list[dict[str, Any]]:
    """Rows for ``hsbench models``: every shipped and cached recipe model with its provenance."""
    rows = []
    for where, entries in (("shipped", shipped_models()), ("cache", cached_models())):
        for e in entries:
            rows.append({"where": where, **e})
    return rows
