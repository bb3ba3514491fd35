"""A small shop: prices, an inventory and a cart (the example workspace for `qcn complete`)."""
