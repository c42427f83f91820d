"""Learned codecs end to end: bitstream round trip, overfitting, determinism, resume, refusals, quick models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hsbench.codecs.learned import checkpoint as ckpt_io  # noqa: E402
from hsbench.codecs.learned.models import provision  # noqa: E402
from hsbench.codecs.learned.sscnet import SSCNetCodec, SSCNetLinearCodec  # noqa: E402
from hsbench.codecs.learned.train import train_codec  # noqa: E402
from hsbench.codecs.learned.vgg16_baseline import Vgg16BaselineCodec  # noqa: E402
from hsbench.codecs.registry import create_codec  # noqa: E402
from hsbench.cube import Cube  # noqa: E402
from hsbench.datasets.base import Dataset, DatasetRef  # noqa: E402
from hsbench.errors import (  # noqa: E402
    CodecUnavailableError,
    CorruptStreamError,
    DatasetError,
    HsbenchError,
    UnsupportedCubeError,
)

TINY = {"bands": 4, "tile": 16, "width": 4, "latent": 4}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def smooth_cube(seed: int, bands: int = 4, rows: int = 40, cols: int = 37, bit_depth: int = 12) -> Cube:
    """A correlated multiband image: smooth spatial fields mixed by smooth spectra, quantised."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols] / 16.0
    fields = [np.sin(a * x + b * y + c) for a, b, c in rng.uniform(0.5, 3, size=(3, 3))]
    spectra = rng.uniform(0.2, 1.0, size=(bands, 3))
    data = np.tensordot(spectra, np.stack(fields), axes=1)
    data = (data - data.min()) / (data.max() - data.min())
    peak = (1 << bit_depth) - 1
    return Cube(np.rint(data * peak).astype(np.uint16), bit_depth=bit_depth, name=f"smooth{seed}")


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(peak**2 / mse))


