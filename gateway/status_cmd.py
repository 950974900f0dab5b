"""`touchgate status`: the status page's picture in the terminal.

Asks the running gateway's admin API when it is enabled (live: broker, voice turns, rule
firings); otherwise, or when the gateway does not answer, reads the database file read-only and
says so (the live-only parts are then unknown).
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import ValidationError

from gateway.api.models import StatusReport
from gateway.api.status import build_status
from gateway.config.settings import Settings
from gateway.store.operator_rows import open_read_only, store_overview
from gateway.commandline import add_config_argument, settings_or_exit

TIMEOUT_S = 5.0


class StatusUnavailable(Exception):
    pass


def fetch_from_api(url: str, token: str | None) -> StatusReport:
    request = urllib.request.Request(url.rstrip("/") + "/api/status")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - operator-given URL
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise StatusUnavailable(f"{url} answered {exc.code}: {exc.read().decode('utf-8', 'replace')[:200]}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StatusUnavailable(f"{url} did not answer: {getattr(exc, 'reason', exc)}") from exc
    try:
        return StatusReport.model_validate_json(body)
    except ValidationError as exc:
        raise StatusUnavailable(f"{url} sent something that is not a status report: {exc.errors()[0]['msg']}") from exc


def read_from_database(settings: Settings, path: Path) -> StatusReport:
    try:
        db = open_read_only(path)
    except FileNotFoundError as exc:
        raise StatusUnavailable(str(exc)) from exc
    try:
        overview = store_overview(db)
    finally:
        db.conn.close()
    return build_status(settings.site_id, settings.mqtt.host, settings.mqtt.port, overview, live=None)


def _when(ts: float | None) -> str:
    return "never" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _hms(ts: float | None) -> str:
    return "–" if ts is None else time.strftime("%H:%M:%S", time.gmtime(ts))


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} kB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "    " + "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*headers), *(fmt.format(*r) for r in rows)]


def render_text(report: StatusReport) -> str:
    source = "live from the gateway" if report.source == "gateway" else "from the database only (gateway not asked)"
    broker = {True: "connected", False: "DISCONNECTED", None: "unknown"}[report.broker.connected]
    c = report.central
    if c.configured is None:
        central = "unknown (ask the running gateway)"
    elif not c.configured:
        central = "not configured (sync.url unset)"
    else:
        central = f"{c.state or 'starting'}, last success {_when(c.last_success_at)}" + (f", error: {c.last_error}" if c.last_error else "")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(c.counts.items()) if v)
    age = "" if report.outbox.oldest_age_s is None else f", oldest {report.outbox.oldest_age_s:.0f} s"
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.dead_letters.by_reason.items()))
    lines = [
        f"Touchgate {report.site} ({report.version}) — {source}, {_when(report.generated_at)}",
        f"  ready         {'unknown' if report.ready is None else ('yes' if report.ready else 'NO')}",
        f"  broker        {broker} ({report.broker.host}:{report.broker.port})",
        f"  central       {central}",
        f"  sync counts   {counts or 'none yet'}",
        f"  events        {report.events.per_minute}/min, {report.events.total} stored, last {_when(report.events.last_at)}",
        f"  outbox        {report.outbox.depth} events, {_size(report.outbox.bytes)}{age}",
        f"  dead letters  {report.dead_letters.total} total, {report.dead_letters.last_hour} in the last hour"
        + (f" ({reasons})" if reasons else ""),
        f"  rules         {'unknown' if report.rules_loaded is None else report.rules_loaded} loaded",
        f"  devices       {report.devices_seen} seen",
    ]
    if report.devices:
        lines += _table(
            ["SITE", "DEVICE", "PROFILE", "LAST SEEN", "MESSAGES"],
            [[d.site, d.device, d.profile, _hms(d.last_seen), str(d.messages)] for d in report.devices],
        )
    if report.source == "gateway":
        lines.append(f"  voice turns   {len(report.recent_voice_turns)} recent")
        if report.recent_voice_turns:
            lines += _table(
                ["TIME", "SITE", "TEXT", "INTENT", "LATENCY"],
                [[_hms(t.at), t.site, t.text, t.intent or "(not recognised)", f"{t.latency_s:.2f} s"] for t in report.recent_voice_turns],
            )
        lines.append(f"  rule firings  {len(report.recent_rule_firings)} recent")
        if report.recent_rule_firings:
            lines += _table(
                ["TIME", "RULE", "EVENT", "DETAIL"],
                [[_hms(f.at), f.rule, f.event_id or "", f.detail] for f in report.recent_rule_firings],
            )
    if report.recent_dead_letters:
        lines.append("  recent dead letters")
        lines += _table(
            ["TIME", "TOPIC", "REASON", "DETAIL"],
            [[_hms(d.received_at), d.topic, d.reason, d.detail[:80]] for d in report.recent_dead_letters],
        )
    return "\n".join(lines)


def api_url(settings: Settings) -> str:
    host = settings.api.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{settings.api.port}"


def _read_token_file(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def cmd_status(args: argparse.Namespace) -> int:
    if args.token is not None:
        print(
            "touchgate status: --token would show the token to every user on this machine (ps);"
            " use --token-file FILE, or TOUCHGATE_API__TOKEN in the environment file (--env-file)",
            file=sys.stderr,
        )
        return 2
    settings = settings_or_exit(args.config)
    try:
        token = _read_token_file(args.token_file) if args.token_file else (settings.api.token.get_secret_value() if settings.api.token else None)
    except OSError as exc:
        print(f"touchgate status: cannot read the token file {args.token_file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    report: StatusReport | None = None
    if args.db is None and (args.url or settings.api.enabled):
        url = args.url or api_url(settings)
        try:
            report = fetch_from_api(url, token)
        except StatusUnavailable as exc:
            print(f"touchgate status: {exc}; reading the database instead", file=sys.stderr)
    if report is None:
        try:
            report = read_from_database(settings, args.db or settings.store.path)
        except StatusUnavailable as exc:
            print(f"touchgate status: {exc}", file=sys.stderr)
            return 1
    print(report.model_dump_json(indent=2) if args.json else render_text(report))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    parser = subparsers.add_parser("status", help="show the gateway's status (as the status page does)")
    add_config_argument(parser)
    parser.add_argument("--url", default=None, help="admin API base URL (default: from api.host/api.port)")
    # Never the token itself on the command line: any user can read another's argv (ps). An old
    # `--token T` is refused with the way that works (it would also abbreviate --token-file).
    parser.add_argument("--token", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--token-file", type=Path, default=None, help="file holding the API token (default: api.token / TOUCHGATE_API__TOKEN)"
    )
    parser.add_argument("--db", type=Path, default=None, help="read this database file instead of asking the API")
    parser.add_argument("--json", action="store_true", help="print the status report as JSON")
    parser.set_defaults(handler=cmd_status)

