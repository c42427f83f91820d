"""Conformance of the CCSDS 123.0-B-2 coder with an independent implementation.

``tests/data/ccsds123/`` holds tiny images and the compressed images the NTNU SmallSat
Lab verification model (``NTNU-SmallSat-Lab/ccsds123_issue_2_verification_model``,
verified by its authors against the official CCSDS 123.0-B-2 test vectors) produced
for them; ``cases.json`` lists the parameters of each, ``make_refs.py`` regenerates them
from a checkout of the model and README.md says how. hsbench must write exactly those
bytes (header and body of the sample-adaptive, hybrid and block-adaptive entropy coders;
BSQ and BI orders; lossless, absolute, relative and both limits; signed and unsigned; 2,
4, 8, 12 and 16 bits) and decode them back to the image within the error limit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from hsbench.codecs.ccsds123 import Ccsds123Header, compress, decompress, error_bound, unpack_header
from hsbench.codecs.registry import create_codec
from hsbench.cube import Cube

DATA = Path(__file__).resolve().parent / "data" / "ccsds123"
CASES = json.loads((DATA / "cases.json").read_text())


def _case(entry: dict) -> tuple[np.ndarray, Ccsds123Header, bytes]:
    image = np.load(DATA / entry["image"])
    ref = (DATA / entry["stream"]).read_bytes()
    assert len(ref) == entry["bytes"] and hashlib.sha256(ref).hexdigest() == entry["sha256"], "reference data damaged"
    nz, ny, nx = image.shape
    header = Ccsds123Header(x_size=nx, y_size=ny, z_size=nz, signed=image.dtype.kind == "i", **entry["params"])
    return image, header, ref


@pytest.mark.parametrize("entry", CASES, ids=[c["stream"] for c in CASES])
def test_encoder_writes_the_reference_bytes(entry: dict) -> None:
    image, header, ref = _case(entry)
    ours = compress(image, header)
    if ours != ref:
        first = next((i for i in range(min(len(ours), len(ref))) if ours[i] != ref[i]), min(len(ours), len(ref)))
        pytest.fail(f"{entry['stream']}: {len(ours)} bytes vs reference {len(ref)}; first difference at byte {first}")


@pytest.mark.parametrize("entry", CASES, ids=[c["stream"] for c in CASES])
def test_decoder_reads_the_reference_stream(entry: dict) -> None:
    image, header, ref = _case(entry)
    parsed, _ = unpack_header(ref)
    assert parsed == header
    decoded, _ = decompress(ref)
    err = np.abs(decoded.astype(np.int64) - image.astype(np.int64)).max()
    if header.fidelity == 0:
        assert err == 0
    else:
        assert err <= error_bound(header)


@pytest.mark.parametrize("stream,params", [
    ("u8_bil_abs2.bin", {"entropy_coder": "sample", "order": "bil", "max_error": 2}),
    ("hyb_u8_bil_abs3_g4.bin", {"order": "bil", "max_error": 3, "gamma_star": 4}),  # hybrid: the default
    ("ba_u8_bil_abs3_j16_r2.bin", {"entropy_coder": "block", "order": "bil", "max_error": 3, "block_size": 16,
                                   "reference_interval": 2}),
])
def test_codec_parameters_map_onto_the_reference_header(stream: str, params: dict) -> None:
    """The runner's path (create_codec + encode_payload) writes the reference streams."""
    image, _, ref = _case(next(c for c in CASES if c["stream"] == stream))
    codec = create_codec("ccsds123", **params)
    assert codec.encode_payload(Cube(image, bit_depth=8, name="u8_3x5x7")) == ref


def test_references_cover_every_coder_and_order() -> None:
    kinds = {(c["params"].get("entropy_coder", "sample"), c["params"].get("order", "bsq"),
              c["params"].get("interleave_depth")) for c in CASES}
    for coder in ("sample", "hybrid", "block"):
        assert (coder, "bsq", None) in kinds and (coder, "bi", 1) in kinds  # BSQ, BIL
        assert any(k[0] == coder and k[1] == "bi" and (k[2] or 0) > 1 for k in kinds)  # BIP / BI(M)
