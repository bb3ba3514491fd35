"""``python -m qcn`` runs the ``qcn`` command line."""

from qcn.cli import main

raise SystemExit(main())
