"""Read, hash, parse and extract many files: in-process or in worker processes.

Parsing holds the GIL (checked: two threads parse no faster than one), so a
large cold scan uses worker processes, one per core. Workers read the files
themselves and send back compact tuples (the cache row format), never parse
trees. Small batches stay in-process, where starting workers would cost more
than it saves (``IndexConfig.parallel_min_bytes``).

Workers start with "forkserver" (Linux) or "spawn": forking a language server
that already runs threads can deadlock on a lock some thread held.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .cache import CachedFile, content_hash
from .config import IndexConfig
from .discovery import NotRegularFile, content_skip_reason, read_regular
from .languages import detect_language

log = logging.getLogger(__name__)

# (path, language) pairs in; CachedFile-shaped tuples out.
Job = tuple[str, str]
Row = tuple[str, bytes, int, int, str, object]


def analyze_file(root: str, path: str, language: str, max_bytes: int, skip_generated: bool) -> Row:
    """Read, check, hash, parse and extract one file.

    Never raises for file problems: a file that vanished, cannot be read, is
    too large, binary, generated or minified comes back with language "" and
    the reason as payload.
    """
    from .parse import analyze_source  # imported here: workers pay for tree-sitter only when used

    full = os.path.join(root, path)
    try:
        st, data = read_regular(full, max_bytes)  # a FIFO or device swapped in since the walk never blocks
    except FileNotFoundError:
        return (path, b"", 0, 0, "", "vanished")
    except NotRegularFile as exc:
        return (path, b"", 0, 0, "", f"unreadable ({exc})")
    except OSError as exc:
        return (path, b"", 0, 0, "", f"unreadable ({exc.strerror or exc})")
    size, mtime_ns = st.st_size, st.st_mtime_ns
    if len(data) > max_bytes:
        return (path, b"", size, mtime_ns, "", f"too large ({size} bytes > {max_bytes})")
    digest = content_hash(data)
    reason = content_skip_reason(data, skip_generated)
    if reason is not None:
        return (path, digest, size, mtime_ns, "", reason)
    if language in ("c", "cpp") and path.endswith(".h"):
        language = detect_language(path, data) or language
    try:
        symbols = analyze_source(language, data)
    except (ValueError, RuntimeError) as exc:  # tree-sitter refuses the input (it rarely does)
        log.warning("cannot parse %s: %s", path, exc)
        return (path, digest, size, mtime_ns, "", f"parse error ({exc})")
    return (path, digest, size, mtime_ns, language, symbols.to_tuple())


def analyze_batch(root: str, jobs: Sequence[Job], max_bytes: int, skip_generated: bool) -> list[Row]:
    return [analyze_file(root, path, language, max_bytes, skip_generated) for path, language in jobs]


def worker_count(config: IndexConfig) -> int:
    if config.workers is not None:
        return max(1, config.workers)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _worker_init(server_pid: int) -> None:
    """In a worker: exit when the process that started the pool dies, even by SIGKILL.

    Forkserver workers are children of the forkserver, not of that process, and hold both
    ends of their queues' pipes (and the forkserver's liveness pipe), so nothing else ends
    them: a killed language server would leave the forkserver and its workers behind. A
    daemon thread waits on a pidfd of the starting process (Linux 5.3+); elsewhere it polls.
    """
    import threading

    def watch() -> None:
        try:
            import select

            fd = os.pidfd_open(server_pid)
            select.select([fd], [], [])
        except (AttributeError, OSError):  # no pidfd here: look every second
            import time

            while True:
                try:
                    os.kill(server_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:  # alive, someone else's (cannot happen for our parent)
                    pass
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="qcn-worker-watch", daemon=True).start()


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        # Workers fork from a server that already imported tree-sitter and the grammars.
        context.set_forkserver_preload(["qcn.indexer.parse"])
        return context
    return multiprocessing.get_context("spawn")


def analyze_many(
    root: str,
    jobs: Sequence[tuple[str, str, int]],
    config: IndexConfig,
    on_rows: Callable[[list[CachedFile]], None],
) -> None:
    """Analyze ``jobs`` ((path, language, size) triples), handing rows to ``on_rows`` as they finish.

    Uses worker processes when there is enough to parse, otherwise this process.
    """
    total_bytes = sum(size for _, _, size in jobs)
    workers = worker_count(config)
    limits = (config.max_file_bytes, config.skip_generated)
    if workers < 2 or total_bytes < config.parallel_min_bytes or len(jobs) < 2 * workers:
        step = 64
        for i in range(0, len(jobs), step):
            chunk = [(p, lang) for p, lang, _ in jobs[i:i + step]]
            on_rows([CachedFile(*row) for row in analyze_batch(root, chunk, *limits)])
        return
    for rows in _pool_batches(root, jobs, workers, limits, total_bytes):
        on_rows([CachedFile(*row) for row in rows])


def _pool_batches(root, jobs, workers, limits, total_bytes) -> Iterator[list[Row]]:
    # Largest files first, in batches of roughly equal bytes, so both workers
    # finish together; ~16 batches per worker keeps progress reports smooth.
    ordered = sorted(jobs, key=lambda j: (-j[2], j[0]))
    target = max(1, total_bytes // (workers * 16))
    batches: list[list[Job]] = []
    current: list[Job] = []
    current_bytes = 0
    for path, language, size in ordered:
        current.append((path, language))
        current_bytes += size
        if current_bytes >= target:
            batches.append(current)
            current, current_bytes = [], 0
    if current:
        batches.append(current)
    log.debug("analyzing %d files in %d batches on %d worker processes", len(jobs), len(batches), workers)
    remaining = dict(enumerate(batches))
    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_worker_init,
                                   initargs=(os.getpid(),))
        try:
            pending = {pool.submit(analyze_batch, root, batch, *limits): key for key, batch in remaining.items()}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    key = pending.pop(future)
                    rows = future.result()
                    del remaining[key]
                    yield rows
        finally:
            # Also when the consumer stops early (the folder was removed, the build was abandoned):
            # queued batches are dropped, not run to the end as ``with`` would.
            pool.shutdown(wait=not pending, cancel_futures=True)
    except (BrokenProcessPool, OSError) as exc:
        # Workers could not start or died (no usable __main__ to re-import, memory
        # limits, a crash in a grammar): finish in this process rather than fail.
        log.warning("worker processes failed (%s); parsing %d batches in-process", exc, len(remaining))
        for batch in list(remaining.values()):
            yield analyze_batch(root, batch, *limits)
