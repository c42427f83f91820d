"""Learned transform codecs (``factorized``, ``hyperprior``): rate-distortion networks with a real entropy coder.

Encoding a cube ``B x H x W`` with a trained :class:`~.rdmodels.RDModel`:

1. per band ``b`` the image's own minimum and maximum ``(lo_b, hi_b)`` (float32, written into the
   stream) map the band to ``[0, 1]``: ``x_n = (x - lo_b) / (hi_b - lo_b)`` (Mijares i Verdú et al.
   2023, seed 003: per-image, per-band min/max scaling);
2. the bands are grouped into *clusters* of ``cluster`` consecutive bands (seed 003: 1 or 3; an
   RGB image with ``cluster=3`` is one cluster, as in Ballé et al.); a last, incomplete cluster
   repeats the last band (dropped again by the decoder);
3. each cluster image is cut into ``T x T`` tiles (:mod:`.tiling`, edge padding;
   ``T = min(tile, smallest multiple of the model's down-sampling covering the image)``);
4. the analysis transform runs on batches of tiles on the chosen device; the rounded latents of
   all tiles are range coded from the model's integer tables into one stream
   (:mod:`.entropy_models`): the order of the symbols does not depend on the batch size;
5. the decoder reads the latents back and runs the synthesis transform, clips to ``[0, 1]``,
   undoes the scaling and rounds to the cube's integer type.

Bit-exactness. The latents are integers coded from integer tables, so every decoder reads the
same symbols (the hyper-synthesis giving the scale indexes runs in float64 on the CPU on both
sides, :class:`~.rdmodels.HyperpriorModel`). The synthesis is float arithmetic: float32
convolutions differ in their last bits between thread counts and devices, which can move a
rounded sample by one. With ``exact=true`` (default) the decoder runs the synthesis in float64 on
the CPU, which gave identical results for different thread counts (tested across processes), so
a stream decodes to the same samples on any machine, short of float64 differences right at a
rounding boundary; ``exact=false`` runs it in float32 on ``device`` (faster; identical only
for the same device and thread count). The analysis runs on ``device`` either way: the bytes
may differ between machines, each stream decodes exactly.

Payload (little-endian)::

    8 B   weights fingerprint (a stream is decoded only with the weights that wrote it)
    u16   T        u32  number of coded latent values (checked against the geometry)
    B x (f32 lo_b, f32 hi_b)   (finite, lo_b <= hi_b)
    u32 words of the range coder (the decoder checks it consumed them exactly)

Rows carry the real rate (the byte count) and ``estimated_bpppc``: the model's own estimate
``sum(-log2 p(y^)) / (B H W)`` from the likelihoods of the rounded latents (what papers plot
when they quote "bpp" from the model), so the overhead of real coding is visible.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from hsbench.codecs import container
from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.codecs.learned import checkpoint as ckpt_io
from hsbench.codecs.learned.device import check_device_name, resolve_device
from hsbench.codecs.learned.tiling import tile, tile_grid, untile
from hsbench.cube import Cube, integer_range
from hsbench.errors import CodecParameterError, CodecUnavailableError, CorruptStreamError

_FINGERPRINT = 8
_HEAD = struct.Struct("<HI")
#: largest tile edge accepted from a stream
MAX_TILE = 4096
#: one coded symbol costs at least -log2((2^16 - 2) / 2^16) bits (every table has >= 2 symbols + escape)
_MIN_BITS_PER_SYMBOL = -math.log2((2**16 - 2) / 2**16)


@dataclass
class RDLoaded:
    """A rate-distortion checkpoint ready for coding on one device."""

    path: str
    model: Any  # RDModel in eval mode with its coding tables
    arch: dict[str, Any]
    lmbda: float
    data: dict[str, Any]
    training: dict[str, Any]
    device: Any
    fingerprint: bytes
    parameters: int


_LOADED: dict[tuple[str, str, int, int, str], RDLoaded] = {}


def band_scaling(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band minimum and maximum of ``(B, H, W)`` data as float32 (what the stream carries)."""
    flat = data.reshape(data.shape[0], -1)
    return flat.min(axis=1).astype(np.float32), flat.max(axis=1).astype(np.float32)


