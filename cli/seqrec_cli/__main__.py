"""``python -m seqrec_cli ...`` is the ``seqrec`` command."""

from .main import main

raise SystemExit(main())
