"""The `touchgate` command line: run, check, demo, status, and each part's own commands
(`Part.commands`, found through gateway/assembly.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from gateway.assembly import all_parts
from gateway.commandline import add_config_argument, print_problems, run_until_signalled, settings_or_exit
from gateway.config.problems import ConfigError
from gateway.envfile import EnvFileError, apply_environment_file
from gateway.logs import setup_logging
from gateway.status_cmd import register as register_status


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.app import run_gateway

    settings = settings_or_exit(args.config)
    setup_logging(settings.log_level)
    try:
        run_until_signalled(lambda: run_gateway(settings))
    except ConfigError as exc:
        print_problems(exc)
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
    register_status(sub)
    for part in all_parts():
        part.commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "env_file"):
        # Before any settings are read: the environment `touchgate run` gets from systemd.
        try:
            apply_environment_file(args.config, args.env_file)
        except EnvFileError as exc:
            print(f"touchgate: {exc}", file=sys.stderr)
            return 1
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
