"""The seed-system codecs (cae1d, hycot, s2cnet, cnn-lstm-ae, two-path-ae) with tiny models.

Round trips through the real bitstream, overfitting a small cube, the variants' loss terms,
nominal columns, and refusal of mismatched checkpoints and streams.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hsbench.codecs.learned import checkpoint as ckpt_io  # noqa: E402
from hsbench.codecs.learned import transform  # noqa: E402
from hsbench.codecs.learned.rdtrain import PatchSampler, train_rd  # noqa: E402
from hsbench.codecs.learned.seedmodels import build  # noqa: E402
from hsbench.codecs.registry import create_codec, get_codec  # noqa: E402
from hsbench.cube import Cube  # noqa: E402
from hsbench.errors import CodecParameterError, CodecUnavailableError, CorruptStreamError  # noqa: E402
from hsbench.metrics import psnr  # noqa: E402

BANDS = 12
CODECS = ("cae1d", "hycot", "s2cnet", "cnn-lstm-ae", "two-path-ae")


def smooth_cube(seed: int, rows: int = 64, cols: int = 64, bit_depth: int = 12) -> Cube:
    """Smooth spatial fields mixed by smooth spectra (rank 3), quantised to ``bit_depth`` bits."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols] / 8.0
    fields = [np.sin(a * x + b * y + c) for a, b, c in rng.uniform(0.5, 3, size=(3, 3))]
    spectra = rng.uniform(0.2, 1.0, size=(BANDS, 3))
    data = np.tensordot(spectra, np.stack(fields), axes=1)
    data = (data - data.min()) / (data.max() - data.min())
    return Cube(np.rint(data * ((1 << bit_depth) - 1)).astype(np.uint16), bit_depth=bit_depth, name=f"smooth{seed}")


#: training steps of the overfitted models and learning rates (chosen in development runs of 100 steps)
STEPS = {"s2cnet": 60, "cnn-lstm-ae": 150}
LR = {"cnn-lstm-ae": 3e-3, "s2cnet": 3e-3}


def train(name: str, steps: int, cube: Cube, lmbda: float = 0.05, **arch: Any) -> dict[str, Any]:
    cls = get_codec(name)
    patch, batch = (64, 1) if name == "s2cnet" else (16, 8)
    return train_rd(cls, cls.training_arch(BANDS, **arch), lmbda, [cube], train_spec="test", steps=steps,
                    patch=patch, batch=batch, lr=LR.get(name, 1e-2), progress=False)  # fmt: skip


def psnr_of(name: str, path: Path, cube: Cube) -> float:
    codec = create_codec(name, checkpoint=str(path), device="cpu")
    return psnr(cube.data, codec.reconstruct(cube), cube.peak)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Per codec: a model after one step and one overfitted (:data:`STEPS`, default 100) on ``smooth_cube(3)``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("seed-models")
    out = {}
    try:
        for name in CODECS:
            paths = []
            for steps in (1, STEPS.get(name, 100)):
                path = folder / f"{name}-{steps}.pt"
                ckpt_io.save_checkpoint(train(name, steps, smooth_cube(3)), path)
                paths.append(path)
            out[name] = (paths[0], paths[1])
    finally:
        torch.set_num_threads(before)
    return out


@pytest.mark.parametrize("name", CODECS)
def test_round_trip_is_the_models_reconstruction_in_a_fresh_instance(models, name: str) -> None:
    cube = smooth_cube(7, rows=40, cols=37)  # other image, sizes not multiples of any tile
    codec = create_codec(name, checkpoint=str(models[name][1]), device="cpu")
    stream = codec.encode(cube)
    decoded = codec.decode(stream)
    assert decoded.shape == cube.shape and decoded.dtype == cube.dtype and decoded.bit_depth == 12
    assert np.array_equal(decoded.data, codec.reconstruct(cube))
    transform._LOADED.clear()  # as in another worker process: the checkpoint is read again
    other = create_codec(name, checkpoint=str(models[name][1]), device="cpu")
    assert np.array_equal(other.decode(stream).data, decoded.data)
    cols = codec.row_columns(cube)
    assert cols["estimated_bpppc"] > 0 and cols["nominal_cr_bits"] == 32
    assert cols["arch_cluster"] == BANDS


@pytest.mark.parametrize("name", CODECS)
def test_training_overfits_a_small_cube(models, name: str) -> None:
    """The trained model reconstructs its training cube far better than the one-step model."""
    cube = smooth_cube(3)
    early, late = (psnr_of(name, p, cube) for p in models[name])
    assert late > early + 4.0, (name, early, late)


def test_nominal_columns_are_hyspecnets_32_over_cr(models) -> None:
    """1D-CAE with two blocks on 12 bands: C = 3 values per pixel, CR = 4, nominal 8 bpppc."""
    cube = smooth_cube(7, rows=40, cols=37)
    cols = create_codec("cae1d", checkpoint=str(models["cae1d"][1]), device="cpu").row_columns(cube)
    assert cols["latent_values"] == 3 * 40 * 37
    assert cols["nominal_cr"] == pytest.approx(4.0) and cols["nominal_bpppc"] == pytest.approx(8.0)


