"""Intra-file taint tracking (see ``analysis`` for what it models and how it is split)."""

from qcn.indexer.security.taint.analysis import Function, Param, TaintAnalysis, TaintConfig
from qcn.indexer.security.taint.grammar import FUNCTION_TYPES

__all__ = ["FUNCTION_TYPES", "Function", "Param", "TaintAnalysis", "TaintConfig"]
