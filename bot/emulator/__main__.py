"""``python -m bot.emulator``: run the Bot API emulator standalone until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from bot.emulator.server import start_emulator
from bot.emulator.state import BotApiEmulator


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.emulator", description="Run the Telegram Bot API emulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port, 0 for any (default 8081)")
    parser.add_argument(
        "--max-long-poll",
        type=float,
        default=2.0,
        help="cap on getUpdates long-poll seconds (default 2)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    emulator = BotApiEmulator(max_long_poll=args.max_long_poll)
    running = await start_emulator(
        args.host, args.port, emulator=emulator, access_log=args.access_log
    )
    print(f"Bot API emulator on {running.url}", flush=True)
    print(f"  base_url:      {running.base_url}", flush=True)
    print(f"  base_file_url: {running.base_file_url}", flush=True)
    print(f"  driver API:    {running.url}/_driver/<action>", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on every platform; Ctrl-C still ends asyncio.run there.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await running.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_arguments(argv)))


if __name__ == "__main__":
    main()
