#!/usr/bin/env bash
# Fetches the Russian speech of Debian's festvox-ru package (the recording database of the Festival
# voice msu_ru_nsh_clunits: 620 utterances of one male speaker, 16 kHz mono 16-bit WAV, ~1 h) into
# DIR, for training and evaluation sets (sr-prep --split). Idempotent: a finished DIR is left as
# it is. Licence: BSD-like, see DIR/copyright (kept as the licence requires); examples/README.md.
#
# Usage: scripts/fetch_festvox_ru.sh DIR
# Result: DIR/wav/ru_NNNN.wav, DIR/files.txt (one WAV path per line, sorted), DIR/txt.done.data
# (transcripts), DIR/copyright, DIR/VERSION (the package version). Needs apt-get and dpkg-deb.
set -euo pipefail

DIR=${1:?usage: $0 DIR}
VOICE=usr/share/festival/voices/russian/msu_ru_nsh_clunits

if [[ -f $DIR/VERSION && -f $DIR/files.txt ]] &&
  [[ $(find "$DIR/wav" -name '*.wav' 2>/dev/null | wc -l) -eq $(wc -l <"$DIR/files.txt") ]]; then
  echo "fetch_festvox_ru: $DIR already has festvox-ru $(cat "$DIR/VERSION") ($(wc -l <"$DIR/files.txt") files)"
  exit 0
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
WORK=$(mktemp -d "$DIR/.fetch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"  # apt-get download runs as _apt where it can, and must reach the folder

cd "$WORK"
# apt-get download fetches the .deb as an ordinary user, without installing anything.
apt-get download festvox-ru >/dev/null
deb=$(ls festvox-ru_*.deb)
dpkg-deb -x "$deb" root
count=$(find "root/$VOICE/wav" -name '*.wav' | wc -l)
((count > 0)) || { echo "fetch_festvox_ru: no WAVs in $deb" >&2; exit 1; }

# Replace any partial earlier attempt only now that the new copy is complete.
rm -rf "$DIR/wav"
mv "root/$VOICE/wav" "$DIR/wav"
cp "root/$VOICE/etc/txt.done.data" "$DIR/txt.done.data"
cp root/usr/share/doc/festvox-ru/copyright "$DIR/copyright"
find "$DIR/wav" -name '*.wav' | sort >"$DIR/files.txt.tmp"
mv "$DIR/files.txt.tmp" "$DIR/files.txt"
dpkg-deb -f "$deb" Version >"$DIR/VERSION"
echo "fetch_festvox_ru: $count WAVs of festvox-ru $(cat "$DIR/VERSION") in $DIR/wav"
