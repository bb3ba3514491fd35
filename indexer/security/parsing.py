"""Which languages the security scanner covers, read off the indexer's one language registry.

A language is scanned when its registry row (``qcn.indexer.languages.LANGUAGES``)
names a family that has a rule file here (``rules/<family>.toml``): C++ shares
the C rules, TypeScript and TSX the JavaScript ones. File detection (extensions,
``.pyi``, C++-flavoured ``.h`` headers), grammars and parsers are the indexer's:
nothing here has a table of its own.
"""

from __future__ import annotations

from importlib import resources

from qcn.indexer.languages import LANGUAGES, detect_language, language_named
from qcn.indexer.languages import normalise_language as _registry_name

RULE_FAMILIES = frozenset(
    entry.name[: -len(".toml")] for entry in resources.files("qcn.indexer.security").joinpath("rules").iterdir()
    if entry.name.endswith(".toml"))

# language -> the rule family (file under rules/) that covers it
FAMILY = {name: spec.family for name, spec in LANGUAGES.items() if spec.family in RULE_FAMILIES}
SUPPORTED = tuple(FAMILY)


def scan_language(path: str, language_id: str | None = None, content: bytes | None = None) -> str | None:
    """The language the scanner uses for a document, or None when it has no rules for it.

    From the path (and ``content``, which tells a C++ header from a C one), else from the
    client's language id.
    """
    language = detect_language(path, content)
    if language is None and language_id:
        language = language_named(language_id)
    return language if language in FAMILY else None


def normalise_language(language: str) -> str:
    """The registry name of ``language`` (an alias like ``"ts"`` is fine); an error when it is not scanned."""
    name = _registry_name(language)
    if name not in FAMILY:
        raise ValueError(f"no security rules for {name}; scanned: {', '.join(SUPPORTED)}")
    return name

