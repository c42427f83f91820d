"""The catalog of public datasets: where their files are, how to check them, what they hold.

Each :class:`CatalogEntry` records the files (URL, hash, size, whether to unpack),
the licence and citation, the nominal bit depth, the band selection and value
range hsbench applies, the split policy and the tile size the literature uses.
Hashes are SHA-256 where hsbench could compute them and the publisher's MD5
otherwise; files nobody publishes a hash for are checked on their decoded
content (Kodak pixels, the array's shape and type) and their SHA-256 is recorded
at download time (``SHA256SUMS`` in the dataset folder) so ``hsbench datasets
verify`` detects later changes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hsbench.errors import DatasetError

MIRROR_ENV_PREFIX = "HSBENCH_MIRROR_"


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file of a dataset.

    ``path`` is relative to the dataset folder ``DATA_ROOT/NAME``; ``unpack``
    (``"zip"`` / ``"tar"``) extracts an archive into that folder, and
    ``unpacked`` is a path that exists once it is extracted.
    """

    path: str
    url: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    unpack: str | None = None
    unpacked: str | None = None

    @property
    def known_hash(self) -> str | None:
        """The hash in pooch's ``ALG:HEX`` form (SHA-256 preferred), or None."""
        if self.sha256:
            return f"sha256:{self.sha256}"
        if self.md5:
            return f"md5:{self.md5}"
        return None

    @property
    def remote_name(self) -> str:
        """The last path segment of the URL (what a mirror serves)."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class CatalogEntry:
    """A named public dataset."""

    name: str
    title: str
    description: str
    files: tuple[RemoteFile, ...]
    dataset_class: str  # "module:Class", built with (ref, data_root, entry, **options)
    format: str
    bit_depth: int | None
    bands: str
    band_selection: str
    value_range: str
    split_policy: str
    license: str
    citation: str
    homepage: str
    paper_tile: int | None = None
    splits: tuple[str, ...] = ()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def folder(self, data_root: Path) -> Path:
        """Where the dataset lives: ``DATA_ROOT/NAME``."""
        return Path(data_root) / self.name

    def missing(self, data_root: Path) -> list[str]:
        """Files (or unpacked folders) not present under the data root."""
        folder = self.folder(data_root)
        out = []
        for f in self.files:
            target = folder / (f.unpacked or f.path)
            unpacked_marker = folder / f".{f.path}.unpacked"  # archive extracted, maybe deleted since
            if not target.exists() and not (f.unpack and f.unpacked is None and unpacked_marker.exists()):
                out.append(f.unpacked or f.path)
        return out

    def mirror(self) -> str | None:
        """The mirror base URL configured for this dataset (``HSBENCH_MIRROR_<NAME>``), if any."""
        return os.environ.get(mirror_env(self.name)) or None

    def describe(self) -> dict[str, Any]:
        """Provenance for manifests and ``hsbench datasets info``."""
        return {
            "name": self.name,
            "title": self.title,
            "format": self.format,
            "bit_depth": self.bit_depth,
            "bands": self.bands,
            "band_selection": self.band_selection,
            "value_range": self.value_range,
            "split_policy": self.split_policy,
            "paper_tile": self.paper_tile,
            "license": self.license,
            "citation": self.citation,
            "homepage": self.homepage,
            "files": [
                {"path": f.path, "url": f.url, "sha256": f.sha256, "md5": f.md5, "size": f.size}
                for f in self.files
            ],
        }


def mirror_env(name: str) -> str:
    """The environment variable that sets a dataset's mirror, e.g. ``HSBENCH_MIRROR_INDIAN_PINES``."""
    return MIRROR_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


