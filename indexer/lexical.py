"""Lexically similar code: Jaccard similarity over identifier sets of line windows.

The cheap retrieval peers rely on (Continue, Cody, llama.vim): code near the
cursor tends to resemble code elsewhere that does the same thing. Windows of
``WINDOW`` lines every ``STRIDE`` lines; each window's identifier set is
computed once per file version and kept in a small LRU.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

WINDOW = 12
STRIDE = 6  # WINDOW must be 2 * STRIDE (windows are built from pairs of blocks)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
# Words so common in code that sharing them says nothing.
_STOP = frozenset("""
self this that None none null nil True False true false return import from def class function const let var
new and not for while else elif try except finally with pass break continue yield async await
int str bool float void char long short unsigned static public private protected final package
""".split())


def identifiers(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text)).difference(_STOP)


@dataclass(frozen=True, slots=True)
class Match:
    path: str
    start_line: int  # 1-based inclusive
    end_line: int
    similarity: float


class ChunkIndex:
    """Per-file window identifier sets, keyed by (path, content hash). Thread-safe."""

    def __init__(self, capacity: int = 256) -> None:
        self._cache: OrderedDict[str, tuple[bytes, tuple[tuple[int, int, frozenset[str]], ...]]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def windows(self, path: str, version: bytes, lines: list[str]) -> tuple[tuple[int, int, frozenset[str]], ...]:
        with self._lock:
            hit = self._cache.get(path)
            if hit is not None and hit[0] == version:
                self._cache.move_to_end(path)
                return hit[1]
        # Identifier sets per STRIDE-line block; a window is two adjacent blocks.
        count = len(lines)
        blocks = [identifiers("\n".join(lines[start:start + STRIDE])) for start in range(0, count, STRIDE)]
        out = []
        for i, block in enumerate(blocks):
            words = block | blocks[i + 1] if i + 1 < len(blocks) else block
            if words:
                out.append((i * STRIDE + 1, min(count, i * STRIDE + WINDOW), words))
            if i * STRIDE + WINDOW >= count:
                break
        windows = tuple(out)
        with self._lock:
            self._cache[path] = (version, windows)
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return windows

    def similar(self, query: frozenset[str], files: Iterable[tuple[str, bytes, list[str]]],
                limit: int = 5, threshold: float = 0.2) -> list[Match]:
        """The best non-overlapping windows of ``files`` by Jaccard similarity to ``query``."""
        if not query:
            return []
        scored: list[tuple[float, str, int, int]] = []
        size = len(query)
        for path, version, lines in files:
            for start, end, words in self.windows(path, version, lines):
                shared = len(query & words)
                if shared < 3:
                    continue
                similarity = shared / (size + len(words) - shared)
                if similarity >= threshold:
                    scored.append((similarity, path, start, end))
        scored.sort(key=lambda item: (-item[0], item[1], item[2]))
        picked: list[Match] = []
        for similarity, path, start, end in scored:
            if any(m.path == path and start <= m.end_line and end >= m.start_line for m in picked):
                continue
            picked.append(Match(path, start, end, round(similarity, 3)))
            if len(picked) >= limit:
                break
        return picked
