#!/usr/bin/env bash
# Overhead of tr-run around a trivial task, against running the same task
# under flock(1) directly: the least any runner with a per-task lock does.
# The commands are measured in one run, interleaved round by round, so
# that load from elsewhere on a shared machine hits them all alike and
# the ratios hold even when the absolute times do not.
#
#   bench/run/overhead.sh [ROUNDS]      (default 300)
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${1:-300}
cargo build --release --quiet -p tr-run
tr_run=$PWD/target/release/tr-run

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export TASKRUNNER_STATE_DIRECTORY=$scratch/state
unset _taskrunner_build_id

labels=(
  "/bin/true (a process start)"
  "flock LOCK /bin/true"
  "tr-run -n x /bin/true"
  "bash -c true"
  "tr-run -n x bash -c true"
)
commands=(
  "/bin/true"
  "flock $scratch/lock /bin/true"
  "$tr_run -n x /bin/true"
  "bash -c true"
  "$tr_run -n x bash -c true"
)
declare -a total
for i in "${!commands[@]}"; do
  total[i]=0
  ${commands[i]} >/dev/null 2>&1 # warm up
done

for ((round = 0; round < rounds; round++)); do
  for i in "${!commands[@]}"; do
    start=${EPOCHREALTIME/./}
    ${commands[i]} >/dev/null 2>&1
    end=${EPOCHREALTIME/./}
    total[i]=$((total[i] + end - start))
  done
done

echo "$rounds rounds, $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '%-30s %8s\n' "command" "µs/run"
for i in "${!commands[@]}"; do
  printf '%-30s %8d\n' "${labels[i]}" $((total[i] / rounds))
done
awk -v a="${total[2]}" -v b="${total[1]}" -v c="${total[4]}" -v d="${total[3]}" 'BEGIN {
  printf "ratio tr-run / flock:                 %.2f\n", a / b
  printf "ratio tr-run bash / bash:             %.2f\n", c / d
}'
