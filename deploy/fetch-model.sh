#!/usr/bin/env bash
# Fetches and unpacks a Vosk speech model, checked against a pinned SHA-256 before unpacking.
#   fetch-model.sh --model en|de [--dest DIR] [--cache DIR] [--attempts N]
#   fetch-model.sh --model en|de --model-archive PATH     offline: a copy of the archive
#   fetch-model.sh --name NAME --url URL --sha256 HEX      another model, or a mirror (--url alone
#                                                         keeps the pinned checksum)
# The download resumes where it stopped (here and on the next run); an archive whose checksum
# does not match is deleted and refused, and nothing is unpacked. The model ends up in
# DEST/NAME (default /opt/touchgate/models/NAME); re-running with it in place does nothing.
set -euo pipefail

# Pinned models. alphacephei.com publishes no checksums; these SHA-256 values were taken from
# several independent projects that pin the same upstream archives (for the English model they
# also agree on its size, 41,205,931 bytes; for the German one, 46,499,967 bytes).
# If upstream ever replaces an archive, the fetch refuses it: check and update the value here.
declare -A MODEL_NAME=(
  [en]="vosk-model-small-en-us-0.15"
  [de]="vosk-model-small-de-0.15"
)
declare -A MODEL_SHA256=(
  [en]="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"
  [de]="b7e53c90b1f0a38456f4cd62b366ecd58803cd97cd42b06438e2c131713d5e43"
)
model_base_url="https://alphacephei.com/vosk/models"

model=""
name=""
url=""
sha256=""
archive=""
dest="/opt/touchgate/models"
cache=""
attempts=5
python="${PYTHON:-python3}"

die() { echo "fetch-model: $*" >&2; exit 1; }
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

while (($#)); do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --url) url="$2"; shift 2 ;;
    --sha256) sha256="$2"; shift 2 ;;
    --model-archive) archive="$2"; shift 2 ;;
    --dest) dest="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    --attempts) attempts="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) die "unknown argument '$1'" ;;
  esac
done

if [[ -n "$model" ]]; then
  [[ -n "${MODEL_NAME[$model]:-}" ]] || die "unknown model '$model' (en or de)"
  name="${name:-${MODEL_NAME[$model]}}"
  sha256="${sha256:-${MODEL_SHA256[$model]}}"
fi
[[ -n "$name" && -n "$sha256" ]] || die "say --model en|de, or --name, --url and --sha256"
[[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || die "model name '$name' is not a plain folder name"
[[ "$sha256" =~ ^[0-9a-f]{64}$ ]] || die "--sha256 must be 64 lowercase hex digits"
url="${url:-$model_base_url/$name.zip}"
cache="${cache:-$dest/.downloads}"
target="$dest/$name"

if [[ -f "$target/.archive-sha256" && "$(cat "$target/.archive-sha256")" == "$sha256" ]]; then
  echo "model $name already in $target"
  exit 0
fi

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# download URL FILE: resumable; a partial FILE from an earlier run is continued, not restarted.
download() {
  local attempt=1 status
  while :; do
    status=0
    curl --fail --location --silent --show-error --connect-timeout 20 --speed-time 60 --speed-limit 1024 \
      --continue-at - --output "$2" "$1" || status=$?
    ((status == 0)) && return 0
    # 416: the partial file is already complete (or longer than the archive); the checksum decides.
    if ((status == 22)) && [[ -s "$2" ]] && [[ "$(sha_of "$2")" == "$sha256" ]]; then
      return 0
    fi
    if ((attempt >= attempts)); then
      echo "fetch-model: download failed (curl exit $status) after $attempt attempt(s); run again to resume" >&2
      return 1
    fi
    echo "fetch-model: download interrupted (curl exit $status), resuming (attempt $((attempt + 1))/$attempts)" >&2
    sleep "$((attempt < 5 ? attempt : 5))"
    attempt=$((attempt + 1))
  done
}

mkdir -p "$dest"
if [[ -n "$archive" ]]; then
  [[ -f "$archive" ]] || die "no such archive: $archive"
  source_file="$archive"
else
  command -v curl >/dev/null || die "curl is not installed (apt-get install curl), or use --model-archive"
  mkdir -p "$cache"
  source_file="$cache/$name.zip.part"
  if [[ ! -s "$source_file" || "$(sha_of "$source_file")" != "$sha256" ]]; then
    echo "downloading $url"
    download "$url" "$source_file" || exit 1
  fi
fi

actual="$(sha_of "$source_file")"
if [[ "$actual" != "$sha256" ]]; then
  # A wrong archive is never resumed from: start clean next time.
  [[ -z "$archive" ]] && rm -f "$source_file"
  die "checksum mismatch for $name: expected $sha256, got $actual; refusing to unpack"
fi

# Unpack into a scratch folder beside the target, then move it in place in one step, so a
# half-unpacked model is never what the gateway loads.
scratch="$(mktemp -d "$dest/.unpack-$name.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
"$python" -m zipfile -e "$source_file" "$scratch" || die "$source_file is not a readable zip archive"
if [[ -d "$scratch/$name" ]]; then
  unpacked="$scratch/$name"
else
  unpacked="$scratch"
fi
[[ -d "$unpacked/am" || -d "$unpacked/conf" || -f "$unpacked/README" ]] \
  || die "the archive does not look like a Vosk model (no am/, conf/ or README in $name)"
echo "$sha256" >"$unpacked/.archive-sha256"
chmod -R a+rX "$unpacked"
if [[ -e "$target" ]]; then
  rm -rf "$target.old"
  mv "$target" "$target.old"
fi
if [[ "$unpacked" == "$scratch" ]]; then
  mv "$scratch" "$target"
  trap - EXIT
else
  mv "$unpacked" "$target"
fi
rm -rf "$target.old"
[[ -z "$archive" ]] && rm -f "$source_file"
echo "model $name installed in $target"
