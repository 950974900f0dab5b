#!/usr/bin/env bash
# Upgrades an installed Touchgate to the release in this source tree (or --wheel), and rolls back
# if the new release does not become ready:
#   sudo deploy/upgrade.sh [--wheel PATH] [--wheelhouse DIR] [--no-deps]
# Steps: install the new release beside the running one; check it reads the current config;
# stop the service; back up the database (SQLite online backup) and migrate it with the new
# release; switch `current`; start and wait for READY=1 (systemd Type=notify). If that fails:
# stop, restore the backup (the old release refuses a newer schema), switch back, start the old.
# Other options:
#   --ready-timeout S   how long the new release may take to become ready (default 240)
#   --keep N            old releases kept for rollback (default 2)
#   --root DIR          staged installation (tests): no systemctl; --ready-cmd CMD decides instead
#   --python PATH       interpreter for the new venv (default python3)
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=deploy/lib.sh
source "$SRC/deploy/lib.sh"

ready_timeout=240
ready_cmd=""
keep=2

# take_upgrade_option ARGS...: the options only upgrade.sh takes (see parse_options in lib.sh).
# shellcheck disable=SC2317  # called through parse_options, which shellcheck cannot follow
take_upgrade_option() {
  case "$1" in
    --ready-timeout) ready_timeout="$2"; TAKEN=2 ;;
    --ready-cmd) ready_cmd="$2"; TAKEN=2 ;;
    --keep) keep="$2"; TAKEN=2 ;;
  esac
}
parse_options upgrade take_upgrade_option "$@"
need_root "for a staged installation"

old="$(current_release)"
[[ -n "$old" ]] || die "no installed release in $APP_DIR: run deploy/install.sh first"
old_dir="$ROOT$APP_DIR/releases/$old"

# The new release keeps the old one's extras: a gateway with voice stays with voice.
extras=""
if compgen -G "$old_dir/venv/lib/python3*/site-packages/vosk" >/dev/null; then
  extras="speech"
fi

scratch=""
if [[ -z "$wheel" ]]; then
  scratch="$(mktemp -d)"
  wheel="$(build_wheel "$scratch")"
fi
new="$(install_release "$wheel" "$extras")"
[[ -n "$scratch" ]] && rm -rf "$scratch"
if [[ "$new" == "$old" ]]; then
  log "release $new is already the current one"
  exit 0
fi
new_dir="$ROOT$APP_DIR/releases/$new"
config="$ROOT$ETC_DIR/config.yaml"

# as_service CMD...: database work runs as the service's user, so files it creates (WAL, backups)
# belong to the service. In a staging root there is no such user.
as_service() {
  if staged; then
    "$@"
  else
    runuser -u touchgate -- "$@"
  fi
}

migrate_args=(--config "$config" --backup-dir "$ROOT$STATE_DIR/backups")
staged && migrate_args+=(--root "$ROOT")
as_service "$new_dir/venv/bin/python" "$new_dir/deploy/migrate_db.py" "${migrate_args[@]}" --check-only \
  || die "release $new cannot read $ETC_DIR/config.yaml (see above); nothing was changed"

service() {
  staged || systemctl "$@"
}

# Start the current release and wait until it is ready: `systemctl start` of a Type=notify unit
# returns once READY=1 arrived, or fails when the unit fails or times out.
start_and_wait() {
  if staged; then
    [[ -z "$ready_cmd" ]] || bash -c "$ready_cmd"
    return
  fi
  timeout "$ready_timeout" systemctl start touchgate && systemctl is-active --quiet touchgate
}

log "stopping touchgate ($old)"
service stop touchgate
report="$(as_service "$new_dir/venv/bin/python" "$new_dir/deploy/migrate_db.py" "${migrate_args[@]}")" \
  || { service start touchgate; die "migration failed; the database is unchanged and $old runs again"; }
log "database: $report"
backup="$(echo "$report" | sed -n 's/.*"backup": "\([^"]*\)".*/\1/p')"
database="$(echo "$report" | sed -n 's/.*"database": "\([^"]*\)".*/\1/p')"

switch_to "$new"
if ! cmp -s "$SRC/deploy/touchgate.service" "$ROOT/etc/systemd/system/touchgate.service"; then
  install -m 0644 "$SRC/deploy/touchgate.service" "$ROOT/etc/systemd/system/touchgate.service"
  service daemon-reload
fi

if start_and_wait; then
  prune_releases "$keep"
  log "upgraded $old -> $new"
  exit 0
fi

log "release $new did not become ready: rolling back to $old"
service stop touchgate || true
if [[ -n "$backup" ]]; then
  # The old release refuses a schema newer than its own, so the pre-migration copy comes back.
  as_service cp "$backup" "$database.restore"
  rm -f "$database-wal" "$database-shm"
  mv "$database.restore" "$database"
  log "database restored from $backup"
fi
switch_to "$old"
if ! cmp -s "$old_dir/deploy/touchgate.service" "$ROOT/etc/systemd/system/touchgate.service"; then
  install -m 0644 "$old_dir/deploy/touchgate.service" "$ROOT/etc/systemd/system/touchgate.service"
  service daemon-reload
fi
# The failed attempts may have used up the unit's start limit; the old release gets a clean slate.
service reset-failed touchgate || true
service start touchgate || true
die "upgrade to $new failed and was rolled back; see journalctl -u touchgate"