def test_mismatched_checkpoints_and_streams_are_refused(models, tmp_path: Path) -> None:
    with pytest.raises(CodecUnavailableError, match="belongs to codec 'cae1d'"):
        create_codec("hycot", checkpoint=str(models["cae1d"][1]), device="cpu")
    ck = ckpt_io.load_checkpoint(models["cae1d"][1])
    ck["arch"] = {**ck["arch"], "width": 16}  # the weights no longer fit the network
    ckpt_io.save_checkpoint(ck, tmp_path / "wrong.pt")
    codec = create_codec("cae1d", checkpoint=str(tmp_path / "wrong.pt"), device="cpu")
    with pytest.raises(CodecUnavailableError, match="does not match"):
        codec.encode(smooth_cube(7))
    stream = create_codec("cae1d", checkpoint=str(models["cae1d"][0]), device="cpu").encode(smooth_cube(7))
    with pytest.raises(CorruptStreamError, match="other weights"):
        create_codec("cae1d", checkpoint=str(models["cae1d"][1]), device="cpu").decode(stream)


def test_cluster_none_takes_the_datas_band_count() -> None:
    cls = get_codec("hycot")
    assert cls.arch_from_params(cls.params, 30)["cluster"] == 30
    with pytest.raises(CodecParameterError, match="band count"):
        cls.arch_from_params(cls.params)
    with pytest.raises(CodecParameterError, match="larger than"):
        cls.arch_from_params(cls.params, 4)  # ratio 8 > 4 bands


@pytest.mark.parametrize("name", ["cnn-lstm-ae", "two-path-ae"])
def test_variants_add_their_loss_terms_and_code_the_mean(name: str, tmp_path: Path) -> None:
    cls = get_codec(name)
    t = cls.tiny["tile"]  # the network's own tile (16 two-path, 8 cascade)
    x = torch.rand(4, BANDS, t, t)
    torch.manual_seed(0)
    extras = {}
    for variant in ("plain", "sparse", "variational"):
        model = build(name, cls.training_arch(BANDS, variant=variant)).train()
        model(x)
        extras[variant] = float(torch.as_tensor(model.extra_loss(x, 0.05)).detach())
    assert extras["plain"] == 0.0 and extras["sparse"] > 0.0 and extras["variational"] > 0.0
    # variational: training samples the posterior, coding uses its mean (the same bytes every time)
    model = build(name, cls.training_arch(BANDS, variant="variational")).train()
    assert not torch.equal(model._encode(x), model._encode(x))
    model.eval()
    assert torch.equal(model._encode(x), model._encode(x))
    ckpt_io.save_checkpoint(train(name, 3, smooth_cube(3), variant="variational"), tmp_path / "v.pt")
    codec = create_codec(name, checkpoint=str(tmp_path / "v.pt"), device="cpu")
    cube = smooth_cube(5, rows=20, cols=30)
    assert codec.config["variant"] == "variational"
    assert codec.encode(cube) == codec.encode(cube)
    assert np.array_equal(codec.decode(codec.encode(cube)).data, codec.reconstruct(cube))


def test_s2cnet_pretrains_its_spectral_autoencoder() -> None:
    cls = get_codec("s2cnet")
    torch.manual_seed(0)
    model = build("s2cnet", cls.training_arch(BANDS))
    x = torch.from_numpy(PatchSampler([smooth_cube(3)], BANDS, 16, seed=0).batch(8))  # the held-out pixels
    sampler = PatchSampler([smooth_cube(3)], BANDS, 8, seed=1)  # pixel-wise: small patches suffice

    def spectral_mse() -> float:
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(model.spec_decoder(model.spec_encoder(x)), x))

    before = spectral_mse()
    hyper = [p.detach().clone() for p in model.spatial.parameters()]
    model.pretrain(sampler, steps=400, batch=2, lr=3e-3)  # 200 steps of pre-training, 128 spectra each
    assert spectral_mse() < 0.25 * before  # development run: 0.070 -> 0.0055 (3 s)
    assert all(torch.equal(a, b) for a, b in zip(hyper, model.spatial.parameters()))  # spatial model untouched


@pytest.mark.parametrize("name", ["cnn-lstm-ae", "two-path-ae"])
def test_tile_bound_models_train_on_patches_of_whole_tiles(name: str) -> None:
    """A 2T-px patch of a T-px-tile model is coded as its four tiles (so recipes may use larger patches)."""
    cls = get_codec(name)
    t = cls.tiny["tile"]
    torch.manual_seed(0)
    model = build(name, cls.training_arch(BANDS)).eval()
    x = torch.rand(1, BANDS, 2 * t, 2 * t)
    with torch.no_grad():
        whole, lik = model(x, "round")
        for r in (0, t):
            for c in (0, t):
                part, _ = model(x[:, :, r : r + t, c : c + t], "round")
                assert torch.allclose(whole[:, :, r : r + t, c : c + t], part, atol=1e-6)
    assert lik["y"].shape[0] == 4


def test_checkpoints_store_aliased_weights_once(tmp_path: Path) -> None:
    """``encoder.*`` is also ``g_a.0.*``: the checkpoint holds one copy (the shipped files' size)."""
    ckpt_io.save_checkpoint(train("two-path-ae", 1, smooth_cube(3)), tmp_path / "m.pt")
    sd = ckpt_io.load_checkpoint(tmp_path / "m.pt")["state_dict"]
    enc = [k for k in sd if k.startswith("encoder.")]
    assert enc and all(sd[k].data_ptr() == sd["g_a.0." + k[len("encoder."):]].data_ptr() for k in enc)


@pytest.mark.parametrize("name", ["cnn-lstm-ae", "two-path-ae"])
def test_data_with_fewer_bands_than_a_cluster_is_one_cluster_not_padded(name: str) -> None:
    cls = get_codec(name)
    assert cls.arch_from_params(dict(cls.params), 180)["cluster"] == cls.params["cluster"] == 12
    assert cls.arch_from_params(dict(cls.params), 3)["cluster"] == 3  # RGB: not padded to 12 bands