def _span(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    s = hi.astype(np.float64) - lo.astype(np.float64)
    return np.where(s > 0, s, 1.0)


def scale_bands(data: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(x - lo_b) / (hi_b - lo_b)`` per band, float32 (a constant band maps to 0)."""
    out = (data.astype(np.float64) - lo.astype(np.float64)[:, None, None]) / _span(lo, hi)[:, None, None]
    return out.astype(np.float32)


def unscale_bands(norm: np.ndarray, lo: np.ndarray, hi: np.ndarray, dtype: Any, bit_depth: int) -> np.ndarray:
    """Inverse of :func:`scale_bands` after clipping to ``[0, 1]``; integers rounded and clipped to the depth."""
    dtype = np.dtype(dtype)
    x = np.clip(norm.astype(np.float64), 0.0, 1.0) * _span(lo, hi)[:, None, None] + lo.astype(np.float64)[:, None, None]
    if dtype.kind in "ui":
        low, high = integer_range(bit_depth, dtype.kind == "i")
        return np.clip(np.rint(x), low, high).astype(dtype)
    return x.astype(dtype)


def clusters(norm: np.ndarray, size: int) -> np.ndarray:
    """``(B, H, W)`` -> ``(ceil(B / size), size, H, W)``, the last cluster completed by repeating the last band."""
    b = norm.shape[0]
    g = -(-b // size)
    if g * size != b:
        norm = np.concatenate([norm, np.repeat(norm[-1:], g * size - b, axis=0)], axis=0)
    return norm.reshape(g, size, *norm.shape[1:])


def tile_size(rows: int, cols: int, tile_max: int, multiple: int) -> int:
    """``min(tile_max, the smallest multiple of multiple covering max(rows, cols))``."""
    cover = -(-max(rows, cols) // multiple) * multiple
    return int(min(tile_max, cover))


def cluster_tiles(norm: np.ndarray, cluster: int, t: int) -> np.ndarray:
    """Normalised cube -> ``(clusters * tiles, cluster, t, t)`` network input (cluster-major)."""
    groups = clusters(norm, cluster)
    return np.concatenate([tile(g, t) for g in groups], axis=0)


def _batched(fn: Any, x: np.ndarray, batch: int, device: Any) -> list[Any]:
    import torch

    outs = []
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch):
            outs.append(fn(torch.from_numpy(np.ascontiguousarray(x[i : i + batch])).to(device)))
    return outs


def _synthesise(model: Any, y_hat: Any, batch: int, device: Any, exact: bool) -> np.ndarray:
    """``g_s(y_hat)`` in batches: float64 on the CPU when ``exact`` (see the module docstring), else on ``device``."""
    import torch

    g_s = model.cpu64("g_s") if exact else model.g_s
    dev, dtype = ("cpu", torch.float64) if exact else (device, torch.float32)
    outs = []
    with torch.inference_mode():
        for i in range(0, y_hat.shape[0], batch):
            outs.append(g_s(y_hat[i : i + batch].to(dev, dtype)).to("cpu", torch.float64).numpy())
    return np.concatenate(outs, axis=0)


def _analyse(model: Any, tiles: np.ndarray, batch: int, device: Any) -> dict[str, Any]:
    import torch

    parts = _batched(lambda x: {k: v.to("cpu", torch.float32) for k, v in model.analyse(x).items()},
                     tiles, batch, device)
    return {k: torch.cat([p[k] for p in parts], dim=0) for k in parts[0]}


def _assemble(out: np.ndarray, bands: int, rows: int, cols: int, cluster: int) -> np.ndarray:
    groups = -(-bands // cluster)
    per = out.shape[0] // groups
    planes = [untile(out[g * per : (g + 1) * per], rows, cols) for g in range(groups)]
    return np.concatenate(planes, axis=0)[:bands]


def encode_cube(model: Any, cube: Cube, cluster: int, tile_max: int, batch: int, device: Any,
                exact: bool = True, reconstruct: bool = False) -> tuple[bytes, np.ndarray | None]:
    """Stream body (everything after the fingerprint) and, with ``reconstruct``, the decoder's output for it."""
    from hsbench.codecs.learned.entropy_models import RangeWriter

    lo, hi = band_scaling(cube.data)
    t = tile_size(cube.rows, cube.cols, tile_max, model.downsampling)
    tiles = cluster_tiles(scale_bands(cube.data, lo, hi), cluster, t)
    latents = _analyse(model, tiles, batch, device)
    writer = RangeWriter()
    y_hat = model.write(writer, latents)
    rec = None
    if reconstruct:
        out = _synthesise(model, y_hat, batch, device, exact)
        rec = unscale_bands(_assemble(out, cube.bands, cube.rows, cube.cols, cluster), lo, hi, cube.dtype,
                            int(cube.bit_depth))  # type: ignore[arg-type]
    count = model.latent_elements(tiles.shape[0], t)
    side = np.stack([lo, hi], axis=1).astype("<f4").tobytes()
    return _HEAD.pack(t, count) + side + writer.tobytes(), rec


def decode_cube(model: Any, body: bytes | memoryview, header: container.StreamHeader, cluster: int, batch: int,
                device: Any, exact: bool = True, tile: int | None = None) -> np.ndarray:
    """Inverse of :func:`encode_cube`: the ``(B, H, W)`` array of ``header.dtype``.

    ``tile``: the only tile size the model takes (networks with a fixed input size), or None.
    """
    from hsbench.codecs.learned.entropy_models import RangeReader

    data = bytes(body)
    b = header.bands
    side_len = 8 * b
    if len(data) < _HEAD.size + side_len:
        raise CorruptStreamError("learned stream is shorter than its tile size, latent count and band scaling")
    t, count = _HEAD.unpack_from(data, 0)
    ds = model.downsampling
    if t < ds or t % ds or t > MAX_TILE or t > tile_size(header.rows, header.cols, MAX_TILE, ds):
        raise CorruptStreamError(f"learned stream: tile size {t} is impossible for a {header.rows}x{header.cols} "
                                 f"image and this model (multiples of {ds})")
    if tile is not None and t != tile:
        raise CorruptStreamError(f"learned stream: tile size {t}, this model codes {tile}x{tile} tiles only")
    ny, nx = tile_grid(header.rows, header.cols, t)
    n = -(-b // cluster) * ny * nx
    expected = model.latent_elements(n, t)
    if count != expected:
        raise CorruptStreamError(f"learned stream holds {count} latent values, the geometry "
                                 f"{b}x{header.rows}x{header.cols} with {t}x{t} tiles needs {expected}")
    words = data[_HEAD.size + side_len :]
    if expected * _MIN_BITS_PER_SYMBOL > 8 * len(words) + 64:
        raise CorruptStreamError(f"learned stream: {len(words)} bytes cannot hold {expected} latent values")
    lo_hi = np.frombuffer(data, dtype="<f4", count=2 * b, offset=_HEAD.size).reshape(b, 2).astype(np.float32)
    if not np.all(np.isfinite(lo_hi)) or np.any(lo_hi[:, 0] > lo_hi[:, 1]):
        raise CorruptStreamError("learned stream: band scaling is non-finite or has a minimum above its maximum")
    reader = RangeReader(words)
    y_hat = model.read(reader, n, t)
    reader.finish()
    out = _synthesise(model, y_hat, batch, device, exact)
    if not np.all(np.isfinite(out)):  # forged escape values far outside what any encoder writes
        raise CorruptStreamError("learned stream: the latent values give a non-finite image")
    norm = _assemble(out, b, header.rows, header.cols, cluster)
    return unscale_bands(norm, lo_hi[:, 0], lo_hi[:, 1], header.dtype, header.bit_depth)


def estimate_bits(model: Any, cube: Cube, cluster: int, tile_max: int, batch: int, device: Any) -> float:
    """The model's own rate estimate ``sum(-log2 p)`` of the rounded latents of ``cube`` (bits)."""
    import torch

    lo, hi = band_scaling(cube.data)
    t = tile_size(cube.rows, cube.cols, tile_max, model.downsampling)
    tiles = cluster_tiles(scale_bands(cube.data, lo, hi), cluster, t)
    total = 0.0
    for part in _batched(lambda x: model(x, "round")[1], tiles, batch, device):
        total += float(sum(torch.log2(v.double()).sum() for v in part.values()))
    return -total


def load_rd_checkpoint(codec_name: str, model_kind: str, path: str, device: Any) -> RDLoaded:
    """Load (once per process, file version and device) a rate-distortion checkpoint of ``codec_name``."""
    from hsbench.codecs.learned.rdmodels import build_model

    st = os.stat(path)
    key = (codec_name, path, st.st_mtime_ns, st.st_size, str(device))
    if key in _LOADED:
        return _LOADED[key]
    ck = ckpt_io.load_checkpoint(path)
    if ck.get("codec") != codec_name:
        raise CodecUnavailableError(f"checkpoint {path} belongs to codec {ck.get('codec')!r}, not {codec_name!r}; "
                                    f"use it with --codecs {ck.get('codec')}")
    arch = dict(ck["arch"])
    model = build_model(model_kind, arch)
    try:
        model.load_state_dict(ck["state_dict"])
    except RuntimeError as exc:
        raise CodecUnavailableError(f"checkpoint {path} does not match the {codec_name} network {arch}: {exc}") from exc
    if not model.ready:
        raise CodecUnavailableError(f"checkpoint {path} has no coding tables (it was saved before update()); "
                                    "re-export it with `hsbench train`")
    if ck.get("table_revision", 1) < ckpt_io.TABLE_REVISION:
        model.update()  # an older hsbench's tables: today's export builds these (`hsbench models --rebuild-tables`)
    model.to(device).eval()
    loaded = RDLoaded(path, model, arch, float(ck["lmbda"]), dict(ck.get("data", {})), dict(ck.get("training", {})),
                      device, ckpt_io.weights_fingerprint(ck["state_dict"]),
                      int(sum(p.numel() for p in model.parameters())))
    _LOADED[key] = loaded
    return loaded


class LearnedTransformCodec(Codec):
    """Base class of the rate-distortion codecs (module docstring). Subclasses set ``name``, ``model_kind``."""

    kind: ClassVar[Kind] = Kind.LOSSY
    requires: ClassVar[tuple[str, ...]] = ("torch", "constriction")
    version: ClassVar[int] = 1
    model_kind: ClassVar[str]
    #: parameters a checkpoint fixes (the network), besides the knob ``lmbda``
    arch_params: ClassVar[tuple[str, ...]] = ("cluster", "N", "M")
    knob: ClassVar[Knob] = Knob(
        name="lmbda", low=1e-5, high=100.0, increases_rate=True, default_points=(0.0035, 0.013, 0.05),
        log_scale=True, discrete=True, unit="",
        help="rate-distortion trade-off lambda of the loss R + lambda 255^2 MSE; one trained model per value",
    )
    params: ClassVar[dict[str, Any]] = {
        "lmbda": 0.013, "cluster": 3, "N": 24, "M": 32, "checkpoint": None, "device": "auto", "batch": 8,
        "tile": 256, "exact": True, "model_source": None,
    }

    #: complete and incomplete band clusters of :attr:`tiny_arch`, edge-padded tiles
    fuzz_shapes: ClassVar[tuple[tuple[int, int, int], ...]] = ((4, 20, 24), (3, 17, 9))
    #: a few-channel network for tests and the decoder fuzz test (:meth:`train_tiny`)
    tiny_arch: ClassVar[dict[str, Any]] = {"cluster": 2, "N": 8, "M": 12}

    @classmethod
    def coding_tile(cls, arch: dict[str, Any]) -> int:
        """The largest tile of the validation that :func:`.rdtrain.train_rd` runs through the codec (256)."""
        return 256

    @classmethod
    def train_tiny(cls, cubes: Sequence[Cube], *, arch: dict[str, Any] | None = None, lmbda: float = 0.05,
                   steps: int = 40, **options: Any) -> dict[str, Any]:
        """A tiny model trained for ``steps`` steps on ``cubes`` (>= 64 x 64): the checkpoint dict.

        For tests and ``tests/fuzz_driver.py``, which need a real trained model in seconds, not
        a useful one. ``arch`` overrides :attr:`tiny_arch`; ``options`` go to :func:`.rdtrain.train_rd`.
        """
        from hsbench.codecs.learned.rdtrain import train_rd

        opts = {"train_spec": "tiny", "steps": steps, "batch": 4, "patch": 64, "progress": False, **options}
        return train_rd(cls, {**cls.tiny_arch, **(arch or {})}, lmbda, cubes, **opts)

    # -- parameters ------------------------------------------------------------------
    @classmethod
    def arch_from_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The network's architecture config from codec parameters."""
        arch = {k: params[k] for k in cls.arch_params}
        cls.check_arch(arch)
        return arch

    @classmethod
    def check_arch(cls, arch: dict[str, Any]) -> None:
        """Refuse impossible architectures with :class:`CodecParameterError`."""
        for key in ("cluster", "N", "M"):
            v = arch.get(key)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or int(v) < 1:
                raise CodecParameterError(f"{cls.name}: {key} must be a positive integer, got {v!r}")
        if int(arch["cluster"]) > 64:
            raise CodecParameterError(f"{cls.name}: cluster={arch['cluster']} bands per cluster is more than 64")

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check batch, tile, device, architecture and the checkpoint path."""
        for key in ("batch", "tile"):
            v = params.get(key)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or int(v) < 1:
                raise CodecParameterError(f"{self.name}: {key} must be a positive integer, got {v!r}")
            params[key] = int(v)
        if params["tile"] > MAX_TILE:
            raise CodecParameterError(f"{self.name}: tile={params['tile']} is larger than {MAX_TILE}")
        params["device"] = check_device_name(params.get("device", "auto"))
        if not isinstance(params.get("exact"), bool):
            raise CodecParameterError(f"{self.name}: exact must be true or false, got {params.get('exact')!r}")
        self.check_arch({k: params.get(k) for k in self.arch_params})
        ck = params.get("checkpoint")
        if ck is not None:
            path = Path(str(ck)).expanduser()
            if not path.is_file():
                raise CodecUnavailableError(
                    f"{self.name}: checkpoint {path} does not exist; train one with `hsbench train --recipe NAME` "
                    f"or leave checkpoint unset so that the shipped or cached model is used"
                )
            params["checkpoint"] = str(path.resolve())
            meta = ckpt_io.load_checkpoint(path)  # the network and lambda are the checkpoint's
            if meta.get("codec") != self.name:
                raise CodecUnavailableError(f"checkpoint {path} belongs to codec {meta.get('codec')!r}, not "
                                            f"{self.name!r}; use it with --codecs {meta.get('codec')}")
            params.update({k: meta["arch"][k] for k in self.arch_params}, lmbda=float(meta["lmbda"]))
        return params

    # -- the model -------------------------------------------------------------------
    @property
    def loaded(self) -> RDLoaded:
        """The checkpoint on the chosen device (loaded once per process)."""
        path = self.config.get("checkpoint")
        if path is None:
            raise CodecUnavailableError(
                f"{self.name} has no model: pass checkpoint=PATH, or run it through `hsbench run`, whose planner "
                "finds the shipped / cached model or trains one (hsbench.codecs.learned.models)"
            )
        return load_rd_checkpoint(self.name, self.model_kind, path, resolve_device(self.config["device"]))

    @property
    def max_samples_per_byte(self) -> float:  # type: ignore[override]
        """Geometry bound of :meth:`Codec.decode` for this model: ``cluster * T^2`` samples of a tile are
        ``latent_elements(1, T)`` coded values, each costing at least :data:`_MIN_BITS_PER_SYMBOL`
        bits; the samples per value grow with ``T`` (the hyper-latent shrinks faster), so
        ``T = MAX_TILE`` gives the bound. Edge padding only adds coded values."""
        m = self.loaded
        per_value = int(m.arch["cluster"]) * MAX_TILE**2 / m.model.latent_elements(1, MAX_TILE)
        return per_value * 8 / _MIN_BITS_PER_SYMBOL

    def supports(self, cube: Cube) -> None:
        """Refuse images the model was trained on (evaluating on them would overstate the quality)."""
        from hsbench.errors import UnsupportedCubeError

        m = self.loaded
        if cube.sha256() in set(m.data.get("sha256", ())):
            raise UnsupportedCubeError(
                f"{self.name}: cube {cube.name!r} is one of the images model {Path(m.path).name} was trained on; "
                "evaluate on other images"
            )

    # -- coding ----------------------------------------------------------------------
    def _args(self) -> tuple[Any, int, int, Any]:
        m = self.loaded
        return m.model, int(m.arch["cluster"]), int(self.config["batch"]), m.device

    def encode_payload(self, cube: Cube) -> bytes:
        """Fingerprint + :func:`encode_cube`'s stream body."""
        model, cluster, batch, device = self._args()
        body, _ = encode_cube(model, cube, cluster, self.config["tile"], batch, device)
        return self.loaded.fingerprint + body

    def reconstruct(self, cube: Cube) -> np.ndarray:
        """What :meth:`decode` returns for ``cube``, as the encoder computes it (tests, analysis)."""
        model, cluster, batch, device = self._args()
        rec = encode_cube(model, cube, cluster, self.config["tile"], batch, device, self.config["exact"], True)[1]
        assert rec is not None
        return rec

    def decode_payload(self, payload: memoryview, header: container.StreamHeader) -> np.ndarray:
        """Check the fingerprint, then :func:`decode_cube`."""
        m = self.loaded
        if bytes(payload[:_FINGERPRINT]) != m.fingerprint:
            raise CorruptStreamError(f"{self.name}: this stream was encoded with other weights than model "
                                     f"{Path(m.path).name}; decode it with the checkpoint that encoded it")
        model, cluster, batch, device = self._args()
        return decode_cube(model, payload[_FINGERPRINT:], header, cluster, batch, device, self.config["exact"],
                           tile=self.fixed_tile())

    def fixed_tile(self) -> int | None:
        """The only tile size the loaded model's streams have (networks with a fixed input size), or None."""
        return None

    # -- rows ------------------------------------------------------------------------
    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """``estimated_bpppc`` (the likelihood estimate) and the model's provenance."""
        m = self.loaded
        model, cluster, batch, device = self._args()
        bits = estimate_bits(model, cube, cluster, self.config["tile"], batch, device)
        return {
            "estimated_bpppc": bits / cube.num_samples,
            "lmbda": m.lmbda,
            "cluster": cluster,
            "checkpoint": m.path,
            "model_source": self.config.get("model_source"),
            "quick_trained": bool(m.training.get("quick", False)),
            "train_recipe": m.training.get("recipe"),
            "train_data": m.data.get("spec"),
            "train_steps": m.training.get("steps"),
            "train_val_psnr": m.training.get("val_psnr"),
            "device": str(m.device),
            "model_params": m.parameters,
        }
