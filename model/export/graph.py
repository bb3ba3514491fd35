"""A small ONNX graph builder whose weights go straight to disk.

``Graph`` collects nodes with hierarchical, deterministic names
(``/model/layers.3/linear_attn/conv``; outputs ``{node}/output_{i}``) and
writes every weight to the external-data file the moment it is added, so the
in-memory ModelProto only holds names, shapes and offsets. Small constants
(shapes, axes) stay inline.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

# ONNX Runtime 1.31 rejects IR version 14, which onnx 1.23 writes by default.
IR_VERSION = 10
OPSET = 21
MS_DOMAIN = "com.microsoft"

_NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
}
try:  # int4 initializers (DequantizeLinear weight-only 4-bit): onnx depends on ml_dtypes
    import ml_dtypes

    INT4 = np.dtype(ml_dtypes.int4)
    _NP_TO_ONNX[INT4] = TensorProto.INT4
except ImportError:  # pragma: no cover
    INT4 = None
_PAGE = 4096
_SMALL = 1 << 20


_COPY_SLAB = 64 << 20  # bytes per slab when a weight must be copied to be written


class ExternalData:
    """The ``model.onnx.data`` file: space is reserved per tensor, then filled.

    Reserving lets several tensors be written side by side (the fc1 and fc2
    stacks of a MoE layer grow expert by expert), each at its own offset.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.offset = 0  # end of the reserved space
        self.tensors = 0
        # name → (dtype, shape, offset, nbytes) of every tensor written: graphs sharing this file
        # (the NPU variant's prefill and decode graphs) refer to one copy of each weight.
        self.written: dict[str, tuple[np.dtype, tuple[int, ...], int, int]] = {}

    def reserve(self, nbytes: int) -> int:
        align = _PAGE if nbytes >= _SMALL else 64
        start = self.offset + (-self.offset) % align
        self.offset = start + nbytes
        self.tensors += 1
        return start

    def write_at(self, position: int, data: memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, position)
            view, position = view[written:], position + written

    def close(self) -> None:
        os.ftruncate(self._fd, self.offset)
        os.fsync(self._fd)
        os.close(self._fd)


class TensorStream:
    """Writes one external tensor piece by piece (e.g. the experts of a MoE layer)."""

    def __init__(self, graph: Graph, name: str, dtype: np.dtype, shape: Sequence[int]):
        self.graph, self.name, self.dtype, self.shape = graph, name, np.dtype(dtype), tuple(shape)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.start = graph.data.reserve(self.nbytes)
        self.written = 0

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        if self.written + chunk.nbytes > self.nbytes:
            raise RuntimeError(f"{self.name}: more data than its shape {self.shape} holds")
        self.graph.data.write_at(self.start + self.written, memoryview(chunk).cast("B"))
        self.written += chunk.nbytes

    def close(self) -> str:
        if self.written != self.nbytes:
            raise RuntimeError(f"{self.name}: wrote {self.written} bytes, expected {self.nbytes}")
        self.graph._register_external(self.name, self.dtype, self.shape, self.start, self.nbytes)
        return self.name


