"""``python -m bot`` is the ``workledger`` command."""

from bot.cli import main

raise SystemExit(main())
