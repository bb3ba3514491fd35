"""Repository knowledge: files, parse trees, symbols, imports and context ranking."""
