"""Architectures of the learned codecs: the paper's parameter counts, shapes, lazy torch import."""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from hsbench.codecs.learned.sscnet import SSCNetCodec, SSCNetLinearCodec  # noqa: E402
from hsbench.codecs.learned.vgg16_baseline import Vgg16BaselineCodec  # noqa: E402
from hsbench.errors import CodecParameterError  # noqa: E402

CODECS = (SSCNetCodec, SSCNetLinearCodec, Vgg16BaselineCodec)


def test_sscnet_paper_parameter_counts() -> None:
    """432-band 'last conv' SSCNet with L = 1024: 8.08 M encoder / 6.76 M decoder (SPEC section 2, Table 6)."""
    enc, dec = SSCNetCodec.parameter_counts(SSCNetCodec.paper_arch(432, 1024))
    assert enc == pytest.approx(8.08e6, abs=0.01e6)
    assert dec == pytest.approx(6.76e6, abs=0.01e6)
    # exact, counted by hand from the layer list: convs + biases + one PReLU slope per channel
    assert enc == (432 * 256 * 9 + 256) + 2 * (256 * 256 * 9 + 256) + (256 * 512 * 9 + 512) + (512 * 1024 * 9 + 1024) + (
        3 * 256 + 512 + 1024
    )


def test_vgg16_paper_parameter_counts() -> None:
    """432 bands, latent 10,000: about 175.5 M encoder parameters (SPEC section 3); decoder about 0.7 M."""
    enc, dec = Vgg16BaselineCodec.parameter_counts(Vgg16BaselineCodec.paper_arch(432, 10_000))
    vgg16_convs_3_bands = 14_714_688  # torchvision vgg16().features
    first_conv_delta = (432 - 3) * 64 * 9
    fc = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10_000 + 10_000)
    assert enc == vgg16_convs_3_bands + first_conv_delta + fc
    assert enc == pytest.approx(175.5e6, abs=0.1e6)
    assert 0.6e6 < dec < 0.8e6


@pytest.mark.parametrize("codec", CODECS)
def test_quick_networks_map_tiles_to_latent_and_back(codec: type) -> None:
    arch = codec.arch_from_params(codec.params, 5)
    net = codec.build_network(arch).eval()
    x = torch.rand(2, 5, arch["tile"], arch["tile"])
    with torch.no_grad():
        z = net["encoder"](x)
        y = net["decoder"](z)
    assert tuple(z.shape[1:]) == codec.latent_shape(arch)
    assert y.shape == x.shape
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0  # sigmoid output


def test_prelu_has_one_slope_per_channel() -> None:
    net = SSCNetCodec.build_network({"bands": 7, "tile": 16, "width": 8, "latent": 4})
    prelus = [m for m in net.modules() if isinstance(m, torch.nn.PReLU)]
    assert [p.num_parameters for p in prelus] == [8, 8, 8, 16, 4, 16, 8, 8, 8]


@pytest.mark.parametrize(
    ("codec", "arch", "match"),
    [
        (SSCNetCodec, {"bands": 3, "tile": 20, "width": 4, "latent": 4}, "multiple of 8"),
        (Vgg16BaselineCodec, {"bands": 3, "tile": 16, "width": 4, "fc": 8, "latent": 4}, "at least 32"),
        (SSCNetLinearCodec, {"bands": 3, "tile": 16, "width": 0, "latent": 4}, "width"),
    ],
)
def test_impossible_architectures_are_refused(codec: type, arch: dict, match: str) -> None:
    with pytest.raises(CodecParameterError, match=match):
        codec.check_arch(arch)


def test_listing_learned_codecs_does_not_import_torch() -> None:
    code = (
        "import sys; from hsbench.codecs.registry import describe_codecs; "
        "infos = {i.name: i for i in describe_codecs()}; "
        "assert infos['sscnet'].available and infos['vgg16-baseline'].available, infos; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_vgg16_output_depends_on_input_at_initialisation() -> None:
    """He initialisation of the whole path: the untrained output varies with the input tile.

    With torchvision's N(0, 0.01) linears and the default decoder init the batch standard deviation of
    the output was about 2.5e-8 (a constant image), and quick training never left the mean image.
    """
    arch = Vgg16BaselineCodec.arch_from_params(Vgg16BaselineCodec.params, 3)
    torch.manual_seed(0)
    net = Vgg16BaselineCodec.build_network(arch).eval()
    x = torch.rand(16, 3, arch["tile"], arch["tile"])
    with torch.no_grad():
        y = net["decoder"](net["encoder"](x))
    assert float(y.std(dim=0).mean()) > 1e-3


def test_vgg16_dropout_only_in_wide_heads() -> None:
    """Dropout 0.5 in the paper's 4096-wide head (as VGG16), none in the narrow quick head."""
    quick = Vgg16BaselineCodec.build_network(Vgg16BaselineCodec.arch_from_params(Vgg16BaselineCodec.params, 3))
    with torch.device("meta"):
        paper = Vgg16BaselineCodec.build_network(Vgg16BaselineCodec.paper_arch(432, 48))
    assert [m.p for m in quick.modules() if isinstance(m, torch.nn.Dropout)] == [0.0, 0.0]
    assert [m.p for m in paper.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
