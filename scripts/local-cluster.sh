#!/usr/bin/env bash
# A coordinator and N workers on this machine (loopback), with their own CURVE keys, for
# trying the farm without a cluster:
#   scripts/local-cluster.sh 3                  # runs until Ctrl-C, then stops everything
#   scripts/local-cluster.sh 3 --job sum        # submits a diagnostic job, waits, stops
#   scripts/local-cluster.sh 2 --job demo       # the demo edit on the farm → DIR/demo/output.mp4
# Options: --dir DIR (keys, state, caches, logs; default: a new temporary folder),
# --port P (control port; bulk is P+1; default 5555), --redub PATH, --job sum|blob|demo,
# --frames N (demo: the clip's first N frames; default all).
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
[[ $# -ge 1 ]] || usage
case "$1" in -h|--help) usage 0 ;; esac
count="$1"; shift
[[ "$count" =~ ^[0-9]+$ && "$count" -ge 1 ]] || { echo "local-cluster: N must be a positive number" >&2; usage; }
dir="" port=5555 job="" frames=""
redub="${REDUB:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --redub) redub="$2"; shift 2 ;;
    --job) job="$2"; shift 2 ;;
    --frames) frames="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "local-cluster: unknown argument '$1'" >&2; usage ;;
  esac
done
if [[ -z "$redub" ]]; then
  redub="$(command -v redub || true)"
  [[ -n "$redub" ]] || redub="$(cd "$(dirname "$0")/.." && pwd)/.build/release/redub"
fi
[[ -x "$redub" ]] || { echo "local-cluster: no redub executable at '$redub' (build it, or pass --redub)" >&2; exit 1; }
[[ -n "$dir" ]] || dir="$(mktemp -d -t redub-local-cluster.XXXXXX)"
mkdir -p "$dir/logs"
control="tcp://127.0.0.1:$port" bulk="tcp://127.0.0.1:$((port + 1))"

pids=()
stop() {
  trap - EXIT INT TERM
  echo "local-cluster: stopping" >&2
  # Workers first (they drain), then the coordinator.
  for pid in "${pids[@]:1}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]:1}"; do wait "$pid" 2>/dev/null || true; done
  if [[ ${#pids[@]} -gt 0 ]]; then kill -TERM "${pids[0]}" 2>/dev/null || true; wait "${pids[0]}" 2>/dev/null || true; fi
}
trap stop EXIT INT TERM

# Keys: the coordinator's, and one client key shared by the workers and this script's client.
if [[ ! -f "$dir/keys/coordinator.pub" ]]; then
  "$redub" keys generate --role coordinator --dir "$dir/keys" >/dev/null
  "$redub" keys generate --role client --dir "$dir/client-keys" >/dev/null
  cp "$dir/keys/coordinator.pub" "$dir/client-keys/"
  "$redub" keys allow "$(cat "$dir/client-keys/client.pub")" --dir "$dir/keys" --name local-cluster >/dev/null
fi

"$redub" coordinator --state "$dir/state" --control "$control" --bulk "$bulk" --keys "$dir/keys" \
  --data-root "$dir" --heartbeat-ms 1000 >"$dir/logs/coordinator.log" 2>&1 &
pids+=("$!")
for i in $(seq 1 "$count"); do
  "$redub" worker --coordinator "$control" --keys "$dir/client-keys" --cache "$dir/cache-$i" --name "local-$i" \
    --threads 1 >"$dir/logs/worker-$i.log" 2>&1 &
  pids+=("$!")
done

client=(--coordinator "$control" --keys "$dir/client-keys")
# Wait until every worker has announced itself.
for _ in $(seq 1 100); do
  connected="$("$redub" workers "${client[@]}" --json 2>/dev/null | grep -o '"workerId"' | wc -l || true)"
  [[ "$connected" -ge "$count" ]] && break
  sleep 0.2
done
echo "local-cluster: coordinator $control (bulk $bulk), $count worker(s), files in $dir" >&2

if [[ "$job" == demo ]]; then
  # The demo set inside the data root, then the edit with the demo's short step counts.
  "$redub" demo --folder "$dir/demo" --prepare-only ${frames:+--frames "$frames"} >&2
  id="$("$redub" submit "${client[@]}" "$dir/demo/inputs/clip.mp4" --audio "$dir/demo/inputs/dub.wav" \
    --models "$dir/demo/models" --landmarks "$dir/demo/inputs/clip_landmarks.safetensors" --output "$dir/demo/output.mp4" \
    --window 12 --overlap 4 --steps 2 --invert-steps 2 --tune-steps 2 --stitch-steps 1 --fan-input-size 128)"
  echo "local-cluster: submitted the demo edit, job $id" >&2
  "$redub" wait "${client[@]}" "$id" --limit 900
  "$redub" status "${client[@]}" "$id"
  echo "local-cluster: wrote $dir/demo/output.mp4" >&2
  exit 0
elif [[ -n "$job" ]]; then
  id="$("$redub" submit "${client[@]}" --diagnostic "$job" --tasks $((count * 4)) --steps 3 --step-ms 20)"
  echo "local-cluster: submitted $job job $id" >&2
  "$redub" wait "${client[@]}" "$id" --limit 120
  "$redub" status "${client[@]}" "$id"
  exit 0
fi
echo "local-cluster: try  $redub submit ${client[*]} --diagnostic sum; Ctrl-C stops" >&2
wait "${pids[0]}"
