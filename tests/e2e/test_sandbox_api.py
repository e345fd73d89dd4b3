"""The sandbox's server without a browser: the real ``workledger sandbox`` over HTTP.

Who may drive it (its own address and page only), a chat through the page's API with
its live events and transcript, the fake token, a clean stop, and the refusal of a
real bot's store.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from storage import migrate
from storage.engine import Database
from storage.marker import claim_store

from .sandbox_process import (
    SandboxProcess,
    environment,
    request,
    sandbox_command,
    sandbox_process,
)

pytestmark = pytest.mark.e2e


def _wait_for_reply(sandbox: SandboxProcess, user_id: int, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, chat = sandbox.get(f"/api/chat/{user_id}")
        bot = [m for m in chat["messages"] if m["from_bot"]]
        if len(bot) >= count:
            return bot
        time.sleep(0.05)
    raise AssertionError(f"no reply in chat {user_id}: {chat}")


def test_only_its_own_address_and_page_may_drive_it(tmp_path: Path) -> None:
    with sandbox_process(tmp_path, "--fresh", "--no-demo") as sandbox:
        status, page = sandbox.get("/")
        assert status == 200
        assert "<title>workledger sandbox</title>" in page
        status, script = sandbox.get("/static/app.js")
        assert status == 200
        assert "renderFormatted" in script

        host = sandbox.url.removeprefix("http://")
        # Another name for the server (DNS rebinding): refused, reads included.
        status, body = sandbox.get("/api/status", headers={"Host": "attacker.example"})
        assert (status, body["ok"]) == (403, False)
        status, _ = sandbox.get("/", headers={"Host": f"attacker.example:{host.split(':')[1]}"})
        assert status == 403
        # Another site's page posting to it: refused, by Origin or by Sec-Fetch-Site.
        for headers in (
            {"Origin": "http://attacker.example"},
            {"Origin": "null"},
            {"Origin": f"http://{host}", "Sec-Fetch-Site": "cross-site"},
        ):
            status, body = sandbox.post("/api/stranger", {}, headers=headers)
            assert status == 403, headers
            assert "another site" in body["error"]
        # The emulator shares the port and the guard.
        status, _ = sandbox.post(
            "/telegram/_driver/chats", {}, headers={"Origin": "http://attacker.example"}
        )
        assert status == 403
        # A form post (no preflight in a browser) is not JSON: refused too.
        status, body = request(
            sandbox.url + "/api/stranger",
            data=b"language_code=en",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 400
        # Its own page (and a client that is no browser) may.
        status, body = sandbox.post("/api/stranger", {}, headers={"Origin": f"http://{host}"})
        assert status == 200
        assert body["result"]["id"] > 0

        # The token in the environment is never used: the bot's id is the fake token's.
        _, status_body = sandbox.get("/api/status")
        assert status_body["bot"]["id"] == 123456789
        assert status_body["ready"] is True

        assert sandbox.stop() == 0
        logged = "".join(sandbox.stderr)
        assert " ERROR " not in logged
        assert " CRITICAL " not in logged
        assert "999999:a-real-looking" not in logged


def test_a_stranger_chats_through_the_api_live(tmp_path: Path) -> None:
    with sandbox_process(tmp_path, "--fresh", "--no-demo") as sandbox:
        _, made = sandbox.post("/api/stranger", {"language_code": "en"})
        stranger = made["result"]
        _, again = sandbox.post("/api/stranger", {"language_code": "en"})
        assert again["result"]["id"] != stranger["id"]

        events = urllib.request.urlopen(sandbox.url + "/api/events", timeout=20)  # noqa: S310
        try:
            assert events.readline().startswith(b"event: hello")
            status, _ = sandbox.post("/api/send", {"user": stranger, "text": "/start"})
            assert status == 200
            seen: list[dict[str, object]] = []
            kind = ""
            while not any(message["from_bot"] for message in seen):
                line = events.readline().decode()
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ").strip()
                elif line.startswith("data: ") and kind == "message":
                    seen.append(json.loads(line.removeprefix("data: ")))
        finally:
            events.close()
        assert [m["chat_id"] for m in seen] == [stranger["id"], stranger["id"]]
        assert seen[0]["text"] == "/start"
        assert not seen[0]["from_bot"]

        [reply] = _wait_for_reply(sandbox, stranger["id"], 1)
        assert "invitation" in str(reply["text"])
        _, chat = sandbox.get(f"/api/chat/{stranger['id']}?language_code=en")
        # The menu the bot published (setMyCommands) for this person and language.
        assert {"start", "help"} <= {command["command"] for command in chat["commands"]}
        _, chinese = sandbox.get(f"/api/chat/{stranger['id']}?language_code=zh-hans")
        assert chinese["commands"] != chat["commands"]

        status, transcript = sandbox.get(f"/api/transcript/{stranger['id']}?format=json")
        assert status == 200
        assert [line["sender"] for line in transcript["messages"]] == [
            "Stranger 1",
            "bot",
        ]
        _, text = sandbox.get(f"/api/transcript/{stranger['id']}?format=text")
        assert "/start" in text
        assert "invitation" in text

        # A file the person sends reaches the bot, and can be downloaded back.
        roster = b"employee_no,name\nE1,Ann\n"
        status, _ = sandbox.post(
            "/api/send_file",
            {
                "user": stranger,
                "filename": "roster.csv",
                "mime_type": "text/csv",
                "content": base64.b64encode(roster).decode(),
            },
        )
        assert status == 200
        _, chat = sandbox.get(f"/api/chat/{stranger['id']}")
        document = chat["messages"][-1]["document"] or chat["messages"][-2]["document"]
        status, content = sandbox.get(f"/api/files/{document['file_id']}")
        assert (status, content) == (200, roster.decode())

        status, body = sandbox.post("/api/send", {"user": stranger, "text": "   "})
        assert status == 400
        status, body = sandbox.post("/api/clock", {"move": "tomorrow"})
        assert status == 400
        assert "unknown move" in body["error"]


def test_refuses_a_real_bots_store(tmp_path: Path) -> None:
    store = tmp_path / ".workledger-sandbox" / "sandbox.db"
    store.parent.mkdir()

    async def mark_for_production() -> None:
        database = Database(f"sqlite+aiosqlite:///{store}")
        try:
            await migrate.upgrade(database.engine)
            await claim_store(database, "production")
        finally:
            await database.dispose()

    asyncio.run(mark_for_production())
    finished = subprocess.run(  # noqa: S603
        sandbox_command("--port", "0"),
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 78
    refusal = [line for line in finished.stderr.splitlines() if line.startswith("workledger")]
    assert refusal == [
        "workledger sandbox: this database belongs to a real bot; the sandbox never runs "
        "on it (it keeps a SQLite file of its own)"
    ]
    assert "ready in" not in finished.stdout


def test_run_without_a_token_points_to_the_sandbox(tmp_path: Path) -> None:
    env = {key: value for key, value in environment().items() if key != "WORKLEDGER_TOKEN"}
    finished = subprocess.run(  # noqa: S603
        [*sandbox_command()[:-1], "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 2
    assert "make sandbox" in finished.stderr
