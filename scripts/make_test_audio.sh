#!/usr/bin/env bash
# Regenerates the committed test utterances (tests/data/audio/*.wav) with espeak-ng and sox, from
# tests/data/audio/utterances.tsv. Output: 16 kHz mono 16-bit WAV, 0.2 s of silence before the
# speech and 0.8 s after it (longer than the endpointing silence, as a real speaker sends).
# The tests read the committed files; this script is only needed to change or add utterances.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
audio_dir="${here}/tests/data/audio"
manifest="${audio_dir}/utterances.tsv"

for tool in espeak-ng sox; do
    command -v "${tool}" >/dev/null || { echo "missing ${tool}: apt-get install espeak-ng sox" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

count=0
# answers.tsv: yes/no answers, recognised only where the speaker asked a question (skills/answers.py);
# near_miss.tsv: off-topic speech with the words of effectful intents (tests/voice/test_accuracy.py)
for list in "${manifest}" "${audio_dir}/answers.tsv" "${audio_dir}/near_miss.tsv"; do
    while IFS=$'\t' read -r name voice text _intent _slots; do
        [[ -z "${name}" || "${name}" == \#* ]] && continue
        espeak-ng -v "${voice}" -s 150 -w "${tmp}/raw.wav" "${text}"
        sox "${tmp}/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "${audio_dir}/${name}.wav" pad 0.2 0.8
        count=$((count + 1))
    done < "${list}"
done
echo "generated ${count} utterances in ${audio_dir}"
