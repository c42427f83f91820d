"""The 16 low-entropy codes of the CCSDS 123.0-B-2 hybrid entropy coder as arrays for numba.

The code tables (``low_entropy_codes.txt``, the standard's published table files; format
in that file's comment) become, for each code i = 0..15:

* an *input tree*: node 0 is the empty prefix; ``child[i, node, s]`` is the node reached
  by input symbol s (0..L_i for a mapped index up to the limit L_i, L_i + 1 for the
  escape symbol X); a leaf is a complete input word, whose codeword is ``word_value`` /
  ``word_len``; an inner node is an incomplete prefix, whose flush codeword (written at
  the image tail, 5.4.3.3.4) is ``word_value`` / ``word_len`` too. ``symbol`` and
  ``parent`` walk a word backwards;
* two *reverse tries*, over the codeword bits read from the last one backwards (the
  hybrid stream is decoded from its end): ``code_trie[i, n, b]`` / ``flush_trie[i, n, b]``
  is the next trie node (> 0), 0 for no such codeword, or -(node + 1) when the bits read
  so far are a whole codeword of input-tree node ``node``.

Loading checks that every code is a complete tree over its alphabet, that its flush table
lists exactly the inner nodes, and that both codeword sets are complete and prefix-free
read backwards (so every bit string decodes, and only one way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

#: Input symbol limits L_i of the 16 low-entropy codes (CCSDS 123.0-B-2, Table 5-16).
INPUT_SYMBOL_LIMITS = np.array([12, 10, 8, 6, 6, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 0], dtype=np.int64)
#: Code selection thresholds T_i (Table 5-16): code i when Sigma 2^14 < Gamma T_i (largest such i).
THRESHOLDS = np.array(
    [303336, 225404, 166979, 128672, 95597, 69670, 50678, 34898, 23331, 14935, 9282, 5510, 3195, 1928, 1112, 408],
    dtype=np.int64,
)
NUM_CODES = 16
_FILE = Path(__file__).with_name("low_entropy_codes.txt")


@dataclass(frozen=True)
class LowEntropyTables:
    """The arrays described in the module docstring (first axis: code index i)."""

    child: np.ndarray  # (16, nodes, 14) int32
    is_leaf: np.ndarray  # (16, nodes) bool
    word_value: np.ndarray  # (16, nodes) int64
    word_len: np.ndarray  # (16, nodes) int64
    symbol: np.ndarray  # (16, nodes) int64
    parent: np.ndarray  # (16, nodes) int64
    code_trie: np.ndarray  # (16, trie nodes, 2) int32
    flush_trie: np.ndarray  # (16, trie nodes, 2) int32


def _parse_word(text: str, limit: int) -> list[int]:
    if text == "-":
        return []
    expanded = re.sub(r"(.)\{(\d+)\}", lambda m: m.group(1) * int(m.group(2)), text)
    out = []
    for ch in expanded:
        s = limit + 1 if ch == "X" else int(ch, 16)
        if s > limit + 1 or (ch != "X" and s > limit):
            raise ValueError(f"symbol {ch!r} outside code alphabet 0..{limit}, X")
        out.append(s)
    return out


def _parse_codeword(text: str) -> tuple[int, int]:
    n, value = text.split("'h")
    n_bits, v = int(n), int(value, 16)
    if not 1 <= n_bits <= 32 or v >> n_bits:
        raise ValueError(f"bad codeword {text!r}")
    return v, n_bits


def _read_file() -> dict[tuple[str, int], list[tuple[list[int], int, int]]]:
    sections: dict[tuple[str, int], list[tuple[list[int], int, int]]] = {}
    current: tuple[str, int] | None = None
    for line in _FILE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, rest = line.partition(" ")
        if head in ("code", "flush"):
            current = (head, int(rest))
            sections[current] = []
            continue
        if current is None:
            raise ValueError(f"entry before the first section: {line!r}")
        limit = int(INPUT_SYMBOL_LIMITS[current[1]])
        value, width = _parse_codeword(rest.strip())
        sections[current].append((_parse_word(head, limit), value, width))
    return sections


def _reverse_trie(words: list[tuple[int, int, int]], size: int) -> np.ndarray:
    """Trie of (node, value, width) codewords read from their last bit; checks completeness."""
    trie = np.zeros((size, 2), dtype=np.int32)
    used = 1
    for node, value, width in words:
        t = 0
        for j in range(width):  # bit j counted from the end of the codeword
            bit = (value >> j) & 1
            nxt = int(trie[t, bit])
            if nxt < 0:
                raise ValueError("codewords are not prefix-free read backwards")
            if j == width - 1:
                if nxt != 0:
                    raise ValueError("codewords are not prefix-free read backwards")
                trie[t, bit] = -(node + 1)
            else:
                if nxt == 0:
                    nxt = used
                    used += 1
                    trie[t, bit] = nxt
                t = nxt
    if (trie[:used] == 0).any():
        raise ValueError("codewords are not complete (some bit string matches none)")
    return trie


@lru_cache(maxsize=1)
def low_entropy_tables() -> LowEntropyTables:
    """Parse and check ``low_entropy_codes.txt`` once (raises ``RuntimeError`` if it is damaged)."""
    try:
        sections = _read_file()
        trees = []
        for i in range(NUM_CODES):
            limit = int(INPUT_SYMBOL_LIMITS[i])
            nodes: dict[tuple[int, ...], int] = {(): 0}
            leaves: dict[tuple[int, ...], tuple[int, int]] = {}
            for word, value, width in sections[("code", i)]:
                key = tuple(word)
                if key in leaves:
                    raise ValueError(f"code {i}: input word listed twice")
                leaves[key] = (value, width)
                for j in range(1, len(key) + 1):
                    nodes.setdefault(key[:j], len(nodes))
            flush = {tuple(w): (v, n) for w, v, n in sections[("flush", i)]}
            inner = {k for k in nodes if k not in leaves}
            if set(flush) != inner:
                raise ValueError(f"code {i}: the flush table does not list exactly the incomplete prefixes")
            if any(k[:-1] in leaves for k in nodes if k):
                raise ValueError(f"code {i}: an input word is a prefix of another")
            for k in inner:
                if any(k + (s,) not in nodes for s in range(limit + 2)):
                    raise ValueError(f"code {i}: input words are not complete after prefix {k}")
            trees.append((nodes, leaves, flush))
        size = max(len(t[0]) for t in trees)
        child = np.full((NUM_CODES, size, 14), -1, dtype=np.int32)
        is_leaf = np.zeros((NUM_CODES, size), dtype=np.bool_)
        word_value = np.zeros((NUM_CODES, size), dtype=np.int64)
        word_len = np.zeros((NUM_CODES, size), dtype=np.int64)
        symbol = np.full((NUM_CODES, size), -1, dtype=np.int64)
        parent = np.full((NUM_CODES, size), -1, dtype=np.int64)
        code_trie = np.zeros((NUM_CODES, size, 2), dtype=np.int32)
        flush_trie = np.zeros((NUM_CODES, size, 2), dtype=np.int32)
        for i, (nodes, leaves, flush) in enumerate(trees):
            for key, n in nodes.items():
                if key:
                    child[i, nodes[key[:-1]], key[-1]] = n
                    symbol[i, n] = key[-1]
                    parent[i, n] = nodes[key[:-1]]
                is_leaf[i, n] = key in leaves
                word_value[i, n], word_len[i, n] = leaves[key] if key in leaves else flush[key]
            code_trie[i] = _reverse_trie([(nodes[k], v, w) for k, (v, w) in leaves.items()], size)
            flush_trie[i] = _reverse_trie([(nodes[k], v, w) for k, (v, w) in flush.items()], size)
    except (ValueError, KeyError) as exc:
        raise RuntimeError(f"{_FILE} is damaged ({exc}); reinstall hsbench") from None
    return LowEntropyTables(child, is_leaf, word_value, word_len, symbol, parent, code_trie, flush_trie)
