#!/usr/bin/env bash
# Shared by install.sh and upgrade.sh (sourced, not run): wheels, releases and the `current` link.
# Layout: /opt/touchgate/releases/<version>-<wheel sha256 prefix>/{venv,device_profiles,deploy,docs}
# and /opt/touchgate/current -> the release that runs. A new release is built beside the old one,
# so switching (and switching back) is one rename of a symlink.

# Callers set: ROOT ("" on a real system), SRC (the source tree), PYTHON, PIP_ARGS (array).
APP_DIR=/opt/touchgate
# shellcheck disable=SC2034  # used by the scripts that source this file
ETC_DIR=/etc/touchgate
# shellcheck disable=SC2034
STATE_DIR=/var/lib/touchgate

log() { echo "touchgate: $*"; }
die() { echo "touchgate: $*" >&2; exit 1; }

staged() { [[ -n "$ROOT" ]]; }

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
