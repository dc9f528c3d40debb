"""``python -m batchmap`` runs the command line."""

from batchmap.cli import main

raise SystemExit(main())
