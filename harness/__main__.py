"""``python -m recipebench`` is the ``recipebench`` command."""
from recipebench.cli import main

raise SystemExit(main())
