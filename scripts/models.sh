#!/usr/bin/env bash
# scripts/models.sh OUTDIR: the real models and their data, whole, in OUTDIR.
#
# tests/data/models keeps the models over 2 MiB split in parts
# (NAME.part00, NAME.part01, ...: the repository refuses larger files; see
# its PROVENANCE.md). This joins the parts, copies the other files, and
# checks every file named in tests/data/models/SHA256SUMS. A file already in
# OUTDIR with the right checksum is left alone, so a second run only reads.
# A file is written under a temporary name and renamed once its checksum is
# right: OUTDIR never holds a wrong file under a listed name.
# Exit status: 0, 1 when a file is missing or its checksum is wrong, 2 on bad
# usage.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# = 1 ] && [ -n "$1" ] || { echo "usage: ${0##*/} OUTDIR" >&2; exit 2; }
out=$1
src="$APU_TOP/tests/data/models"
sums="$src/SHA256SUMS"
[ -f "$sums" ] || apu_die "no $sums"
mkdir -p "$out"

sha() { sha256sum "$1" | cut -d' ' -f1; }

n=0
made=0
while read -r want name; do
	[ -n "${want:-}" ] || continue
	case "$name" in
	*/* | .* | "") apu_die "$sums: bad file name '$name'" ;;
	esac
	n=$((n + 1))
	dst="$out/$name"
	if [ -f "$dst" ] && [ "$(sha "$dst")" = "$want" ]; then
		continue
	fi
	tmp="$dst.tmp.$$"
	if [ -f "$src/$name" ]; then
		cp "$src/$name" "$tmp"
	else
		parts=("$src/$name".part[0-9][0-9])
		[ -f "${parts[0]}" ] ||
			apu_die "$name: neither tests/data/models/$name nor its parts ($name.part00, ...) exist"
		# The glob sorts part00, part01, ... in order.
		cat "${parts[@]}" >"$tmp"
	fi
	got=$(sha "$tmp")
	if [ "$got" != "$want" ]; then
		rm -f "$tmp"
		apu_die "$name: sha256 $got, expected $want (tests/data/models/SHA256SUMS): a part is missing, damaged or out of date"
	fi
	mv -f "$tmp" "$dst"
	made=$((made + 1))
done <"$sums"
[ "$n" -gt 0 ] || apu_die "$sums lists no files"
# The notices go with the data (not checksummed: PROVENANCE.md is ours).
cmp -s "$src/PROVENANCE.md" "$out/PROVENANCE.md" || cp "$src/PROVENANCE.md" "$out/PROVENANCE.md"
if [ "$made" -gt 0 ]; then
	apu_log "$made of $n files written to $out, checksums verified"
fi
