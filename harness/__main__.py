"""``python -m harness`` is the ``recipebench`` command."""
from harness.cli import main

raise SystemExit(main())
