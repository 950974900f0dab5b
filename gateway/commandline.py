"""Helpers every `touchgate` subcommand shares (the parts' commands use them too): the --config
argument, settings or a clean exit, and running a coroutine until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from gateway.config.problems import ConfigError
from gateway.config.settings import Settings, load_settings


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="YAML config file (default: embedded defaults)")
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="environment file with the secrets, as the systemd unit's EnvironmentFile"
        " (default: secrets.env beside --config, when there is one); the shell's own variables win",
    )


def settings_or_exit(config: Path | None) -> Settings:
    """The settings, or every problem on stderr and exit status 1."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        print_problems(exc)
        raise SystemExit(1) from exc


def print_problems(error: ConfigError) -> None:
    for problem in error.problems:
        print(problem, file=sys.stderr)


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
