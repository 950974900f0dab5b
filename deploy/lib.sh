#!/usr/bin/env bash
# Shared by install.sh and upgrade.sh (sourced, not run): wheels, releases and the `current` link.
# Layout: /opt/touchgate/releases/<version>-<wheel sha256 prefix>/{venv,device_profiles,deploy,docs}
# and /opt/touchgate/current -> the release that runs. A new release is built beside the old one,
# so switching (and switching back) is one rename of a symlink.

# Callers set SRC (the source tree); parse_options sets ROOT ("" on a real system), PYTHON, PIP_ARGS
# (array) and wheel (a sourcing test sets ROOT, PYTHON and PIP_ARGS itself).
APP_DIR=/opt/touchgate
# shellcheck disable=SC2034  # used by the scripts that source this file
ETC_DIR=/etc/touchgate
# shellcheck disable=SC2034
STATE_DIR=/var/lib/touchgate

log() { echo "touchgate: $*"; }
die() { echo "touchgate: $*" >&2; exit 1; }

staged() { [[ -n "$ROOT" ]]; }

# usage: the script's header comment, from its second line down to `set -euo pipefail`.
usage() { sed -n '2,/^set -euo pipefail$/{/^set -euo pipefail$/d;p}' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

# parse_options NAME TAKE_OWN ARGS...: the command line of install.sh or upgrade.sh (NAME). The
# options both take are read here, into ROOT, wheel, PIP_ARGS and PYTHON; TAKE_OWN ARGS... reads
# the script's own, setting TAKEN to the words it used (0: not its option). An unknown option, or
# -h/--help, prints the usage. Not done on sourcing: tests source this file with their own PYTHON.
parse_options() {
  local name="$1" take_own="$2"
  shift 2
  ROOT=""
  PYTHON=python3
  PIP_ARGS=()
  wheel=""
  while (($#)); do
    TAKEN=0
    case "$1" in
      --root) ROOT="$(realpath -m "$2")"; TAKEN=2 ;;
      --wheel) wheel="$(realpath "$2")"; TAKEN=2 ;;
      --wheelhouse) PIP_ARGS+=(--no-index --find-links "$(realpath "$2")"); TAKEN=2 ;;
      --no-deps) PIP_ARGS+=(--no-deps); TAKEN=1 ;;
      --python) PYTHON="$2"; TAKEN=2 ;;
      -h|--help) usage ;;
      *) "$take_own" "$@" ;;
    esac
    ((TAKEN)) || { echo "$name: unknown argument '$1'" >&2; usage; }
    shift "$TAKEN"
  done
}

# need_root WHAT_ELSE: on a real system the scripts run as root; a staging root needs no root.
need_root() {
  if ! staged && [[ "$(id -u)" -ne 0 ]]; then
    die "run as root (sudo), or use --root DIR $1"
  fi
}

# build_wheel OUTDIR: the project's wheel from SRC, built from a clean copy so the source tree
# gets no build/ or egg-info litter. Offline when setuptools and wheel are installed.
build_wheel() {
  local out="$1" scratch
  scratch="$(mktemp -d)"
  tar -C "$SRC" --exclude=./.venv --exclude=./.git --exclude=./tests --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude='*.db*' -cf - . | tar -C "$scratch" -xf -
  local isolation=()
  if "$PYTHON" -c 'import setuptools, wheel' 2>/dev/null; then
    isolation=(--no-build-isolation)
  fi
  # A fixed timestamp makes the wheel reproducible: the same source gives the same bytes, so the
  # same release name, and re-running install.sh (say after a failed step) finds the release it
  # installed instead of refusing a "new" one that differs only in the zip's dates.
  SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}" \
    "$PYTHON" -m pip wheel --quiet --no-deps "${isolation[@]}" -w "$out" "$scratch" >&2
  rm -rf "$scratch"
  local wheel
  wheel="$(find "$out" -maxdepth 1 -name 'touchgate-*.whl' | head -n 1)"
  [[ -n "$wheel" ]] || die "building the wheel from $SRC produced nothing"
  echo "$wheel"
}

# release_name WHEEL: "<version>-<first 12 hex of the wheel's sha256>": the same wheel always
# lands in the same folder (re-running is a no-op), a rebuilt one never overwrites a running one.
release_name() {
  local base version digest
  base="$(basename "$1")"
  version="$(echo "$base" | cut -d- -f2)"
  digest="$(sha256sum "$1" | cut -c1-12)"
  echo "$version-$digest"
}

current_release() {
  local link="$ROOT$APP_DIR/current"
  [[ -L "$link" ]] && basename "$(readlink "$link")"
  return 0
}

# install_release WHEEL EXTRAS: a venv with the wheel, plus the files the wheel does not carry.
install_release() {
  local wheel="$1" extras="$2" name rel
  name="$(release_name "$wheel")"
  rel="$ROOT$APP_DIR/releases/$name"
  if [[ -f "$rel/.complete" ]]; then
    log "release $name already installed" >&2
    echo "$name"
    return
  fi
  rm -rf "$rel"
  mkdir -p "$rel"
  log "installing release $name into $APP_DIR/releases/$name" >&2
  "$PYTHON" -m venv "$rel/venv"
  local spec="$wheel"
  [[ -n "$extras" ]] && spec="${wheel}[${extras}]"
  "$rel/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PIP_ARGS[@]}" "$spec" >&2
  cp "$wheel" "$rel/"
  # Device profiles and the deploy scripts are not Python packages, so not in the wheel.
  cp -r "$SRC/device_profiles" "$rel/device_profiles"
  # The shipped rules and their examples, for reference (the shop's own are in /etc/touchgate/rules).
  [[ -d "$SRC/rules" ]] && cp -r "$SRC/rules" "$rel/rules"
  mkdir -p "$rel/deploy" "$rel/docs"
  cp -r "$SRC/deploy/." "$rel/deploy/"
  [[ -f "$SRC/docs/operators.md" ]] && cp "$SRC/docs/operators.md" "$rel/docs/"
  touch "$rel/.complete"
  echo "$name"
}

# switch_to NAME: point `current` at a release in one rename (never a moment without a link).
switch_to() {
  local link="$ROOT$APP_DIR/current"
  ln -sfn "releases/$1" "$link.new"
  mv -T "$link.new" "$link"
  log "current release: $1"
}

# prune_releases KEEP: remove all but the current and the KEEP newest other releases.
prune_releases() {
  local keep="$1" current dir count=0
  current="$(current_release)"
  while read -r dir; do
    [[ "$(basename "$dir")" == "$current" ]] && continue
    count=$((count + 1))
    if ((count > keep)); then
      rm -rf "$dir"
      log "removed old release $(basename "$dir")"
    fi
  done < <(find "$ROOT$APP_DIR/releases" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)
}
