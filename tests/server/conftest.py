"""Fixtures for the server tests: a tiny exported model and a small multi-file workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

WORKSPACE = {
    "shop/__init__.py": "",
    "shop/pricing.py": (
        '"""Prices and discounts."""\n\nTAX_RATE = 0.2\n\n\n'
        "def apply_discount(price: float, percent: float) -> float:\n"
        '    """Price after a percentage discount."""\n'
        "    return price * (1 - percent / 100)\n\n\n"
        "def with_tax(price: float) -> float:\n    return price * (1 + TAX_RATE)\n"
    ),
    "shop/cart.py": (
        "from shop.pricing import apply_discount, with_tax\n\n\n"
        "class Cart:\n"
        "    def __init__(self):\n        self.items = []\n\n"
        "    def add(self, name, price):\n        self.items.append((name, price))\n\n"
        "    def total(self, discount=0):\n"
        "        subtotal = sum(price for _, price in self.items)\n"
        "        return with_tax(apply_discount(subtotal, discount))\n\n"
        "    def describe(self):  # café ☕ 😀\n"
        '        label = "café 😀 " + str(len(self.items))\n'
        "        return label\n"
    ),
}


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "ws"
    for rel, text in WORKSPACE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