class Int4Stream:
    """An INT4 tensor written piece by piece (row-major): every piece but the last an even count."""

    def __init__(self, graph: "Graph", name: str, shape: Sequence[int]):
        self.graph, self.name, self.shape = graph, name, tuple(shape)
        self.bytes = TensorStream(graph, name, np.uint8, ((int(np.prod(self.shape, dtype=np.int64)) + 1) // 2,))
        self.odd = False

    def write(self, q: np.ndarray) -> None:
        if self.odd:
            raise RuntimeError(f"{self.name}: a piece after an odd-sized one would straddle a byte")
        nib = (np.asarray(q, np.int8).ravel() & 0x0F).astype(np.uint8)
        if nib.size % 2:
            self.odd = True
            nib = np.concatenate([nib, np.zeros(1, np.uint8)])
        self.bytes.write(nib[0::2] | (nib[1::2] << 4))

    def close(self) -> str:
        b = self.bytes
        if b.written != b.nbytes:
            raise RuntimeError(f"{self.name}: wrote {b.written} bytes, expected {b.nbytes}")
        self.graph._register_external(self.name, INT4, self.shape, b.start, b.nbytes)
        return self.name


class Graph:
    def __init__(self, data_path: Path, float_dtype: np.dtype = np.dtype(np.float32),
                 data: ExternalData | None = None):
        """``data``: an external-data file another graph already writes to (weights are shared)."""
        self.data = data if data is not None else ExternalData(data_path)
        self.float_dtype = np.dtype(float_dtype)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._names: set[str] = set()
        self._consts: dict[tuple, str] = {}
        self.weight_bytes = 0

    # --- weights ------------------------------------------------------------------
    def weight(self, name: str, array: np.ndarray, dtype: np.dtype | None = None) -> str:
        """Write ``array`` to external data now; returns the initializer name.

        A view that needs a copy to be written (a transposed matrix, a cast to fp16) is copied
        in slabs of leading-axis rows, never whole: the fp32 ``lm_head`` of the real model is
        1.16 GiB, and a whole transposed copy beside it was the exporter's peak.
        """
        dtype = np.dtype(dtype or array.dtype)
        stream = TensorStream(self, name, dtype, array.shape)
        if array.ndim == 0 or (array.flags.c_contiguous and array.dtype == dtype):
            stream.write(np.ascontiguousarray(array))
        else:
            row_bytes = max(1, array[0].size * dtype.itemsize) if array.shape[0] else 1
            step = max(1, _COPY_SLAB // row_bytes)
            for start in range(0, array.shape[0], step):
                stream.write(np.ascontiguousarray(array[start:start + step], dtype=dtype))
        return stream.close()

    def float_weight(self, name: str, array: np.ndarray) -> str:
        """A weight in the graph's float precision (fp32 or fp16)."""
        return self.weight(name, array, self.float_dtype)

    def weight_int4(self, name: str, q: np.ndarray) -> str:
        """Signed 4-bit values ``q`` (ints in [-8, 7]) as an INT4 initializer: two a byte, low nibble first
        (ONNX's packing), in row-major order of the whole tensor."""
        stream = Int4Stream(self, name, q.shape)
        stream.write(q)
        return stream.close()

    def stream_int4(self, name: str, shape: Sequence[int]) -> "Int4Stream":
        return Int4Stream(self, name, shape)

    def stream(self, name: str, dtype: np.dtype, shape: Sequence[int]) -> TensorStream:
        return TensorStream(self, name, dtype, shape)

    def reuse(self, name: str) -> str | None:
        """``name`` if another graph on this data file already wrote it (now referenced here too)."""
        if name not in self.data.written or name in self._names:
            return None
        dtype, shape, offset, nbytes = self.data.written[name]
        self._register_external(name, dtype, shape, offset, nbytes)
        return name

    def _register_external(self, name, dtype, shape, offset, nbytes) -> None:
        self._claim(name)
        self.data.written[name] = (np.dtype(dtype), tuple(shape), offset, nbytes)
        t = TensorProto()
        t.name = name
        t.data_type = _NP_TO_ONNX[np.dtype(dtype)]
        t.dims.extend(shape)
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.data.path.name), ("offset", str(offset)), ("length", str(nbytes))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        self.initializers.append(t)
        self.weight_bytes += nbytes

    def const(self, values, dtype=np.int64, name: str | None = None) -> str:
        """An inline constant, shared between nodes that need the same value."""
        array = np.asarray(values, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key in self._consts:
            return self._consts[key]
        name = name or f"/model/constants/{array.dtype.name}_{len(self._consts)}"
        self._claim(name)
        self.initializers.append(onnx.numpy_helper.from_array(array, name))
        self._consts[key] = name
        return name

    # --- nodes --------------------------------------------------------------------
    def node(
        self,
        op: str,
        inputs: Sequence[str],
        name: str,
        outputs: int | Sequence[str] = 1,
        domain: str = "",
        **attrs,
    ) -> list[str]:
        """Add ``op`` named ``name``; returns its output names (``{name}/output_{i}`` by default)."""
        self._claim(name)
        if isinstance(outputs, int):
            outputs = [f"{name}/output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), list(outputs), name=name, domain=domain or None, **attrs))
        return list(outputs)

    def op(self, op: str, inputs: Sequence[str], name: str, domain: str = "", **attrs) -> str:
        """Single-output shorthand for ``node``."""
        return self.node(op, inputs, name, 1, domain, **attrs)[0]

    def _claim(self, name: str) -> None:
        if name in self._names:
            raise ValueError(f"duplicate graph name {name!r}")
        self._names.add(name)

    # --- I/O ----------------------------------------------------------------------
    def input(self, name: str, elem_type: int, shape: Sequence[int | str | None]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def output(self, name: str, elem_type: int, shape: Sequence[int | str | None]) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))

    # --- finish -------------------------------------------------------------------
    def save(self, model_path: Path, producer: str, close_data: bool = True,
             domains: Sequence[str] = ("", MS_DOMAIN)) -> onnx.ModelProto:
        """Write the graph; ``close_data`` False leaves the data file open for another graph."""
        if close_data:
            self.data.close()
        graph = helper.make_graph(self.nodes, "qwen3_next", self.inputs, self.outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid(d, OPSET if d == "" else 1) for d in domains],
            producer_name=producer,
        )
        model.ir_version = IR_VERSION
        Path(model_path).write_bytes(model.SerializeToString())
        return model


def onnx_float_type(dtype: np.dtype) -> int:
    return _NP_TO_ONNX[np.dtype(dtype)]


def chain(*names: Iterable[str]) -> list[str]:
    return [n for group in names for n in group]
