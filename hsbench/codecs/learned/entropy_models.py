"""Entropy models of learned compression: the factorized prior and the indexed Gaussian conditional.

Reimplemented from the papers (no code copied):

- :class:`EntropyBottleneck`: the *factorized prior* of Ballé, Minnen, Singh, Hwang, Johnston,
  "Variational image compression with a scale hyperprior", ICLR 2018, appendix 6.1. Each
  channel ``c`` has a learned cumulative ``c(x) = sigmoid(f_K(... f_1(x)))`` made monotone by
  construction: ``f_k(x) = h_k(H_k x + b_k)`` with ``H_k = softplus(H~_k)`` and
  ``h_k(x) = x + tanh(a_k) * tanh(x)`` (``h_K = identity``), filters ``(3, 3, 3)``, so
  ``1 -> 3 -> 3 -> 3 -> 1``. The likelihood of a value ``y~`` is
  ``p(y~) = c(y~ + 1/2) - c(y~ - 1/2)`` (evaluated on the side of the median where the sigmoids
  are not saturated, for accuracy). Learned *quantiles* (median and the ``tail_mass / 2`` tails)
  are fitted by :meth:`EntropyBottleneck.aux_loss` and bound the coded support.
- :class:`GaussianConditional`: ``y ~ N(mu, sigma^2)`` convolved with ``U(-1/2, 1/2)``,
  ``p(y~) = Phi((1/2 - |y~ - mu|) / sigma) - Phi((-1/2 - |y~ - mu|) / sigma)`` (ICLR 2018, eq. 7;
  Minnen, Ballé, Toderici, "Joint autoregressive and hierarchical priors", NeurIPS 2018 for the
  mean), with ``sigma`` lower-bounded at 0.11. For coding, ``sigma`` is replaced by an entry of a
  fixed, log-spaced *scale table* (``0.11 .. 64``, 64 entries) and each entry has its own
  integer table: Ballé's "indexed" Gaussian.

Training vs coding. ``forward`` adds uniform noise ``U(-1/2, 1/2)`` (``mode="noise"``, the
default in training), rounds (``"round"``, the default in eval: ``round(y - m) + m`` around the
median / mean ``m``) or rounds with a straight-through gradient for the decoder path while the
rate term still sees noise (``"ste"``).

Coding is bit-exact across machines, devices and thread counts because only integers reach
the range coder. :meth:`update` (called once when a model is exported) evaluates every pmf in
float64 on the CPU, quantises it to integer frequencies summing to ``2**16`` (each at least 1;
:func:`pmf_to_counts`) and stores them as integer buffers in the state dict, so a checkpoint
carries its coding tables. At coding time the symbols ``v - low_t`` of the table ``t`` (channel
or scale index) are range coded with constriction (``stream.queue.RangeEncoder``; Bamler 2022)
from a ``Categorical`` built from those integers (given as exactly representable floats, which
constriction converts to its fixed-point model by a deterministic integer algorithm). Each table
ends with an *escape* symbol: a value outside the table's support is coded as the escape
followed by the value itself in two uniform 16-bit halves, so nothing is ever clipped and
decoding is exact. Symbols are coded grouped by table index, in index order, each group in
flattened order: the decoder, which knows the indexes, reads them back in the same order.

Several latents go into one stream through :class:`RangeWriter` / :class:`RangeReader`;
:meth:`RangeReader.finish` checks that the decoder used up its data exactly.

This module imports torch: import it lazily (only where a model is built).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hsbench.codecs.learned.gdn import lower_bound
from hsbench.errors import CorruptStreamError, HsbenchError

#: integer frequencies of every coding table sum to 2**PRECISION
PRECISION = 16
#: probability mass left outside a Gaussian table's support, the factorized prior's quantile targets
#: (its rounding centre is the median) and the likelihood floor
TAIL_MASS = 1e-9
LIKELIHOOD_BOUND = 1e-9
SCALE_BOUND = 0.11
#: widest one-sided support of a factorized-prior table (rarer values are escape-coded)
MAX_HALF_SUPPORT = 2048
#: learned tail mass left outside each side of a factorized-prior table: 2**-PRECISION, the
#: smallest probability a table can give a symbol, so a value kept out is no likelier than one kept in
TABLE_TAIL = 2.0**-PRECISION
_RAW_OFFSET = 1 << 31  # escaped values are coded as v + 2**31 in two 16-bit halves


def default_scale_table(low: float = SCALE_BOUND, high: float = 64.0, levels: int = 64) -> np.ndarray:
    """Log-spaced scale table ``exp(linspace(log low, log high, levels))`` (Ballé 2018; float64)."""
    return np.exp(np.linspace(math.log(low), math.log(high), levels))


def pmf_to_counts(pmf: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Integer frequencies ``>= 1`` summing exactly to ``2**precision`` that follow ``pmf`` (float64, 1-D).

    ``n_i = 1 + floor(p_i / sum(p) * (2**precision - K))``, the remainder going one by one to the
    largest ``p_i`` (ties: lowest index first). Pure float64 numpy on a fixed input: the same
    result everywhere; it runs only in :meth:`_TableCoder.update`, never while coding.
    """
    p = np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None)
    k = p.size
    total = 1 << precision
    if k < 2 or k >= total:
        raise ValueError(f"a coding table needs 2..{total - 1} symbols, got {k}")
    s = p.sum()
    p = p / s if s > 0 else np.full(k, 1.0 / k)
    counts = 1 + np.floor(p * (total - k)).astype(np.int64)
    rest = total - int(counts.sum())
    order = np.argsort(-p, kind="stable")
    counts[order[: rest % k]] += 1
    counts += rest // k
    assert int(counts.sum()) == total and counts.min() >= 1
    return counts


