#!/usr/bin/env bash
# Runs bench/gpu-probe.sh exactly as the device machine would: in a temp copy of what travels (tracked and
# untracked-not-ignored files, plus the carried .probe/), with a clean environment, $OUT set, and no Node.js on
# PATH (a folder of links to every tool on PATH except node, npm, npx, corepack, tsx and esbuild). On a machine
# without a GPU that proves the CPU fallback end to end. GPU_PROBE_* variables are passed through; the probe's
# files land in the printed out/ folder; the copy is removed unless KEEP=1. HIDE="xz tar" hides more tools (to
# test the python3 fallbacks).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ -f "$ROOT/.probe/probe.mjs" ] || { echo "no .probe/: run bash bench/gpu-probe/prepare.sh first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/gpu-probe-dry.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$T/repo" "$T/sysbin"' EXIT
mkdir -p "$T/repo" "$T/sysbin" "$T/out"

(cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$T/repo"
cp -a "$ROOT/.probe" "$T/repo/.probe"

IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    n=$(basename "$f")
    case " node nodejs npm npx corepack tsx esbuild ${HIDE:-} " in *" $n "*) continue ;; esac
    [ -x "$f" ] && [ ! -e "$T/sysbin/$n" ] && ln -s "$f" "$T/sysbin/$n"
  done
done
if PATH=$T/sysbin command -v node >/dev/null; then echo "node is still on the filtered PATH" >&2; exit 1; fi

echo "[dry-run] tree copy $(du -sh "$T/repo" | cut -f1) in $T/repo; no node on PATH; OUT=$T/out"
pass=()
while IFS='=' read -r k v; do pass+=("$k=$v"); done < <(env | grep '^GPU_PROBE_' || true)
set +e
(cd "$T/repo" && env -i HOME="$HOME" PATH="$T/sysbin" TMPDIR="${TMPDIR:-/tmp}" OUT="$T/out" "${pass[@]}" bash bench/gpu-probe.sh) | tee "$T/stdout.txt"
rc=${PIPESTATUS[0]}
set -e
last=$(tail -n1 "$T/stdout.txt")
echo "[dry-run] exit code $rc; out/: $(ls "$T/out" | tr '\n' ' ')"
case $last in \{*\}) echo "[dry-run] last line is a JSON object" ;; *) echo "[dry-run] last line is NOT JSON" >&2; exit 1 ;; esac
cmp -s <(printf '%s\n' "$last") "$T/out/gpu-probe.json" && echo "[dry-run] \$OUT/gpu-probe.json equals the last line" || { echo "[dry-run] \$OUT/gpu-probe.json differs" >&2; exit 1; }
