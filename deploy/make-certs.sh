#!/usr/bin/env bash
# Makes the shop's own certificate authority and the certificates signed by it, with openssl:
#   make-certs.sh [--dir DIR] ca                                  the local CA (once per shop)
#   make-certs.sh [--dir DIR] broker [--name HOST]... [--ip IP]...  Mosquitto's server certificate
#   make-certs.sh [--dir DIR] client NAME                         a device's or the gateway's client certificate
# A local CA rather than public certificates: the broker lives on a shop LAN with no public name,
# and devices must trust exactly this shop's broker, not anything a public CA ever signed.
# Existing keys and certificates are kept (re-running is safe); --force replaces them.
set -euo pipefail

dir="/etc/touchgate/ca"
days_ca=3650
days_leaf=825
force=0
names=()
ips=()

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

die() { echo "make-certs: $*" >&2; exit 1; }

args=()
while (($#)); do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --name) names+=("$2"); shift 2 ;;
    --ip) ips+=("$2"); shift 2 ;;
    --days) days_leaf="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) usage ;;
    *) args+=("$1"); shift ;;
  esac
done
((${#args[@]} >= 1)) || usage
command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"

umask 077
mkdir -p "$dir"
ca_key="$dir/ca.key"
ca_crt="$dir/ca.crt"

exists() {
  # Keep what is there unless --force: a new CA would orphan every device already enrolled.
  [[ -s "$1" && "$force" -eq 0 ]]
}

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

make_ca() {
  if exists "$ca_crt"; then
    echo "CA kept: $ca_crt"
    return
  fi
  new_key "$ca_key"
  openssl req -x509 -new -key "$ca_key" -sha256 -days "$days_ca" -subj "/O=Touchgate/CN=Touchgate local CA $(hostname)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$ca_crt"
  chmod 0644 "$ca_crt"
  echo "CA made: $ca_crt"
}

# sign NAME EXTENSIONS: key and certificate NAME.key/NAME.crt signed by the CA.
sign() {
  local name="$1" extensions="$2" subject_cn="$3"
  [[ -s "$ca_key" ]] || die "no CA in $dir: run '$0 --dir $dir ca' first"
  if exists "$dir/$name.crt"; then
    echo "certificate kept: $dir/$name.crt"
    return
  fi
  local ext
  ext="$(mktemp)"
  printf '%s\n' "$extensions" >"$ext"
  new_key "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/O=Touchgate/CN=$subject_cn" -out "$dir/$name.csr"
  openssl x509 -req -in "$dir/$name.csr" -CA "$ca_crt" -CAkey "$ca_key" -CAcreateserial -sha256 \
    -days "$days_leaf" -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$ext"
  chmod 0644 "$dir/$name.crt"
  echo "certificate made: $dir/$name.crt"
}

case "${args[0]}" in
  ca)
    make_ca
    ;;
  broker)
    host="$(hostname)"
    ((${#names[@]})) || names=("$host" "$host.local" "localhost")
    ((${#ips[@]})) || ips=("127.0.0.1")
    san=""
    for n in "${names[@]}"; do san+="DNS:$n,"; done
    for i in "${ips[@]}"; do san+="IP:$i,"; done
    sign broker "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=${san%,}" "${names[0]}"
    ;;
  client)
    ((${#args[@]} == 2)) || usage
    client="${args[1]}"
    [[ "$client" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "client name '$client': use letters, digits, '_', '.', '-'"
    # The certificate's CN is the MQTT username on the broker's certificate listener
    # (use_identity_as_username), so the ACL for that name applies.
    sign "$client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth" "$client"
    ;;
  *)
    usage
    ;;
esac
