#!/usr/bin/env bash
# Fetches the quality-benchmark corpus (bench/quality/): speech and music from Debian packages,
# unpacked with dpkg-deb (nothing is installed). Each package lands in DIR/<package>/ as its file
# tree (DIR/<package>/usr/share/...), with DIR/<package>/VERSION (the package version),
# DIR/<package>/copyright (the package's licence file, kept as the licences require) and
# DIR/<package>/files.txt (its audio files, relative to DIR, sorted). DIR/VERSIONS.tsv lists
# package and version for all of them. Idempotent: a package whose VERSION and files.txt exist is
# left as it is; an interrupted package is fetched again.
#
# Which files are references and which are held out: bench/quality/corpus.json.
#
# Usage: scripts/fetch_corpus.sh DIR        (about 0.9 GB to download, 1 GB unpacked)
# Needs apt-get (after apt-get update) and dpkg-deb.
set -euo pipefail

DIR=${1:?usage: $0 DIR}

PACKAGES=(
  # speech
  festvox-ru                 # Russian, one male speaker, 16 kHz studio (the bundled models' data)
  klettres-data              # French/other-language letters and syllables, KDE
  ktuberling-data            # short words in many languages, KDE
  fillets-ng-data-nl         # Dutch dialogue of Fish Fillets NG
  fillets-ng-data            # Fish Fillets NG: Czech/English dialogue, music, effects
  asterisk-core-sounds-en-wav  # 8 kHz telephone prompts: input only, never a reference
  # music
  ufoai-music
  planetblupi-music-ogg
  wesnoth-1.16-music
  fretsonfire-songs-sectoid
  singularity-music
)

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -rf "$DIR"/.fetch.*  # what an interrupted earlier run left

fetch_one() {
  local pkg=$1 dest=$DIR/$1
  if [[ -f $dest/VERSION && -f $dest/files.txt ]]; then
    echo "fetch_corpus: $pkg $(cat "$dest/VERSION") already in $dest ($(wc -l <"$dest/files.txt") audio files)"
    return 0
  fi
  local work
  work=$(mktemp -d "$DIR/.fetch.$pkg.XXXXXX")
  chmod 755 "$work"  # apt-get download runs as _apt where it can, and must reach the folder
  (
    cd "$work"
    apt-get download "$pkg" >/dev/null
    local deb
    deb=$(ls "${pkg}"_*.deb)
    dpkg-deb -x "$deb" root
    dpkg-deb -f "$deb" Version >root/VERSION
    rm -f "$deb"
    # Game archives (ufoai-music's .pk3 is a zip): unpack beside themselves, then drop the archive.
    find root -name '*.pk3' -print0 | while IFS= read -r -d '' pk3; do
      python3 -m zipfile -e "$pk3" "${pk3%.pk3}.unpacked"
      rm -f "$pk3"
    done
  )
  if [[ -f $work/root/usr/share/doc/$pkg/copyright ]]; then
    cp "$work/root/usr/share/doc/$pkg/copyright" "$work/root/copyright"
  else
    # Some packages keep the copyright in another package's doc folder (a link): keep what is there.
    find "$work/root/usr/share/doc" -name copyright -type f -exec cat {} + >"$work/root/copyright" 2>/dev/null || true
  fi
  (cd "$work/root" && find . -type f \( -iname '*.wav' -o -iname '*.ogg' -o -iname '*.flac' -o -iname '*.oga' -o -iname '*.opus' -o -iname '*.mp3' \) |
    sed "s|^\./|$pkg/|" | LC_ALL=C sort) >"$work/root/files.txt"
  local count
  count=$(wc -l <"$work/root/files.txt")
  ((count > 0)) || { echo "fetch_corpus: no audio files in $pkg" >&2; rm -rf "$work"; return 1; }
  # Replace any partial earlier attempt only now that the new copy is complete.
  rm -rf "$dest"
  mv "$work/root" "$dest"
  rm -rf "$work"
  echo "fetch_corpus: $pkg $(cat "$dest/VERSION"): $count audio files in $dest"
}

for pkg in "${PACKAGES[@]}"; do
  fetch_one "$pkg"
done

{
  printf 'package\tversion\taudio_files\n'
  for pkg in "${PACKAGES[@]}"; do
    printf '%s\t%s\t%s\n' "$pkg" "$(cat "$DIR/$pkg/VERSION")" "$(wc -l <"$DIR/$pkg/files.txt")"
  done
} >"$DIR/VERSIONS.tsv.tmp"
mv "$DIR/VERSIONS.tsv.tmp" "$DIR/VERSIONS.tsv"
echo "fetch_corpus: done, $DIR/VERSIONS.tsv"
