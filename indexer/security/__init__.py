"""Static security findings (CWE) over the indexer's parse trees.

Public API for the server and the command line::

    scan_source(path, text, language=None, tree=None) -> list[CweFinding]
    scan_path(path) -> list[CweFinding]
    fix_for(finding, text) -> Fix | None     (qcn.indexer.security.fixes)

Everything here is plain data: the server converts findings to LSP diagnostics.
"""

from qcn.indexer.security.findings import CweFinding, Fix, Position, Range, TaintSource, TextEdit
from qcn.indexer.security.scanner import ScanOptions, scan_path, scan_source, supported_language

__all__ = [
    "CweFinding", "Fix", "Position", "Range", "ScanOptions", "TaintSource", "TextEdit",
    "scan_path", "scan_source", "supported_language",
]
