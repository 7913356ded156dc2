"""The `rasa-handoff` command.

    rasa-handoff sidecar [--config handoff.yml]   receive desk webhooks, push to Rasa
    rasa-handoff status [--config ...]            each connector: Not configured / Available / Unavailable
    rasa-handoff check-config [--config ...]      validate handoff.yml and exit
    rasa-handoff init BOT_DIR [--apply|--dry-run] add handoff to a bot and check its Rasa config
    rasa-handoff doctor [--config ...]            check a running deployment, part by part
    rasa-handoff --version                        the versions of rasa-handoff, rasa-sdk and Rasa
    rasa-handoff demo                             a real Rasa demo bot + the local agent inbox
    rasa-handoff dead-letters list|show|replay|drop   items that could not be delivered

Global options, before the subcommand: `--log-format text|json` (default
$HANDOFF_LOG_FORMAT or text) and `--log-level` (default $HANDOFF_LOG_LEVEL or info).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .core.config import ConfigError, HandoffConfig, load_config
from .observability.logs import (
    LOG_FORMAT_ENV,
    LOG_FORMATS,
    LOG_LEVEL_ENV,
    add_secrets,
    configure_logging,
    secret_values,
    send_to_root,
)
from .onboarding.versions import VersionAction

# Sanic installs handlers of its own on these; the sidecar sends them through ours.
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "sanic.websockets")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _load_config(path: str | None) -> HandoffConfig:
    """The config, with every secret in it masked in the log from now on."""
    config = load_config(path)
    add_secrets(secret_values(config))
    return config


def _sidecar(args: argparse.Namespace) -> int:
    from .sidecar import create_app

    config = _load_config(args.config)
    app = create_app(config, demo_chat=args.demo_chat)
    send_to_root(*SANIC_LOGGERS)
    app.run(
        host=args.host or config.sidecar.host,
        port=args.port or config.sidecar.port,
        single_process=True,
        motd=False,
        access_log=False,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo.runner import DemoPorts, run_demo

    # The demo's sidecar and action server inherit the format and level through their environment.
    os.environ[LOG_FORMAT_ENV] = args.log_format
    os.environ[LOG_LEVEL_ENV] = args.log_level
    return run_demo(DemoPorts(args.rasa_port, args.actions_port, args.sidecar_port))


def _status(args: argparse.Namespace) -> int:
    import asyncio

    from .core.store import open_store
    from .registry import connector_statuses

    config = _load_config(args.config)

    async def read() -> dict:
        store = open_store(config.store)
        try:
            return await connector_statuses(config, store)
        finally:
            await store.close()

    statuses = asyncio.run(read())
    for name, status in statuses.items():
        marker = " (in use)" if name == config.connector else ""
        print(f"{name:10s} {status.value}{marker}")
    return 0 if statuses[config.connector].value == "Available" else 1


def _doctor(args: argparse.Namespace) -> int:
    from .onboarding.doctor import action_server_from_endpoints, default_sidecar_url, run_doctor

    config = _load_config(args.config)
    action_server = args.action_server or action_server_from_endpoints(Path(args.endpoints)) or "http://localhost:5055"
    sidecar = args.sidecar or config.sidecar.public_url or default_sidecar_url(config)
    return run_doctor(config, action_server, sidecar)


def _dead_letters(args: argparse.Namespace) -> int:
    import asyncio

    from .core import dead_letters
    from .core.store import open_store
    from .core.text import repaired

    config = _load_config(args.config)

    async def act() -> int:
        store = open_store(config.store)
        try:
            if args.action == "list":
                return _list_parked(await dead_letters.parked_items(store))
            parked = await dead_letters.find(store, args.item_id)
            if parked is None:
                print(f"no parked item {args.item_id!r} (see: rasa-handoff dead-letters list)", file=sys.stderr)
                return 1
            if args.action == "show":
                # Repaired for the terminal only: what is stored (and replayed) stays as it was.
                print(json.dumps(repaired({"queue": parked.queue, **parked.item}), indent=2, ensure_ascii=False))
                return 0
            done = await (dead_letters.replay if args.action == "replay" else dead_letters.drop)(store, parked)
            print(f"{'replayed onto ' + parked.queue if args.action == 'replay' else 'dropped'}: {parked.item_id}"
                  if done else f"{parked.item_id} was already gone")
            return 0
        finally:
            await store.close()

    return asyncio.run(act())


def _list_parked(items: list) -> int:
    from .core.text import repair_text

    if not items:
        print("No parked items.")
        return 0
    for parked in items:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(parked.parked_at)) if parked.parked_at else "?"
        print(repair_text(f"{parked.item_id}  {when}  {parked.queue}\n    {parked.reason}"))
    print(f"{len(items)} parked. Show one: rasa-handoff dead-letters show ID; then replay ID or drop ID.")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(f"ok: connector {config.connector}, store {config.store.type}, Rasa at {config.rasa.url}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from .onboarding import run_init

    return run_init(Path(args.bot_dir), apply=args.apply, dry_run=args.dry_run, force=args.force)


def _check_log_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    # argparse checks the choices of options given, not of defaults read from the environment.
    args.log_format, args.log_level = args.log_format.lower(), args.log_level.lower()
    if args.log_format not in LOG_FORMATS:
        parser.error(f"--log-format (or ${LOG_FORMAT_ENV}) must be one of {', '.join(LOG_FORMATS)}")
    if args.log_level not in LOG_LEVELS:
        parser.error(f"--log-level (or ${LOG_LEVEL_ENV}) must be one of {', '.join(LOG_LEVELS)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rasa-handoff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action=VersionAction, help="the versions of rasa-handoff, rasa-sdk and Rasa")
    parser.add_argument(
        "--log-format", choices=LOG_FORMATS, type=str.lower, default=os.environ.get(LOG_FORMAT_ENV) or "text",
        help=f"text, or json: one JSON object per line (default: ${LOG_FORMAT_ENV} or text)",
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, type=str.lower, default=os.environ.get(LOG_LEVEL_ENV) or "info",
        help=f"default: ${LOG_LEVEL_ENV} or info",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sidecar = commands.add_parser("sidecar", help="run the webhook receiver")
    sidecar.add_argument("--config", help="path to handoff.yml (default: $HANDOFF_CONFIG or ./handoff.yml)")
    sidecar.add_argument("--host")
    sidecar.add_argument("--port", type=int)
    sidecar.add_argument("--demo-chat", action="store_true", help=argparse.SUPPRESS)
    sidecar.set_defaults(run=_sidecar)

    demo = commands.add_parser("demo", help="run a demo bot with handoff to the built-in agent inbox")
    demo.add_argument("--rasa-port", type=int, default=5005)
    demo.add_argument("--actions-port", type=int, default=5055)
    demo.add_argument("--sidecar-port", type=int, default=5056)
    demo.set_defaults(run=_demo)

    status = commands.add_parser("status", help="Not configured / Available / Unavailable per connector")
    status.add_argument("--config")
    status.set_defaults(run=_status)

    doctor = commands.add_parser("doctor", help="check a running deployment: Rasa, the action server, the sidecar, the desk")
    doctor.add_argument("--config", help="the handoff.yml the action server and the sidecar use")
    doctor.add_argument("--endpoints", default="endpoints.yml", help="Rasa's endpoints.yml, for the action server's URL")
    doctor.add_argument("--action-server", help="the action server's URL (default: from --endpoints, else http://localhost:5055)")
    doctor.add_argument("--sidecar", help="the sidecar's URL (default: sidecar.public_url, else sidecar.host:port)")
    doctor.set_defaults(run=_doctor)

    check = commands.add_parser("check-config", help="validate handoff.yml")
    check.add_argument("--config")
    check.set_defaults(run=_check_config)

    dead = commands.add_parser("dead-letters", help="list, show, replay or drop items that could not be delivered")
    dead.add_argument("--config")
    dead_actions = dead.add_subparsers(dest="action", required=True)
    dead_actions.add_parser("list", help="every parked item, with why")
    for action, what in (("show", "print one item"), ("replay", "put it back at the end of its queue"),
                         ("drop", "forget it")):
        dead_actions.add_parser(action, help=what).add_argument("item_id")
    dead.set_defaults(run=_dead_letters)

    init = commands.add_parser("init", help="add handoff to a bot: domain, data, handoff.yml; check its Rasa config")
    init.add_argument("bot_dir")
    init.add_argument("--apply", action="store_true", help="also add what config/endpoints/credentials.yml lack")
    init.add_argument("--dry-run", action="store_true", help="print the diff of what would change; write nothing")
    init.add_argument("--force", action="store_true", help="replace handoff's own files that differ from this version's")
    init.set_defaults(run=_init)

    args = parser.parse_args(argv)
    _check_log_options(parser, args)
    configure_logging(args.log_format, args.log_level)
    try:
        return args.run(args)
    except ConfigError as error:
        print(f"rasa-handoff: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
