"""The models shipped in the package (``hsbench/codecs/learned/shipped/``): size budget and manifest.

Issue 11: every shipped file at most 2 MB, all of them together at most 20 MB, and the folder and
its ``manifest.json`` list the same models, each made by a recipe of the package
(``hsbench train --recipe NAME --ship``) at one of its points.
"""

from __future__ import annotations

import hashlib

from hsbench.codecs.learned import models

#: the most one shipped file may weigh, and all of them together (bytes)
MAX_FILE = 2_000_000
MAX_TOTAL = 20_000_000
#: files of the folder that are not models (kept out of git and the package)
NOT_MODELS = {".gitignore", models.MANIFEST}


def _files() -> dict[str, int]:
    return {p.name: p.stat().st_size for p in models.SHIPPED_DIR.iterdir()
            if p.is_file() and p.name not in NOT_MODELS and not p.name.endswith((".lock", ".tmp"))}


def test_shipped_files_fit_the_budget() -> None:
    files = _files()
    manifest = (models.SHIPPED_DIR / models.MANIFEST).stat().st_size
    too_big = {name: size for name, size in files.items() if size > MAX_FILE}
    assert not too_big, f"shipped files over {MAX_FILE} bytes: {too_big}"
    total = sum(files.values()) + manifest
    assert total <= MAX_TOTAL, f"shipped models take {total} bytes, the budget is {MAX_TOTAL}"


def test_every_shipped_file_is_a_listed_model_of_a_recipe_and_vice_versa() -> None:
    files = _files()
    entries = models.shipped_models()
    listed = [e["file"] for e in entries]
    assert len(listed) == len(set(listed)), "a file is listed twice in the shipped manifest"
    assert set(files) == set(listed), (f"in the folder, not the manifest: {sorted(set(files) - set(listed))}; "
                                       f"in the manifest, not the folder: {sorted(set(listed) - set(files))}")
    recipes = set(models.recipe_names())
    for e in entries:
        assert e["recipe"] in recipes, f"{e['file']}: recipe {e['recipe']!r} is not one of the package's"
        recipe = models.load_recipe(e["recipe"])
        assert e["codec"] == recipe["codec"], e["file"]
        assert any(models._same_knob(e["knob"], p) for p in recipe["points"]), (e["file"], e["knob"])
        assert e["train_data"] == recipe["train"] and set(e["serves"]) == set(recipe["serves"]), e["file"]
        assert e["file"] == f"{e['codec']}-{e['recipe']}-{e['knob']:g}.pt"
        data = (models.SHIPPED_DIR / e["file"]).read_bytes()
        assert e["bytes"] == len(data), f"{e['file']}: the manifest says {e['bytes']} bytes, the file has {len(data)}"
        assert e["sha256"] == hashlib.sha256(data).hexdigest(), f"{e['file']} is not the file the manifest lists"
        for key in ("steps", "train_seconds", "threads", "val_psnr"):  # what `hsbench models` shows
            assert e.get(key) is not None, f"{e['file']}: the manifest lacks {key}"


#: seed codecs whose shipped models must trade rate for quality along their lambda points (issue 12)
RISING = ("cae1d", "hycot", "cnn-lstm-ae", "two-path-ae")


def test_seed_codecs_shipped_points_rise_in_rate_and_psnr() -> None:
    """Per recipe, the validation rate (bytes) and PSNR of the shipped models rise with lambda."""
    by_recipe: dict[str, list[dict]] = {}
    for e in models.shipped_models():
        if e["codec"] in RISING:
            by_recipe.setdefault(e["recipe"], []).append(e)
    assert {models.load_recipe(r)["codec"] for r in by_recipe} == set(RISING), sorted(by_recipe)
    for recipe, entries in by_recipe.items():
        entries.sort(key=lambda e: e["knob"])
        assert len(entries) == len(models.load_recipe(recipe)["points"]) >= 3, recipe
        rates, psnrs = [e["val_bpppc"] for e in entries], [e["val_psnr"] for e in entries]
        assert rates == sorted(rates) and len(set(rates)) == len(rates), (recipe, rates)
        assert psnrs == sorted(psnrs) and len(set(psnrs)) == len(psnrs), (recipe, psnrs)


def test_shipped_models_real_rate_is_close_to_the_estimate() -> None:
    """The coding tables cover each prior's learned density (``EntropyBottleneck.update``), so few values are
    escape-coded: every shipped rate-distortion model codes its validation image within 5 % of its own
    likelihood estimate (within 1.2 % for the factorized priors, 2.8 % for the hyperpriors' Gaussians)."""
    rd = [e for e in models.shipped_models() if e.get("val_estimated_bpppc") is not None]
    assert len(rd) >= 30
    for e in rd:
        assert e["val_estimated_bpppc"] < e["val_bpppc"] <= 1.05 * e["val_estimated_bpppc"], (
            e["file"], e["val_bpppc"], e["val_estimated_bpppc"])


def test_shipped_models_are_stored_as_their_recipes_say() -> None:
    """A recipe's ``weights`` setting (float16: half the file) is how its shipped files store the weights,
    and the weights load as float32 (``hsbench models --rebuild-tables --ship`` keeps the two in step)."""
    import torch

    from hsbench.codecs.learned import checkpoint as ckpt_io

    halves = 0
    for e in models.shipped_models():
        want = models.load_recipe(e["recipe"])["settings"].get("weights", "float32")
        ck = ckpt_io.load_checkpoint(e["path"])
        assert ck.get("weights", "float32") == want, e["file"]
        assert all(t.dtype != torch.float16 for t in ck["state_dict"].values()), e["file"]
        halves += want == "float16"
    assert halves >= 30
