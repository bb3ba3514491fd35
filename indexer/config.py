"""Settings of the repository index: one frozen dataclass, fully defaulted."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_FILE_BYTES = 1 << 20  # 1 MiB


@dataclass(frozen=True)
class IndexConfig:
    """What to index and how.

    Paths in ``include_dirs`` and ``python_paths`` are relative to the
    workspace root (absolute paths are accepted too).
    """

    # Extra gitignore-style patterns, relative to the workspace root, on top of
    # .gitignore files, .git/info/exclude and discovery.DEFAULT_EXCLUDES.
    excludes: tuple[str, ...] = ()
    # Files larger than this are skipped (logged with the reason).
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # Skip files that declare themselves generated ("@generated", "DO NOT EDIT", ...)
    # and minified files (very long lines).
    skip_generated: bool = True
    # Follow symbolic links to directories (loops are detected and skipped).
    follow_symlinks: bool = True
    # C/C++: directories searched for `#include "..."` and `#include <...>`.
    include_dirs: tuple[str, ...] = ()
    # Python: extra source roots (src/ and package roots are found on their own).
    python_paths: tuple[str, ...] = ()
    # Worker processes for the initial scan: None = one per available core.
    workers: int | None = None
    # Below this many bytes to parse, the scan stays in-process. Measured on the
    # stdlib (2 cores): starting two forkserver workers costs about 0.15 s, so
    # with a free core they win from about 1 MB of source; on a saturated
    # machine they win nothing (0.5 MB: 0.07 s in-process vs 0.22 s; 8 MB:
    # 2.56 vs 2.67 s at load 6.7). 2 MiB keeps small refreshes in-process.
    parallel_min_bytes: int = 2 << 20
    # After a build, move every object alive to the garbage collector's
    # permanent generation (gc.freeze()), so later full collections do not
    # rescan the index. Measured: a full collection with a 20K-file index
    # loaded took 100-265 ms, a pause that lands on some completion request.
    # Process-wide: objects alive at that moment are never scanned for cycles
    # again (the index holds no cycles; reference counting still frees it).
    freeze_gc: bool = True
