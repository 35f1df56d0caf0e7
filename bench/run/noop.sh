#!/usr/bin/env bash
# The no-op path: a script of 20 tasks whose inputs have not changed, run
# by tr-run, against a bash baseline that does per task what any
# skip-if-unchanged runner must: take a lock with flock(1), hash the
# inputs with `git ls-files -s | sha256sum`, and compare with the saved
# hash. Both run in one invocation, interleaved round by round, so the
# ratio holds on a shared machine.
#
#   bench/run/noop.sh [ROUNDS]      (default 30)
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${1:-30}
tasks=20
cargo build --release --quiet -p tr-run
tr_run=$PWD/target/release/tr-run

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
repo=$scratch/repo
mkdir -p "$scratch/baseline"
# shellcheck source=bench/run/common.sh
source bench/run/common.sh
make_task_repo "$repo" "$tasks"
write_task_script "$scratch/with-tr-run.sh" "$tasks"
cd "$repo"

export TASKRUNNER_STATE_DIRECTORY=$scratch/state
unset _taskrunner_build_id

cat >"$scratch/baseline.sh" <<SCRIPT
for ((t = 1; t <= $tasks; t++)); do
  flock "$scratch/baseline/task\$t.lock" bash -c '
    h=\$(git ls-files -s -- "dir\$1" | sha256sum)
    [ "\$h" = "\$(cat "$scratch/baseline/task\$1.hash" 2>/dev/null)" ] ||
      { echo work; echo "\$h" > "$scratch/baseline/task\$1.hash"; }' _ "\$t"
done
SCRIPT

with_tr_run() { "$tr_run" -n all bash "$scratch/with-tr-run.sh"; }
baseline() { bash "$scratch/baseline.sh"; }

# First runs do the work and save the hashes; the rounds measure no-ops.
with_tr_run >/dev/null 2>&1
baseline >/dev/null 2>&1
if with_tr_run 2>&1 | grep -q work; then
  echo "tr-run did not skip unchanged tasks" >&2
  exit 1
fi

total_run=0 total_base=0
for ((round = 0; round < rounds; round++)); do
  start=${EPOCHREALTIME/./}
  with_tr_run >/dev/null 2>&1
  mid=${EPOCHREALTIME/./}
  baseline >/dev/null 2>&1
  end=${EPOCHREALTIME/./}
  total_run=$((total_run + mid - start))
  total_base=$((total_base + end - mid))
done

echo "$rounds rounds of $tasks unchanged tasks, $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '%-40s %8d µs\n' "tr-run script (20 tasks + top level)" $((total_run / rounds))
printf '%-40s %8d µs\n' "bash baseline (flock + ls-files | sha256)" $((total_base / rounds))
awk -v a="$total_run" -v b="$total_base" 'BEGIN { printf "ratio tr-run / baseline: %.2f (goal: at most 0.6)\n", a / b }'

# Context for the ratio: every task creates its log file, which the
# baseline does not, and what a file creation costs varies tenfold with
# what the file system did just before (on ext4 without a journal, inodes
# freed in the last minutes are skipped one by one).
probe=$TASKRUNNER_STATE_DIRECTORY/probe
mkdir "$probe"
start=${EPOCHREALTIME/./}
for ((i = 0; i < 100; i++)); do : >"$probe/$i"; done
end=${EPOCHREALTIME/./}
printf '%-40s %8d µs\n' "one file creation in the state directory" $(((end - start) / 100))
