#!/usr/bin/env bash
# What recording a build's timeline costs on the no-op path: the script of
# 20 unchanged tasks from noop.sh, run with tracing on (the default) and
# off (TASKRUNNER_TRACE=0), interleaved round by round so that load from
# elsewhere on a shared machine hits both alike.
#
#   bench/run/trace.sh [ROUNDS]      (default 30)
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${1:-30}
tasks=20
cargo build --release --quiet -p tr-run
tr_run=$PWD/target/release/tr-run

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
repo=$scratch/repo
# shellcheck source=bench/run/common.sh
source bench/run/common.sh
make_task_repo "$repo" "$tasks"
write_task_script "$scratch/script.sh" "$tasks"
cd "$repo"

export TASKRUNNER_STATE_DIRECTORY=$scratch/state
unset _taskrunner_build_id OTEL_EXPORTER_OTLP_ENDPOINT

traced() { TASKRUNNER_TRACE=1 "$tr_run" -n all bash "$scratch/script.sh"; }
untraced() { TASKRUNNER_TRACE=0 "$tr_run" -n all bash "$scratch/script.sh"; }

# The first run does the work and saves the hashes; the rounds measure
# no-ops.
traced >/dev/null 2>&1
if untraced 2>&1 | grep -q work; then
  echo "tr-run did not skip unchanged tasks" >&2
  exit 1
fi
traced >/dev/null 2>&1
build=$(ls "$TASKRUNNER_STATE_DIRECTORY/builds" | sort | tail -n 1)
records=$(grep -c '"event":"start"' "$TASKRUNNER_STATE_DIRECTORY/builds/$build/trace.jsonl")
if [ "$records" -ne $((tasks + 1)) ]; then
  echo "expected $((tasks + 1)) task records, found $records" >&2
  exit 1
fi

total_on=0 total_off=0
for ((round = 0; round < rounds; round++)); do
  # Alternate which goes first, so neither always runs on a warmer cache.
  if ((round % 2)); then
    start=${EPOCHREALTIME/./}
    traced >/dev/null 2>&1
    mid=${EPOCHREALTIME/./}
    untraced >/dev/null 2>&1
    end=${EPOCHREALTIME/./}
    total_on=$((total_on + mid - start))
    total_off=$((total_off + end - mid))
  else
    start=${EPOCHREALTIME/./}
    untraced >/dev/null 2>&1
    mid=${EPOCHREALTIME/./}
    traced >/dev/null 2>&1
    end=${EPOCHREALTIME/./}
    total_off=$((total_off + mid - start))
    total_on=$((total_on + end - mid))
  fi
done

echo "$rounds rounds of $tasks unchanged tasks, $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '%-40s %8d µs\n' "tracing on (default)" $((total_on / rounds))
printf '%-40s %8d µs\n' "tracing off (TASKRUNNER_TRACE=0)" $((total_off / rounds))
awk -v a="$total_on" -v b="$total_off" 'BEGIN { printf "ratio on / off: %.3f\n", a / b }'