#: SHA-256 of the decoded RGB pixels of each Kodak image (uint8, H x W x 3, C order), from
#: ../shared/datasets/kodak/README.md; the PNG bytes differ between copies, the pixels do not.
KODAK_PIXEL_SHA256: dict[str, str] = {
    "kodim01": "a00210743353594464ac67e680a41710f484444ca5f9dfddeb570de25c428273",
    "kodim02": "ae5a495df4ec40e0941265440ccf98973915b4190ab803e37a23ca93dd43a07e",
    "kodim03": "234e61f585503f2a44400f5561131e8a512ef2c15328cd83d5cdbf10e2616cf2",
    "kodim04": "e88e788fca00e6c723bb66ff45edb8cb56091ee284dcb73e3909834f2c96eeb6",
    "kodim05": "ed3d1ee770909d3b27903b52ce19ee59a9bf24621a7bf1fb57b90677da880cb6",
    "kodim06": "7f45158999fa297d1cfbd292b3e2f3f5b27770701c3473155c211c3f512cc97f",
    "kodim07": "4e3664bf6fe865b49f15f7b554efa7dbecaf73ae0e8699f2e307bf07849f1264",
    "kodim08": "889c3740e4ed54ca53d11ae735a44d15fa24fe312b3bd1609a80618a4092c208",
    "kodim09": "f8453140e63a42301a6dbebb849a3cc40d34e4e59580eb1f372f7f5460df0dbe",
    "kodim10": "fabe11b5c4f028394e093a5b5907e5fabc8072da0d5334fb3a38547a7e1be842",
    "kodim11": "ab4dd9bf8431e717d33892b3ba03c63bfea3c7fa72c2610010de7df3c194c075",
    "kodim12": "f412db2168e599949aac26bd3264f111b23a684f30a21cfd320e9e95bc69bbae",
    "kodim13": "875703d56fb9396f478b5d7d3b18e2b77c17147a685c6dc2567e1c574aaf01e3",
    "kodim14": "2bd5029ee75ac1697542e5b05624e8afe186e3250abd7513d6a806b52084c2f0",
    "kodim15": "b5353e7511277009922ecbdebfc6418fec53aa1b2a08d44fc957a7540825697b",
    "kodim16": "ed21745fd32fce95cc2c6af7fc52b1b15e590c7a14ab18ab34bd65ecaf955ac7",
    "kodim17": "566bc866664e9b06dc86e2654051b454844efe17322dbf7e24156d8243f1943e",
    "kodim18": "3475af71066f3ca8206eb12cfc989ebe9c6e44820a96604e88ae018606e1f7bd",
    "kodim19": "7956408ef24222d37ac53f579bd24d5b2c3557b16c657e8b71c1b6ae9f18de1b",
    "kodim20": "666ce8f2db5566a123bb081e70618f6f4c4253df960f3b41bb9dcc3dd134f3cf",
    "kodim21": "2d6902daf7c4486b7c8c04d834091841a2b38c8f0c81cd7a963a6510b34a2a6a",
    "kodim22": "f430842120c108b67725ada96b8b7b2a914f6a0915eacd5595064c6c1a5d70a0",
    "kodim23": "81992a83592267e69125666f3e3e04c1819529b4c4c1e55fde0a6a741bac4219",
    "kodim24": "e3e3ccc3e795b82a3da66934409dfe98ce0f5aadc6d7767543c506453599bb98",
}

