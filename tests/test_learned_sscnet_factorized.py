"""``entropy=factorized`` on the SSCNet paper's autoencoders: the factorized prior on their latent.

Tiny models on small cubes (CPU, one thread): bit-exact round trip, a decoder that needs only the
bytes and the checkpoint, rate rising with lambda, refusals of mismatched checkpoints and streams,
and the planner's resolver (quick training, the ``lmbda`` sweep, ``hsbench codecs``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hsbench.codecs import container  # noqa: E402
from hsbench.codecs.learned import checkpoint as ckpt_io  # noqa: E402
from hsbench.codecs.learned.models import provision  # noqa: E402
from hsbench.codecs.learned.sscnet import SSCNetCodec  # noqa: E402
from hsbench.codecs.registry import create_codec, describe_codecs, get_codec  # noqa: E402
from hsbench.errors import CodecUnavailableError, CorruptStreamError, UnsupportedCubeError  # noqa: E402
from hsbench.planning import codec_points  # noqa: E402

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from test_learned_codec import _ListDataset, _one_thread, smooth_cube, train_tiny  # noqa: E402,F401 (autouse fixture)

NAMES = ("sscnet", "sscnet-linear", "vgg16-baseline")
FACTORIZED = {"entropy": "factorized"}


def train_factorized(name: str, lmbda: float = 0.05, steps: int = 40, **kw: Any) -> dict[str, Any]:
    cubes = [smooth_cube(1, rows=64, cols=64), smooth_cube(2, rows=64, cols=64)]
    return get_codec(name).train_tiny(cubes, arch={**FACTORIZED, **kw.pop("arch", {})}, lmbda=lmbda, steps=steps,
                                      train_spec="test-train", **kw)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sscfact")
    return {name: ckpt_io.save_checkpoint(train_factorized(name), folder / f"{name}.pt") for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_is_bit_exact_and_rows_keep_the_nominal_columns(tiny: dict[str, Path], name: str) -> None:
    codec = create_codec(name, checkpoint=str(tiny[name]), entropy="factorized", device="cpu", batch=3)
    cube = smooth_cube(7, rows=40, cols=37)  # not tile-aligned: edge-padded tiles
    data = codec.encode(cube)
    decoded = codec.decode(data)
    assert decoded.shape == cube.shape and decoded.dtype == cube.dtype
    assert np.array_equal(decoded.data, codec.reconstruct(cube))
    other = create_codec(name, checkpoint=str(tiny[name]), entropy="factorized", device="cpu", batch=1)
    assert np.array_equal(other.decode(data).data, decoded.data)  # batch size does not change the stream
    row = codec.row_columns(cube)
    ckpt = ckpt_io.load_checkpoint(tiny[name])
    assert ckpt["arch"]["entropy"] == "factorized" and ckpt["arch"]["cluster"] == 4
    assert row["entropy"] == "factorized" and row["lmbda"] == 0.05 and row["bits"] is None
    assert 0 < row["estimated_bpppc"] and row["train_loss_fn"] == "rate+lambda*mse"
    tiles = -(-40 // row["tile"]) * -(-37 // row["tile"])
    assert row["tiles"] == tiles
    assert row["nominal_bpppc"] == pytest.approx(32.0 * row["latent_elements"] / cube.num_samples)
    assert row["latent_elements"] == tiles * int(np.prod(get_codec(name).latent_shape(ckpt["arch"])))


_ENCODE = """
import sys, numpy as np, torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[3])
from test_learned_codec import smooth_cube
from hsbench.codecs.registry import create_codec
codec = create_codec("sscnet", checkpoint=sys.argv[1], entropy="factorized", device="cpu")
cube = smooth_cube(11, rows=50, cols=70)
open(sys.argv[2] + ".hsb", "wb").write(codec.encode(cube))
np.save(sys.argv[2] + ".rec.npy", codec.reconstruct(cube))
"""
_DECODE = """
import sys, numpy as np, torch
torch.set_num_threads(2)
from hsbench.codecs.registry import create_codec
codec = create_codec("sscnet", checkpoint=sys.argv[1], entropy="factorized", device="cpu")
np.save(sys.argv[2] + ".dec.npy", codec.decode(open(sys.argv[2] + ".hsb", "rb").read()).data)
"""


def test_the_decoder_needs_only_the_bytes_and_the_checkpoint(tiny: dict[str, Path], tmp_path: Path) -> None:
    """Encode in one process, decode the file in another (another thread count): the encoder's reconstruction."""
    base = str(tmp_path / "s")
    subprocess.run([sys.executable, "-c", _ENCODE, str(tiny["sscnet"]), base, str(HERE)], check=True)
    subprocess.run([sys.executable, "-c", _DECODE, str(tiny["sscnet"]), base], check=True)
    assert np.array_equal(np.load(base + ".dec.npy"), np.load(base + ".rec.npy"))


