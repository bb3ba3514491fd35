"""A shopping cart that takes items from the inventory."""

from decimal import Decimal

from shop.inventory import Inventory, Product
from shop.pricing import apply_discount, with_tax


class Cart:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.lines: list[tuple[Product, int]] = []

    def add(self, sku: str, quantity: int = 1) -> None:
        product = self.inventory.take(sku, quantity)
        self.lines.append((product, quantity))

    def subtotal(self) -> Decimal:
        return sum((product.price * quantity for product, quantity in self.lines), Decimal(0))

    def total(self, discount: int = 0) -> Decimal:
        discounted = apply_discount(self.subtotal(), discount)
        return 
