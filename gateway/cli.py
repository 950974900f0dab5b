"""The `touchgate` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from gateway.config.problems import ConfigError
from gateway.config.settings import Settings, load_settings
from gateway.logs import setup_logging


def _settings_or_exit(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(1) from exc


def run_until_signalled(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `main` until it ends or SIGTERM/SIGINT arrives; then cancel it and let it clean up."""

    async def runner() -> None:
        task = asyncio.create_task(main())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(runner())


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.app import run_gateway

    settings = _settings_or_exit(args.config)
    setup_logging(settings.log_level)
    try:
        run_until_signalled(lambda: run_gateway(settings))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from gateway.check import check_all

    problems = check_all(args.config)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("configuration OK")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    return run_demo(args.config, duration_s=args.duration, broker=args.broker)


# Each part adds its own subcommands: a module with `register(subparsers) -> None` whose parsers
# call `add_config_argument` and `set_defaults(handler=...)`, the handler returning an exit code.
PART_COMMANDS: tuple[str, ...] = ("gateway.consent.cli", "gateway.status_cmd", "gateway.rules.cli", "gateway.sync.cli")


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="YAML config file (default: embedded defaults)")


def settings_or_exit(config: Path | None) -> Settings:
    return _settings_or_exit(config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touchgate", description="Edge gateway for customer touchpoints")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        add_config_argument(p)
        p.set_defaults(handler=handler)
        return p

    add("run", cmd_run, "run the gateway")
    add("check", cmd_check, "validate config, device profiles, rules and skills")
    demo = add("demo", cmd_demo, "run a whole shop on this machine and show what happens")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "embedded"],
        default="auto",
        help="auto: the configured broker if it answers, else a private Mosquitto, else embedded amqtt",
    )
    for module_name in PART_COMMANDS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
