#!/usr/bin/env bash
# Gathers everything `bench/gpu-probe.sh` needs on a GPU machine that has no registry access and maybe no
# Node.js into ONE ignored folder, `.probe/` (override: GPU_PROBE_DIR), which the device run carries:
#
#   node-linux-x64.xz        this machine's Node binary (process.execPath), stripped, xz -9
#   ort-runtime.tar.xz       node_modules/onnxruntime-node (package.json, dist/, bin/napi-v*/linux/x64/) and
#                            node_modules/onnxruntime-common (package.json, dist/): the JS, the binding and
#                            libonnxruntime.so.1 with its WebGPU (Dawn, Vulkan backend) provider compiled in
#   probe.mjs                bench/gpu-probe/probe.ts bundled by esbuild with the graph builder, onnx-proto and
#                            protobufjs (onnxruntime-node stays outside: it loads its native binding by path)
#   vulkan-libs.tar.gz       the Vulkan loader (libvulkan.so.1) and the GL dispatch libraries, unpacked from
#   vulkan/*.deb             Debian's libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 (amd64)
#   manifest.json, SHA256SUMS   what is in here, versions, sizes, checksums
#
# It checks the total against the device's 64 MiB (this folder + the working tree that travels) and fails
# when over. Re-running reuses the compressed Node binary, the runtime and the .debs while their sources are
# unchanged (the bundle is always rebuilt: it is the code under test). Needs: node, xz, tar, gzip, strip
# (optional), apt-get + dpkg (for the Vulkan loader; without them the probe can only use a system loader).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEST=${GPU_PROBE_DIR:-$ROOT/.probe}
LIMIT=$((64 * 1024 * 1024))
mkdir -p "$DEST"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpu-probe-prepare.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
say() { printf '[prepare] %s\n' "$*"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

NODE_SRC=${GPU_PROBE_NODE:-$(node -p 'process.execPath')}
NODE_VERSION=$("$NODE_SRC" --version)
[ "$("$NODE_SRC" -p 'process.platform + "-" + process.arch')" = linux-x64 ] || { echo "the probe needs a linux-x64 Node binary; $NODE_SRC is not" >&2; exit 1; }
ORT_DIR=$ROOT/node_modules/onnxruntime-node
ORT_COMMON=$ROOT/node_modules/onnxruntime-common
[ -d "$ORT_DIR" ] && [ -d "$ORT_COMMON" ] || { echo "node_modules/onnxruntime-node or onnxruntime-common is missing: run npm ci first" >&2; exit 1; }
ORT_VERSION=$("$NODE_SRC" -p "require('$ORT_DIR/package.json').version")
NAPI=$(cd "$ORT_DIR/bin" && ls -d napi-v* | sort -V | tail -1)

# 1. Node, stripped (its debug info is ~12 MB) and xz'd
stamp="$NODE_VERSION $(stat -c '%s %Y' "$NODE_SRC")"
if [ -f "$DEST/node-linux-x64.xz" ] && [ "$(cat "$DEST/.node.stamp" 2>/dev/null)" = "$stamp" ]; then
  say "node $NODE_VERSION: unchanged, kept"
else
  say "node $NODE_VERSION: stripping and compressing $NODE_SRC (xz -9, ~1 min)"
  cp "$NODE_SRC" "$TMP/node"
  if command -v strip >/dev/null; then strip "$TMP/node"; fi
  "$TMP/node" --version >/dev/null
  xz -9 -T0 -c "$TMP/node" >"$DEST/node-linux-x64.xz.part"
  mv "$DEST/node-linux-x64.xz.part" "$DEST/node-linux-x64.xz"
  echo "$stamp" >"$DEST/.node.stamp"
fi

# 2. onnxruntime-node for linux-x64 only (the package ships every platform: ~300 MB)
stamp="$ORT_VERSION $NAPI $(stat -c '%s %Y' "$ORT_DIR/bin/$NAPI/linux/x64/libonnxruntime.so.1")"
if [ -f "$DEST/ort-runtime.tar.xz" ] && [ "$(cat "$DEST/.ort.stamp" 2>/dev/null)" = "$stamp" ]; then
  say "onnxruntime-node $ORT_VERSION: unchanged, kept"
else
  say "onnxruntime-node $ORT_VERSION ($NAPI/linux/x64): packing (xz -9, ~30 s)"
  mkdir -p "$TMP/rt/node_modules/onnxruntime-node/bin/$NAPI/linux" "$TMP/rt/node_modules/onnxruntime-common"
  cp -r "$ORT_DIR/package.json" "$ORT_DIR/dist" "$TMP/rt/node_modules/onnxruntime-node/"
  cp -r "$ORT_DIR/bin/$NAPI/linux/x64" "$TMP/rt/node_modules/onnxruntime-node/bin/$NAPI/linux/"
  cp -r "$ORT_COMMON/package.json" "$ORT_COMMON/dist" "$TMP/rt/node_modules/onnxruntime-common/"
  find "$TMP/rt" -name '*.map' -delete
  tar -C "$TMP/rt" -cf - node_modules | xz -9 -T0 >"$DEST/ort-runtime.tar.xz.part"
  mv "$DEST/ort-runtime.tar.xz.part" "$DEST/ort-runtime.tar.xz"
  echo "$stamp" >"$DEST/.ort.stamp"
fi

# 3. the probe, bundled (esbuild comes with tsx and vitest)
ESBUILD=$ROOT/node_modules/.bin/esbuild
[ -x "$ESBUILD" ] || { echo "node_modules/.bin/esbuild is missing: run npm ci first" >&2; exit 1; }
say "bundling bench/gpu-probe/probe.ts with esbuild $("$ESBUILD" --version)"
"$ESBUILD" "$ROOT/bench/gpu-probe/probe.ts" --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --log-level=warning --outfile="$DEST/probe.mjs" \
  --banner:js="import { createRequire as __probeRequire } from 'node:module'; const require = __probeRequire(import.meta.url);"

# 4. the Vulkan loader (Dawn, inside libonnxruntime, dlopens libvulkan.so.1; the GPU machine may lack it).
#    The same packages and apt options as the device notes' recipe.
DEBS="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"
if [ -f "$DEST/vulkan-libs.tar.gz" ] && [ -n "$(ls "$DEST"/vulkan/libvulkan1_*.deb 2>/dev/null)" ]; then
  say "Vulkan loader: kept ($(basename "$DEST"/vulkan/libvulkan1_*.deb))"
elif command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
  say "Vulkan loader: apt-get download $DEBS"
  mkdir -p "$TMP/apt/partial" "$TMP/debs"
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$TMP/apt"
  # shellcheck disable=SC2086
  # best effort: without the loader the probe still runs and reports "libvulkan.so.1 missing" as its reason
  if apt-get $o update >"$TMP/apt.log" 2>&1 && (cd "$TMP/debs" && apt-get $o download $DEBS >>"$TMP/apt.log" 2>&1); then
    rm -rf "$DEST/vulkan" && mkdir -p "$DEST/vulkan" && cp "$TMP"/debs/*.deb "$DEST/vulkan/"
    mkdir -p "$TMP/x"
    for f in "$DEST"/vulkan/*.deb; do dpkg -x "$f" "$TMP/x"; done
    mkdir -p "$TMP/lib" && cp -a "$TMP"/x/usr/lib/x86_64-linux-gnu/lib*.so* "$TMP/lib/"
    tar -C "$TMP/lib" -czf "$DEST/vulkan-libs.tar.gz" .
  else
    say "Vulkan loader: apt-get failed (no package index reachable?); continuing without it:"
    tail -3 "$TMP/apt.log" >&2
  fi
else
  say "Vulkan loader: no apt-get/dpkg here; the probe will need a system libvulkan.so.1"
fi

# 5. manifest and checksums
FP16C=false
[ -f "$ROOT/gpu-runner/src/graph/fp16-compute.ts" ] && FP16C=true
(cd "$DEST" && find . -type f ! -name 'SHA256SUMS' ! -name 'manifest.json' ! -name '.*' | sed 's|^\./||' | sort | xargs sha256sum >SHA256SUMS)
{
  printf '{\n  "prepared": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "gitHead": "%s",\n' "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  printf '  "treeDirty": %s,\n' "$([ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] && echo true || echo false)"
  printf '  "node": "%s",\n  "onnxruntimeNode": "%s",\n  "napi": "%s",\n  "fp16ComputeModule": %s,\n' "$NODE_VERSION" "$ORT_VERSION" "$NAPI" "$FP16C"
  printf '  "files": {\n'
  first=1
  while read -r sum file; do
    [ $first = 1 ] || printf ',\n'
    first=0
    printf '    "%s": { "bytes": %s, "sha256": "%s" }' "$file" "$(stat -c %s "$DEST/$file")" "$sum"
  done <"$DEST/SHA256SUMS"
  printf '\n  }\n}\n'
} >"$DEST/manifest.json"

# 6. sizes against the device's 64 MiB (this folder + the working tree that travels: tracked and
#    untracked-not-ignored files)
probe_bytes=$(du -sb "$DEST" | cut -f1)
tree_bytes=$(cd "$ROOT" && git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
say "carried folder $DEST:"
(cd "$DEST" && for f in node-linux-x64.xz ort-runtime.tar.xz probe.mjs vulkan-libs.tar.gz vulkan manifest.json SHA256SUMS; do
  [ -e "$f" ] && printf '[prepare]   %-22s %6.2f MiB\n' "$f" "$(du -sb "$f" | awk '{print $1 / 1048576}')"
done)
printf '[prepare] total: .probe %.2f MiB + working tree %.2f MiB = %.2f MiB of 64 MiB\n' \
  "$(awk "BEGIN {print $probe_bytes / 1048576}")" "$(awk "BEGIN {print $tree_bytes / 1048576}")" "$(awk "BEGIN {print ($probe_bytes + $tree_bytes) / 1048576}")"
if [ $((probe_bytes + tree_bytes)) -gt $LIMIT ]; then
  echo "over the device's 64 MiB: the run would be refused" >&2
  exit 1
fi
