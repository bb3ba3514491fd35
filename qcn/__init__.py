"""qcn: a local language server for Qwen3-Coder-Next.

The import package is ``qcn``; its subpackages ``qcn.server`` (LSP surface),
``qcn.indexer`` (repository knowledge) and ``qcn.model`` (export, runtime,
prompt format) live in the top-level folders ``server/``, ``indexer/`` and
``model/`` of the source tree.
"""

__version__ = "0.1.0"
