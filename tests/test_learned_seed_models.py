"""Networks of the seed systems: parameter counts of the paper configurations, shapes, per-pixel structure, refusals."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hsbench.codecs.learned import hybrid, spectral  # noqa: E402
from hsbench.codecs.learned.sscnet import SSCNetCodec, SSCNetLinearCodec  # noqa: E402
from hsbench.errors import CodecParameterError  # noqa: E402


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv1d(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k + c_out


def conv2d_prelu(c_in: int, c_out: int, k: int = 3) -> int:
    """A k x k convolution with bias and a per-channel PReLU."""
    return c_in * c_out * k * k + 2 * c_out


def lstm(features: int, units: int) -> int:
    """PyTorch LSTM: four gates, input and recurrent weights, two bias vectors."""
    return 4 * units * (features + units) + 8 * units


def test_cae1d_paper_parameter_count_by_hand() -> None:
    """HySpecNet-11k 1D-CAE, width 32, two blocks (8.08 nominal bpppc at 202 bands): 56,130 parameters (SPEC: ~56 k)."""
    with torch.device("meta"):
        net = spectral.CAE1D(202, **spectral.PAPER["cae1d"])
    enc = conv1d(1, 64, 11) + conv1d(64, 32, 11) + conv1d(32, 16, 9) + conv1d(16, 1, 7)
    dec = conv1d(1, 16, 7) + conv1d(16, 32, 9) + conv1d(32, 64, 11) + conv1d(64, 1, 11)
    assert count(net["encoder"]) == enc and count(net["decoder"]) == dec
    assert enc + dec == 56_130


@pytest.mark.parametrize(("blocks", "channels", "bpppc"), [(2, 51, 8.08), (3, 26, 4.12), (4, 13, 2.06), (5, 7, 1.11)])
def test_cae1d_rates_are_the_benchmarks(blocks: int, channels: int, bpppc: float) -> None:
    """The four 1D-CAE rates of the HySpecNet-11k table (baselines/hyspecnet11k.csv) at 202 bands."""
    assert spectral.cae1d_latent_channels(202, blocks) == channels
    assert spectral.nominal_bpppc(202, channels) == pytest.approx(bpppc, abs=0.005)
    net = spectral.CAE1D(202, blocks, 8).eval()
    with torch.no_grad():
        y = net["encoder"](torch.rand(1, 202, 2, 3))
    assert tuple(y.shape) == (1, channels, 2, 3)


def test_hycot_paper_parameter_count_by_hand() -> None:
    """HyCoT at 202 bands, CR 4: 471,845 parameters (the reference model's 488,225 less its 3 unused skipcat convs)."""
    cfg = spectral.PAPER["hycot"]
    with torch.device("meta"):
        net = spectral.HyCoT(202, **cfg)
    d, tokens, latent, hidden = 64, 51, 51, 1024
    block = 2 * (2 * d) + d * 3 * 64 + (64 * d + d) + (d * 8 + 8) + (8 * d + d)
    enc = (4 * d + d) + d + (tokens + 1) * d + 5 * block + (d * hidden + hidden) + (hidden * latent + latent)
    dec = (latent * hidden + hidden) + (hidden * 202 + 202)
    assert count(net["encoder"]) == enc and count(net["decoder"]) == dec
    skipcat = 3 * ((tokens + 1) ** 2 * 2 + tokens + 1)
    assert enc + dec == 471_845 and enc + dec + skipcat == 488_225


@pytest.mark.parametrize(("ratio", "channels"), [(4, 51), (8, 26), (16, 13), (32, 7)])
def test_hycot_latent_channels(ratio: int, channels: int) -> None:
    assert spectral.hycot_latent_channels(202, ratio) == channels


@pytest.mark.parametrize("make", [
    lambda: spectral.CAE1D(13, **spectral.TINY["cae1d"]),
    lambda: spectral.SpectralAE(13, **spectral.TINY["spectral-ae"]),
    lambda: spectral.HyCoT(13, **spectral.TINY["hycot"]),
])  # fmt: skip
def test_spectral_networks_code_each_pixel_on_its_own(make) -> None:
    """Pixel-wise: permuting the pixels of a tile permutes the latent and the output the same way."""
    torch.manual_seed(0)
    net = make().eval()
    x = torch.rand(2, 13, 6, 5)
    perm = torch.randperm(30)
    xp = x.flatten(2)[:, :, perm].reshape(x.shape)
    with torch.no_grad():
        y, yp = net["encoder"](x), net["encoder"](xp)
        out = net["decoder"](y)
    assert torch.allclose(yp.flatten(2), y.flatten(2)[:, :, perm], atol=1e-6)
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1


def test_spectral_ae_latent_is_signed() -> None:
    """S2C-Net's spectral stage feeds an analysis transform: no LeakyReLU on its latent (the 1D-CAE has one)."""
    cae = spectral.CAE1D(13, 2, 8)
    s2c = spectral.SpectralAE(13, 2, 8)
    assert isinstance(list(cae["encoder"].net)[-1], torch.nn.LeakyReLU)
    assert isinstance(list(s2c["encoder"].net)[-1], torch.nn.Conv1d)


def test_two_path_paper_latent_and_parameter_count() -> None:
    """EuroSAT MS tile 13x64x64 -> latent 64x8x8 (SPEC section 8); encoder count from the layer list."""
    cfg = hybrid.PAPER["two-path-ae"]
    net = hybrid.TwoPathAE(13, **cfg).eval()
    with torch.no_grad():
        y = net["encoder"](torch.rand(1, 13, 64, 64))
        out = net["decoder"](y)
    assert tuple(y.shape) == (1, 64, 8, 8) and tuple(out.shape) == (1, 13, 64, 64)
    assert hybrid.latent_shape("two-path-ae", cfg) == (64, 8, 8)
    paths = conv2d_prelu(13, 7) + conv2d_prelu(13, 64) + conv2d_prelu(64, 64) + conv2d_prelu(64, 6)
    enc = paths + conv2d_prelu(13, 64) + conv2d_prelu(64, 64) + conv2d_prelu(64, 64)
    dec = 3 * conv2d_prelu(64, 64) + conv2d_prelu(64, 13) + paths
    assert count(net["encoder"]) == enc == 130_509
    assert count(net["decoder"]) == dec


def test_cnn_lstm_paper_parameter_count() -> None:
    """RGB 64x64 cascade: Conv 3->64, BN, LSTM 1024->100->100->192 (= 64 steps x 3 latent channels)."""
    with torch.device("meta"):
        net = hybrid.CnnLstmAE(3, **hybrid.PAPER["cnn-lstm-ae"])
    enc = conv2d_prelu(3, 64) + 2 * 64 + lstm(1024, 100) + lstm(100, 100) + lstm(100, 192)
    dec = conv2d_prelu(3, 64) + 2 * 64 + lstm(4096, 100) + lstm(100, 100) + lstm(100, 192) + (3 * 3 * 9 + 3)
    assert count(net["encoder"]) == enc == 758_976
    assert count(net["decoder"]) == dec
    assert hybrid.latent_shape("cnn-lstm-ae", hybrid.PAPER["cnn-lstm-ae"]) == (3, 64, 64)


@pytest.mark.parametrize("kind", ["cnn-lstm-ae", "two-path-ae"])
def test_variational_variant_has_a_posterior_of_the_latents_shape(kind: str) -> None:
    make = hybrid.CnnLstmAE if kind == "cnn-lstm-ae" else hybrid.TwoPathAE
    torch.manual_seed(0)
    plain = make(4, **hybrid.TINY[kind]).eval()
    vae = make(4, **hybrid.TINY[kind], variant="variational").eval()
    t = hybrid.TINY[kind]["tile"]
    x = torch.rand(3, 4, t, t)
    with torch.no_grad():
        mean, logvar = vae["encoder"].posterior(x)
        assert plain["encoder"].posterior(x)[1] is None
        assert torch.equal(vae["encoder"](x), mean)  # the mean is the test-time latent
    assert logvar is not None and logvar.shape == mean.shape
    assert tuple(mean.shape[1:]) == hybrid.latent_shape(kind, hybrid.TINY[kind])
    assert count(vae["encoder"]) > count(plain["encoder"])


def test_sscnet_linear_virtis_layout_matches_table_6() -> None:
    """VIRTIS 432x64x64, L = 10,000: about 171 M encoder / 168 M decoder parameters (Table 6 of seed 001)."""
    arch = SSCNetLinearCodec.paper_arch(432, 10_000, layout="virtis")
    enc, dec = SSCNetLinearCodec.parameter_counts(arch)
    last_conv_encoder, _ = SSCNetCodec.parameter_counts(SSCNetCodec.paper_arch(432, 1024))
    flat = 1024 * 4 * 4
    assert enc == last_conv_encoder + flat * 10_000 + 10_000
    assert dec == (10_000 * flat + flat + flat) + (1024 * 512 * 4 + 2 * 512) + (512 * 256 * 4 + 2 * 256) + 2 * (
        256 * 256 * 4 + 2 * 256
    ) + (256 * 432 * 9 + 432)
    assert enc == pytest.approx(171e6, rel=0.01) and dec == pytest.approx(168e6, rel=0.01)
    # the Lombardia layout at the same size: about 165 M (why the VIRTIS rows need their own layout)
    lomb = SSCNetLinearCodec.parameter_counts({**arch, "layout": "lombardia", "width": 64})[0]
    assert lomb == pytest.approx(165e6, rel=0.01)
    # 177:1 nominal, as the paper prints (float32 input and latent)
    assert 432 * 64 * 64 / 10_000 == pytest.approx(177, abs=0.5)


def test_sscnet_linear_virtis_shapes() -> None:
    arch = {"bands": 5, "tile": 32, "width": 4, "latent": 7, "layout": "virtis"}
    net = SSCNetLinearCodec.build_network(arch).eval()
    with torch.no_grad():
        z = net["encoder"](torch.rand(2, 5, 32, 32))
        out = net["decoder"](z)
    assert tuple(z.shape) == (2, 7) and tuple(out.shape) == (2, 5, 32, 32)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: SSCNetLinearCodec.check_arch({"bands": 3, "tile": 24, "width": 4, "latent": 4, "layout": "virtis"}),
     "multiple of 16"),
    (lambda: SSCNetLinearCodec.arch_from_params({**SSCNetLinearCodec.params, "layout": "mars"}, 3), "layout"),
    (lambda: spectral.HyCoT(6, ratio=8), "larger than"),
    (lambda: spectral.CAE1D(6, 2, 7), "even"),
    (lambda: hybrid.TwoPathAE(1, 16, 4, 4), "at least 2 bands"),
    (lambda: hybrid.TwoPathAE(3, 12, 4, 4), "multiple of 8"),
    (lambda: hybrid.CnnLstmAE(3, 16, 4, 4, 4, 1, variant="sparse-ish"), "variant"),
])  # fmt: skip
def test_impossible_configurations_are_refused(call, match: str) -> None:
    with pytest.raises(CodecParameterError, match=match):
        call()


def test_listing_the_seed_codecs_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from hsbench.codecs.registry import describe_codecs; "
        "infos = {i.name: i for i in describe_codecs()}; "
        "assert all(infos[n].available for n in ('cae1d', 'hycot', 's2cnet', 'cnn-lstm-ae', 'two-path-ae')), infos; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_spectral_inference_in_chunks_gives_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Coding whole tiles runs the 1-D networks in chunks of spectra (memory); the values do not change."""
    torch.manual_seed(0)
    net = spectral.SpectralAE(13, 2, 8).eval()
    x = torch.rand(1, 13, 10, 10)
    with torch.no_grad():
        whole = net["decoder"](net["encoder"](x))
        monkeypatch.setattr(spectral, "INFERENCE_CHUNK", 7)
        chunked = net["decoder"](net["encoder"](x))
    assert torch.allclose(whole, chunked, atol=1e-6)
