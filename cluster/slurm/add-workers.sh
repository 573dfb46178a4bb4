#!/usr/bin/env bash
# Adds N workers to a running farm: another job array (GPU unless --cpu).
#   cluster/slurm/add-workers.sh 8 [--cpu] [--throttle 4]
set -euo pipefail
count="${1:?usage: add-workers.sh N [--cpu] [--throttle K]}"
shift
script="$(dirname "$0")/worker-gpu.sbatch"
throttle=8
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpu) script="$(dirname "$0")/worker-cpu.sbatch"; shift ;;
    --throttle) throttle="$2"; shift 2 ;;
    *) echo "add-workers.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ "$count" =~ ^[0-9]+$ && "$count" -ge 1 ]] || { echo "add-workers.sh: N must be a positive number" >&2; exit 2; }
exec sbatch --array="1-${count}%${throttle}" "$script"
