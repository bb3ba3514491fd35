"""What is in stock."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal


class OutOfStock(Exception):
    pass


class Inventory:
    def __init__(self) -> None:
        self._stock: dict[str, int] = {}
        self._products: dict[str, Product] = {}

    def add(self, product: Product, quantity: int) -> None:
        self._products[product.sku] = product
        self._stock[product.sku] = self._stock.get(product.sku, 0) + quantity

    def take(self, sku: str, quantity: int = 1) -> Product:
        """Remove items from stock and return their product."""
        available = self._stock.get(sku, 0)
        if available < quantity:
            raise OutOfStock(sku)
        self._stock[sku] = available - quantity
        return self._products[sku]

    def count(self, sku: str) -> int:
        return self._stock.get(sku, 0)
