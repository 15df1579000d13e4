#!/usr/bin/env bash
# GPU probe: seconds per UNet step of the SD 1.5-sized UNet (random weights, fused attention) at 512², batch 2,
# on onnxruntime-node's WebGPU execution provider (and CUDA's, where the carried libraries have it: this
# onnxruntime-node build does not), per variant: fp32, fp16 compute, fp16 storage. Or the exact reason it cannot
# run (no libvulkan, no adapter, provider not compiled in, …), then a CPU fallback at 256², one step, that proves
# the plumbing. Always ends with ONE JSON line on stdout, also written to $OUT/gpu-probe.json when $OUT is set
# (with gpu-probe.log and gpu-probe-children.log beside it) and to bench/gpu-probe.json.
#
# Needs only the working tree and the folder `.probe/` made by `bash bench/gpu-probe/prepare.sh` (a compressed
# Node binary, onnxruntime-node's linux-x64 runtime, the bundled probe, the Vulkan loader; ~34 MiB): no Node.js,
# no node_modules, no network. Uses xz or python3 (lzma) and tar or python3 to unpack.
#
# On the device machine (a session whose task is lent one), after `bash bench/gpu-probe/prepare.sh` here:
#
#   run  command:   bash bench/gpu-probe.sh
#        carry:     [".probe"]
#        timeout_s: 480
#
# It keeps to GPU_PROBE_BUDGET_S (default 420 s) itself, report included, so 480 leaves a minute of slack; a
# fresh machine's start (1–2 min) comes on top, ~10 of the session's 15 device minutes at worst.
# Here (CPU fallback): `npm run bench:gpu-probe` (prepare + probe), or `bash bench/gpu-probe/dry-run.sh` to run
# it exactly as the device would (a copy of the tree + .probe, no node on PATH, clean environment).
#
# Knobs (environment): GPU_PROBE_BUDGET_S (420), GPU_PROBE_DIR (.probe), GPU_PROBE_FORCE_CPU=1, GPU_PROBE_SIZE (512),
# GPU_PROBE_CPU_SIZE (256), GPU_PROBE_BATCH (2), GPU_PROBE_STEPS (3), GPU_PROBE_VARIANTS (fp32,fp16c,fp16),
# GPU_PROBE_VULKAN=auto|system|install|private (auto: a system loader if ldconfig knows one, else on a machine
# with nvidia-smi and as root the carried .debs unpacked into / + ldconfig as the device notes do, else the
# carried libraries through LD_LIBRARY_PATH), GPU_PROBE_KEEP=1 (keep the scratch folder), GPU_PROBE_EPS (providers
# tried as GPU ones, default webgpu,cuda; `cpu` walks the GPU path without a GPU, for testing).
set -uo pipefail

START=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROBE=${GPU_PROBE_DIR:-$ROOT/.probe}
BUDGET=${GPU_PROBE_BUDGET_S:-420}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-probe.XXXXXX")
LOG=$WORK/console.log
FACTS=$WORK/facts.txt
RESULT=$WORK/result.json
: >"$FACTS"
: >"$LOG"

say() { printf '[%3ss] %s\n' "$(($(date +%s) - START))" "$*" | tee -a "$LOG"; }
fact() { printf '%s\t%s\n' "$1" "$(printf '%s' "$2" | tr -d '\000-\010\013-\037' | sed ':a;N;$!ba;s/\n/\\n/g')" >>"$FACTS"; }
have() { command -v "$1" >/dev/null 2>&1; }
json_str() {
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013-\037')
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}

