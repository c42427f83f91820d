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
