"""Type stubs for the Rust extension ``stratum._native`` (native/src)."""
from typing_extensions import Buffer
from typing import Any, TypedDict

import numpy as np

__version__: str

class _BuildInfo(TypedDict):
    version: str
    trap: bool
    trap_error: str | None
    python: str

def xxh3_128(buf: Buffer, /) -> bytes:
    """16-byte xxh3-128 digest (big-endian) of the raw bytes of a C-contiguous buffer.

    Zero-copy; the GIL is released for large buffers. BufferError if not C-contiguous,
    TypeError for non-buffers and object arrays.
    """

class Hasher:
    """Streaming xxh3-128 (cheap to create)."""

    def __init__(self) -> None: ...
    def update(self, buf: Buffer, /) -> None:
        """Add raw buffer bytes (no framing); same rules as xxh3_128."""
    def update_str(self, s: str, /) -> None:
        """Add b"S" + u64 LE length + UTF-8 (lone surrogates as with surrogatepass)."""
    def update_int(self, i: int, /) -> None:
        """Add b"I" + u32 LE length n + n bytes two's complement LE, n = (bit_length + 8) // 8."""
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> Hasher: ...

def hash_objects(seq: list[Any] | tuple[Any, ...] | np.ndarray, /) -> bytes | None:
    """Order-sensitive digest of None/bool/int/float/str/bytes elements (exact types, canonical
    encoding, NaNs canonicalised); None if an element has another type."""

def build_info() -> _BuildInfo: ...

_trap: Any  # the cffi module stratum._trap, present when build_info()["trap"]

def executor_kernels() -> list[tuple[str, int]]:
    """Native kernels of the executor: (name, number of inputs). Element-wise float64."""

def execute_graph(
    nodes: list[tuple[str, list[int], Any, str]], outputs: list[int], jobs: int,
    size_of: Any, memory_budget: int | None = None, spill: Any = None, load: Any = None,
) -> tuple[dict[int, Any], dict[str, Any], list[tuple[int, BaseException]]]:
    """Run a graph (see stratum/replay/executor.py): nodes are (op, input ids < own id, callable or
    kernel name, spill key). Returns output values, stats, and the failed nodes' exceptions."""
