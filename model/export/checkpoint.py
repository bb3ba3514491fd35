"""Streaming reader for safetensors checkpoints (single file or sharded).

Tensors are read one at a time with ``os.pread`` into a fresh buffer (no
memory map, whose touched pages would count against the process and pile up
over an 80 GB checkpoint), so exporting an 80B checkpoint never holds more
than the tensor being written plus the few a block fuses. The safetensors library validates headers but has no numpy
bfloat16, which the published Qwen3-Next shards use, so tensors are read
here from the documented layout: an 8-byte little-endian header length, a
JSON header of ``{name: {dtype, shape, data_offsets}}``, then the data.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcn.model.export.errors import ExportError

log = logging.getLogger(__name__)

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # widened to float32 by shifting into the high half
    "F64": np.dtype("<f8"),
}
_MAX_HEADER = 100 * 1024 * 1024
_READ_PIECE = 16 << 20  # bytes read at a time for tensors that are widened to float32


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shard: Path
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute byte offset in the shard file
    nbytes: int


class Checkpoint:
    """Index of every tensor in a checkpoint folder; ``get`` reads one as float32."""

    def __init__(self, hf_dir: Path, on_read=None):
        self.dir = Path(hf_dir)
        self.tensors: dict[str, TensorInfo] = {}
        self.read: set[str] = set()  # names handed out at least once
        self.on_read = on_read  # called with the TensorInfo of each tensor read for the first time
        self._fds: dict[Path, int] = {}
        for shard in self._shards():
            self._read_header(shard)
        if not self.tensors:
            raise ExportError(f"{self.dir}: the safetensors shards hold no tensors")

    # --- discovery ----------------------------------------------------------------
    def _shards(self) -> list[Path]:
        index = self.dir / "model.safetensors.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ExportError(f"corrupt shard index {index}: {exc}") from exc
            names = sorted(set(weight_map.values()))
            missing = [n for n in names if not (self.dir / n).is_file()]
            if missing:
                raise ExportError(
                    f"missing shard(s) listed in {index.name}: {', '.join(missing[:5])}"
                    + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                    + " — was the download complete?"
                )
            return [self.dir / n for n in names]
        shards = sorted(self.dir.glob("*.safetensors"))
        if not shards:
            raise ExportError(f"{self.dir} has no *.safetensors weights")
        return shards

    def _read_header(self, shard: Path) -> None:
        size = shard.stat().st_size
        try:
            with shard.open("rb") as f:
                head = f.read(8)
                if len(head) != 8:
                    raise ValueError("file shorter than the 8-byte header length")
                (n,) = struct.unpack("<Q", head)
                if n > _MAX_HEADER or n + 8 > size:
                    raise ValueError(f"header length {n} does not fit a {size}-byte file")
                header = json.loads(f.read(n))
        except (OSError, ValueError) as exc:
            raise ExportError(f"corrupt shard {shard.name}: {exc}") from exc
        base = 8 + n
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            try:
                dtype = meta["dtype"]
                shape = tuple(int(d) for d in meta["shape"])
                begin, end = (int(x) for x in meta["data_offsets"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ExportError(f"corrupt shard {shard.name}: bad entry for {name}: {exc}") from exc
            if dtype not in _DTYPES:
                raise ExportError(f"{shard.name}: tensor {name} has unsupported dtype {dtype}")
            nbytes = int(np.prod(shape, dtype=np.int64)) * _DTYPES[dtype].itemsize
            if end - begin != nbytes or base + end > size:
                raise ExportError(
                    f"corrupt shard {shard.name}: tensor {name} needs bytes {begin}..{end} "
                    f"but the file has {size - base} data bytes (truncated download?)"
                )
            self.tensors[name] = TensorInfo(name, shard, dtype, shape, base + begin, nbytes)

    # --- access -------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.tensors

    def shape(self, name: str) -> tuple[int, ...]:
        return self.require(name).shape

    def require(self, name: str) -> TensorInfo:
        info = self.tensors.get(name)
        if info is None:
            raise ExportError(f"missing tensor {name!r} in {self.dir}")
        return info

    def get(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Tensor ``name`` as a new float32 array (checked against ``shape`` when given).

        Only the float32 result is allocated whole: other dtypes are read in pieces of
        ``_READ_PIECE`` bytes and widened into it (bf16 is the top half of an fp32), so reading
        the real model's 0.58 GiB bf16 head costs its 1.16 GiB fp32 and a piece, not a bf16
        copy and two widened ones beside it.
        """
        info = self.require(name)
        if shape is not None and tuple(shape) != info.shape:
            raise ExportError(f"tensor {name!r} has shape {list(info.shape)}, expected {list(shape)}")
        fd = self._fds.get(info.shard)
        if fd is None:
            fd = self._fds[info.shard] = os.open(info.shard, os.O_RDONLY)
        src = _DTYPES[info.dtype]
        count = info.nbytes // src.itemsize
        if info.dtype == "F32":
            out = np.empty(count, np.float32)
            self._read_into(fd, memoryview(out).cast("B"), info.start, info)
        else:
            out = np.empty(count, np.uint32 if info.dtype == "BF16" else np.float32)
            piece = np.empty(min(info.nbytes, _READ_PIECE), np.uint8)
            per_piece = len(piece) // src.itemsize
            for first in range(0, count, per_piece):
                n = min(per_piece, count - first)
                chunk = piece[:n * src.itemsize]
                self._read_into(fd, memoryview(chunk), info.start + first * src.itemsize, info)
                out[first:first + n] = chunk.view(src)
            if info.dtype == "BF16":
                out <<= 16
                out = out.view(np.float32)
        if name not in self.read:
            self.read.add(name)
            if self.on_read is not None:
                self.on_read(info)
        return out.reshape(info.shape)

    @staticmethod
    def _read_into(fd: int, view: memoryview, pos: int, info: TensorInfo) -> None:
        while view:
            n = os.preadv(fd, [view], pos)
            if n == 0:
                raise ExportError(f"{info.shard.name}: unexpected end of file reading {info.name} (truncated?)")
            view, pos = view[n:], pos + n

    @property
    def total_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors.values())

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
