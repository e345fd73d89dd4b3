"""The sandbox: the whole bot in a browser, no Telegram needed (``workledger sandbox``).

The Bot API emulator, the real bot against it (the code path of ``workledger run``) and
a plain HTML/JavaScript page, all served by one aiohttp server on loopback: pick a
person of the organisation, chat as them in several tabs, inspect their record and the
outbox, move the clock. ``server`` is the page's API, ``command`` the start-up;
``demo``, ``inspect`` and ``timetravel`` what the page shows and does.
"""
