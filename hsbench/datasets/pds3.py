"""PDS3 spectral qubes (the ISIS-2 ``QUBE`` object), as VIRTIS-Rosetta / VIRTIS-Venus calibrated data use.

Implemented from the PDS3 Standards Reference (JPL D-7669 part 2, v3.8), chapter
12 (Object Description Language: ``KEY = VALUE``, ``OBJECT`` / ``END_OBJECT``,
tuples ``(a, b)``, units ``<BYTES>``), section 5.3 (data pointers ``^QUBE = n``
(1-based record, times ``RECORD_BYTES``), ``^QUBE = n <BYTES>`` (1-based byte),
``^QUBE = "FILE"`` / ``("FILE", n)`` for detached labels) and Appendix A.27
(``QUBE``: ``AXES``, ``AXIS_NAME`` fastest axis first, ``CORE_ITEMS``,
``CORE_ITEM_BYTES``, ``CORE_ITEM_TYPE``, ``CORE_BASE`` / ``CORE_MULTIPLIER``,
``SUFFIX_ITEMS``, ``SUFFIX_BYTES``).

Supported: 3-axis qubes with names ``BAND`` / ``SAMPLE`` / ``LINE`` in any order,
IEEE real and two's-complement / unsigned integer items in either byte order, and
suffix planes (side / back / bottom planes) when a suffix item has the core
item's size (VIRTIS: 4-byte floats with 4-byte suffixes), which are dropped.
Not supported (clear error): VAX reals, suffix items of another size than the core
items. Caveat: checked against files written from this reading of the standard,
not yet against a real VIRTIS archive file (none is reachable from the test machines).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import DatasetError

#: PDS3 CORE_ITEM_TYPE -> (numpy kind, byte order)
ITEM_TYPES: dict[str, tuple[str, str]] = {
    "REAL": ("f", ">"),
    "IEEE_REAL": ("f", ">"),
    "SUN_REAL": ("f", ">"),
    "MAC_REAL": ("f", ">"),
    "PC_REAL": ("f", "<"),
    "INTEGER": ("i", ">"),
    "MSB_INTEGER": ("i", ">"),
    "SUN_INTEGER": ("i", ">"),
    "MAC_INTEGER": ("i", ">"),
    "LSB_INTEGER": ("i", "<"),
    "PC_INTEGER": ("i", "<"),
    "VAX_INTEGER": ("i", "<"),
    "UNSIGNED_INTEGER": ("u", ">"),
    "MSB_UNSIGNED_INTEGER": ("u", ">"),
    "SUN_UNSIGNED_INTEGER": ("u", ">"),
    "MAC_UNSIGNED_INTEGER": ("u", ">"),
    "LSB_UNSIGNED_INTEGER": ("u", "<"),
    "PC_UNSIGNED_INTEGER": ("u", "<"),
    "VAX_UNSIGNED_INTEGER": ("u", "<"),
}

_TOKEN = re.compile(r'"[^"]*"|\'[^\']*\'|<[^>]*>|[(){},]|[^\s(){},=<>"\']+')


def _value(text: str) -> Any:
    """Parse an ODL value: number, string, symbol, or tuple / set of them; units dropped."""
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("<")]

    def atom(tok: str) -> Any:
        if tok[:1] in "\"'":
            return tok[1:-1].strip()
        try:
            return int(tok)
        except ValueError:
            pass
        try:
            return float(tok)
        except ValueError:
            return tok

    if tokens and tokens[0] in "({":
        return tuple(atom(t) for t in tokens if t not in "(){},")
    return atom(tokens[0]) if tokens else ""


def parse_label(text: str) -> dict[str, Any]:
    """Parse a PDS3 label into nested dicts: top-level keywords and ``OBJECT`` blocks by name."""
    root: dict[str, Any] = {}
    stack = [root]
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = re.sub(r"/\*.*?\*/", "", lines[i]).strip()
        i += 1
        if line == "END":
            break
        if "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        # A value continues on the next lines while its brackets or quotes are open.
        while (value.count("(") > value.count(")") or value.count("{") > value.count("}") or value.count('"') % 2) and i < len(lines):
            value += " " + lines[i].strip()
            i += 1
        key = key.upper()
        if key == "OBJECT":
            block: dict[str, Any] = {}
            stack[-1].setdefault(value.upper(), block)
            stack.append(block)
        elif key == "END_OBJECT":
            if len(stack) > 1:
                stack.pop()
        else:
            stack[-1][key] = value if key.startswith("^") else _value(value)
    return root


def _pointer(label: dict[str, Any], label_path: Path) -> tuple[Path, int]:
    """The data file and byte offset of the qube (PDS3 Standards section 5.3)."""
    raw = label.get("^QUBE")
    if raw is None:
        raise DatasetError(f"{label_path}: the label has no ^QUBE pointer; it is not a PDS3 qube")
    in_bytes = "<BYTES>" in raw.upper()
    value = _value(raw)
    record_bytes = int(label.get("RECORD_BYTES", 1) or 1)
    if isinstance(value, tuple):
        file_name, start = str(value[0]), int(value[1]) if len(value) > 1 else 1
    elif isinstance(value, str):
        file_name, start = value, 1
    else:
        file_name, start = "", int(value)
    data_path = label_path
    if file_name:
        data_path = label_path.parent / file_name
        if not data_path.is_file():
            matches = [p for p in label_path.parent.iterdir() if p.name.lower() == file_name.lower()]
            if not matches:
                raise DatasetError(f"{label_path}: the qube's data file {file_name} is not beside the label")
            data_path = matches[0]
    offset = (start - 1) if in_bytes else (start - 1) * record_bytes
    return data_path, offset


def read_pds3_qube(path: str | Path, bit_depth: int | None = None, **_: Any) -> Cube:
    """Read a PDS3 ``QUBE`` (attached or detached label) as a ``(B, H, W)`` cube.

    ``CORE_BASE`` + ``CORE_MULTIPLIER`` * stored value is applied when it is not the
    identity (result in float32). Suffix planes are dropped.
    """
    path = Path(path)
    label_path = path
    if path.suffix.lower() != ".lbl":
        detached = [path.with_suffix(s) for s in (".lbl", ".LBL")]
        label_path = next((p for p in detached if p.is_file()), path)
    head = label_path.read_bytes()[:1 << 20].decode("latin-1")
    end = re.search(r"^\s*END\s*$", head, flags=re.M)
    if not end:
        raise DatasetError(f"{label_path}: no PDS3 label (no END line in the first MiB)")
    label = parse_label(head[: end.end()])
    qube = label.get("QUBE") or label.get("SPECTRAL_QUBE")
    if qube is None:
        raise DatasetError(f"{label_path}: the label has no QUBE object (found: {', '.join(k for k, v in label.items() if isinstance(v, dict)) or 'none'})")
    if "^QUBE" not in label and "^SPECTRAL_QUBE" in label:
        label["^QUBE"] = label["^SPECTRAL_QUBE"]
    data_path, offset = _pointer(label, label_path)

    names = tuple(str(n).upper() for n in _tuple(qube.get("AXIS_NAME")))
    core = tuple(int(n) for n in _tuple(qube.get("CORE_ITEMS")))
    if int(qube.get("AXES", len(core))) != 3 or len(core) != 3 or sorted(names) != ["BAND", "LINE", "SAMPLE"]:
        raise DatasetError(f"{label_path}: only 3-axis BAND / SAMPLE / LINE qubes are supported, got AXIS_NAME={names}, CORE_ITEMS={core}")
    item_type = str(qube.get("CORE_ITEM_TYPE", "")).upper()
    if item_type not in ITEM_TYPES:
        raise DatasetError(
            f"{label_path}: CORE_ITEM_TYPE {item_type!r} is not supported yet (VAX reals and unknown types); "
            f"supported: {', '.join(sorted(ITEM_TYPES))}"
        )
    kind, order = ITEM_TYPES[item_type]
    item_bytes = int(qube.get("CORE_ITEM_BYTES", 4))
    dtype = np.dtype(f"{order}{kind}{item_bytes}")
    suffix = tuple(int(n) for n in _tuple(qube.get("SUFFIX_ITEMS", (0, 0, 0))))
    suffix_bytes = int(qube.get("SUFFIX_BYTES", 4))
    if any(suffix) and suffix_bytes != item_bytes:
        raise DatasetError(
            f"{label_path}: suffix items of {suffix_bytes} bytes beside {item_bytes}-byte core items are not "
            "supported yet (their interleaving differs from the core's)"
        )
    stored = tuple(c + s for c, s in zip(core, suffix))
    need = offset + int(np.prod(stored)) * item_bytes
    if data_path.stat().st_size < need:
        raise DatasetError(f"{data_path}: holds {data_path.stat().st_size} bytes, the qube label needs {need}; truncated file?")
    raw = np.memmap(data_path, dtype=dtype, mode="r", offset=offset, shape=stored[::-1])
    raw = raw[: core[2], : core[1], : core[0]]  # drop suffix planes
    numpy_axes = names[::-1]
    data = np.transpose(raw, [numpy_axes.index(a) for a in ("BAND", "LINE", "SAMPLE")])
    data = np.ascontiguousarray(data).astype(dtype.newbyteorder("="), copy=False)
    base, mult = float(qube.get("CORE_BASE", 0.0)), float(qube.get("CORE_MULTIPLIER", 1.0))
    if base != 0.0 or mult != 1.0:
        data = (base + mult * data.astype(np.float64)).astype(np.float32)
    return Cube(
        data,
        bit_depth=bit_depth,
        name=path.stem,
        meta={"source": str(data_path), "format": "PDS3 QUBE", "axis_name": names, "core_item_type": item_type},
    )


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


def write_pds3_qube(
    path: str | Path,
    data: np.ndarray,
    axis_name: tuple[str, str, str] = ("BAND", "SAMPLE", "LINE"),
    item_type: str = "REAL",
    suffix_items: tuple[int, int, int] = (0, 0, 0),
    record_bytes: int = 512,
) -> Path:
    """Write a ``(B, H, W)`` array as a PDS3 qube with an attached label (tests, exports).

    Suffix planes, when asked for, are filled with a marker value (-1).
    """
    data = np.asarray(data)
    kind, order = ITEM_TYPES[item_type]
    dtype = np.dtype(f"{order}{kind}{data.dtype.itemsize}")
    bands, lines, samples = data.shape
    sizes = {"BAND": bands, "LINE": lines, "SAMPLE": samples}
    core = tuple(sizes[a] for a in axis_name)
    numpy_axes = axis_name[::-1]
    arranged = np.transpose(data, [("BAND", "LINE", "SAMPLE").index(a) for a in numpy_axes])
    stored = np.full(tuple(c + s for c, s in zip(core, suffix_items))[::-1], -1, dtype=dtype)
    stored[: core[2], : core[1], : core[0]] = arranged
    def label_text(label_records: int) -> str:
        return "\r\n".join([
            "PDS_VERSION_ID = PDS3",
            "RECORD_TYPE = FIXED_LENGTH",
            f"RECORD_BYTES = {record_bytes}",
            f"LABEL_RECORDS = {label_records}",
            f"^QUBE = {label_records + 1}",
            "OBJECT = QUBE",
            "  AXES = 3",
            f"  AXIS_NAME = ({', '.join(axis_name)})",
            f"  CORE_ITEMS = ({', '.join(str(c) for c in core)})",
            f"  CORE_ITEM_BYTES = {dtype.itemsize}",
            f"  CORE_ITEM_TYPE = {item_type}",
            "  CORE_BASE = 0.0",
            "  CORE_MULTIPLIER = 1.0",
            f"  SUFFIX_BYTES = {dtype.itemsize}",
            f"  SUFFIX_ITEMS = ({', '.join(str(s) for s in suffix_items)})",
            "END_OBJECT = QUBE",
            "END",
            "",
        ])
    records = 1
    while len(label_text(records)) > records * record_bytes:
        records += 1
    path = Path(path)
    with open(path, "wb") as f:
        f.write(label_text(records).encode("ascii").ljust(records * record_bytes, b" "))
        f.write(stored.tobytes())
    return path