class RangeWriter:
    """One constriction range-coder stream shared by every latent of an image."""

    def __init__(self) -> None:
        import constriction

        self._encoder = constriction.stream.queue.RangeEncoder()
        self._uniform = constriction.stream.model.Uniform(1 << 16)

    def write(self, symbols: np.ndarray, model: Any) -> None:
        """Append ``symbols`` (int, 1-D) coded with the constriction ``model``."""
        if symbols.size:
            self._encoder.encode(np.ascontiguousarray(symbols, dtype=np.int32).ravel(), model)

    def write_raw(self, values: np.ndarray) -> None:
        """Append integers ``|v| < 2**31`` verbatim (escapes): two uniform 16-bit halves each."""
        if values.size:
            if np.abs(values).max() >= _RAW_OFFSET - 1:
                raise HsbenchError("a latent value is beyond +-2**31: the model diverged (non-finite latent?)")
            raw = values.astype(np.int64) + _RAW_OFFSET
            halves = np.stack([raw >> 16, raw & 0xFFFF], axis=1).ravel()
            self.write(halves, self._uniform)

    def words(self) -> np.ndarray:
        """The compressed stream as little-endian-ready ``uint32`` words."""
        return np.asarray(self._encoder.get_compressed(), dtype=np.uint32)

    def tobytes(self) -> bytes:
        """The stream as bytes (``uint32`` words, little-endian)."""
        return self.words().astype("<u4").tobytes()


class RangeReader:
    """Reads what a :class:`RangeWriter` wrote, in the same order."""

    def __init__(self, data: bytes | memoryview | np.ndarray) -> None:
        import constriction

        if isinstance(data, np.ndarray):
            words = data.astype(np.uint32)
        else:
            raw = bytes(data)
            if len(raw) % 4:
                raise CorruptStreamError("the range-coded latent is not a whole number of 32-bit words")
            words = np.frombuffer(raw, dtype="<u4").astype(np.uint32)
        self._decoder = constriction.stream.queue.RangeDecoder(words)
        self._uniform = constriction.stream.model.Uniform(1 << 16)

    def read(self, count: int, model: Any) -> np.ndarray:
        """The next ``count`` symbols under ``model`` (int64)."""
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        try:
            return np.asarray(self._decoder.decode(model, int(count)), dtype=np.int64)
        except Exception as exc:  # constriction refusing a damaged stream
            raise CorruptStreamError(f"range decoder failed on the latent stream ({exc})") from exc

    def read_raw(self, count: int) -> np.ndarray:
        """The next ``count`` verbatim integers written by :meth:`RangeWriter.write_raw`."""
        halves = self.read(2 * count, self._uniform).reshape(count, 2)
        return (halves[:, 0] << 16 | halves[:, 1]) - _RAW_OFFSET

    def finish(self) -> None:
        """Raise :class:`CorruptStreamError` unless the decoder consumed its data exactly."""
        if not self._decoder.maybe_exhausted():
            raise CorruptStreamError(
                "the latent stream holds more data than the model decoded (truncated, extended or forged stream)"
            )