# The last word: the probe's report if it wrote one, else one made here from the facts and the reason.
finish() {
  local reason=${1:-} line
  if [ -s "$RESULT" ] && [ "$(head -c1 "$RESULT")" = "{" ]; then
    line=$(head -n1 "$RESULT")
    if [ -n "$reason" ]; then line="{\"shellNote\":$(json_str "$reason"),${line#\{}"; fi
  else
    local facts="" k v
    while IFS=$'\t' read -r k v; do facts+="$(json_str "$k"):$(json_str "${v//\\n/$'\n'}"),"; done <"$FACTS"
    line="{\"probe\":\"gpu-probe\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"mode\":\"failed\",\"ok\":false,\"summary\":$(json_str "${reason:-the probe wrote no report}"),\"host\":{${facts%,}},\"elapsedS\":$(($(date +%s) - START))}"
  fi
  mkdir -p "$ROOT/bench" 2>/dev/null && printf '%s\n' "$line" >"$ROOT/bench/gpu-probe.json" 2>/dev/null
  if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    printf '%s\n' "$line" >"$OUT/gpu-probe.json"
    cp "$LOG" "$OUT/gpu-probe.log"
    if [ -d "$WORK/logs" ]; then
      for f in "$WORK"/logs/*.log; do
        [ -f "$f" ] || continue
        printf '===== %s (last 2 MB)\n' "$(basename "$f")"
        tail -c 2000000 "$f"
      done | head -c 15000000 >"$OUT/gpu-probe-children.log"
    fi
  fi
  [ "${GPU_PROBE_KEEP:-0}" = 1 ] && say "scratch kept: $WORK" || rm -rf "$WORK"
  printf '%s\n' "$line"
  exit 0
}
trap 'finish "interrupted by a signal"' INT TERM

say "gpu-probe: budget ${BUDGET} s, carried folder $PROBE, scratch $WORK"

# ---- facts about the machine ---------------------------------------------------------------------------------
fact kernel "$(uname -srm)"
fact os "$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || echo unknown)"
fact glibc "$(ldd --version 2>/dev/null | head -n1)"
if have nvidia-smi; then
  fact gpu "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n4)"
else
  fact gpu "nvidia-smi not found"
fi
fact tools "$(for t in xz tar python3 dpkg ldconfig timeout sha256sum; do have "$t" && printf '%s ' "$t"; done)"
if [ -f "$PROBE/manifest.json" ]; then
  m() { tr -d '\n ' <"$PROBE/manifest.json" | grep -o "\"$1\":[^,}]*" | head -n1 | cut -d: -f2- | tr -d '"'; }
  fact prepared "$(m prepared) from $(m gitHead)$([ "$(m treeDirty)" = true ] && echo ' + uncommitted changes'), node $(m node), onnxruntime-node $(m onnxruntimeNode), fp16-compute module: $(m fp16ComputeModule)"
fi
say "$(tr '\t' ' ' <"$FACTS" | sed 's/\\n/; /g')"

# ---- the carried folder ---------------------------------------------------------------------------------------
for f in node-linux-x64.xz ort-runtime.tar.xz probe.mjs; do
  [ -f "$PROBE/$f" ] || finish "$PROBE/$f is missing: run 'bash bench/gpu-probe/prepare.sh' here first and carry .probe (carry: [\".probe\"])"
done
if have sha256sum && [ -f "$PROBE/SHA256SUMS" ]; then
  bad=$(cd "$PROBE" && sha256sum -c --quiet SHA256SUMS 2>&1) || finish "the carried files do not match .probe/SHA256SUMS: $bad"
fi

unxz_to() { # file.xz → dest
  if have xz; then xz -dc "$1" >"$2"
  elif have python3; then python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$2"
  else return 127; fi
}
untar() { # archive (.tar.xz / .tar.gz) → dir
  if have tar && { [ "${1%.gz}" != "$1" ] || have xz; }; then tar -xf "$1" -C "$2"
  elif have python3; then python3 -c 'import sys,tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"
  else return 127; fi
}

mkdir -p "$WORK/bin" "$WORK/logs"
unxz_to "$PROBE/node-linux-x64.xz" "$WORK/bin/node" || finish "cannot decompress the Node binary: neither xz nor python3 (lzma) worked"
chmod +x "$WORK/bin/node"
NODE_V=$("$WORK/bin/node" --version 2>&1) || finish "the carried Node binary does not start: $NODE_V"
untar "$PROBE/ort-runtime.tar.xz" "$WORK" || finish "cannot unpack ort-runtime.tar.xz: neither tar+xz nor python3 worked"
cp "$PROBE/probe.mjs" "$WORK/probe.mjs"
say "unpacked node $NODE_V and onnxruntime-node into $WORK"

# ---- the Vulkan loader and the NVIDIA driver's Vulkan ICD -----------------------------------------------------
system_loader=$( (ldconfig -p 2>/dev/null || true) | awk '/libvulkan\.so\.1 /{print $NF; exit}')
mode=${GPU_PROBE_VULKAN:-auto}
if [ "$mode" = auto ]; then
  if [ -n "$system_loader" ]; then mode=system
  elif have nvidia-smi && [ "$(id -u)" = 0 ] && have dpkg && have ldconfig && [ -n "$(ls "$PROBE"/vulkan/*.deb 2>/dev/null)" ]; then mode=install
  else mode=private; fi
fi
case $mode in
  system) vulkan="system: ${system_loader:-not found by ldconfig}" ;;
  install)
    for f in "$PROBE"/vulkan/*.deb; do dpkg -x "$f" /; done
    ldconfig
    vulkan="carried .debs unpacked into / ($(basename "$PROBE"/vulkan/libvulkan1_*.deb)): $( (ldconfig -p || true) | awk '/libvulkan\.so\.1 /{print $NF; exit}')"
    ;;
  private)
    if [ -f "$PROBE/vulkan-libs.tar.gz" ]; then
      mkdir -p "$WORK/vulkan"
      untar "$PROBE/vulkan-libs.tar.gz" "$WORK/vulkan" && export LD_LIBRARY_PATH="$WORK/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      vulkan="carried, through LD_LIBRARY_PATH: $(cd "$WORK/vulkan" && readlink libvulkan.so.1)"
    else
      vulkan="missing: no system libvulkan.so.1 and no carried vulkan-libs.tar.gz"
    fi
    ;;
  *) finish "GPU_PROBE_VULKAN=$mode: expected auto, system, install or private" ;;
esac
fact vulkanLoader "$vulkan"
icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')
nv_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! printf '%s' "$icds" | grep -q nvidia && [ -f "$nv_icd" ]; then
  export VK_DRIVER_FILES=$nv_icd VK_ICD_FILENAMES=$nv_icd
fi
fact vulkanIcd "${icds:-none in the standard folders}${VK_DRIVER_FILES:+; VK_DRIVER_FILES=$VK_DRIVER_FILES}"
if [ -d /usr/local/nvidia/lib64 ] && ! (ldconfig -p 2>/dev/null || true) | grep -q 'libGLX_nvidia\.so\.0'; then
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64"
fi
nv_lib=$( (ldconfig -p 2>/dev/null || true) | awk '/libGLX_nvidia\.so\.0 /{print $NF; exit}')
fact nvidiaVulkanLib "${nv_lib:-libGLX_nvidia.so.0 not in the ld cache}${LD_LIBRARY_PATH:+; LD_LIBRARY_PATH=$LD_LIBRARY_PATH}"
say "vulkan loader: $vulkan; ICDs: ${icds:-none}${VK_DRIVER_FILES:+ (VK_DRIVER_FILES=$VK_DRIVER_FILES)}"

# ---- the probe --------------------------------------------------------------------------------------------------
left=$((START + BUDGET - $(date +%s)))
[ "$left" -gt 60 ] || finish "less than a minute of the ${BUDGET} s budget left after unpacking"
export GPU_PROBE_WORK=$WORK GPU_PROBE_RESULT=$RESULT GPU_PROBE_FACTS=$FACTS
export GPU_PROBE_DEADLINE_MS=$(((START + BUDGET - 15) * 1000))
say "running the probe ($left s left)"
killer=()
have timeout && killer=(timeout -s KILL "$((left - 5))")
(cd "$WORK" && "${killer[@]}" "$WORK/bin/node" "$WORK/probe.mjs") 2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
if [ "$rc" = 0 ]; then finish
elif [ "$rc" = 137 ]; then finish "the probe was killed at the ${BUDGET} s budget; the report holds what it had finished"
else finish "the probe exited with code $rc; the report holds what it had finished"
fi
