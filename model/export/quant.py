"""Int4 block quantization of weights, through onnxruntime's own kernels.

``quantize_matmul_4bits`` is what onnxruntime's ``MatMulNBitsQuantizer``
calls for each weight; calling it per tensor keeps the export streaming
(the quantizer tool wants the whole ModelProto in memory). Layouts, checked
against the operator schemas of onnxruntime 1.31/1.32:

* MatMulNBits ``B``: uint8 ``[N, k_blocks, block_size / 2]``, two 4-bit values
  a byte, low nibble first, quantized along K (the input features);
  ``scales`` ``[N, k_blocks]``; packed ``zero_points`` ``[N, ceil(k_blocks / 2)]``.
* QMoE ``fc*_experts_weights``: the same rows per expert, flattened to
  ``[E, N, K / 2]`` ("column major per expert": one row per output feature).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Int4Weight:
    packed: np.ndarray  # uint8 [N, k_blocks, block_size // 2]
    scales: np.ndarray  # float32 [N, k_blocks]
    zero_points: np.ndarray | None  # uint8 [N, ceil(k_blocks / 2)], None when symmetric
    n: int
    k: int
    block_size: int

    @property
    def nbytes(self) -> int:
        zp = 0 if self.zero_points is None else self.zero_points.nbytes
        return self.packed.nbytes + self.scales.nbytes + zp


def quantize_int4(weight_nk: np.ndarray, block_size: int, symmetric: bool) -> Int4Weight:
    """Quantize a ``[N, K]`` (out × in, the torch Linear layout) float32 weight to 4 bits."""
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits

    n, k = weight_nk.shape
    k_blocks = -(-k // block_size)
    kn = np.ascontiguousarray(weight_nk.T, dtype=np.float32)
    if k_blocks * block_size != k:
        kn = np.pad(kn, ((0, k_blocks * block_size - k), (0, 0)))
    packed = np.zeros((n, k_blocks, block_size // 2), dtype=np.uint8)
    scales = np.zeros((n, k_blocks), dtype=np.float32)
    zero_points = np.zeros((n, -(-k_blocks // 2)), dtype=np.uint8)
    quantize_matmul_4bits(packed, kn, scales, zero_points, block_size, n, k_blocks * block_size, symmetric)
    return Int4Weight(packed, scales, None if symmetric else zero_points, n, k, block_size)


def dequantize_int4(w: Int4Weight) -> np.ndarray:
    """The ``[N, K]`` float32 weight an Int4Weight stands for (used by tests and error reports)."""
    q = np.stack([w.packed & 0x0F, w.packed >> 4], axis=-1).reshape(w.n, -1, w.block_size).astype(np.float32)
    if w.zero_points is None:
        zp = np.full(q.shape[:2], 8.0, dtype=np.float32)
    else:
        zp = np.stack([w.zero_points & 0x0F, w.zero_points >> 4], axis=-1).reshape(w.n, -1)[:, : q.shape[1]]
        zp = zp.astype(np.float32)
    return ((q - zp[..., None]) * w.scales[..., None]).reshape(w.n, -1)[:, : w.k]
