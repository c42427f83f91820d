"""Where a learned codec runs: ``auto`` (CUDA when available, else the CPU), ``cpu`` or ``cuda[:N]``."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from hsbench.errors import CodecParameterError, CodecUnavailableError


def check_device_name(name: str) -> str:
    """Validate a device name without importing torch (``auto``, ``cpu``, ``cuda`` or ``cuda:N``)."""
    text = str(name).strip().lower()
    if text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise CodecParameterError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")


def resolve_device(name: str) -> Any:
    """The ``torch.device`` for ``name``; ``auto`` picks CUDA when ``torch.cuda.is_available()``.

    Asking for CUDA on a machine without it is an error, never a silent fall-back to the CPU.
    """
    import torch

    text = check_device_name(name)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CodecUnavailableError(
                f"device {name!r} was asked for but this torch ({torch.__version__}) sees no CUDA GPU; "
                "use device=cpu or device=auto"
            )
        index = int(text[5:]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise CodecUnavailableError(
                f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
    return torch.device(text)


@contextlib.contextmanager
def deterministic(threads: int) -> Iterator[None]:
    """Run the body on ``threads`` torch threads with ``torch.use_deterministic_algorithms``; restore both after.

    Training under it is reproducible on the CPU: same seed, same thread count, same weights (a
    different thread count may change float reduction orders, so recipes fix it).
    """
    import torch

    before_threads = torch.get_num_threads()
    before_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(before_threads)
        torch.use_deterministic_algorithms(before_det)
