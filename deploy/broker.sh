#!/usr/bin/env bash
# Mosquitto for Touchgate: the listener configuration, and one account per device with an ACL
# that follows the device's class.
#   broker.sh config  [--conf-dir D] [--out FILE] [--loopback-port 1883] [--lan-port 8883]
#                     [--cert-port 8884] [--bind 0.0.0.0]
#   broker.sh account CLASS NAME [--site SITE] [--password PW] [--conf-dir D]
#   broker.sh remove  NAME [--conf-dir D]
#   broker.sh certs   --ca-dir DIR [--conf-dir D]   copy the CA and broker certificate in
#   broker.sh acl     [--conf-dir D]          rewrite the ACL from the accounts list
# CLASS is one of: gateway, sensor, bridge, speaker, display, staff, kiosk (see docs/operators.md).
# Without --password a random one is made and printed once. NAME is the MQTT username; for a
# device on the certificate listener it is the CN of its certificate (make-certs.sh client NAME).
set -euo pipefail

conf_dir="/etc/mosquitto/touchgate"
out=""
loopback_port=1883
lan_port=8883
cert_port=8884
bind="0.0.0.0"
site=""
# A password given by a caller (install.sh) comes in the environment, never on a command line.
password="${TOUCHGATE_BROKER_PASSWORD:-}"
ca_dir=""
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "broker: $*" >&2; exit 1; }
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

args=()
while (($#)); do
  case "$1" in
    --conf-dir) conf_dir="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --loopback-port) loopback_port="$2"; shift 2 ;;
    --lan-port) lan_port="$2"; shift 2 ;;
    --cert-port) cert_port="$2"; shift 2 ;;
    --bind) bind="$2"; shift 2 ;;
    --site) site="$2"; shift 2 ;;
    --ca-dir) ca_dir="$2"; shift 2 ;;
    --password) password="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) args+=("$1"); shift ;;
  esac
