"""What every learned (autoencoder) codec shares: model loading, tiling, inference, the bitstream.

Encoding a cube (``B x H x W``) with a checkpoint:

1. normalise each band with the training set's min / max, in units of the cube's
   nominal peak (:mod:`.checkpoint`);
2. cut into ``T x T`` tiles with edge padding (:mod:`.tiling`);
3. run the encoder on batches of ``batch`` tiles on the chosen device (:mod:`.device`);
4. quantise the latent per channel to ``bits`` bits and range-code it (:mod:`.latent`).

That is the published form, ``entropy=minmax`` (the default): the network trains on distortion
alone and its latent is quantised after the fact. ``entropy=factorized`` instead puts the
factorized prior of the rate-distortion core on the same network's latent
(:class:`.seedmodels.AutoencoderPriorModel`): the model trains on ``R + lambda D``
(:func:`.rdtrain.train_rd`, knob ``lmbda``, one model per value), each image is scaled per band by
its own min / max (in the stream), and the rounded latent is range-coded with the entropy
bottleneck's integer tables fixed at export (:func:`.transform.encode_cube`; decoding in float64 on
the CPU, bit-exact). Its rows keep the nominal columns and add ``estimated_bpppc`` and ``lmbda``.
A checkpoint records its option (``arch["entropy"]``; absent = ``minmax``); a codec configured with
the other one refuses it.

The payload is ``8-byte weights fingerprint + latent stream``; with the framing of
:mod:`hsbench.codecs.container` it is everything the decoder reads. Decoding
reverses the steps with the same model: dequantise, decoder network, reassemble
the tiles, undo the normalisation, round and clip to the cube's bit depth.

Subclasses (``sscnet.py``, ``vgg16_baseline.py``) say how to build the network
from an architecture config and what shape its latent has. torch is imported
only when a model is built or loaded, never at ``import hsbench``.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from hsbench.codecs import container
from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.codecs.learned import checkpoint as ckpt_io
from hsbench.codecs.learned.device import check_device_name, resolve_device
from hsbench.codecs.learned import latent
from hsbench.codecs.learned.latent import QuantisedLatent, decode_latent, encode_latent, quantise
from hsbench.codecs.learned.tiling import tile, tile_grid, untile
from hsbench.cube import Cube, integer_range
from hsbench.errors import CodecParameterError, CodecUnavailableError, CorruptStreamError, UnsupportedCubeError

_FINGERPRINT_BYTES = 8
#: how the latent is coded: the published post-hoc min/max quantiser, or the factorized prior (module docstring)
ENTROPY_MODES = ("minmax", "factorized")
#: rate knob of ``entropy=factorized`` (the rate-distortion codecs' ``lmbda``)
LMBDA_KNOB = Knob(
    name="lmbda", low=1e-5, high=100.0, increases_rate=True, default_points=(0.0035, 0.013, 0.05),
    log_scale=True, discrete=True, unit="",
    help="with entropy=factorized: lambda of the loss R + lambda 255^2 MSE; one trained model per value",
)


def check_entropy(codec_name: str, ck: dict[str, Any], entropy: str, path: Any) -> None:
    """Refuse checkpoint ``ck`` (at ``path``) when it was trained for the other ``entropy`` option."""
    have = str(dict(ck.get("arch", {})).get("entropy", "minmax"))
    if have != entropy:
        how = "R + lambda D with the factorized prior" if have == "factorized" else "distortion only (min/max quantiser)"
        raise CodecUnavailableError(
            f"{codec_name}: checkpoint {path} was trained with entropy={have} ({how}), but the codec is set to "
            f"entropy={entropy}; pass entropy={have} to use it, or a checkpoint trained with entropy={entropy}"
        )


@dataclass
class LoadedModel:
    """A checkpoint made ready for inference on one device."""

    path: str
    network: Any  # torch.nn.ModuleDict with "encoder" and "decoder", in eval mode
    arch: dict[str, Any]
    low: np.ndarray
    high: np.ndarray
    data: dict[str, Any]
    training: dict[str, Any]
    device: Any
    fingerprint: bytes
    encoder_params: int
    decoder_params: int


_MODELS: dict[tuple[str, str, int, int, str], LoadedModel] = {}


def restore(norm: np.ndarray, low: np.ndarray, high: np.ndarray, dtype: Any, bit_depth: int) -> np.ndarray:
    """Network output ``(B, H, W)`` in the normalised domain -> sample values of ``dtype``.

    Inverts the normalisation (:func:`.checkpoint.denormalise`, ``x = (x_n (max_b - min_b) + min_b) P``),
    then, for integer types, rounds to the nearest integer and clips to the ``bit_depth`` range:
    exactly what the decoder returns, so training-time validation and the codec agree.
    """
    dtype = np.dtype(dtype)
    values = ckpt_io.denormalise(norm, low, high, ckpt_io.peak_scale(bit_depth, dtype.kind == "f"))
    if dtype.kind in "ui":
        lo, hi = integer_range(bit_depth, dtype.kind == "i")
        return np.clip(np.rint(values), lo, hi).astype(dtype)
    return values.astype(dtype)


def normalised_tiles(cube: Cube, low: np.ndarray, high: np.ndarray, tile_size: int) -> np.ndarray:
    """``cube`` normalised (:func:`.checkpoint.normalise`) and cut into ``tile_size`` tiles: the network input."""
    scale = ckpt_io.peak_scale(int(cube.bit_depth), cube.is_float)  # type: ignore[arg-type]
    return tile(ckpt_io.normalise(cube.data, low, high, scale), tile_size)


def run_batches(fn: Any, batches: np.ndarray, size: int, device: Any) -> np.ndarray:
    """Apply the torch function ``fn`` to the first axis of ``batches`` in chunks of ``size`` (float32 numpy out)."""
    import torch

    outs = []
    with torch.inference_mode():
        for i in range(0, batches.shape[0], size):
            x = torch.from_numpy(np.ascontiguousarray(batches[i : i + size])).to(device)
            outs.append(fn(x).to(dtype=torch.float32, device="cpu").numpy())
    return np.concatenate(outs, axis=0)


def forward_cube(network: Any, tile_size: int, low: np.ndarray, high: np.ndarray, cube: Cube,
                 batch: int, device: Any) -> np.ndarray:
    """``cube`` through encoder and decoder without quantising the latent, in the cube's units and dtype.

    The same steps as :meth:`LearnedCodec.reconstruct` (normalise, tile, encode, decode, untile,
    :func:`restore`) with the float latent: the training loop uses it for its validation PSNR, so that
    figure is what the codec gives at a fine latent quantisation.
    """
    tiles = normalised_tiles(cube, low, high, tile_size)
    was_training = network.training
    network.eval()
    try:
        out = run_batches(lambda x: network["decoder"](network["encoder"](x)), tiles, batch, device)
    finally:
        network.train(was_training)
    norm = untile(out, cube.rows, cube.cols)
    return restore(norm, low, high, cube.dtype, int(cube.bit_depth))  # type: ignore[arg-type]


def count_parameters(module: Any) -> int:
    """Number of scalar parameters of a torch module (works on the ``meta`` device, nothing allocated)."""
    return int(sum(p.numel() for p in module.parameters()))


class LearnedCodec(Codec):
    """Base class of the autoencoder codecs (see the module docstring)."""

    kind: ClassVar[Kind] = Kind.LOSSY
    requires: ClassVar[tuple[str, ...]] = ("torch", "constriction")
    version: ClassVar[int] = 1
    #: quantise each latent channel separately (conv latents) or the latent vector as one channel
    per_channel: ClassVar[bool] = True
    #: architecture parameters a checkpoint fixes (besides ``bands``), with their quick-model defaults
    arch_params: ClassVar[tuple[str, ...]] = ("latent", "tile", "width")
    #: tile sizes must be multiples of this
    tile_multiple: ClassVar[int] = 8
    #: bumped when the network's construction (initialisation, dropout) changes without changing its
    #: weights' layout; part of the quick-model cache key, so no stale quick model is reused
    network_revision: ClassVar[int] = 1
    #: learning rate of quick training (None: :data:`.quick.QUICK_LR`)
    quick_lr: ClassVar[float | None] = None
    #: bits per input sample in the nominal ratio, as the codec's paper counts them: ``"word"`` = the
    #: storage word (SSCNet: Lombardia's 12-bit Sentinel-2 in uint16 counts 9x48x48x16 bits, 20.7:1),
    #: ``"float32"`` = 32 bits (HySpecNet-11k's ``CR = numel(input) / numel(latent)``)
    nominal_input: ClassVar[str] = "word"
    #: one shape: a checkpoint codes one band count (``train_tiny`` trains on it for the fuzz test)
    fuzz_shapes: ClassVar[tuple[tuple[int, int, int], ...]] = ((4, 20, 24),)
    #: architecture overrides of the tiny models the decoder fuzz test trains (``tests/fuzz_driver.py``): both forms
    fuzz_variants: ClassVar[tuple[dict[str, Any], ...]] = ({}, {"entropy": "factorized"})
    option_knobs: ClassVar[dict[tuple[str, Any], Knob]] = {("entropy", "factorized"): LMBDA_KNOB}
    #: the :mod:`.rdmodels` kind of ``entropy=factorized`` (:class:`.seedmodels.AutoencoderPriorModel`): the name
    model_kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            cls.model_kind = cls.name

    # -- what subclasses provide ---------------------------------------------------
    @classmethod
    def build_network(cls, arch: dict[str, Any]) -> Any:
        """A ``torch.nn.ModuleDict(encoder=..., decoder=...)`` for ``arch`` (on torch's current default device)."""
        raise NotImplementedError

    @classmethod
    def latent_shape(cls, arch: dict[str, Any]) -> tuple[int, ...]:
        """Shape of one tile's latent (``(L, T/8, T/8)`` or ``(units,)``)."""
        raise NotImplementedError

    @classmethod
    def paper_arch(cls, bands: int, latent: int | None = None) -> dict[str, Any]:
        """The architecture of the published configuration for ``bands`` bands."""
        raise NotImplementedError

    @classmethod
    def train_tiny(cls, cubes: Sequence[Cube], *, arch: dict[str, Any] | None = None, epochs: int = 1,
                   **options: Any) -> dict[str, Any]:
        """A tiny model (every architecture parameter 4, the smallest valid tile of 16 or 32) trained on ``cubes``.

        For tests and ``tests/fuzz_driver.py``, which need a real trained model in seconds, not
        a useful one. ``arch`` overrides the tiny architecture; ``options`` go to :func:`.train.train_codec`,
        or, with ``arch={"entropy": "factorized"}``, to :func:`.rdtrain.train_rd` (default ``lmbda`` 0.05,
        40 steps on tile-sized patches).
        """
        from hsbench.codecs.learned.train import train_codec

        base: dict[str, Any] = {**{k: 4 for k in cls.arch_params}, "bands": int(cubes[0].bands)}
        for t in (16, 32):
            try:
                cls.check_arch({**base, "tile": t, **(arch or {})})
            except CodecParameterError:
                continue
            break
        full = {**base, "tile": t, **(arch or {})}
        if full.get("entropy") == "factorized":
            from hsbench.codecs.learned.rdtrain import train_rd

            full["cluster"] = full["bands"]
            opts = {"train_spec": "tiny", "steps": 40, "batch": 4, "patch": int(full["tile"]), "progress": False,
                    **options}
            return train_rd(cls, full, float(opts.pop("lmbda", 0.05)), cubes, **opts)
        opts = {"train_spec": "tiny", "batch": 4, "lr": 1e-3, "seed": 0, "device": "cpu", "progress": False, **options}
        return train_codec(cls, full, cubes, epochs=epochs, **opts)

    @classmethod
    def coding_tile(cls, arch: dict[str, Any]) -> int:
        """The tile of ``entropy=factorized`` coding (and of its training-time validation): the network's ``T``."""
        return int(arch["tile"])

    # -- architecture helpers --------------------------------------------------------
    @classmethod
    def arch_from_params(cls, params: dict[str, Any], bands: int) -> dict[str, Any]:
        """The architecture config the quick trainer / ``hsbench train`` builds from codec params."""
        arch: dict[str, Any] = {"bands": int(bands)}
        for key in cls.arch_params:
            arch[key] = int(params[key])
        arch = cls.with_entropy(arch, params)
        cls.check_arch(arch)
        return arch

    @classmethod
    def with_entropy(cls, arch: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """``arch`` plus, for ``entropy=factorized``, ``entropy`` and ``cluster`` (= ``bands``, the rate-distortion
        core's band count); the default ``minmax`` stays implicit, so older checkpoints and shipped models match."""
        if params.get("entropy", "minmax") == "factorized":
            return {**arch, "cluster": int(arch["bands"]), "entropy": "factorized"}
        return arch

    @classmethod
    def check_arch(cls, arch: dict[str, Any]) -> None:
        """Raise :class:`CodecParameterError` for an architecture the network cannot have."""
        t = int(arch["tile"])
        if t < cls.tile_multiple or t % cls.tile_multiple:
            raise CodecParameterError(
                f"{cls.name}: tile={t} must be a positive multiple of {cls.tile_multiple} "
                "(the network pools by that factor)"
            )
        for key in cls.arch_params:
            if int(arch[key]) < 1:
                raise CodecParameterError(f"{cls.name}: {key}={arch[key]} must be at least 1")
        if arch.get("entropy", "minmax") not in ENTROPY_MODES:
            raise CodecParameterError(f"{cls.name}: entropy must be one of {', '.join(ENTROPY_MODES)}, "
                                      f"got {arch.get('entropy')!r}")

    @classmethod
    def latent_layout(cls, arch: dict[str, Any]) -> tuple[int, int]:
        """``(channels, positions)`` of one tile's latent as the quantiser sees it."""
        shape = cls.latent_shape(arch)
        if cls.per_channel:
            return int(shape[0]), int(math.prod(shape[1:]))
        return 1, int(math.prod(shape))

    @classmethod
    def parameter_counts(cls, arch: dict[str, Any]) -> tuple[int, int]:
        """Encoder and decoder parameter counts of ``arch``, built on the meta device (no memory used)."""
        import torch

        with torch.device("meta"):
            net = cls.build_network(arch)
        return count_parameters(net["encoder"]), count_parameters(net["decoder"])

    # -- parameters ------------------------------------------------------------------
    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check entropy, lmbda, bits, batch, device and the checkpoint (an absent file, or one trained for the
        other ``entropy`` option, is refused here)."""
        if params.get("entropy") not in ENTROPY_MODES:
            raise CodecParameterError(f"{self.name}: entropy must be one of {', '.join(ENTROPY_MODES)}, "
                                      f"got {params.get('entropy')!r}")
        params["lmbda"] = LMBDA_KNOB.check(params.get("lmbda"))
        bits = params.get("bits")
        if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not 1 <= int(bits) <= 16:
            raise CodecParameterError(f"{self.name}: bits must be an integer in 1..16, got {bits!r}")
        params["bits"] = int(bits)
        batch = params.get("batch")
        if not isinstance(batch, (int, np.integer)) or int(batch) < 1:
            raise CodecParameterError(f"{self.name}: batch must be a positive integer, got {batch!r}")
        params["batch"] = int(batch)
        params["device"] = check_device_name(params.get("device", "auto"))
        for key in self.arch_params:
            value = params.get(key)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or int(value) < 1:
                raise CodecParameterError(f"{self.name}: {key} must be a positive integer, got {value!r}")
        ck = params.get("checkpoint")
        if ck is not None:
            path = Path(str(ck)).expanduser()
            if not path.is_file():
                raise CodecUnavailableError(
                    f"{self.name}: checkpoint {path} does not exist; train one with "
                    f"`hsbench train {self.name} --dataset NAME --out {path}`, or leave checkpoint unset "
                    "so that `hsbench run` uses the shipped or cached model (or quick-trains one)"
                )
            params["checkpoint"] = str(path.resolve())
            ck = ckpt_io.load_checkpoint(path)
            if ck.get("codec") != self.name:
                raise CodecUnavailableError(f"checkpoint {path} belongs to codec {ck.get('codec')!r}, not "
                                            f"{self.name!r}; use it with --codecs {ck.get('codec')}")
            check_entropy(self.name, ck, params["entropy"], path)
            if params["entropy"] == "factorized":
                params["lmbda"] = float(ck["lmbda"])  # the checkpoint's point, as for the rate-distortion codecs
        params["quick_trained"] = bool(params.get("quick_trained", False))
        return params

    @classmethod
    def inactive_params(cls, params: dict[str, Any]) -> set[str]:
        """``lmbda`` does nothing with ``entropy=minmax``, ``bits`` nothing with ``entropy=factorized``."""
        return {"bits"} if params.get("entropy", "minmax") == "factorized" else {"lmbda"}

    @property
    def factorized(self) -> bool:
        """Whether this codec codes with the factorized prior (``entropy=factorized``)."""
        return self.config["entropy"] == "factorized"

    @classmethod
    def check_available(cls) -> None:
        """Report a missing torch or constriction without importing them (keeps ``hsbench codecs`` fast)."""
        for module in cls.requires:
            if importlib.util.find_spec(module) is None:
                raise CodecUnavailableError(
                    f"codec {cls.name!r} needs the Python package {module!r}, which is not installed; "
                    f"install it with pip (torch: any 2.x build, CPU or CUDA)"
                )

    # -- the model -------------------------------------------------------------------
    @property
    def model(self) -> LoadedModel:
        """The checkpoint's network on the chosen device (loaded once per process and device)."""
        path = self._checkpoint_path(f"from `hsbench train {self.name} ...`")
        device = resolve_device(self.config["device"])
        st = os.stat(path)
        key = (self.name, path, st.st_mtime_ns, st.st_size, str(device))
        loaded = _MODELS.get(key)
        if loaded is None:
            loaded = self._load(path, device)
            _MODELS[key] = loaded
        return loaded

    def _checkpoint_path(self, what: str) -> str:
        """The ``checkpoint`` parameter, or a refusal that says how to get one (``what``: which model)."""
        path = self.config.get("checkpoint")
        if path is None:
            raise CodecUnavailableError(
                f"{self.name} has no checkpoint: pass checkpoint=PATH ({what}) or run it through `hsbench run`, "
                "whose planner finds or trains one (hsbench.codecs.learned.models)"
            )
        return path

    @property
    def rd(self) -> Any:
        """The ``entropy=factorized`` checkpoint (a :class:`.transform.RDLoaded`) on the chosen device."""
        from hsbench.codecs.learned.transform import load_rd_checkpoint

        path = self._checkpoint_path("a model trained with entropy=factorized")
        return load_rd_checkpoint(self.name, self.model_kind, path, resolve_device(self.config["device"]))

    @classmethod
    def _load(cls, path: str, device: Any) -> LoadedModel:
        ck = ckpt_io.load_checkpoint(path)
        if ck.get("codec") != cls.name:
            raise CodecUnavailableError(
                f"checkpoint {path} belongs to codec {ck.get('codec')!r}, not {cls.name!r}; "
                f"use it with --codecs {ck.get('codec')}"
            )
        check_entropy(cls.name, ck, "minmax", path)
        arch = dict(ck["arch"])
        net = cls.build_network(arch)
        try:
            net.load_state_dict(ck["state_dict"])
        except RuntimeError as exc:
            raise CodecUnavailableError(f"checkpoint {path} does not match the {cls.name} network: {exc}") from exc
        net.to(device).eval()
        norm = ck["normalisation"]
        return LoadedModel(
            path=path,
            network=net,
            arch=arch,
            low=np.asarray(norm["low"], dtype=np.float64),
            high=np.asarray(norm["high"], dtype=np.float64),
            data=dict(ck.get("data", {})),
            training=dict(ck.get("training", {})),
            device=device,
            fingerprint=ckpt_io.weights_fingerprint(ck["state_dict"]),
            encoder_params=count_parameters(net["encoder"]),
            decoder_params=count_parameters(net["decoder"]),
        )

    # -- checks ----------------------------------------------------------------------
    @property
    def max_samples_per_byte(self) -> float:  # type: ignore[override]
        """Geometry bound of :meth:`Codec.decode` for this model: a ``T x T`` tile of ``bands`` samples
        is ``C * S`` latent symbols, each costing at least :data:`.latent.MIN_SYMBOL_BITS` (``entropy=factorized``:
        the same ``C * S`` values, each at least the least a symbol of the entropy bottleneck's tables costs)."""
        if self.factorized:
            from hsbench.codecs.learned.transform import _MIN_BITS_PER_SYMBOL

            m = self.rd
            t = int(m.arch["tile"])
            return int(m.arch["bands"]) * t * t / m.model.latent_elements(1, t) * 8 / _MIN_BITS_PER_SYMBOL
        arch = self.model.arch
        c, s = self.latent_layout(arch)
        return latent.max_samples_per_byte(int(arch["bands"]) * int(arch["tile"]) ** 2 / (c * s))

    def supports(self, cube: Cube) -> None:
        """Refuse cubes the checkpoint was not trained for (band count; ``minmax``: bit depth, type) or trained on."""
        m = self.rd if self.factorized else self.model
        data = m.data
        depths = [int(d) for d in data.get("bit_depths", ())]
        trained = (
            f"{data.get('bands')} bands, {'/'.join(map(str, depths))}-bit {'/'.join(data.get('dtypes', ()))} "
            f"(trained on {data.get('spec')!r})"
        )
        hint = (
            f"; use a checkpoint trained on data like this cube (`hsbench train {self.name} --dataset NAME "
            "--out CKPT`), or leave checkpoint unset so `hsbench run` quick-trains one for this dataset"
        )
        if cube.bands != int(m.arch["bands"]):
            raise UnsupportedCubeError(
                f"{self.name}: checkpoint {Path(m.path).name} expects {trained}; cube {cube.name!r} has "
                f"{cube.bands} bands{hint}"
            )
        if not self.factorized and (cube.bit_depth not in depths or cube.is_float != bool(data.get("float"))):
            raise UnsupportedCubeError(
                f"{self.name}: checkpoint {Path(m.path).name} expects {trained}; cube {cube.name!r} is "
                f"{cube.bit_depth}-bit {cube.dtype}{hint}"
            )
        if cube.sha256() in set(data.get("sha256", ())):
            raise UnsupportedCubeError(
                f"{self.name}: cube {cube.name!r} is one of the images checkpoint {Path(m.path).name} was "
                "trained on; evaluating on training images would overstate the quality. Evaluate on other "
                "images or train on another split"
            )

    # -- inference -------------------------------------------------------------------
    def _run(self, part: str, batches: np.ndarray) -> np.ndarray:
        """Apply ``network[part]`` to the first axis of ``batches`` in chunks of ``batch`` (float32 numpy out)."""
        m = self.model
        return run_batches(m.network[part], batches, self.config["batch"], m.device)

    def encode_latent_array(self, cube: Cube) -> np.ndarray:
        """The float latent ``(tiles, channels, positions)`` of ``cube`` (before quantisation)."""
        m = self.model
        z = self._run("encoder", normalised_tiles(cube, m.low, m.high, int(m.arch["tile"])))
        c, s = self.latent_layout(m.arch)
        return z.reshape(z.shape[0], c, s)

    def _reconstruct(self, q: QuantisedLatent, shape: tuple[int, int, int], dtype: np.dtype, bit_depth: int) -> np.ndarray:
        m = self.model
        z = q.dequantise().reshape((q.symbols.shape[0],) + tuple(self.latent_shape(m.arch)))
        out = self._run("decoder", z)
        return restore(untile(out, shape[1], shape[2]), m.low, m.high, dtype, bit_depth)

    def _rd_args(self) -> tuple[Any, int, int, int, Any]:
        m = self.rd
        return m.model, int(m.arch["cluster"]), int(m.arch["tile"]), int(self.config["batch"]), m.device

    def reconstruct(self, cube: Cube) -> np.ndarray:
        """What :meth:`decode` returns for ``cube``, computed without entropy coding (tests, analysis)."""
        if self.factorized:
            from hsbench.codecs.learned.transform import encode_cube

            model, cluster, t, batch, device = self._rd_args()
            rec = encode_cube(model, cube, cluster, t, batch, device, exact=True, reconstruct=True)[1]
            assert rec is not None
            return rec
        q = quantise(self.encode_latent_array(cube), self.config["bits"])
        return self._reconstruct(q, cube.shape, cube.dtype, int(cube.bit_depth))  # type: ignore[arg-type]

    def encode_payload(self, cube: Cube) -> bytes:
        """Fingerprint of the weights + range-coded quantised latent (see :mod:`.latent`; ``entropy=factorized``:
        the rounded latent coded with the factorized prior's tables, :func:`.transform.encode_cube`)."""
        if self.factorized:
            from hsbench.codecs.learned.transform import encode_cube

            model, cluster, t, batch, device = self._rd_args()
            return self.rd.fingerprint + encode_cube(model, cube, cluster, t, batch, device)[0]
        q = quantise(self.encode_latent_array(cube), self.config["bits"])
        return self.model.fingerprint + encode_latent(q)

    def decode_payload(self, payload: memoryview, header: container.StreamHeader) -> np.ndarray:
        """Rebuild the cube from the latent stream and this codec's model alone."""
        m = self.rd if self.factorized else self.model
        if bytes(payload[:_FINGERPRINT_BYTES]) != m.fingerprint:
            raise CorruptStreamError(
                f"{self.name}: this stream was encoded with other weights than checkpoint "
                f"{Path(m.path).name}; decode it with the checkpoint that encoded it"
            )
        if header.bands != int(m.arch["bands"]):
            raise CorruptStreamError(
                f"{self.name}: stream has {header.bands} bands, checkpoint {Path(m.path).name} {m.arch['bands']}"
            )
        if self.factorized:
            from hsbench.codecs.learned.transform import decode_cube

            model, cluster, t, batch, device = self._rd_args()
            return decode_cube(model, payload[_FINGERPRINT_BYTES:], header, cluster, batch, device, exact=True, tile=t)
        ny, nx = tile_grid(header.rows, header.cols, int(m.arch["tile"]))
        c, s = self.latent_layout(m.arch)
        q = decode_latent(payload[_FINGERPRINT_BYTES:], ny * nx, c, s)
        return self._reconstruct(q, header.shape, header.dtype, header.bit_depth)

    # -- rows ------------------------------------------------------------------------
    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """Nominal (float32-latent) ratio and bpppc as papers report them, plus model provenance.

        Provenance: checkpoint, ``quick_trained``, training data, loss function (``train_loss_fn``:
        ``bce`` / ``mse``), optimiser steps and the validation PSNR the training reported.

        ``nominal_cr = B*H*W*D_n / (32 * latent elements)`` and ``nominal_bpppc = 32 * latent elements /
        (B*H*W)`` (SPEC section 1): they ignore quantisation and entropy coding and are *not* the rate.
        ``D_n`` (column ``nominal_cr_bits``) follows the paper's convention (:attr:`nominal_input`): the
        storage word (16 for 12-bit data in uint16, as SSCNet counts Sentinel-2) or 32.

        ``entropy=factorized`` rows add ``estimated_bpppc`` (the prior's own ``sum(-log2 p)`` of the rounded
        latent, as the rate-distortion codecs report it), ``lmbda`` and ``model_params`` (with the gains and
        the prior); ``bits`` is None there (no min/max quantiser).
        """
        factorized = self.factorized
        m = self.rd if factorized else self.model
        ny, nx = tile_grid(cube.rows, cube.cols, int(m.arch["tile"]))
        c, s = self.latent_layout(m.arch)
        elements = ny * nx * c * s
        samples = cube.num_samples
        bits = 32 if self.nominal_input == "float32" else 8 * cube.dtype.itemsize
        if factorized:
            from hsbench.codecs.learned.transform import estimate_bits

            model, cluster, t, batch, device = self._rd_args()
            extra = {
                "estimated_bpppc": estimate_bits(model, cube, cluster, t, batch, device) / samples,
                "lmbda": m.lmbda,
                "model_params": m.parameters,
            }
            loss = f"rate+lambda*{m.training.get('distortion')}"
            enc, dec = count_parameters(model.encoder), count_parameters(model.decoder)
        else:
            extra, loss, enc, dec = {}, m.training.get("loss"), m.encoder_params, m.decoder_params
        return {
            "nominal_cr": samples * bits / (32.0 * elements),
            "nominal_cr_bits": bits,
            "nominal_bpppc": 32.0 * elements / samples,
            "latent_elements": elements,
            "tiles": ny * nx,
            "tile": int(m.arch["tile"]),
            "latent": int(m.arch["latent"]),
            "entropy": self.config["entropy"],
            "bits": None if factorized else self.config["bits"],
            **extra,
            "checkpoint": m.path,
            "quick_trained": bool(m.training.get("quick", False) or self.config.get("quick_trained")),
            "model_source": self.config.get("model_source"),
            "train_recipe": m.training.get("recipe"),
            "train_data": m.data.get("spec"),
            "train_loss_fn": loss,
            "train_steps": m.training.get("steps"),
            "train_val_psnr": m.training.get("val_psnr"),
            "device": str(m.device),
            "encoder_params": enc,
            "decoder_params": dec,
        }