class _TableCoder(nn.Module):
    """Integer coding tables (one per index ``t``) stored as buffers, and coding of integer values with them.

    ``_cdf_counts`` holds the tables back to back (each of ``length_t + 1`` frequencies, the last the
    escape), ``_cdf_start`` where each starts, ``_cdf_low`` the value of each table's first symbol.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_cdf_counts", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_cdf_start", torch.zeros(1, dtype=torch.int64))
        self.register_buffer("_cdf_low", torch.zeros(0, dtype=torch.int32))
        self._models: dict[int, Any] = {}

    @property
    def tables_ready(self) -> bool:
        """Whether :meth:`update` has built the coding tables."""
        return self._cdf_low.numel() > 0

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        for name in ("_cdf_counts", "_cdf_start", "_cdf_low"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key]))
        self._models = {}
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _set_tables(self, pmfs: Sequence[np.ndarray], lows: Sequence[int]) -> None:
        """Quantise each pmf (its support ``low_t .. low_t + len - 1``) plus its escape mass into integers."""
        rows = []
        for pmf in pmfs:
            pmf = np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None)
            rows.append(pmf_to_counts(np.append(pmf, max(1.0 - float(pmf.sum()), 0.0))))
        start = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
        device = self._cdf_start.device
        self._cdf_counts = torch.from_numpy(np.concatenate(rows).astype(np.int32)).to(device)
        self._cdf_start = torch.from_numpy(start).to(device)
        self._cdf_low = torch.tensor([int(v) for v in lows], dtype=torch.int32, device=device)
        self._models = {}

    def _table(self, t: int) -> tuple[Any, int, int]:
        """The constriction model of table ``t``, its support length (without escape) and its low value."""
        import constriction

        start = self._cdf_start.cpu().numpy()
        if t not in self._models:
            counts = self._cdf_counts[int(start[t]) : int(start[t + 1])].cpu().numpy().astype(np.float64)
            self._models[t] = constriction.stream.model.Categorical(counts, perfect=False)
        return self._models[t], int(start[t + 1] - start[t] - 1), int(self._cdf_low[t])

    def _check_ready(self) -> None:
        if not self.tables_ready:
            raise HsbenchError(f"{type(self).__name__}: coding tables missing; call update() after training")

    def write_values(self, writer: RangeWriter, values: np.ndarray, indexes: np.ndarray) -> None:
        """Code the integers ``values`` with the tables ``indexes`` (same shape), grouped by index."""
        self._check_ready()
        v = np.asarray(values, dtype=np.int64).ravel()
        idx = np.asarray(indexes, dtype=np.int64).ravel()
        for t in np.unique(idx):
            model, length, low = self._table(int(t))
            part = v[idx == t] - low
            escaped = (part < 0) | (part >= length)
            writer.write(np.where(escaped, length, part), model)
            writer.write_raw(part[escaped] + low)

    def read_values(self, reader: RangeReader, indexes: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`write_values`: the integers coded with ``indexes`` (int64, its shape)."""
        self._check_ready()
        idx = np.asarray(indexes, dtype=np.int64)
        flat = idx.ravel()
        out = np.empty(flat.size, dtype=np.int64)
        tables = self._cdf_low.numel()
        if flat.size and (flat.min() < 0 or flat.max() >= tables):
            raise CorruptStreamError(f"coding-table index outside 0..{tables - 1}")
        for t in np.unique(flat):
            model, length, low = self._table(int(t))
            sel = flat == t
            part = reader.read(int(sel.sum()), model)
            escaped = part == length
            values = part + low
            values[escaped] = reader.read_raw(int(escaped.sum()))
            out[sel] = values
        return out.reshape(idx.shape)


