"""An emulator of the Telegram Bot API subset workledger uses, served over HTTP.

The real python-telegram-bot ``Application`` runs against it through ``base_url``;
tests and the sandbox act as users through ``EmulatorDriver``::

    running = await start_emulator()  # port 0: a free port
    app = (
        ApplicationBuilder()
        .token("123:TEST")
        .base_url(running.base_url)
        .base_file_url(running.base_file_url)
        .build()
    )
    ...  # start the app and app.updater.start_polling()
    async with EmulatorDriver(running.url) as driver:
        ann = EmulatedUser(id=1001, first_name="Ann")
        await driver.send_text(ann, "/start INV-42")
        (reply,) = await driver.wait_for_message(ann.id)
    await running.close()
"""

from bot.emulator.driver import EmulatorDriver
from bot.emulator.errors import DriverError
from bot.emulator.model import EmulatedUser
from bot.emulator.server import RunningEmulator, create_app, start_emulator
from bot.emulator.state import BotApiEmulator

__all__ = [
    "BotApiEmulator",
    "DriverError",
    "EmulatedUser",
    "EmulatorDriver",
    "RunningEmulator",
    "create_app",
    "start_emulator",
]
