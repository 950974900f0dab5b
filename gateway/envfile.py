"""The environment the systemd unit gives `touchgate run`, for every other command too.

deploy/ keeps secrets out of config.yaml and out of every command line: they live in
/etc/touchgate/secrets.env (`TOUCHGATE_SYNC__TOKEN=…`, `TOUCHGATE_API__TOKEN=…`,
`TOUCHGATE_MQTT__PASSWORD=…`), which the unit reads with `EnvironmentFile=`. An operator's
`touchgate check --config /etc/touchgate/config.yaml` or `touchgate status` must see the same
values, or it refuses a config the service runs with (sync.url without sync.token) or asks the
API without its token. So each command reads, before its settings:
- the file named by `--env-file FILE` (it must be readable), or else
- `secrets.env` beside the `--config` file when there is one (deploy/ puts it there); one that
  cannot be read (not root, not in the touchgate group) is skipped with a note on stderr.
Variables already in the environment win, as a shell's own settings should; the file's values
are put into this process's environment, exactly as systemd does for the service.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dotenv import dotenv_values

BESIDE_CONFIG = "secrets.env"


class EnvFileError(Exception):
    pass


def environment_file(config: Path | None, explicit: Path | None) -> tuple[Path | None, bool]:
    """(the file to read, whether the operator named it), or (None, False) when there is none."""
    if explicit is not None:
        return explicit, True
    if config is not None:
        beside = config.parent / BESIDE_CONFIG
        if beside.is_file():
            return beside, False
    return None, False


def read_environment_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EnvFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    from io import StringIO

    values = dotenv_values(stream=StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


def apply_environment_file(config: Path | None, explicit: Path | None) -> Path | None:
    """Put the file's variables into os.environ (not over ones already set); returns the file
    read, if any. Raises EnvFileError for a named file that cannot be read."""
    path, named = environment_file(config, explicit)
    if path is None:
        return None
    try:
        values = read_environment_file(path)
    except EnvFileError as exc:
        if named:
            raise
        print(
            f"touchgate: note: {exc}; secrets kept there (TOUCHGATE_*) are unknown to this command."
            " Run it as root or as a member of the touchgate group, or pass --env-file.",
            file=sys.stderr,
        )
        return None
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return path
