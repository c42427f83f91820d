"""``python -m hsbench`` is the ``hsbench`` command."""

from hsbench.cli import main

raise SystemExit(main())
