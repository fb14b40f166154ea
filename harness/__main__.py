"""``python -m recipebench`` is the ``recipebench`` command."""
from recipebench.commands import main

raise SystemExit(main())