done
((${#args[@]} >= 1)) || usage

accounts="$conf_dir/accounts"
name_pattern='^[A-Za-z0-9_.-]{1,64}$'

# Files the broker reads: readable by the mosquitto group only (they hold password hashes).
protect() {
  chmod 0640 "$1"
  if [[ "$(id -u)" -eq 0 ]] && getent group mosquitto >/dev/null; then
    chgrp mosquitto "$1"
  fi
}

# Mosquitto re-reads passwords and ACL on SIGHUP; only the system broker is reloaded.
reload_broker() {
  if [[ "$conf_dir" == /etc/mosquitto/* ]] && command -v systemctl >/dev/null \
    && systemctl is-active --quiet mosquitto 2>/dev/null; then
    systemctl reload mosquitto
  fi
}

render_config() {
  local target="${out:-$conf_dir/touchgate.conf}"
  mkdir -p "$(dirname "$target")"
  sed -e "s|@CONF_DIR@|$conf_dir|g" -e "s|@LOOPBACK_PORT@|$loopback_port|g" -e "s|@LAN_PORT@|$lan_port|g" \
    -e "s|@CERT_PORT@|$cert_port|g" -e "s|@BIND@|$bind|g" "$here/mosquitto/touchgate.conf.in" >"$target.tmp"
  mv "$target.tmp" "$target"
  chmod 0644 "$target"
  echo "broker configuration written: $target"
}

# acl_for CLASS NAME SITE: the ACL lines of one account. Topic layouts are the vendors' own
# (see device_profiles/); "actions" (what the gateway sends to speakers, displays and staff) may
# be published by the gateway account only, because no other class has a write line for them.
# Each account's lines name its own site, written here per account: what Mosquitto's `pattern`
# lines (%u, %c) would give, without their reach. A `pattern` line applies to every account
# (a sensor named like a site would read that site's replies), and %c is whatever client id a
# client chooses (a %c rule lets anyone read a site by connecting under its name).
acl_for() {
  local class="$1" name="$2" site="$3"
  echo "user $name"
  case "$class" in
    gateway)
      echo "topic readwrite #"
      ;;
    sensor)
      # A sensor writes only beneath its own name: Tasmota (tele/stat), Shelly, Milesight, and
      # a till's point-of-sale bridge (pos/SITE/NAME/sale: device_profiles/generic-till-sale.yaml).
      echo "topic write tele/$name/#"
      echo "topic write stat/$name/#"
      echo "topic write shellies/$name/#"
      echo "topic write milesight/$site/$name/#"
      echo "topic write pos/$site/$name/#"
      echo "topic read cmnd/$name/#"
      echo "topic read shellies/$name/command"
      ;;
    bridge)
      # A radio bridge (Zigbee2MQTT, OpenMQTTGateway) speaks for every device of its site.
      echo "topic write zigbee2mqtt/$site/#"
      echo "topic write home/$site/#"
      echo "topic write zigbee2mqtt/bridge/#"
      echo "topic read zigbee2mqtt/bridge/request/#"
      echo "topic read home/$site/commands/#"
      ;;
    speaker)
      # A Hermes satellite: its own site's audio, and the replies to it only as that site's
      # audio (playBytes, spoken by the gateway's TTS). Never hermes/tts/say: it carries every
      # site's reply text, names and points included (docs/privacy.md, "Replies stay at their
      # site"). Wake-word and listening topics carry the siteId in the payload, not the topic
      # (Hermes' design), so they cannot be narrowed to the site here; they carry no reply text.
      echo "topic write hermes/audioServer/$site/audioFrame"
      echo "topic write hermes/audioServer/$site/playFinished"
      echo "topic write hermes/hotword/+/detected"
      echo "topic read hermes/audioServer/$site/#"
      echo "topic read hermes/hotword/toggleOn"
      echo "topic read hermes/hotword/toggleOff"
      echo "topic read hermes/asr/startListening"
      echo "topic read hermes/asr/stopListening"
      echo "topic read hermes/feedback/#"
      ;;
    kiosk)
      # A consent touchpoint (consent button, card terminal, kiosk app): consents and erasures
      # for its own site only (the gateway also checks the site: privacy.touchpoint_sites).
      echo "topic write touchgate/$site/consent"
      echo "topic write touchgate/$site/erasure"
      ;;
    display)
      # What the rules show on this display (rules.display_topic: touchgate/<site>/display/<name>).
      echo "topic read touchgate/$site/display/$name/#"
      ;;
    staff)
      # Staff notifications of the site (rules.staff_topic: touchgate/<site>/staff).
      echo "topic read touchgate/$site/staff/#"
      ;;
    *)
      die "unknown class '$class' (gateway, sensor, bridge, speaker, display, staff, kiosk)"
      ;;
  esac
  echo
}

render_acl() {
  mkdir -p "$conf_dir"
  touch "$accounts"
  local tmp="$conf_dir/acl.tmp" class name account_site
  {
    echo "# Generated by deploy/broker.sh from $accounts; edit with 'broker.sh account|remove'."
    echo "# No anonymous section: anonymous clients are refused (allow_anonymous false)."
    echo
    while read -r class name account_site; do
      [[ -z "${class:-}" || "$class" == \#* ]] && continue
      acl_for "$class" "$name" "${account_site:-}"
    done <"$accounts"
  } >"$tmp"
  protect "$tmp"
  mv "$tmp" "$conf_dir/acl"
}

# The broker's key must be readable by the mosquitto user (it drops root before loading it);
# the CA's own key stays behind in the CA folder.
copy_certs() {
  [[ -n "$ca_dir" ]] || die "certs needs --ca-dir (where make-certs.sh put ca.crt, broker.crt, broker.key)"
  local file
  mkdir -p "$conf_dir"
  for file in ca.crt broker.crt broker.key; do
    [[ -s "$ca_dir/$file" ]] || die "$ca_dir/$file is missing: run make-certs.sh ca and make-certs.sh broker"
    cp "$ca_dir/$file" "$conf_dir/$file.tmp"
    protect "$conf_dir/$file.tmp"
    mv "$conf_dir/$file.tmp" "$conf_dir/$file"
  done
  echo "broker certificates copied to $conf_dir"
}

# The password never goes on a command line (`ps` shows every process's arguments to every
# user, and `mosquitto_passwd -b` would put it there): it is written to a private file (printf is
# a shell builtin, no process), hashed in place by `mosquitto_passwd -U`, and merged.
set_password() {
  local name="$1" secret="$2" file="$conf_dir/passwd" plain
  command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found (apt-get install mosquitto)"
  plain="$(mktemp "$conf_dir/.passwd.XXXXXX")"
  printf '%s:%s\n' "$name" "$secret" >"$plain"
  mosquitto_passwd -U "$plain" || { rm -f "$plain"; die "mosquitto_passwd could not hash the password for $name"; }
  touch "$file"
  (
    umask 077
    { grep -v -E "^${name//./\\.}:" "$file" || true; cat "$plain"; } >"$file.tmp"
  )
  rm -f "$plain"
  mv "$file.tmp" "$file"
  protect "$file"
}

add_account() {
  local class="$1" name="$2"
  [[ "$name" =~ $name_pattern ]] || die "name '$name': use letters, digits, '_', '.', '-' (1-64)"
  [[ -z "$site" || "$site" =~ $name_pattern ]] || die "site '$site': use letters, digits, '_', '.', '-'"
  case "$class" in
    gateway) ;;
    sensor|bridge|speaker|display|staff|kiosk) [[ -n "$site" ]] || die "class $class needs --site SITE" ;;
    *) die "unknown class '$class' (gateway, sensor, bridge, speaker, display, staff, kiosk)" ;;
  esac
  mkdir -p "$conf_dir"
  touch "$accounts"
  # Replace any earlier line for this name: re-running with new values is how a device moves.
  grep -v -E "^[a-z]+ ${name//./\\.}( |$)" "$accounts" >"$accounts.tmp" || true
  echo "$class $name $site" >>"$accounts.tmp"
  mv "$accounts.tmp" "$accounts"
  local generated=0
  if [[ -z "$password" ]]; then
    password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    generated=1
  fi
  set_password "$name" "$password"
  render_acl
  reload_broker
  echo "account $name ($class${site:+, site $site}) set"
  if ((generated)); then
    echo "password for $name: $password"
  fi
}

remove_account() {
  local name="$1"
  touch "$accounts"
  grep -v -E "^[a-z]+ ${name//./\\.}( |$)" "$accounts" >"$accounts.tmp" || true
  mv "$accounts.tmp" "$accounts"
  if [[ -s "$conf_dir/passwd" ]]; then
    mosquitto_passwd -D "$conf_dir/passwd" "$name" >/dev/null 2>&1 || true
  fi
  render_acl
  reload_broker
  echo "account $name removed"
}

case "${args[0]}" in
  config) render_config ;;
  account) ((${#args[@]} == 3)) || usage; add_account "${args[1]}" "${args[2]}" ;;
  remove) ((${#args[@]} == 2)) || usage; remove_account "${args[1]}" ;;
  certs) copy_certs ;;
  acl) render_acl ;;
  *) usage ;;
esac
