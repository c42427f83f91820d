"""Generalized divisive normalization (GDN / IGDN) and the bounded reparametrisations it needs.

Ballé, Laparra, Simoncelli, "Density modeling of images using a generalized normalization
transformation", ICLR 2016, equation 1 (and "End-to-end optimized image compression",
ICLR 2017, section 2)::

    GDN:   y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)
    IGDN:  y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)        (approximate inverse, decoder side)

``beta`` and ``gamma`` must stay positive / non-negative during training. As in Ballé et
al. 2018 (appendix 6.1 of "Variational image compression with a scale hyperprior") they are
stored as ``theta`` with ``beta = max(theta, sqrt(beta_min + p))^2 - p`` (pedestal ``p = 2^-36``),
where the bound is a :func:`lower_bound` whose gradient still pulls a parameter back up
when it sits on the bound. torch is imported by this module: import it lazily.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_PEDESTAL = 2.0**-36


class _LowerBound(torch.autograd.Function):
    """``max(x, bound)`` whose gradient passes where ``x >= bound`` or where it would raise ``x``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        x, bound = ctx.saved_tensors
        passes = (x >= bound) | (grad < 0)
        return passes.to(grad.dtype) * grad, None


def lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``max(x, bound)`` with the "gradient pulls it back" rule of Ballé et al. 2018 (module docstring)."""
    return _LowerBound.apply(x, torch.tensor(float(bound), dtype=x.dtype, device=x.device))


class NonNegative(nn.Module):
    """Reparametrisation ``v = max(theta, sqrt(minimum + p))^2 - p`` keeping ``v >= minimum``."""

    def __init__(self, minimum: float = 0.0) -> None:
        super().__init__()
        self.minimum = float(minimum)
        self.bound = (self.minimum + _PEDESTAL) ** 0.5

    def init(self, value: torch.Tensor) -> torch.Tensor:
        """``theta`` for a desired value ``v``: ``sqrt(max(v + p, p))``."""
        return torch.sqrt(torch.clamp(value + _PEDESTAL, min=_PEDESTAL))

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return lower_bound(theta, self.bound) ** 2 - _PEDESTAL


class GDN(nn.Module):
    """GDN (``inverse=False``) or IGDN (``inverse=True``) over the channels of ``(N, C, H, W)`` maps.

    Initialised as Ballé et al.: ``beta = 1``, ``gamma = 0.1 I`` (near the identity up to a scale).
    """

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_param = NonNegative(beta_min)
        self.gamma_param = NonNegative(0.0)
        self.beta = nn.Parameter(self.beta_param.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_param.init(gamma_init * torch.eye(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        beta = self.beta_param(self.beta)
        gamma = self.gamma_param(self.gamma).reshape(c, c, 1, 1)
        norm = F.conv2d(x * x, gamma, beta)
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))
