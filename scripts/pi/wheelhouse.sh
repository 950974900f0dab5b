#!/usr/bin/env bash
# Builds an offline wheelhouse for a Raspberry Pi (aarch64, CPython 3.11, Debian 12) on any host,
# e.g. an x86 laptop: every dependency of touchgate[speech] as a wheel, for deploy/install.sh
# --wheelhouse DIR on a Pi without Internet access.
#   scripts/pi/wheelhouse.sh --out DIR [--python PY]
# Binary wheels come from PyPI for the Pi's platform (pip download --platform ... --only-binary).
# The few dependencies published as source only (vosk needs `srt`) are built here into wheels and
# kept only if they are pure Python (py3-none-any): a compiled wheel built here would be x86.
# The touchgate wheel itself is not included: install.sh builds it from the release it runs from.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out=""
python="python3"
while (($#)); do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    *) echo "wheelhouse: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "wheelhouse: --out DIR is required" >&2; exit 2; }
mkdir -p "$out"

# The requirements of the installed extras, read from pyproject.toml (the one source of truth).
requirements="$(mktemp)"
trap 'rm -f "$requirements"' EXIT
"$python" - "$here/pyproject.toml" >"$requirements" <<'EOF'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["speech"]))
EOF

# Raspberry Pi OS 12 has glibc 2.36: manylinux2014 (glibc 2.17) up to manylinux_2_36 wheels run
# there. onnxruntime (piper-tts) and numpy publish manylinux_2_27/2_28 aarch64 wheels only, so
# manylinux2014 alone is not enough; pip does not widen a manylinux_2_X tag to older ones itself.
platforms=(--platform manylinux2014_aarch64)
for minor in $(seq 17 36); do
  platforms+=(--platform "manylinux_2_${minor}_aarch64")
done
target=(--only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none "${platforms[@]}")

# This host's pip settings (a local index or find-links for x86) are not the Pi's: ignore them.
pip=(env PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= "$python" -m pip)

log="$(mktemp)"
for _ in 1 2 3 4 5; do  # each round builds one more source-only dependency
  if "${pip[@]}" download --quiet --disable-pip-version-check "${target[@]}" --find-links "$out" -d "$out" \
    -r "$requirements" 2>"$log"; then
    rm -f "$log"
    count="$(find "$out" -maxdepth 1 -name '*.whl' | wc -l)"
    echo "wheelhouse: $count aarch64/pure wheels in $out"
    exit 0
  fi
  missing="$(sed -n 's/^ERROR: No matching distribution found for \([A-Za-z0-9_.-]*\).*/\1/p' "$log" | head -n 1)"
  if [[ -z "$missing" ]]; then
    cat "$log" >&2
    exit 1
  fi
  echo "wheelhouse: $missing has no wheel on PyPI; building it here (pure Python only)"
  scratch="$(mktemp -d)"
  "${pip[@]}" wheel --quiet --disable-pip-version-check --no-deps -w "$scratch" "$missing" >&2
  for wheel in "$scratch"/*.whl; do
    case "$(basename "$wheel")" in
      *-none-any.whl) mv "$wheel" "$out/" ;;
      *) echo "wheelhouse: $(basename "$wheel") is compiled for this host, not the Pi: build it on an aarch64 machine" >&2
         rm -rf "$scratch"; exit 1 ;;
    esac
  done
  rm -rf "$scratch"
done
cat "$log" >&2
exit 1
