"""Helpers for the indexer tests: fixture repositories, cursor lookup, snippet checks."""

from __future__ import annotations

import shutil
from pathlib import Path

from qcn.indexer import Index, Position

FIXTURES = Path(__file__).parent / "fixtures"
LANGUAGES = ("python", "javascript", "typescript", "go", "rust", "java", "c", "cpp")


def copy_fixture(language: str, dest: Path) -> Path:
    root = dest / language
    shutil.copytree(FIXTURES / language, root)
    return root


def cursor(root: Path, rel: str, needle: str, after: str | None = None) -> Position:
    """The position just after ``after`` (default: all of ``needle``) at the first ``needle`` in a file.

    Characters count as code points, which equal UTF-16 units for the ASCII fixtures.
    """
    text = (root / rel).read_text(encoding="utf-8")
    start = text.index(needle)
    end = start + (needle.index(after) + len(after) if after else len(needle))
    line = text.count("\n", 0, end)
    return Position(line, end - (text.rfind("\n", 0, end) + 1))


def definition_shown(index: Index, snippets, name: str, path: str | None = None) -> bool:
    """True if a definition ``name`` (in ``path``, if given) is shown in full by one of the snippets."""
    for def_path, definition in index.definitions_of(name):
        if path is not None and def_path != path:
            continue
        lines = index.lines_of(def_path)
        block = "\n".join(lines[definition.start_line - 1:definition.end_line])
        for s in snippets:
            if (s.path == def_path and s.start_line <= definition.start_line
                    and definition.end_line <= s.end_line and block in s.text):
                return True
    return False


# One cross-file use per language: the file and text at the cursor, the symbol,
# the file defining it, where a test moves that file, and the line-comment syntax.
CROSS_FILE = {
    "python": ("scripts/checkout.py", "apply_discount(total", "apply_discount", "src/shop/pricing.py",
               "src/shop/discounts.py", "#"),
    "javascript": ("src/main.js", "capitalize(user", "capitalize", "src/util/strings.js", "src/util/text.js", "//"),
    "typescript": ("src/app/Checkout.tsx", "formatMoney(props", "formatMoney", "src/core/money.ts",
                   "src/core/currency.ts", "//"),
    "go": ("cmd/shop/main.go", "pricing.Discount(", "Discount", "pricing/pricing.go", "pricing/discount.go", "//"),
    "rust": ("src/cart.rs", "discount(list", "discount", "src/pricing.rs", "src/prices.rs", "//"),
    "java": ("src/main/java/com/acme/app/Main.java", "Pricing.discount(", "discount",
             "src/main/java/com/acme/shop/Pricing.java", "src/main/java/com/acme/shop/Prices.java", "//"),
    "c": ("src/pricing.c", "round_cents(", "round_cents", "src/util.h", "src/rounding.h", "//"),
    "cpp": ("src/main.cpp", "geo::Circle circle", "Circle", "include/geo/shape.hpp", "include/geo/circle.hpp", "//"),
}


def use_position(root: Path, language: str) -> Position:
    use_file, needle, symbol = CROSS_FILE[language][:3]
    return cursor(root, use_file, needle, after=symbol)