def _quantise(y: torch.Tensor, centre: torch.Tensor | None, mode: str) -> torch.Tensor:
    """``noise``: ``y + U(-1/2, 1/2)``; ``round``: ``round(y - m) + m``; ``ste``: rounding, identity gradient."""
    if mode == "noise":
        return y + torch.empty_like(y).uniform_(-0.5, 0.5)
    m = 0.0 if centre is None else centre
    rounded = torch.round(y - m) + m
    if mode == "round":
        return rounded
    if mode == "ste":
        return y + (rounded - y).detach()
    raise ValueError(f"quantisation mode must be noise, round or ste, got {mode!r}")


class EntropyBottleneck(_TableCoder):
    """Factorized prior over ``C`` channels (module docstring; Ballé et al. 2018, appendix 6.1)."""

    def __init__(self, channels: int, filters: Sequence[int] = (3, 3, 3), init_scale: float = 10.0,
                 tail_mass: float = TAIL_MASS) -> None:
        super().__init__()
        self.channels = int(channels)
        self.tail_mass = float(tail_mass)
        dims = (1, *map(int, filters), 1)
        scale = init_scale ** (1.0 / (len(dims) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(dims) - 1):
            init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, dims[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
        q = torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1)
        self.quantiles = nn.Parameter(q)

    def _logits_cumulative(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``f_K(... f_1(x))`` for ``x`` of shape ``(C, 1, n)`` (the sigmoid of it is the cumulative)."""
        logits = x
        for i, matrix in enumerate(self.matrices):
            m, b = matrix, self.biases[i]
            if dtype is not None:  # exact float64 evaluation on the CPU (update())
                m, b = m.to("cpu", dtype), b.to("cpu", dtype)
            logits = torch.matmul(F.softplus(m), logits) + b
            if i < len(self.factors):
                a = self.factors[i] if dtype is None else self.factors[i].to("cpu", dtype)
                logits = logits + torch.tanh(a) * torch.tanh(logits)
        return logits

    @property
    def medians(self) -> torch.Tensor:
        """Per-channel medians ``(C,)`` (rounding centres)."""
        return self.quantiles[:, 0, 1]

    def _likelihood_cl(self, v: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        lower = self._logits_cumulative(v - 0.5, dtype)
        upper = self._logits_cumulative(v + 0.5, dtype)
        sign = -torch.sign(lower + upper).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """``p(y)`` of every element of ``y`` ``(N, C, H, W)`` (lower-bounded at 1e-9)."""
        c = y.shape[1]
        v = y.transpose(0, 1).reshape(c, 1, -1)
        lik = self._likelihood_cl(v)
        lik = lik.reshape(c, y.shape[0], *y.shape[2:]).transpose(0, 1)
        return lower_bound(lik, LIKELIHOOD_BOUND)

    def forward(self, y: torch.Tensor, mode: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y_hat, likelihoods)``; ``mode`` defaults to ``noise`` in training, ``round`` in eval."""
        mode = mode or ("noise" if self.training else "round")
        med = self.medians.detach().reshape(1, -1, *([1] * (y.dim() - 2)))
        if mode == "ste":
            return _quantise(y, med, "ste"), self.likelihood(_quantise(y, None, "noise"))
        y_hat = _quantise(y, med, mode)
        return y_hat, self.likelihood(y_hat)

    def aux_loss(self) -> torch.Tensor:
        """``sum |logits(q) - target|`` fitting the quantiles to ``(tail/2, 1/2, 1 - tail/2)`` of the density."""
        t = math.log(2.0 / self.tail_mass - 1.0)
        target = torch.tensor([-t, 0.0, t], device=self.quantiles.device)
        return torch.abs(self._logits_cumulative(self.quantiles) - target).sum()

    @torch.no_grad()
    def update(self) -> None:
        """Build the integer table of every channel from its learned cumulative (float64, CPU).

        Channel ``c`` gets the symbols ``median + k``, ``-K_lo <= k <= K_hi``, where ``K_lo`` is the
        smallest ``k >= 0`` whose learned mass below ``median - k`` is under :data:`TABLE_TAIL`
        (likewise above), at most :data:`MAX_HALF_SUPPORT`. The support comes from the density
        itself, not from the aux-fitted quantiles: a short training leaves those too narrow, and
        every value outside a table costs an escape (about 48 bits).
        """
        med = self.quantiles.detach().to("cpu", torch.float64)[:, 0, 1]
        k = torch.arange(MAX_HALF_SUPPORT + 1, dtype=torch.float64)
        c = self.channels
        below = self._logits_cumulative((med[:, None] - k[None, :] - 0.5).reshape(c, 1, -1), torch.float64)
        above = self._logits_cumulative((med[:, None] + k[None, :] + 0.5).reshape(c, 1, -1), torch.float64)
        mass_below = torch.sigmoid(below.reshape(c, -1))  # P(y < median - k - 1/2), falling with k
        mass_above = torch.sigmoid(-above.reshape(c, -1))  # P(y > median + k + 1/2)
        minima = torch.clamp((mass_below >= TABLE_TAIL).sum(1), 0, MAX_HALF_SUPPORT).to(torch.int64)
        maxima = torch.clamp((mass_above >= TABLE_TAIL).sum(1), 0, MAX_HALF_SUPPORT).to(torch.int64)
        lengths = (minima + maxima + 1).tolist()
        span = int(max(lengths))
        offsets = torch.arange(span, dtype=torch.float64)[None, :] - minima[:, None].double()
        samples = (offsets + med[:, None]).reshape(c, 1, span)
        pmf = self._likelihood_cl(samples, torch.float64).reshape(c, span).numpy()
        self._set_tables([pmf[i, : lengths[i]] for i in range(c)], (-minima).tolist())

    def _indexes_and_centres(self, shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        c = np.arange(self.channels).reshape(1, -1, *([1] * (len(shape) - 2)))
        med = self.medians.detach().to("cpu", torch.float32).numpy().reshape(c.shape)
        return np.broadcast_to(c, tuple(shape)), med

    def write(self, writer: RangeWriter, y: torch.Tensor) -> torch.Tensor:
        """Code ``round(y - median)`` of ``y`` ``(N, C, H, W)``; return ``y_hat`` (float32, CPU) as decoded."""
        idx, med = self._indexes_and_centres(y.shape)
        values = np.rint(y.detach().to("cpu", torch.float32).numpy() - med).astype(np.int64)
        self.write_values(writer, values, idx)
        return torch.from_numpy((values.astype(np.float32) + med).astype(np.float32))

    def read(self, reader: RangeReader, shape: Sequence[int]) -> torch.Tensor:
        """``y_hat`` ``(N, C, H, W)`` (float32, CPU) read back from ``reader``."""
        idx, med = self._indexes_and_centres(shape)
        values = self.read_values(reader, idx)
        return torch.from_numpy((values.astype(np.float32) + med).astype(np.float32))

    def compress(self, y: torch.Tensor) -> np.ndarray:
        """``y`` coded alone: the ``uint32`` words of a fresh stream."""
        writer = RangeWriter()
        self.write(writer, y)
        return writer.words()

    def decompress(self, words: np.ndarray, shape: Sequence[int]) -> torch.Tensor:
        """Inverse of :meth:`compress` for a latent of ``shape``."""
        reader = RangeReader(words)
        y_hat = self.read(reader, shape)
        reader.finish()
        return y_hat


def _std_cdf(x: torch.Tensor) -> torch.Tensor:
    """Standard normal cumulative ``Phi(x) = erfc(-x / sqrt 2) / 2``."""
    return 0.5 * torch.erfc(-x * (2.0**-0.5))


class GaussianConditional(_TableCoder):
    """Indexed Gaussian conditional (module docstring): likelihoods for training, integer tables for coding."""

    def __init__(self, scale_table: Sequence[float] | None = None, scale_bound: float = SCALE_BOUND,
                 tail_mass: float = TAIL_MASS) -> None:
        super().__init__()
        table = default_scale_table() if scale_table is None else np.asarray(scale_table, dtype=np.float64)
        if table.ndim != 1 or table.size < 1 or np.any(np.diff(table) <= 0) or table[0] <= 0:
            raise ValueError("scale_table must be positive and strictly increasing")
        self.register_buffer("scale_table", torch.tensor(table, dtype=torch.float64))
        self.scale_bound = float(scale_bound)
        self.tail_mass = float(tail_mass)

    def likelihood(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None) -> torch.Tensor:
        """``Phi((1/2 - |y - mu|) / s) - Phi((-1/2 - |y - mu|) / s)``, ``s = max(scales, 0.11)``, floor 1e-9."""
        v = torch.abs(y - means if means is not None else y)
        s = lower_bound(scales, self.scale_bound)
        lik = _std_cdf((0.5 - v) / s) - _std_cdf((-0.5 - v) / s)
        return lower_bound(lik, LIKELIHOOD_BOUND)

    def forward(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None,
                mode: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y_hat, likelihoods)``, quantised around ``means`` (``mode`` as :class:`EntropyBottleneck`)."""
        mode = mode or ("noise" if self.training else "round")
        if mode == "ste":
            return _quantise(y, means, "ste"), self.likelihood(_quantise(y, None, "noise"), scales, means)
        y_hat = _quantise(y, means, mode)
        return y_hat, self.likelihood(y_hat, scales, means)

    def build_indexes(self, scales: np.ndarray | torch.Tensor) -> np.ndarray:
        """Table index of each scale: the smallest table entry ``>= scale`` (the last for larger scales).

        ``searchsorted(table[:-1], s, "left")`` on float64 numbers on the CPU. Encoder and decoder
        compute ``scales`` from the same decoded ``z`` in float64 on the CPU (see the hyperprior
        model), so they agree unless two platforms' float64 convolutions differ in the last bit
        right at a table boundary (odds about 1e-13 per element; then decoding fails loudly).
        """
        s = scales.detach().cpu().numpy() if isinstance(scales, torch.Tensor) else np.asarray(scales)
        table = self.scale_table.cpu().numpy()
        return np.searchsorted(table[:-1], s.astype(np.float64), side="left").astype(np.int64)

    @torch.no_grad()
    def update(self) -> None:
        """Integer table of each scale ``s_t`` over ``[-K_t, K_t]``, ``K_t = ceil(s_t Phi^-1(1 - tail/2))``."""
        from statistics import NormalDist

        bound = -NormalDist().inv_cdf(self.tail_mass / 2.0)
        pmfs, lows = [], []
        for s in self.scale_table.cpu().numpy():
            k = int(math.ceil(float(s) * bound))
            v = torch.arange(-k, k + 1, dtype=torch.float64)
            sd = torch.tensor(float(s), dtype=torch.float64)
            pmfs.append((_std_cdf((v + 0.5) / sd) - _std_cdf((v - 0.5) / sd)).numpy())
            lows.append(-k)
        self._set_tables(pmfs, lows)

    def write(self, writer: RangeWriter, y: torch.Tensor, indexes: np.ndarray,
              means: np.ndarray | None = None) -> torch.Tensor:
        """Code ``round(y - means)`` with the tables ``indexes``; return ``y_hat`` (float32, CPU) as decoded."""
        y64 = y.detach().to("cpu", torch.float64).numpy()
        m = 0.0 if means is None else np.asarray(means, dtype=np.float64)
        values = np.rint(y64 - m).astype(np.int64)
        self.write_values(writer, values, indexes)
        return torch.from_numpy((values + m).astype(np.float32))

    def read(self, reader: RangeReader, indexes: np.ndarray, means: np.ndarray | None = None) -> torch.Tensor:
        """``y_hat`` (float32, CPU) read back with the tables ``indexes`` around ``means``."""
        values = self.read_values(reader, indexes)
        m = 0.0 if means is None else np.asarray(means, dtype=np.float64)
        return torch.from_numpy((values + m).astype(np.float32))

    def compress(self, y: torch.Tensor, indexes: np.ndarray, means: np.ndarray | None = None) -> np.ndarray:
        """``y`` coded alone: the ``uint32`` words of a fresh stream."""
        writer = RangeWriter()
        self.write(writer, y, indexes, means)
        return writer.words()

    def decompress(self, words: np.ndarray, indexes: np.ndarray, means: np.ndarray | None = None) -> torch.Tensor:
        """Inverse of :meth:`compress`."""
        reader = RangeReader(words)
        y_hat = self.read(reader, indexes, means)
        reader.finish()
        return y_hat
