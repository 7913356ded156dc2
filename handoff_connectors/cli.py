"""The `rasa-handoff` command.

    rasa-handoff sidecar [--config handoff.yml]   receive desk webhooks, push to Rasa
    rasa-handoff status [--config ...]            each connector: Not configured / Available / Unavailable
    rasa-handoff check-config [--config ...]      validate handoff.yml and exit
    rasa-handoff init BOT_DIR                     add the handoff domain and data to a bot
    rasa-handoff demo                             a real Rasa demo bot + the local agent inbox
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from .core.config import ConfigError, load_config

BUNDLE = Path(__file__).parent / "bundle"


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO, and Rasa's token travels in the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _sidecar(args: argparse.Namespace) -> int:
    from .sidecar import create_app

    config = load_config(args.config)
    app = create_app(config, demo_chat=args.demo_chat)
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

    return run_demo(DemoPorts(args.rasa_port, args.actions_port, args.sidecar_port))


def _status(args: argparse.Namespace) -> int:
    import asyncio

    from .core.store import open_store
    from .registry import connector_statuses

    config = load_config(args.config)

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


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(f"ok: connector {config.connector}, store {config.store.type}, Rasa at {config.rasa.url}")
    return 0


def _init(args: argparse.Namespace) -> int:
    bot = Path(args.bot_dir)
    targets = {
        BUNDLE / "domain.yml": bot / "domain" / "handoff.yml",
        BUNDLE / "data" / "nlu.yml": bot / "data" / "handoff_nlu.yml",
        BUNDLE / "data" / "rules.yml": bot / "data" / "handoff_rules.yml",
        BUNDLE / "handoff.example.yml": bot / "handoff.yml",
    }
    for source, target in targets.items():
        if target.exists() and not args.force:
            print(f"kept {target} (exists; --force overwrites)")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        print(f"wrote {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rasa-handoff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-level", default="info")
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

    check = commands.add_parser("check-config", help="validate handoff.yml")
    check.add_argument("--config")
    check.set_defaults(run=_check_config)

    init = commands.add_parser("init", help="add handoff's domain, data and config to a bot")
    init.add_argument("bot_dir")
    init.add_argument("--force", action="store_true")
    init.set_defaults(run=_init)

    args = parser.parse_args(argv)
    _configure_logging(args.log_level)
    try:
        return args.run(args)
    except ConfigError as error:
        print(f"rasa-handoff: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