_HYSPECNET_URL = "https://hf.co/datasets/torchgeo/hyspecnet/resolve/13e110422a6925cbac0f11edff610219b9399227/"
#: Published MD5s (torchgeo ``torchgeo/datasets/hyspecnet.py``).
_HYSPECNET_MD5 = {
    "hyspecnet-11k-01.tar.gz": "974aae9197006727b42ec81796049efe",
    "hyspecnet-11k-02.tar.gz": "f80574485f835b8a263b6c64076c0c62",
    "hyspecnet-11k-03.tar.gz": "6bc1de573f97fa4a75b79719b9270cb3",
    "hyspecnet-11k-04.tar.gz": "2463dc10653cb8be10d44951307c5e7d",
    "hyspecnet-11k-05.tar.gz": "16c1bd9e684673e741c0849bd015c988",
    "hyspecnet-11k-06.tar.gz": "8eef16b67d71af6eb4bc836d294fe3c4",
    "hyspecnet-11k-07.tar.gz": "f61f0e7d6b05c861e69026b09130a5d6",
    "hyspecnet-11k-08.tar.gz": "19d390bc9e61b85e7d765f3077984976",
    "hyspecnet-11k-09.tar.gz": "197ff47befe5b9de88be5e1321c5ce5d",
    "hyspecnet-11k-10.tar.gz": "9e674cca126a9d139d6584be148d4bac",
    "hyspecnet-11k-splits.tar.gz": "94fad9e3c979c612c29a045406247d6c",
}
_EUROSAT_URL = "https://hf.co/datasets/torchgeo/eurosat/resolve/1ce6f1bfb56db63fd91b6ecc466ea67f2509774c/"
_CCSDS_URL = "https://cwe.ccsds.org/sls/docs/SLS-DC/123.0-B-Info/TestData/"

CATALOG: dict[str, CatalogEntry] = {}


def _add(entry: CatalogEntry) -> None:
    CATALOG[entry.name] = entry


