"""Regenerate the CCSDS 123.0-B-2 reference streams of this folder with the NTNU verification model.

Usage (from the repository root)::

    git clone https://github.com/NTNU-SmallSat-Lab/ccsds123_issue_2_verification_model /tmp/ntnu_model
    pip install bitarray numpy          # the model's dependencies (not hsbench's)
    python tests/data/ccsds123/make_refs.py /tmp/ntnu_model [--only NAME ...]

The model (MIT licence) is imported from the checkout given on the command line; none of
its code is in this repository. For every case of :data:`CASES` this script sets the
model's ``Header`` fields from the case's parameters (named as the fields of
``hsbench.codecs.ccsds123.Ccsds123Header``, translated to the model's coded values
here, independently of hsbench's header writer), runs the model's predictor and the
entropy coder the case names (sample-adaptive, hybrid or block-adaptive), lets the
model write header + body zero-padded to the output word size (its ``save_data``), and
copies that file here. ``cases.json`` is rewritten with each stream's parameters,
length and SHA-256. Images that do not exist yet are generated from fixed seeds.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: (stream name, image, parameters); parameters not listed keep Ccsds123Header's defaults.
CASES: list[tuple[str, str, dict]] = [
    # sample-adaptive coder
    ("u8_bsq_lossless.bin", "u8_3x5x7.npy", {"dynamic_range": 8}),
    ("u8_bil_abs2.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "order": "bi", "interleave_depth": 1,
                                         "absolute_limit": 2}),
    ("u8_bip_reduced_narrowcol.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "order": "bi", "interleave_depth": 3,
                                                      "full_mode": False, "local_sum": 3, "prediction_bands": 2}),
    ("u8_bi2_abs3_widecol.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "order": "bi", "interleave_depth": 2,
                                                 "absolute_limit": 3, "local_sum": 2}),
    ("u8_bsq_absrel_damping.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "absolute_limit": 1, "relative_limit": 30,
                                                   "representative_resolution": 3, "damping": 2, "offset": 1}),
    ("u8_bsq_params2.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "omega": 13, "register_size": 32, "t_inc_log2": 4,
                                            "nu_min": -2, "nu_max": 5, "u_max": 9, "gamma_star": 5, "gamma0": 3,
                                            "k_init": 3, "output_word_size": 4, "prediction_bands": 0}),
    ("s12_bsq_lossless_narrownb.bin", "s12_4x6x5.npy", {"dynamic_range": 12, "local_sum": 1}),
    ("s12_bip_abs5.bin", "s12_4x6x5.npy", {"dynamic_range": 12, "order": "bi", "interleave_depth": 4,
                                           "absolute_limit": 5}),
    ("u16_bsq_lossless.bin", "u16_8x16x16.npy", {"dynamic_range": 16}),
    ("u16_bi8_abs7_p5.bin", "u16_8x16x16.npy", {"dynamic_range": 16, "order": "bi", "interleave_depth": 8,
                                                "absolute_limit": 7, "prediction_bands": 5}),
    ("u16noise_bsq_umax8.bin", "u16noise_3x6x7.npy", {"dynamic_range": 16, "u_max": 8}),
    # hybrid coder
    ("hyb_u8_bsq_lossless.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "entropy_coder": "hybrid"}),
    ("hyb_u8_bil_abs3_g4.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "entropy_coder": "hybrid", "order": "bi",
                                                "interleave_depth": 1, "absolute_limit": 3, "gamma_star": 4}),
    ("hyb_s12_bip_abs5.bin", "s12_4x6x5.npy", {"dynamic_range": 12, "entropy_coder": "hybrid", "order": "bi",
                                               "interleave_depth": 4, "absolute_limit": 5, "output_word_size": 2}),
    ("hyb_u16_bsq_lossless.bin", "u16_8x16x16.npy", {"dynamic_range": 16, "entropy_coder": "hybrid"}),
    ("hyb_u16_bi2_abs7_g5.bin", "u16_8x16x16.npy", {"dynamic_range": 16, "entropy_coder": "hybrid", "order": "bi",
                                                    "interleave_depth": 2, "absolute_limit": 7, "gamma_star": 5,
                                                    "gamma0": 2}),
    ("hyb_u16noise_bsq_umax8.bin", "u16noise_3x6x7.npy", {"dynamic_range": 16, "entropy_coder": "hybrid",
                                                          "u_max": 8}),
    ("hyb_u8flat_bsq_abs4.bin", "u8flat_2x24x24.npy", {"dynamic_range": 8, "entropy_coder": "hybrid",
                                                       "absolute_limit": 4}),
    ("hyb_u8flat_bip_abs8_g11.bin", "u8flat_2x24x24.npy", {"dynamic_range": 8, "entropy_coder": "hybrid",
                                                           "order": "bi", "interleave_depth": 2, "absolute_limit": 8,
                                                           "gamma_star": 11, "gamma0": 8}),
    ("hyb_u8spike_bsq_lossless.bin", "u8spike_2x24x24.npy", {"dynamic_range": 8, "entropy_coder": "hybrid"}),
    ("hyb_u8spike_bil_abs1_umax8.bin", "u8spike_2x24x24.npy", {"dynamic_range": 8, "entropy_coder": "hybrid",
                                                              "order": "bi", "interleave_depth": 1,
                                                              "absolute_limit": 1, "u_max": 8}),
    ("hyb_u4_bsq_abs1.bin", "u4_3x8x9.npy", {"dynamic_range": 4, "entropy_coder": "hybrid", "absolute_limit": 1}),
    # block-adaptive coder
    ("ba_u8_bsq_lossless_j8.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "entropy_coder": "block", "block_size": 8}),
    ("ba_u8_bil_abs3_j16_r2.bin", "u8_3x5x7.npy", {"dynamic_range": 8, "entropy_coder": "block", "order": "bi",
                                                   "interleave_depth": 1, "absolute_limit": 3, "block_size": 16,
                                                   "reference_interval": 2}),
    ("ba_s12_bip_abs5_j32.bin", "s12_4x6x5.npy", {"dynamic_range": 12, "entropy_coder": "block", "order": "bi",
                                                  "interleave_depth": 4, "absolute_limit": 5, "block_size": 32}),
    ("ba_u16_bsq_lossless_j64.bin", "u16_8x16x16.npy", {"dynamic_range": 16, "entropy_coder": "block",
                                                        "block_size": 64}),
    ("ba_u16_bi8_abs7_j16.bin", "u16_8x16x16.npy", {"dynamic_range": 16, "entropy_coder": "block", "order": "bi",
                                                    "interleave_depth": 8, "absolute_limit": 7, "block_size": 16,
                                                    "output_word_size": 3}),
    ("ba_u16noise_bsq_j8.bin", "u16noise_3x6x7.npy", {"dynamic_range": 16, "entropy_coder": "block",
                                                      "block_size": 8}),
    ("ba_u8flat_bsq_abs4_j8.bin", "u8flat_2x24x24.npy", {"dynamic_range": 8, "entropy_coder": "block",
                                                         "absolute_limit": 4, "block_size": 8}),
    ("ba_u8flat_bsq_abs8_j8_r9.bin", "u8flat_2x24x24.npy", {"dynamic_range": 8, "entropy_coder": "block",
                                                            "absolute_limit": 8, "block_size": 8,
                                                            "reference_interval": 9}),
    ("ba_u8spike_bsq_lossless_j16.bin", "u8spike_2x24x24.npy", {"dynamic_range": 8, "entropy_coder": "block",
                                                               "block_size": 16}),
    ("ba_u4_bsq_lossless_restricted.bin", "u4_3x8x9.npy", {"dynamic_range": 4, "entropy_coder": "block",
                                                           "block_size": 8, "restricted_codes": True}),
    ("ba_u4_bip_abs1_restricted.bin", "u4_3x8x9.npy", {"dynamic_range": 4, "entropy_coder": "block",
                                                       "order": "bi", "interleave_depth": 3, "absolute_limit": 1,
                                                       "block_size": 16, "restricted_codes": True}),
    ("ba_u2_bsq_restricted.bin", "u2_2x6x8.npy", {"dynamic_range": 2, "entropy_coder": "block", "block_size": 8,
                                                  "restricted_codes": True}),
]

#: Ccsds123Header defaults (repeated here so the model's fields are set without importing hsbench).
DEFAULTS = {
    "order": "bsq", "interleave_depth": 0, "output_word_size": 1, "prediction_bands": 3, "full_mode": True,
    "local_sum": 0, "register_size": 64, "omega": 19, "t_inc_log2": 6, "nu_min": -1, "nu_max": 3,
    "absolute_limit": None, "relative_limit": None, "representative_resolution": 0, "damping": 0, "offset": 0,
    "u_max": 18, "gamma_star": 6, "gamma0": 1, "k_init": 0, "entropy_coder": "sample", "block_size": 64,
    "restricted_codes": False, "reference_interval": 4096,
}


def make_image(name: str) -> np.ndarray:
    """The images added with the hybrid / block-adaptive cases (fixed seeds)."""
    rng = np.random.default_rng(20261202)
    if name == "u8flat_2x24x24.npy":  # nearly flat: long runs of zero residuals (low-entropy codes, zero blocks)
        base = 100 + (np.arange(24)[:, None] // 6 + np.arange(24)[None, :] // 8)
        img = np.stack([base, base + 3]) + rng.integers(-1, 2, (2, 24, 24))
        return img.astype(np.uint8)
    if name == "u8spike_2x24x24.npy":  # flat with 4 % outliers: low-entropy escapes (X) and their residuals
        img = make_image("u8flat_2x24x24.npy").astype(np.int64)
        spikes = np.random.default_rng(20261203).random(img.shape) < 0.04
        img[spikes] += np.random.default_rng(20261204).integers(20, 140, int(spikes.sum()))
        return np.clip(img, 0, 255).astype(np.uint8)
    if name == "u4_3x8x9.npy":  # 4-bit samples in uint8
        ramp = (np.arange(8)[:, None] + np.arange(9)[None, :]) // 3
        img = np.stack([ramp + z for z in range(3)]) + rng.integers(0, 2, (3, 8, 9))
        return np.clip(img, 0, 15).astype(np.uint8)
    if name == "u2_2x6x8.npy":  # 2-bit samples
        return rng.integers(0, 4, (2, 6, 8)).astype(np.uint8)
    raise FileNotFoundError(f"{HERE / name} is missing and is not one this script generates")


def model_header(hd, image: np.ndarray, p: dict):
    """A model ``Header`` with the coded field values of the standard for parameters ``p``."""
    h = hd.Header()
    nz, ny, nx = image.shape
    h.x_size, h.y_size, h.z_size = nx % 65536, ny % 65536, nz % 65536
    h.sample_type = hd.SampleType.SIGNED_INTEGER if image.dtype.kind == "i" else hd.SampleType.UNSIGNED_INTEGER
    h.large_d_flag = hd.LargeDFlag.SMALL_D
    h.dynamic_range = p["dynamic_range"] % 16
    h.sample_encoding_order = hd.SampleEncodingOrder.BSQ if p["order"] == "bsq" else hd.SampleEncodingOrder.BI
    h.sub_frame_interleaving_depth = 0 if p["order"] == "bsq" else p["interleave_depth"] % 65536
    h.output_word_size = p["output_word_size"] % 8
    h.entropy_coder_type = {"sample": hd.EntropyCoderType.SAMPLE_ADAPTIVE, "hybrid": hd.EntropyCoderType.HYBRID,
                            "block": hd.EntropyCoderType.BLOCK_ADAPTIVE}[p["entropy_coder"]]
    a, r = p["absolute_limit"], p["relative_limit"]
    h.quantizer_fidelity_control_method = hd.QuantizerFidelityControlMethod((a is not None) + 2 * (r is not None))
    h.supplementary_information_table_count = 0
    h.supplementary_information_tables = []
    rep = p["damping"] != 0 or p["offset"] != 0
    h.sample_representative_flag = hd.SampleRepresentativeFlag(int(rep))
    h.prediction_bands_num = p["prediction_bands"]
    h.prediction_mode = hd.PredictionMode.FULL if p["full_mode"] else hd.PredictionMode.REDUCED
    h.weight_exponent_offset_flag = hd.WeightExponentOffsetFlag.ALL_ZERO
    h.local_sum_type = hd.LocalSumType(p["local_sum"])
    h.register_size = p["register_size"] % 64
    h.weight_component_resolution = p["omega"] - 4
    h.weight_update_change_interval = p["t_inc_log2"] - 4
    h.weight_update_initial_parameter = p["nu_min"] + 6
    h.weight_update_final_parameter = p["nu_max"] + 6
    h.weight_exponent_offset_table_flag = hd.WeightExponentOffsetTableFlag.NOT_INCLUDED
    h.weight_init_method = hd.WeightInitMethod.DEFAULT
    h.weight_init_table_flag = hd.WeightInitTableFlag.NOT_INCLUDED
    h.weight_init_resolution = 0
    h.periodic_error_updating_flag = hd.PeriodicErrorUpdatingFlag.NOT_USED
    h.error_update_period_exponent = 0
    if a is not None:
        h.absolute_error_limit_assignment_method = hd.ErrorLimitAssignmentMethod.BAND_INDEPENDENT
        h.absolute_error_limit_bit_depth = max(1, a.bit_length()) % 16
        h.absolute_error_limit_value = a
        h.set_absolute_error_limit_table_array_to_default()
    if r is not None:
        h.relative_error_limit_assignment_method = hd.ErrorLimitAssignmentMethod.BAND_INDEPENDENT
        h.relative_error_limit_bit_depth = max(1, r.bit_length()) % 16
        h.relative_error_limit_value = r
        h.set_relative_error_limit_table_array_to_default()
    h.sample_representative_resolution = p["representative_resolution"]
    h.band_varying_damping_flag = hd.BandVaryingDampingFlag.BAND_INDEPENDENT
    h.damping_table_flag = hd.DampingTableFlag.NOT_INCLUDED
    h.fixed_damping_value = p["damping"]
    h.band_varying_offset_flag = hd.BandVaryingOffsetFlag.BAND_INDEPENDENT
    h.damping_offset_table_flag = hd.OffsetTableFlag.NOT_INCLUDED
    h.fixed_offset_value = p["offset"]
    h.set_damping_table_array_to_default()
    h.set_damping_offset_table_array_to_default()
    h.unary_length_limit = p["u_max"] % 32
    h.rescaling_counter_size = p["gamma_star"] - 4
    h.initial_count_exponent = p["gamma0"] % 8
    h.accumulator_init_constant = p["k_init"]
    h.accumulator_init_table_flag = hd.AccumulatorInitTableFlag.NOT_INCLUDED
    h.set_accumulator_init_table_to_default()
    h.block_size = {8: 0, 16: 1, 32: 2, 64: 3}[p["block_size"]]
    h.restricted_code_options_flag = hd.RestrictedCodeOptionsFlag(int(p["restricted_codes"]))
    h.reference_sample_interval = p["reference_interval"] % 4096
    h.check_legal_config()
    return h


def run_model(model: Path, image: np.ndarray, p: dict) -> bytes:
    """The compressed image the model writes for ``image`` (z, y, x) and parameters ``p``."""
    sys.path.insert(0, str(model))
    from ccsds123_i2_hlm import ba_encoder, constants, hybrid_encoder, predictor, sa_encoder
    from ccsds123_i2_hlm import header as hd

    h = model_header(hd, image, p)
    consts = constants.ImageConstants(h)
    sample = image.astype(np.int64).transpose(1, 2, 0)  # (y, x, z), as the model's __load_raw_image
    with contextlib.redirect_stdout(io.StringIO()), tempfile.TemporaryDirectory() as tmp:
        pred = predictor.Predictor(h, consts, sample)
        pred.run_predictor()
        coder = {"sample": sa_encoder.SampleAdaptiveEncoder, "hybrid": hybrid_encoder.HybridEncoder,
                 "block": ba_encoder.BlockAdaptiveEncoder}[p["entropy_coder"]]
        enc = coder(h, consts, pred.get_predictor_output())
        enc.run_encoder()
        enc.save_data(tmp, h.get_header_bitstreams()[0])
        return (Path(tmp) / "z-output-bitstream.bin").read_bytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path, help="checkout of ccsds123_issue_2_verification_model")
    ap.add_argument("--only", nargs="*", help="regenerate only these streams (cases.json keeps the others)")
    ap.add_argument("--check", action="store_true", help="compare with the committed streams, write nothing")
    args = ap.parse_args()
    old = {c["stream"]: c for c in json.loads((HERE / "cases.json").read_text())} if (HERE / "cases.json").exists() \
        else {}
    entries, failed = [], []
    for stream, image_name, params in CASES:
        if args.only and stream not in args.only:
            if stream in old:
                entries.append(old[stream])
            continue
        path = HERE / image_name
        if not path.exists():
            if args.check:
                raise SystemExit(f"{path} missing")
            np.save(path, make_image(image_name))
        image = np.load(path)
        data = run_model(args.model, image, {**DEFAULTS, **params})
        entry = {"stream": stream, "image": image_name, "params": params, "bytes": len(data),
                 "sha256": hashlib.sha256(data).hexdigest()}
        if args.check:
            same = (HERE / stream).exists() and (HERE / stream).read_bytes() == data
            print(f"{stream}: {'same' if same else 'DIFFERENT'} ({len(data)} bytes)")
            failed += [] if same else [stream]
        else:
            (HERE / stream).write_bytes(data)
            print(f"{stream}: {len(data)} bytes")
        entries.append(entry)
    if args.check:
        raise SystemExit(1 if failed else 0)
    (HERE / "cases.json").write_text(json.dumps(entries, indent=1) + "\n")


if __name__ == "__main__":
    main()