def test_rate_and_quality_rise_with_lambda() -> None:
    """200 deterministic steps on two 64x64 cubes, validated through the real codec on a third."""
    cube = smooth_cube(9, rows=64, cols=64)
    figures = []
    for lmbda in (0.002, 0.5):
        t = train_factorized("sscnet", lmbda=lmbda, steps=200, lr=3e-3, val_cubes=[cube])["training"]
        figures.append((t["val_bpppc"], t["val_estimated_bpppc"], t["val_psnr"]))
    (r_lo, e_lo, q_lo), (r_hi, e_hi, q_hi) = figures
    assert r_hi > 2 * r_lo and e_hi > 2 * e_lo and q_hi > q_lo + 1.0


def test_a_checkpoint_of_the_other_option_is_refused(tiny: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(CodecUnavailableError, match="trained with entropy=factorized.*pass entropy=factorized"):
        create_codec("sscnet", checkpoint=str(tiny["sscnet"]), device="cpu")
    minmax = ckpt_io.save_checkpoint(train_tiny(epochs=1), tmp_path / "minmax.pt")
    with pytest.raises(CodecUnavailableError, match="trained with entropy=minmax.*pass entropy=minmax"):
        create_codec("sscnet", checkpoint=str(minmax), entropy="factorized", device="cpu")
    with pytest.raises(CodecUnavailableError, match="trained with entropy=factorized"):  # the resolver refuses it too
        provision(SSCNetCodec, {"checkpoint": str(tiny["sscnet"])}, None)
    with pytest.raises(CodecUnavailableError, match="belongs to codec 'sscnet'"):
        create_codec("vgg16-baseline", checkpoint=str(tiny["sscnet"]), entropy="factorized")
    ready = provision(SSCNetCodec, {"checkpoint": str(tiny["sscnet"]), "entropy": "factorized"}, None)
    assert ready["model_source"] == "checkpoint" and ready["lmbda"] == 0.05
    with pytest.raises(Exception, match="entropy must be one of minmax, factorized"):
        create_codec("sscnet", entropy="prior")


def test_forged_streams_and_other_cubes_are_refused(tiny: dict[str, Path]) -> None:
    codec = create_codec("sscnet-linear", checkpoint=str(tiny["sscnet-linear"]), entropy="factorized", device="cpu")
    cube = smooth_cube(8, rows=32, cols=32)
    header, payload = container.unpack(codec.encode(cube), expect_codec="sscnet-linear")

    def framed(new_payload: bytes, shape: tuple[int, int, int] | None = None) -> bytes:
        h = container.StreamHeader(header.codec, header.codec_version, header.dtype, header.bit_depth,
                                   shape or header.shape, header.value_range)
        return container.pack(h, bytes(new_payload))

    tile = int(ckpt_io.load_checkpoint(tiny["sscnet-linear"])["arch"]["tile"])
    bad_tile = bytearray(payload)
    bad_tile[8:10] = (2 * tile).to_bytes(2, "little")  # a multiple of the tile: only the model's own tile is valid
    with pytest.raises(CorruptStreamError, match="tile"):
        codec.decode(framed(bad_tile, (4, 2 * tile, 2 * tile)))
    with pytest.raises(CorruptStreamError, match="bands"):
        codec.decode(framed(payload, (5, 32, 32)))
    with pytest.raises(UnsupportedCubeError, match="bands"):
        codec.encode(smooth_cube(8, bands=5, rows=32, cols=32))
    with pytest.raises(UnsupportedCubeError, match="trained on"):
        codec.encode(smooth_cube(1, rows=64, cols=64))


def test_the_resolver_quick_trains_one_model_per_lambda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hsbench.datasets as datasets_mod

    monkeypatch.setenv("HSBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HSBENCH_QUICK_TRAIN_STEPS", "2")
    train = _ListDataset("tiny-train", [smooth_cube(1, rows=32, cols=32), smooth_cube(2, rows=32, cols=32)], None)
    evaluated = _ListDataset("tiny-eval", [smooth_cube(3, rows=32, cols=32)], "tiny-train")
    monkeypatch.setattr(datasets_mod, "open_dataset", lambda spec, root=None, **o: train)
    params = {"latent": 4, "tile": 16, "width": 4, "device": "cpu", "entropy": "factorized", "lmbda": 0.05}
    first = provision(SSCNetCodec, params, evaluated)
    assert first["model_source"] == "trained" and first["quick_trained"] is True
    ckpt = ckpt_io.load_checkpoint(first["checkpoint"])
    assert ckpt["arch"]["entropy"] == "factorized" and ckpt["lmbda"] == 0.05 and ckpt["training"]["steps"] == 2
    assert ckpt["training"]["patch"] % 16 == 0  # patches of whole tiles
    assert provision(SSCNetCodec, params, evaluated)["model_source"] == "cache"
    assert provision(SSCNetCodec, {**params, "lmbda": 0.0035}, evaluated)["checkpoint"] != first["checkpoint"]
    minmax = provision(SSCNetCodec, {k: v for k, v in params.items() if k not in ("entropy", "lmbda")}, evaluated)
    assert minmax["checkpoint"] != first["checkpoint"]
    codec = create_codec("sscnet", **first)
    cube = evaluated.load("smooth3")
    assert codec.decode(codec.encode(cube)).shape == cube.shape
    assert codec.row_columns(cube)["model_source"] == "trained"
    # a target-rate sweep picks among the trained lambda points (the discrete knob of the option)
    from hsbench.ratecontrol import plan_targets, search_rate

    user = {"entropy": ["factorized"], "latent": [4], "tile": [16], "width": [4], "device": ["cpu"]}
    notes: list[str] = []
    [(prepared, target)] = plan_targets(SSCNetCodec, codec_points(SSCNetCodec, user), evaluated, [("bpppc", 0.1)],
                                        notes=notes)
    assert sorted(dict(c)["lmbda"] for c in target.candidates) == [0.0035, 0.013, 0.05]
    assert "lmbda=[0.0035, 0.013, 0.05]" in notes[0]
    found = search_rate(SSCNetCodec, prepared, cube, target)
    assert found.knob_value in (0.0035, 0.013, 0.05) and found.params["entropy"] == "factorized"


def test_the_factorized_option_is_swept_by_lambda_and_listed() -> None:
    assert codec_points(SSCNetCodec, {}) == [{"latent": 4}, {"latent": 16}]
    assert codec_points(SSCNetCodec, {"entropy": ["factorized"]}) == [
        {"lmbda": v, "entropy": "factorized"} for v in (0.0035, 0.013, 0.05)
    ]
    both = codec_points(SSCNetCodec, {"entropy": ["minmax", "factorized"]})
    assert {"latent": 16, "entropy": "minmax"} in both and {"lmbda": 0.05, "entropy": "factorized"} in both
    assert len(both) == 5
    # lmbda does nothing for minmax, bits nothing for factorized: no duplicate jobs from either
    assert codec_points(SSCNetCodec, {"lmbda": [0.01, 0.1]}) == [{"latent": 4}, {"latent": 16}]
    assert codec_points(SSCNetCodec, {"entropy": ["factorized"], "bits": [4, 8]}) == [
        {"lmbda": v, "entropy": "factorized"} for v in (0.0035, 0.013, 0.05)
    ]
    assert SSCNetCodec.knob_for({"entropy": "factorized"}).name == "lmbda" and SSCNetCodec.knob_for({}).name == "latent"
    knobs = {i.name: i.knob for i in describe_codecs()}
    for name in NAMES:
        assert knobs[name].startswith("latent [") and "; entropy=factorized: lmbda [1e-05..100]" in knobs[name]


def test_a_recipe_trains_the_lambda_points_that_the_resolver_then_finds(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import hsbench.datasets as datasets_mod
    from hsbench.codecs.learned import models

    monkeypatch.setenv("HSBENCH_CACHE_DIR", str(tmp_path / "cache"))
    train = _ListDataset("tiny-train", [smooth_cube(1, rows=32, cols=32), smooth_cube(2, rows=32, cols=32)], None)
    evaluated = _ListDataset("tiny-eval", [smooth_cube(3, rows=32, cols=32)], "tiny-train")
    monkeypatch.setattr(datasets_mod, "open_dataset", lambda spec, root=None, **o: train)
    recipe = json.loads((models.RECIPES_DIR / "sscnet-factorized-hsi.json").read_text())
    arch = {"latent": 4, "tile": 16, "width": 4}
    recipe.update(name="tiny-sf", bands=4, params={**recipe["params"], **arch}, points=[0.01, 0.1],
                  train="tiny-train", serves=["tiny-train"], warm_start={"steps": 2})
    recipe["settings"].update(steps=3, batch=2, patch=16, crop=32)
    (tmp_path / "tiny-sf.json").write_text(json.dumps(recipe))
    entries = models.train_recipe(str(tmp_path / "tiny-sf.json"))
    assert [(e["file"], e["knob_name"], e["steps"]) for e in entries] == [
        ("sscnet-tiny-sf-0.01.pt", "lmbda", 5), ("sscnet-tiny-sf-0.1.pt", "lmbda", 5)]
    assert entries[0]["arch"]["entropy"] == "factorized"
    found = provision(SSCNetCodec, {**arch, "entropy": "factorized", "lmbda": 0.1, "device": "cpu"}, evaluated)
    assert found["model_source"] == "cache" and found["checkpoint"] == entries[1]["path"]


def test_a_parameter_given_for_a_codec_that_no_point_uses_is_an_error(tmp_path: Path) -> None:
    from hsbench.errors import HsbenchError
    from hsbench.planning import plan_run

    with pytest.raises(HsbenchError, match=r"--param sscnet\.lmbda=…: the parameter has no effect.*entropy=factorized"):
        plan_run(["sscnet"], ["samples"], tmp_path / "run", params=["sscnet.lmbda=0.01"])
    # run-wide, it applies where it has an effect (here: nowhere) and is dropped elsewhere
    plan = plan_run(["sscnet"], ["samples"], tmp_path / "run2", params=["lmbda=0.01"],
                    dataset_options={"max_images": 1})
    assert sorted(job.param_dict["latent"] for job in plan.jobs) == [4, 16]
    assert not any("lmbda" in job.param_dict for job in plan.jobs)