_add(
    CatalogEntry(
        name="kodak",
        title="Kodak PhotoCD test set",
        description="Kodak PhotoCD, 24 RGB images 768x512, 8 bit",
        files=tuple(
            RemoteFile(f"kodim{i:02d}.png", f"http://r0k.us/graphics/kodak/kodak/kodim{i:02d}.png")
            for i in range(1, 25)
        ),
        dataset_class="hsbench.datasets.local:KodakDataset",
        format="PNG",
        bit_depth=8,
        bands="3 (RGB)",
        band_selection="all",
        value_range="[0, 255]",
        split_policy="test only (24 images); learned codecs train on `samples`",
        license="released by Eastman Kodak for unrestricted research use",
        citation="Eastman Kodak, Kodak Lossless True Color Image Suite (PhotoCD PCD0992), http://r0k.us/graphics/kodak/",
        homepage="http://r0k.us/graphics/kodak/",
        notes="verified on decoded pixels (SHA-256 list in catalog.KODAK_PIXEL_SHA256), not file bytes",
    )
)
_add(
    CatalogEntry(
        name="indian-pines",
        title="Indian Pines (AVIRIS, corrected)",
        description="AVIRIS Indian Pines, 145x145, 200 bands (water absorption removed), 16-bit",
        files=(
            RemoteFile(
                "Indian_pines_corrected.mat",
                "https://www.ehu.eus/ccwintco/uploads/6/67/Indian_pines_corrected.mat",
            ),
        ),
        dataset_class="hsbench.datasets.scenes:MatSceneDataset",
        format="MATLAB v5, variable indian_pines_corrected (rows x cols x bands)",
        bit_depth=16,
        bands="200 of AVIRIS's 224 (bands 104-108, 150-163 and 220 removed by the publisher)",
        band_selection="all 200 as published",
        value_range="uint16 counts (16-bit nominal)",
        split_policy="one scene; use tile=64 (or crop) to cut it",
        license="no licence stated by the publisher (GIC-EHU); original data: Purdue University Research Repository",
        citation=(
            "Baumgardner, M. F., Biehl, L. L., Landgrebe, D. A. (2015). 220 Band AVIRIS Hyperspectral Image "
            "Data Set: June 12, 1992 Indian Pine Test Site 3. Purdue University Research Repository. "
            "doi:10.4231/R7RX991C"
        ),
        homepage="https://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
        paper_tile=64,
        notes="no published checksum: the content is checked (variable, 145x145x200, integer) and its SHA-256 recorded",
        extra={"key": "indian_pines_corrected", "shape": (200, 145, 145), "dtype": "uint16", "image": "indian_pines"},
    )
)
_add(
    CatalogEntry(
        name="pavia-university",
        title="Pavia University (ROSIS)",
        description="ROSIS Pavia University, 610x340, 103 bands, 16-bit storage",
        files=(RemoteFile("PaviaU.mat", "https://www.ehu.eus/ccwintco/uploads/e/ee/PaviaU.mat"),),
        dataset_class="hsbench.datasets.scenes:MatSceneDataset",
        format="MATLAB v5, variable paviaU (rows x cols x bands)",
        bit_depth=16,
        bands="103 (ROSIS 430-860 nm; 12 noisy bands removed by the publisher)",
        band_selection="all 103 as published",
        value_range="uint16 counts (16-bit nominal storage)",
        split_policy="one scene; use tile=64 (or crop) to cut it",
        license="no licence stated by the publisher (GIC-EHU); courtesy of Prof. Paolo Gamba, University of Pavia",
        citation="ROSIS Pavia University scene, courtesy of P. Gamba, Telecommunications and Remote Sensing Laboratory, University of Pavia",
        homepage="https://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
        paper_tile=64,
        notes="no published checksum: the content is checked (variable, 610x340x103, integer) and its SHA-256 recorded",
        extra={"key": "paviaU", "shape": (103, 610, 340), "dtype": "uint16", "image": "pavia_university"},
    )
)
_add(
    CatalogEntry(
        name="hyspecnet-11k",
        title="HySpecNet-11k (EnMAP L2A patches)",
        description="EnMAP L2A, 11,483 patches 128x128, 224 -> 202 bands, reflectance x 10000",
        files=tuple(
            RemoteFile(
                name,
                _HYSPECNET_URL + name,
                md5=md5,
                unpack="tar",
                unpacked="hyspecnet-11k/splits" if name.endswith("splits.tar.gz") else None,
            )
            for name, md5 in _HYSPECNET_MD5.items()
        ),
        dataset_class="hsbench.datasets.scenes:HySpecNetDataset",
        format="GeoTIFF per patch (*-SPECTRAL_IMAGE.TIF, 224 bands int16) in tar.gz parts",
        bit_depth=14,
        bands="202 of 224: 0-based bands 126-140 and 160-166 (water vapour) dropped, as the HySpecNet-11k paper",
        band_selection="drop 126-140, 160-166; then clip to [0, 10000]",
        value_range="[0, 10000] (reflectance x 10000) in uint16 with nominal bit depth 14; the papers' PSNR "
        "divides by 10000 (peak 1.0), hsbench's psnr uses 2**14 - 1 unless the metric is told the range",
        split_policy="easy (patch-wise) and hard (tile-wise) 70/20/10 train/val/test; split='test' means easy, "
        "'hard:test' the hard split; no split = all patches",
        license="CC0 1.0",
        citation=(
            "Fuchs, M. H. P., Demir, B. (2023). HySpecNet-11k: A Large-Scale Hyperspectral Dataset for "
            "Benchmarking Learning-Based Hyperspectral Image Compression Methods. IGARSS 2023. arXiv:2306.00385"
        ),
        homepage="https://hyspecnet.rsim.berlin/",
        paper_tile=128,
        splits=("train", "val", "test", "easy:train", "easy:val", "easy:test", "hard:train", "hard:val", "hard:test"),
        notes="MD5s are the ones torchgeo publishes; about 60 GB in 11 parts",
    )
)
_add(
    CatalogEntry(
        name="eurosat-ms",
        title="EuroSAT multispectral (Sentinel-2, 13 bands)",
        description="Sentinel-2 L1C, 27,000 tiles 64x64, 13 bands, uint16 GeoTIFF",
        files=(
            RemoteFile(
                "EuroSATallBands.zip",
                _EUROSAT_URL + "EuroSATallBands.zip",
                md5="5ac12b3b2557aa56e1826e981e8e200e",
                size=2_067_725_275,
                unpack="zip",
                unpacked="ds/images/remote_sensing/otherDatasets/sentinel_2/tif",
            ),
            RemoteFile("eurosat-train.txt", _EUROSAT_URL + "eurosat-train.txt", md5="908f142e73d6acdf3f482c5e80d851b1"),
            RemoteFile("eurosat-val.txt", _EUROSAT_URL + "eurosat-val.txt", md5="95de90f2aa998f70a3b2416bfe0687b4"),
            RemoteFile("eurosat-test.txt", _EUROSAT_URL + "eurosat-test.txt", md5="7ae5ab94471417b6e315763121e67c5f"),
        ),
        dataset_class="hsbench.datasets.scenes:EuroSATDataset",
        format="GeoTIFF, 13 bands per file (B01..B08, B09, B10, B11, B12, B8A as torchgeo orders them)",
        bit_depth=16,
        bands="13 (Sentinel-2 B01-B12 and B8A)",
        band_selection="all 13; the SSCNet Lombardia experiment used 9 (e.g. bands='1:9')",
        value_range="TOA reflectance x 10000 in uint16; values above 4095 occur, so the nominal depth is 16",
        split_policy="train / val / test lists of Neumann et al. 2019 (torchgeo), 60/20/20",
        license="MIT (EuroSAT repository); contains modified Copernicus Sentinel data",
        citation=(
            "Helber, P., Bischke, B., Dengel, A., Borth, D. (2019). EuroSAT: A Novel Dataset and Deep Learning "
            "Benchmark for Land Use and Land Cover Classification. IEEE JSTARS 12(7):2217-2226"
        ),
        homepage="https://github.com/phelber/EuroSAT",
        paper_tile=48,
        splits=("train", "val", "test"),
        notes="archive MD5 as published by torchgeo; 2.0 GB",
    )
)
_add(
    CatalogEntry(
        name="ccsds123-corpus",
        title="CCSDS 123 test corpus (AVIRIS scenes)",
        description="AVIRIS raw BSQ scenes of the CCSDS 123 test corpus, 224 bands, 16-bit big endian",
        files=(
            RemoteFile(
                "aviris_hawaii_f011020t01p03r05_sc01.uncal-u16be-224x512x614.raw",
                _CCSDS_URL + "AVIRIS/aviris_hawaii_f011020t01p03r05_sc01.uncal-u16be-224x512x614.raw",
            ),
            RemoteFile(
                "aviris_maine_f030828t01p00r05_sc10.uncal-u16be-224x512x680.raw",
                _CCSDS_URL + "AVIRIS/aviris_maine_f030828t01p00r05_sc10.uncal-u16be-224x512x680.raw",
            ),
        ),
        dataset_class="hsbench.datasets.scenes:RawCorpusDataset",
        format="raw BSQ, geometry in the name (name-u16be-ZxYxX.raw)",
        bit_depth=16,
        bands="224 (uncalibrated AVIRIS)",
        band_selection="all",
        value_range="uint16 counts as named in the file (u16be)",
        split_policy="test only",
        license="CCSDS test data, free for evaluation of CCSDS compression standards",
        citation="CCSDS 120.2-G-2, Low-Complexity Lossless and Near-Lossless Multispectral and Hyperspectral Image Compression, Green Book, annex test data",
        homepage="https://cwe.ccsds.org/sls/docs/SLS-DC/123.0-B-Info/TestData/",
        paper_tile=64,
        notes=(
            "the folder layout on the CCSDS server (AVIRIS/...) is taken from users' copies and could not be "
            "checked from here; the server may ask for a login. Set HSBENCH_MIRROR_CCSDS123_CORPUS to a copy, "
            "or put the .raw files in DATA_ROOT/ccsds123-corpus. No published checksums: SHA-256 recorded at download"
        ),
    )
)


def get_entry(name: str) -> CatalogEntry:
    """The catalog entry called ``name`` (a clear error listing the names otherwise)."""
    try:
        return CATALOG[name]
    except KeyError:
        raise DatasetError(
            f"{name!r} is not in the dataset catalog; catalog datasets: {', '.join(CATALOG)}"
        ) from None
