"""Prices, discounts and tax."""

from decimal import ROUND_HALF_UP, Decimal

TAX_RATE = Decimal("0.20")
CENT = Decimal("0.01")


def round_price(amount: Decimal) -> Decimal:
    """Round to whole cents, halves away from zero."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def apply_discount(price: Decimal, percent: int) -> Decimal:
    """The price after a percentage discount."""
    if not 0 <= percent <= 100:
        raise ValueError(f"discount must be between 0 and 100, not {percent}")
    return round_price(price * (100 - percent) / 100)


def with_tax(price: Decimal) -> Decimal:
    """The price including tax."""
    return round_price(price * (1 + TAX_RATE))
