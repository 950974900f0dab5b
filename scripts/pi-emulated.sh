#!/usr/bin/env bash
# Touchgate on a Raspberry Pi, without a Pi: an arm64 Debian 12 tree run under qemu-user emulation
# (binfmt_misc), the operator's real deploy/install.sh inside it (online, and offline from an
# aarch64 wheelhouse built on this host), then a smoke test of the installed gateway
# (scripts/pi/smoke.py, run by the installed arm64 Python). `make test-pi` runs it.
#   scripts/pi-emulated.sh [--cache DIR] [--only online|offline] [--rebuild]
# --cache DIR   where the arm64 tree and the downloads are kept between runs
#               (default $TOUCHGATE_PI_CACHE or /var/cache/touchgate-pi)
# --only MODE   one install path instead of both
# --rebuild     build the arm64 base tree again even if the cached one is complete
# Where this machine cannot emulate arm64 (not root, no binfmt_misc, no namespaces) it prints
# "test-pi: SKIPPED: <reason>" and exits 0, or exits 3 with TOUCHGATE_PI_REQUIRED=1. It never
# reports a pass for something that did not run. Emulated speed means nothing: no timings are
# asserted, only bounded by generous timeouts so a hang fails instead of eating the CI budget.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${TOUCHGATE_PI_CACHE:-/var/cache/touchgate-pi}"
modes=(online offline)
rebuild=0
SUITE=bookworm
# Bump when the recipe of the base tree changes: a cached tree with another value is rebuilt.
BASE_RECIPE="1 $SUITE arm64 minbase systemd ca-certificates policy-rc.d updates+security"
SITE=shop1

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while (($#)); do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --only) modes=("$2"); shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    -h|--help) usage ;;
    *) echo "pi-emulated: unknown argument '$1'" >&2; usage ;;
  esac
done
for mode in "${modes[@]}"; do
  [[ "$mode" == online || "$mode" == offline ]] || { echo "pi-emulated: --only online|offline" >&2; exit 2; }
done

started=$SECONDS
say() { printf 'test-pi [%4ds]: %s\n' "$((SECONDS - started))" "$*"; }
die() { printf 'test-pi: FAILED: %s\n' "$*" >&2; exit 1; }
skip() {
  echo "test-pi: SKIPPED: $*"
  if [[ "${TOUCHGATE_PI_REQUIRED:-0}" == 1 ]]; then
    echo "test-pi: TOUCHGATE_PI_REQUIRED=1, so a skip is a failure" >&2
    exit 3
  fi
  exit 0
}

# ---------------------------------------------------------------------------------------------
# 1. Can this machine run arm64 code at all? Every "no" is a skip with its reason.
preflight() {
  [[ "$(id -u)" -eq 0 ]] || skip "needs root (debootstrap, chroot, mount namespaces); run: sudo make test-pi"
  command -v dpkg-query >/dev/null || skip "not a Debian host: qemu-user-static and debootstrap come from Debian's archive"
  local host_arch
  host_arch="$(uname -m)"
  if [[ "$host_arch" != aarch64 ]]; then
    # Host packages of this target (scripts/pi-packages.txt), installed as root like `make venv` does.
    bash "$SRC/scripts/ensure-system-packages.sh" "$SRC/scripts/pi-packages.txt" \
      || die "could not install $(grep -v '^#' "$SRC/scripts/pi-packages.txt" | xargs)"
    local misc=/proc/sys/fs/binfmt_misc
    if [[ ! -e "$misc/register" ]]; then
      mount -t binfmt_misc binfmt_misc "$misc" 2>/dev/null \
        || skip "binfmt_misc is not mounted and cannot be mounted here (a container without that privilege?)"
    fi
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    if [[ ! -f "$misc/qemu-aarch64" ]] || ! head -n 1 "$misc/qemu-aarch64" | grep -qx enabled; then
      skip "the kernel has no enabled qemu-aarch64 binfmt handler (update-binfmts --enable qemu-aarch64 failed)"
    fi
    # F (fix binary): the kernel holds the interpreter open, so it works inside a chroot that has no
    # copy of qemu. Without it, copy_qemu below puts one in the tree.
    grep -q '^flags:.*F' "$misc/qemu-aarch64" || say "qemu-aarch64 handler without the F flag: copying qemu into the tree"
  fi
  unshare --mount --pid --fork --net true 2>/dev/null \
    || skip "cannot create mount/pid/network namespaces here (unshare failed): needed to mount /proc and isolate the smoke test"
  for tool in debootstrap chroot ip; do
    command -v "$tool" >/dev/null || skip "$tool is missing"
  done
}

# ---------------------------------------------------------------------------------------------
# 2. Mounts. Every command in the tree runs in its own mount and pid namespace, so /proc, /dev
# and the bind mounts vanish with it, even when it is killed; the trap sweeps up anything that a
# crash of this script might still have left below the cache.
unmount_below() {
  local mounts
  mounts="$(findmnt -rn -o TARGET | grep -F "$cache/" | sort -r || true)"
  [[ -z "$mounts" ]] && return 0
  while read -r target; do
    umount -l "$target" 2>/dev/null || true
  done <<<"$mounts"
}
trap unmount_below EXIT
# A timeout's SIGTERM (make test-pi bounds the whole run) still runs the EXIT trap.
trap 'exit 143' TERM INT

# in_tree ROOT NET LIMIT COMMAND...: run COMMAND as root inside ROOT, killed after LIMIT (timeout's
# syntax), with a clean environment (as systemd or a login would give), /proc mounted. NET: host (the machine's network, to install)
# or isolated (a network namespace with only loopback: fixed ports never collide with the
# host's, and nothing the gateway does can reach out). Extra environment: IN_TREE_ENV array.
IN_TREE_ENV=()
in_tree() {
  local root="$1" net="$2" limit="$3"
  shift 3
  # Its own pid namespace: every process started in the tree dies with it.
  local flags=(--mount --pid --fork --kill-child)
  [[ "$net" == isolated ]] && flags+=(--net)
  # shellcheck disable=SC2016  # expanded by the inner shell, from its arguments
  timeout "$limit" unshare "${flags[@]}" -- bash -euo pipefail -c '
    root="$1"; net="$2"; cache="$3"; shift 3
    [[ "$net" == isolated ]] && ip link set lo up
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    mount -t tmpfs -o mode=0755 tmpfs "$root/run"
    mkdir -p "$root/run/lock" "$cache/apt-archives/partial"
    # Downloaded .deb files are kept between runs (a second run installs the same packages
    # from the arm64 archive again, but does not download them again).
    mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
    exec chroot "$root" "$@"
  ' _ "$root" "$net" "$cache" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
    "${IN_TREE_ENV[@]}" "$@"
}

# ---------------------------------------------------------------------------------------------
# 3. The arm64 base tree: Debian 12 minbase plus what Raspberry Pi OS Lite always has (systemd,
# CA certificates). Built once, cached; rebuilt when missing, incomplete or of another recipe.
base="$cache/base"
build_base() {
  if ((rebuild == 0)) && [[ -f "$base/.touchgate-pi-base" && "$(cat "$base/.touchgate-pi-base")" == "$BASE_RECIPE" ]]; then
    say "reusing the cached arm64 tree $base"
    return
  fi
  say "building the arm64 Debian 12 tree (debootstrap --arch=arm64 --variant=minbase $SUITE) in $base"
  unmount_below
  rm -rf "$base" "$base.partial"
  mkdir -p "$cache"
  # No mirror named: debootstrap's default, Debian's own redirector (plain http, signed indexes).
  if ! timeout 45m debootstrap --arch=arm64 --variant=minbase --include=systemd,ca-certificates \
    "$SUITE" "$base.partial" >"$cache/debootstrap.log" 2>&1; then
    tail -n 30 "$cache/debootstrap.log" >&2
    die "debootstrap failed (log: $cache/debootstrap.log)"
  fi
  local tree="$base.partial"
  rm -f "$tree"/var/cache/apt/archives/*.deb  # debootstrap's downloads: the shared apt cache takes over
  copy_qemu "$tree"
  # Packages must not start daemons in a chroot: the smoke test starts them the way systemd would.
  printf '#!/bin/sh\nexit 101\n' >"$tree/usr/sbin/policy-rc.d"
  chmod 0755 "$tree/usr/sbin/policy-rc.d"
  # Up to date like a Pi after `apt-get full-upgrade`: the updates and security suites, on the
  # mirror debootstrap used ("deb <mirror>/debian bookworm main").
  local line
  line="$(grep -m 1 "^deb .* $SUITE main" "$tree/etc/apt/sources.list")"
  {
    echo "$line"
    echo "${line/ $SUITE / $SUITE-updates }"
    echo "${line/\/debian $SUITE //debian-security $SUITE-security }"
  } >"$tree/etc/apt/sources.list.new"
  mv "$tree/etc/apt/sources.list.new" "$tree/etc/apt/sources.list"
  host_files "$tree"
  IN_TREE_ENV=(DEBIAN_FRONTEND=noninteractive)
  in_tree "$tree" host 30m sh -c 'apt-get update -qq && apt-get -y -qq dist-upgrade >/dev/null' \
    || die "updating the arm64 tree failed"
  IN_TREE_ENV=()
  echo "$BASE_RECIPE" >"$tree/.touchgate-pi-base"
  mv "$tree" "$base"
  say "arm64 tree ready"
}

copy_qemu() {
  if [[ "$(uname -m)" != aarch64 ]] && ! grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    install -m 0755 /usr/bin/qemu-aarch64-static "$1/usr/bin/qemu-aarch64-static"
  fi
}

# The host's DNS settings and CA bundle (a TLS-intercepting proxy's CA included), and a hosts file.
host_files() {
  local tree="$1"
  rm -f "$tree/etc/resolv.conf"
  cp -L /etc/resolv.conf "$tree/etc/resolv.conf"
  mkdir -p "$tree/etc/ssl/certs"
  cp -L /etc/ssl/certs/ca-certificates.crt "$tree/etc/ssl/certs/ca-certificates.crt"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n' "$(hostname)" >"$tree/etc/hosts"
}

# ---------------------------------------------------------------------------------------------
# 4. What the offline install takes along: an aarch64 wheelhouse built on this host.
wheelhouse="$cache/wheelhouse"
prepare_wheelhouse() {
  local stamp
  stamp="$(sha256sum "$SRC/pyproject.toml" "$SRC/scripts/pi/wheelhouse.sh" | sha256sum | cut -c1-16)"
  if [[ -f "$wheelhouse/.stamp" && "$(cat "$wheelhouse/.stamp")" == "$stamp" ]]; then
    say "reusing the aarch64 wheelhouse $wheelhouse"
  else
    say "building the aarch64 wheelhouse on this host (pip download --platform manylinux..._aarch64)"
    rm -rf "$wheelhouse"
    timeout 20m bash "$SRC/scripts/pi/wheelhouse.sh" --out "$wheelhouse" || die "building the wheelhouse failed"
    echo "$stamp" >"$wheelhouse/.stamp"
  fi
}

# ---------------------------------------------------------------------------------------------
# 5. A fresh "Pi" per install path: a copy of the base tree, the release copied in like an
# operator would (the source tree without .git, .venv and tests), then deploy/install.sh.
fresh_pi() {
  local tree="$1"
  unmount_below
  rm -rf "$tree"
  mkdir -p "$(dirname "$tree")"
  cp -a --reflink=auto "$base" "$tree"
  host_files "$tree"
  mkdir -p "$tree/root/touchgate"
  tar -C "$SRC" --exclude=./.venv --exclude=./.git --exclude=./tests --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude='*.db*' -cf - . | tar -C "$tree/root/touchgate" -xf -
  # The smoke test's inputs: a recording of a customer's question (from the test corpus).
  mkdir -p "$tree/root/smoke"
  cp "$SRC"/scripts/pi/*.py "$tree/root/smoke/"
  cp "$SRC/tests/data/audio/en_where_milk.wav" "$tree/root/smoke/"
}

# install.sh calls systemctl daemon-reload/enable. In a chroot systemctl does what it can offline
# (enable: the symlinks) and ignores the rest, as in an image build, once it knows it is in one;
# it tells by comparing PID 1's root with its own, which it cannot see from a pid namespace (or
# where PID 1 forbids it). SYSTEMD_OFFLINE=1 tells it directly.
SYSTEMCTL_OFFLINE=(SYSTEMD_OFFLINE=1)

install_online() {
  local tree="$1"
  say "online install: deploy/install.sh --site-id $SITE --speech --no-start (Debian packages from the arm64 archive, wheels from PyPI)"
  # Only for pip behind this machine's TLS-intercepting proxy (its CA is in the copied bundle);
  # a Pi on a shop's Internet line needs neither.
  IN_TREE_ENV=("${SYSTEMCTL_OFFLINE[@]}" PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DEFAULT_TIMEOUT=120)
  in_tree "$tree" host 40m /root/touchgate/deploy/install.sh --site-id "$SITE" --speech --no-start \
    >"$tree.install.log" 2>&1 || { tail -n 40 "$tree.install.log" >&2; die "online install failed (log: $tree.install.log)"; }
  IN_TREE_ENV=()
  tail -n 5 "$tree.install.log" | sed 's/^/    /'
}

install_offline() {
  local tree="$1"
  say "offline install: deploy/install.sh --site-id $SITE --speech --wheelhouse DIR --no-start (Debian packages from the arm64 archive; no HTTPS at all)"
  mkdir -p "$tree/root/offline"
  cp -r "$wheelhouse" "$tree/root/offline/wheels"
  # Every HTTPS request (PyPI above all) goes to a proxy that is not there: the Python side of
  # the install can only succeed from the wheelhouse. apt uses its plain-http mirror.
  IN_TREE_ENV=("${SYSTEMCTL_OFFLINE[@]}" https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 PIP_INDEX_URL=https://pypi.invalid/simple)
  in_tree "$tree" host 40m /root/touchgate/deploy/install.sh --site-id "$SITE" --speech --no-start \
    --wheelhouse /root/offline/wheels \
    >"$tree.install.log" 2>&1 || { tail -n 40 "$tree.install.log" >&2; die "offline install failed (log: $tree.install.log)"; }
  IN_TREE_ENV=()
  tail -n 5 "$tree.install.log" | sed 's/^/    /'
}

# systemd-analyze verify in the tree: arm64 systemd checks the unit against the installed files
# (ExecStart's program must exist, every setting must be known to systemd 252).
verify_unit() {
  local tree="$1" out
  out="$(in_tree "$tree" isolated 10m systemd-analyze verify --man=no /etc/systemd/system/touchgate.service 2>&1)" \
    || die "systemd-analyze verify refused the installed unit: $out"
  if grep -q 'touchgate.service' <<<"$out"; then
    die "systemd-analyze verify warned about the unit: $out"
  fi
  say "systemd-analyze verify (arm64, in the tree): the installed touchgate.service is accepted"
}

smoke() {
  local tree="$1" mode="$2"
  say "smoke test ($mode install), arm64 Python in an isolated network namespace"
  in_tree "$tree" isolated 30m /opt/touchgate/current/venv/bin/python /root/smoke/smoke.py --site "$SITE" \
    2>&1 | tee "$tree.smoke.log" | sed 's/^/    /'
  local status="${PIPESTATUS[0]}"
  ((status == 0)) || die "smoke test of the $mode install failed (exit $status; log: $tree.smoke.log)"
}

preflight
say "host $(uname -m), emulating arm64 with $(readlink -f "$(command -v qemu-aarch64-static 2>/dev/null || echo none)"); cache $cache"
build_base
if [[ " ${modes[*]} " == *" offline "* ]]; then
  prepare_wheelhouse
fi
for mode in "${modes[@]}"; do
  tree="$cache/runs/$mode"
  fresh_pi "$tree"
  arch="$(in_tree "$tree" isolated 5m dpkg --print-architecture)"
  [[ "$arch" == arm64 ]] || die "the tree reports architecture '$arch', not arm64"
  machine="$(in_tree "$tree" isolated 5m uname -m)"
  [[ "$machine" == aarch64 ]] || die "code in the tree runs as '$machine', not aarch64"
  "install_$mode" "$tree"
  verify_unit "$tree"
  smoke "$tree" "$mode"
done
say "PASSED: ${modes[*]} install(s) and smoke test(s) on emulated arm64 in $((SECONDS - started)) s"
