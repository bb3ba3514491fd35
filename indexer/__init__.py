"""Repository knowledge: files, parse trees, symbols, imports and context ranking.

The public API (see docs/indexer.md)::

    from qcn.indexer import Index, Position
    index = Index("/path/to/workspace")
    index.build()
    snippets = index.context_for("pkg/app.py", Position(41, 8), budget_tokens=4096)

Parse trees for other parts of qcn (security checks, completion post-processing)::

    from qcn.indexer import detect_language, parser_for
    index.parsed(path)      # ParsedFile(path, language, source, tree)
    index.tree_for(path)    # tree_sitter.Tree

Names are loaded on first use, so importing this package stays cheap (it is
imported by ``qcn --help``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Index": "index",
    "IndexStats": "index",
    "IndexClosed": "index",
    "ParsedFile": "index",
    "RecentEdit": "index",
    "IndexConfig": "config",
    "Position": "positions",
    "TextChange": "documents",
    "Document": "documents",
    "Snippet": "context",
    "context_for": "context",
    "approx_tokens": "context",
    "total_tokens": "context",
    "Definition": "symbols",
    "Import": "symbols",
    "FileSymbols": "symbols",
    "detect_language": "languages",
    "parser_for": "languages",
    "language_for": "languages",
    "LANGUAGES": "languages",
    "is_secret": "discovery",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .config import IndexConfig
    from .context import Snippet, approx_tokens, context_for, total_tokens
    from .discovery import is_secret
    from .documents import Document, TextChange
    from .index import Index, IndexClosed, IndexStats, ParsedFile, RecentEdit
    from .positions import Position
    from .languages import LANGUAGES, detect_language, language_for, parser_for
    from .symbols import Definition, FileSymbols, Import


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