def train_tiny(codec: type = SSCNetCodec, arch: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    options = {"epochs": 3, "batch": 8, "lr": 3e-3, "train_spec": "test-train", **kw}
    return codec.train_tiny([smooth_cube(1), smooth_cube(2)], arch=arch or TINY, **options)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    ckpt_io.save_checkpoint(train_tiny(), path)
    return path


def test_decode_of_encode_equals_the_models_quantised_reconstruction(tiny_ckpt: Path) -> None:
    cube = smooth_cube(7, rows=41, cols=35)  # not a multiple of the 16-pixel tile
    codec = create_codec("sscnet", checkpoint=str(tiny_ckpt), device="cpu", bits=6, batch=3)
    data = codec.encode(cube)
    decoded = codec.decode(data)
    assert decoded.shape == cube.shape and decoded.dtype == cube.dtype and decoded.bit_depth == 12
    assert np.array_equal(decoded.data, codec.reconstruct(cube))
    # a fresh instance (as in another worker process) decodes the same bytes identically
    other = create_codec("sscnet", checkpoint=str(tiny_ckpt), device="cpu", bits=6)
    assert np.array_equal(other.decode(data).data, decoded.data)
    # the rate is the byte count: fewer bits per value give a shorter stream
    coarse = create_codec("sscnet", checkpoint=str(tiny_ckpt), device="cpu", bits=2)
    assert len(coarse.encode(cube)) < len(data)


def test_row_columns_carry_the_nominal_float32_ratio(tiny_ckpt: Path) -> None:
    cube = smooth_cube(7, rows=41, cols=35)
    cols = create_codec("sscnet", checkpoint=str(tiny_ckpt), device="cpu").row_columns(cube)
    tiles = 3 * 3
    elements = tiles * TINY["latent"] * (16 // 8) ** 2
    assert cols["tiles"] == tiles and cols["latent_elements"] == elements
    # SSCNet's convention: 12-bit samples stored in uint16 count 16 bits (its Lombardia 20.7:1)
    assert cols["nominal_cr"] == pytest.approx(4 * 41 * 35 * 16 / (32 * elements)) and cols["nominal_cr_bits"] == 16
    assert cols["nominal_bpppc"] == pytest.approx(32 * elements / (4 * 41 * 35))
    assert cols["device"] == "cpu" and cols["quick_trained"] is False
    assert cols["encoder_params"] > 0 and cols["decoder_params"] > 0


def test_a_tiny_model_overfits_a_small_cube() -> None:
    cube = smooth_cube(3, rows=32, cols=32)
    arch = {"bands": 4, "tile": 16, "width": 8, "latent": 8}
    codec_kw = {"device": "cpu", "bits": 10}

    def quality(ckpt: dict[str, Any], tmp: Path) -> float:
        ckpt_io.save_checkpoint(ckpt, tmp)
        codec = SSCNetCodec(checkpoint=str(tmp), **codec_kw)
        return psnr(codec.reconstruct(cube), cube.data, cube.peak)

    tmp = Path(pytest.importorskip("tempfile").mkdtemp()) / "m.pt"
    untrained = quality(
        train_codec(SSCNetCodec, arch, [cube], train_spec="x", epochs=1, batch=4, lr=1e-12, seed=0,
                    device="cpu", progress=False), tmp)  # fmt: skip
    trained = quality(
        train_codec(SSCNetCodec, arch, [cube], train_spec="x", epochs=300, batch=4, lr=3e-3, seed=0,
                    device="cpu", progress=False), tmp)  # fmt: skip
    print(f"overfit: untrained {untrained:.1f} dB, trained {trained:.1f} dB")
    assert trained > untrained + 12, (untrained, trained)


def test_same_seed_gives_the_same_weights_and_the_same_bytes(tmp_path: Path) -> None:
    a, b = train_tiny(epochs=1), train_tiny(epochs=1)
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    c = train_tiny(epochs=1, seed=1)
    assert not all(torch.equal(a["state_dict"][k], c["state_dict"][k]) for k in a["state_dict"])
    ckpt_io.save_checkpoint(a, tmp_path / "a.pt")
    ckpt_io.save_checkpoint(b, tmp_path / "b.pt")
    cube = smooth_cube(9)
    bytes_a = SSCNetCodec(checkpoint=str(tmp_path / "a.pt"), device="cpu").encode(cube)
    bytes_b = SSCNetCodec(checkpoint=str(tmp_path / "b.pt"), device="cpu").encode(cube)
    assert bytes_a == bytes_b


def test_interrupted_training_resumes_to_the_same_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    straight = train_tiny(codec=Vgg16BaselineCodec, arch={"bands": 4, "tile": 32, "width": 2, "fc": 8, "latent": 6},
                          epochs=3, out=tmp_path / "straight.pt")  # fmt: skip
    real_save = ckpt_io.save_checkpoint
    saves = []

    def save_then_interrupt(ckpt: dict[str, Any], path: Any) -> Path:
        out = real_save(ckpt, path)
        saves.append(ckpt["training"]["epochs_done"])
        if len(saves) == 2:
            raise KeyboardInterrupt
        return out

    resumed_path = tmp_path / "resumed.pt"
    monkeypatch.setattr(ckpt_io, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_tiny(codec=Vgg16BaselineCodec, arch={"bands": 4, "tile": 32, "width": 2, "fc": 8, "latent": 6},
                   epochs=3, out=resumed_path)  # fmt: skip
    monkeypatch.setattr(ckpt_io, "save_checkpoint", real_save)
    partial = ckpt_io.load_checkpoint(resumed_path)
    assert partial["training"]["epochs_done"] == 2 and not partial["training"]["finished"]
    assert "resume" in partial
    resumed = train_tiny(codec=Vgg16BaselineCodec, arch={"bands": 4, "tile": 32, "width": 2, "fc": 8, "latent": 6},
                         epochs=3, out=resumed_path)  # fmt: skip
    assert resumed["training"]["epochs_done"] == 3 and resumed["training"]["finished"]
    for key in straight["state_dict"]:
        assert torch.equal(straight["state_dict"][key], resumed["state_dict"][key]), key
    # other settings on the same file are refused, not silently mixed
    with pytest.raises(HsbenchError, match="other settings"):
        train_tiny(codec=Vgg16BaselineCodec, arch={"bands": 4, "tile": 32, "width": 2, "fc": 8, "latent": 6},
                   epochs=3, lr=1e-3, out=resumed_path)  # fmt: skip


def test_mismatched_cubes_are_refused_with_a_clear_message(tiny_ckpt: Path) -> None:
    codec = SSCNetCodec(checkpoint=str(tiny_ckpt), device="cpu")
    with pytest.raises(UnsupportedCubeError, match=r"expects 4 bands.*has 3 bands"):
        codec.encode(Cube(np.zeros((3, 16, 16), dtype=np.uint16), bit_depth=12, name="rgb"))
    with pytest.raises(UnsupportedCubeError, match=r"12-bit uint16.*is 16-bit"):
        codec.encode(Cube(np.zeros((4, 16, 16), dtype=np.uint16), bit_depth=16))
    with pytest.raises(UnsupportedCubeError, match="trained on"):
        codec.encode(smooth_cube(1))  # one of its training images


def test_missing_or_foreign_checkpoints_are_refused(tiny_ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(CodecUnavailableError, match="does not exist.*hsbench train"):
        create_codec("sscnet", checkpoint=str(tmp_path / "nope.pt"))
    with pytest.raises(CodecUnavailableError, match="belongs to codec 'sscnet'"):
        SSCNetLinearCodec(checkpoint=str(tiny_ckpt), device="cpu").encode(smooth_cube(5))
    with pytest.raises(CodecUnavailableError, match="no checkpoint"):
        SSCNetCodec(device="cpu").encode(smooth_cube(5))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CodecUnavailableError, match="cannot be read"):
        SSCNetCodec(checkpoint=str(tmp_path / "junk.pt"), device="cpu").encode(smooth_cube(5))


def test_a_stream_from_other_weights_is_refused(tiny_ckpt: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    ckpt_io.save_checkpoint(train_tiny(epochs=1, seed=5), other)
    data = SSCNetCodec(checkpoint=str(tiny_ckpt), device="cpu").encode(smooth_cube(5))
    with pytest.raises(CorruptStreamError, match="other weights"):
        SSCNetCodec(checkpoint=str(other), device="cpu").decode(data)


def test_cuda_without_a_gpu_is_an_error_not_a_silent_fallback(tiny_ckpt: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    codec = SSCNetCodec(checkpoint=str(tiny_ckpt), device="cuda")
    with pytest.raises(CodecUnavailableError, match="no CUDA"):
        codec.encode(smooth_cube(5))


class _ListDataset(Dataset):
    """An in-memory dataset whose training split is another in-memory dataset (registered per test)."""

    def __init__(self, name: str, cubes: list[Cube], train_spec: str | None) -> None:
        self.name, self._cubes, self.train_spec = name, {c.name: c for c in cubes}, train_spec
        self.ref = DatasetRef(name, "/nonexistent")

    def image_ids(self) -> list[str]:
        return list(self._cubes)

    def load(self, image_id: str) -> Cube:
        return self._cubes[image_id]


def test_provision_quick_trains_once_caches_and_marks_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hsbench.datasets as datasets_mod

    monkeypatch.setenv("HSBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HSBENCH_QUICK_TRAIN_STEPS", "3")
    train = _ListDataset("tiny-train", [smooth_cube(1, rows=32, cols=32), smooth_cube(2, rows=32, cols=32)], None)
    evaluated = _ListDataset("tiny-eval", [smooth_cube(3, rows=32, cols=32)], "tiny-train")
    real_open = datasets_mod.open_dataset
    monkeypatch.setattr(
        datasets_mod, "open_dataset", lambda spec, root=None, **o: train if spec == "tiny-train" else real_open(spec, root, **o)
    )
    params = {"latent": 4, "tile": 16, "width": 4, "device": "cpu"}
    ready = provision(SSCNetCodec, params, evaluated)
    path = Path(ready["checkpoint"])
    assert ready["quick_trained"] is True and path.parent == tmp_path / "cache" / "models"
    assert ready["model_source"] == "trained"
    ckpt = ckpt_io.load_checkpoint(path)
    assert ckpt["training"]["quick"] and ckpt["training"]["steps"] <= 3
    # the last training image is held out for the validation PSNR, never trained on
    assert ckpt["data"]["spec"] == "tiny-train" and ckpt["data"]["images"] == ["smooth1"]
    assert ckpt["training"]["val_images"] == ["smooth2"] and ckpt["training"]["loss"] == "mse"
    mtime = path.stat().st_mtime_ns
    again = provision(SSCNetCodec, params, evaluated)
    assert again["checkpoint"] == str(path) and again["model_source"] == "cache"  # cached: not retrained
    assert path.stat().st_mtime_ns == mtime
    codec = create_codec("sscnet", **ready)
    cube = evaluated.load("smooth3")
    assert codec.decode(codec.encode(cube)).shape == cube.shape
    assert codec.row_columns(cube)["quick_trained"] is True and codec.row_columns(cube)["model_source"] == "trained"
    # another latent size is another model
    assert provision(SSCNetCodec, {**params, "latent": 8}, evaluated)["checkpoint"] != str(path)


def test_validation_psnr_is_the_benchmark_psnr_of_the_codecs_reconstruction(tmp_path: Path) -> None:
    from hsbench import metrics

    held_out = [smooth_cube(5, rows=41, cols=35), smooth_cube(6, rows=30, cols=50)]
    ckpt = train_codec(SSCNetCodec, TINY, [smooth_cube(1), smooth_cube(2)], train_spec="t", epochs=4, batch=8,
                       lr=3e-3, loss="mse", warmup=0.2, clip=1.0, seed=0, device="cpu", progress=False,
                       val_cubes=held_out)  # fmt: skip
    assert ckpt["training"]["val_images"] == ["smooth5", "smooth6"] and ckpt["training"]["val_held_out"]
    ckpt_io.save_checkpoint(ckpt, tmp_path / "m.pt")
    codec = SSCNetCodec(checkpoint=str(tmp_path / "m.pt"), device="cpu", bits=12)
    # pooled MSE over both images (one bit depth, so one peak), from the decoded streams
    decoded = [codec.decode(codec.encode(c)).data for c in held_out]
    sq = sum(metrics.mse(c.data, d) * c.num_samples for c, d in zip(held_out, decoded))
    pooled = 10 * np.log10(held_out[0].peak ** 2 / (sq / sum(c.num_samples for c in held_out)))
    assert abs(ckpt["training"]["val_psnr"] - pooled) < 0.05, (ckpt["training"]["val_psnr"], pooled)
    # for a single image it is exactly hsbench.metrics.psnr of the unquantised codec path
    from hsbench.codecs.learned.base import forward_cube

    one = train_codec(SSCNetCodec, TINY, [smooth_cube(1), smooth_cube(2)], train_spec="t", epochs=1, batch=8,
                      lr=3e-3, seed=0, device="cpu", progress=False, val_cubes=held_out[:1])  # fmt: skip
    ckpt_io.save_checkpoint(one, tmp_path / "one.pt")
    m = SSCNetCodec(checkpoint=str(tmp_path / "one.pt"), device="cpu").model
    rec = forward_cube(m.network, 16, m.low, m.high, held_out[0], 5, "cpu")
    assert one["training"]["val_psnr"] == pytest.approx(metrics.psnr(held_out[0].data, rec, held_out[0].peak), abs=1e-9)


def test_tile_validation_psnr_pools_the_mse_in_peak_units() -> None:
    # without held-out images the figure is 10 log10(1 / MSE) over the held-out tiles, not a mean of tile PSNRs
    from hsbench.codecs.learned.train import _psnr_tiles

    net = SSCNetCodec.build_network(TINY)
    rng = np.random.default_rng(0)
    tiles = rng.uniform(0, 1, size=(6, 4, 16, 16)).astype(np.float32)
    span = np.array([1.0, 0.5, 0.25, 2.0])
    with torch.no_grad():
        y = net["decoder"](net["encoder"](torch.from_numpy(tiles))).numpy()
    expected = 10 * np.log10(1 / np.mean(((y - tiles) * span[None, :, None, None]) ** 2))
    assert _psnr_tiles(net, tiles, span, 4, "cpu") == pytest.approx(expected, abs=1e-4)


def test_learning_rate_schedule_warms_up_then_anneals_to_zero() -> None:
    from hsbench.codecs.learned.train import lr_factor

    assert lr_factor(0.0) == 1.0 and lr_factor(1.0) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(0.5) == pytest.approx(0.5)
    assert lr_factor(0.05, warmup=0.1) == pytest.approx(0.5) and lr_factor(0.1, warmup=0.1) == 1.0
    assert lr_factor(0.55, warmup=0.1) == pytest.approx(0.5)


def test_provision_refuses_datasets_without_a_training_split_or_with_other_bands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hsbench.datasets as datasets_mod

    monkeypatch.setenv("HSBENCH_CACHE_DIR", str(tmp_path))
    lonely = _ListDataset("lonely", [smooth_cube(3)], None)
    with pytest.raises(DatasetError, match="names no training split"):
        provision(SSCNetCodec, {}, lonely)
    train = _ListDataset("rgb-train", [smooth_cube(1, bands=3)], None)
    monkeypatch.setattr(datasets_mod, "open_dataset", lambda spec, root=None, **o: train)
    with pytest.raises(DatasetError, match="3 bands of uint16.*4 bands"):
        provision(SSCNetCodec, {}, _ListDataset("ms", [smooth_cube(3)], "rgb-train"))


def test_provision_with_a_checkpoint_takes_its_architecture(tiny_ckpt: Path) -> None:
    ready = provision(SSCNetCodec, {"latent": 64, "checkpoint": str(tiny_ckpt)}, _ListDataset("x", [], None))
    assert ready["latent"] == TINY["latent"] and ready["tile"] == 16 and ready["quick_trained"] is False
    assert ready["model_source"] == "checkpoint"


def test_hsbench_train_cli_trains_and_resumes(tmp_path: Path) -> None:
    from PIL import Image

    from hsbench.cli import main

    folder = tmp_path / "train"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, size=(40, 40, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
    out = tmp_path / "m.pt"
    args = ["train", "sscnet-linear", "--dataset", f"folder:{folder}", "--latent", "8", "--tile", "16",
            "--width", "2", "--epochs", "2", "--batch", "8", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    ckpt = ckpt_io.load_checkpoint(out)
    assert ckpt["codec"] == "sscnet-linear" and ckpt["arch"]["latent"] == 8 and ckpt["training"]["finished"]
    assert ckpt["training"]["loss"] == "bce" and ckpt["training"]["lr"] == 1e-4
    assert ckpt["hsbench_version"] and len(ckpt["data"]["sha256"]) == 2
    assert main(args) == 0  # a finished checkpoint with the same settings: nothing to do
    assert main(args[:-1] + [str(out), "--seed", "3"]) == 2  # other settings on the same file: refused


def test_normalisation_is_the_papers_min_max_for_one_bit_depth() -> None:
    cube = smooth_cube(4)
    low, high = ckpt_io.band_range([cube.data / ckpt_io.peak_scale(12, False)])
    norm = ckpt_io.normalise(cube.data, low, high, ckpt_io.peak_scale(12, False))
    data = cube.data.astype(np.float64)
    mn, mx = data.min(axis=(1, 2))[:, None, None], data.max(axis=(1, 2))[:, None, None]
    assert np.allclose(norm, (data - mn) / (mx - mn), atol=1e-6)
    assert np.allclose(ckpt_io.denormalise(norm, low, high, 4095.0), data, atol=1e-3)


def test_one_model_serves_the_bit_depths_it_was_trained_on(tmp_path: Path) -> None:
    cubes = [smooth_cube(1, bit_depth=12), smooth_cube(2, bit_depth=16)]
    ckpt = train_codec(SSCNetCodec, TINY, cubes, train_spec="mixed", epochs=1, batch=8, seed=0, device="cpu",
                       progress=False)  # fmt: skip
    assert ckpt["data"]["bit_depths"] == [12, 16]
    ckpt_io.save_checkpoint(ckpt, tmp_path / "mixed.pt")
    codec = SSCNetCodec(checkpoint=str(tmp_path / "mixed.pt"), device="cpu")
    for depth in (12, 16):
        cube = smooth_cube(6, bit_depth=depth)
        decoded = codec.decode(codec.encode(cube))
        assert decoded.bit_depth == depth and int(decoded.data.max()) <= (1 << depth) - 1
    with pytest.raises(UnsupportedCubeError, match="12/16-bit"):
        codec.encode(smooth_cube(6, bit_depth=14))


def test_a_forged_geometry_or_appended_words_leave_latent_data_unread_and_are_refused(tiny_ckpt: Path) -> None:
    """The range decoder must consume the latent exactly: a frame announcing fewer tiles than were coded
    (CRC recomputed) or a payload with extra words is a corrupt stream, not a smaller image."""
    import dataclasses

    from hsbench.codecs import container

    codec = create_codec("sscnet", checkpoint=str(tiny_ckpt), device="cpu", bits=6)
    data = codec.encode(smooth_cube(7, rows=41, cols=35))  # 3 x 3 tiles of 16 pixels
    header, payload = container.unpack(data)
    smaller = dataclasses.replace(header, shape=(header.bands, 16, 16))  # one tile
    with pytest.raises(CorruptStreamError, match="more data"):
        codec.decode(container.pack(smaller, bytes(payload)))
    with pytest.raises(CorruptStreamError):
        codec.decode(container.pack(header, bytes(payload) + b"\x12\x34\x56\x78" * 8))
