#!/usr/bin/env bash
# Benchmark of `tr-hash` against simple baselines, as ratios measured in
# one run. Usage: bench/hash/run.sh  (BENCH_DIR to keep the test tree
# between runs; CARGO_TARGET_DIR is honoured). Needs git and hyperfine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=${BENCH_DIR:-$(mktemp -d /tmp/tr-hash-bench.XXXXXX)}
mkdir -p "$work"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$top/target}
export TASKRUNNER_STATE_DIRECTORY=$work/state
chmod 700 "$work"

cargo build --quiet --release -p tr-hash --manifest-path "$top/Cargo.toml"
bin=$CARGO_TARGET_DIR/release/tr-hash

# Keep the machine's git configuration out of the measurement.
export GIT_CONFIG_NOSYSTEM=1 HOME=$work/home
mkdir -p "$HOME"

# 10,000 files of 10 KB in 100 directories, committed.
tree=$work/tree
if [ ! -d "$tree/.git" ]; then
    mkdir -p "$tree"
    cd "$tree"
    git init -q
    for d in $(seq -w 0 99); do
        mkdir -p "src/d$d"
        head -c $((100 * 10240)) /dev/urandom | (cd "src/d$d" && split -b 10240 -d -a 2 - f)
    done
    git add -A
    git -c user.name=bench -c user.email=bench@example.com commit -qm tree
fi
cd "$tree"
echo "tree: $(git ls-files | wc -l) files, $(du -sh src | cut -f1) in $tree"

# The old runner's method: the paths added to a copy of the index, that
# index written as a tree, the tree listed.
cat > "$work/old-runner.sh" <<'SH'
tmp=$(mktemp)
cp .git/index "$tmp"
GIT_INDEX_FILE=$tmp git add -- "$@"
tree=$(GIT_INDEX_FILE=$tmp git write-tree)
git ls-tree -r "$tree" | sha256sum
rm -f "$tmp"
SH
touch_all="find src -type f -exec touch {} +"
ours="$bin src"
old="bash $work/old-runner.sh src"
sha="git ls-files -z | xargs -0 sha256sum"

results=$work/results
mkdir -p "$results"
run() {
    local name=$1
    shift
    hyperfine --style basic --warmup 2 --min-runs 20 --export-csv "$results/$name.csv" "$@" >"$results/$name.txt"
}

echo "measuring..."
# The old method is at its best when the index's stat data is fresh.
git update-index -q --refresh
run cold --prepare "rm -rf $TASKRUNNER_STATE_DIRECTORY/hash/stat" -n tr-hash "$ours" \
    --prepare true -n sha256sum "$sha" --prepare true -n old-runner "$old"
$ours >/dev/null
run warm -n tr-hash "$ours" -n sha256sum "$sha" -n old-runner "$old"
run touched --prepare "$touch_all" -n tr-hash "$ours" \
    --prepare "$touch_all" -n old-runner "$old"
run next --prepare "$touch_all; $ours" -n tr-hash "$ours" \
    --prepare "$touch_all" -n old-runner "$old"

# Twenty tasks with unchanged inputs (100 files each): `tr-hash --check`
# against flock + `git ls-files -s | sha256sum` + compare.
mkdir -p "$TASKRUNNER_STATE_DIRECTORY/hash" "$work/locks"
for i in $(seq -w 0 19); do
    printf '{"hash":"%s","hashInput":"","mainBranchCommit":null}' "$($bin "src/d$i")" \
        >"$TASKRUNNER_STATE_DIRECTORY/hash/t$i.hash"
    git ls-files -s -- "src/d$i" | sha256sum >"$work/locks/t$i.saved"
done
cat >"$work/twenty-ours.sh" <<SH
for i in \$(seq -w 0 19); do $bin --job t\$i --check src/d\$i || exit 1; done
SH
cat >"$work/twenty-bash.sh" <<SH
for i in \$(seq -w 0 19); do
    flock $work/locks/t\$i.lock git ls-files -s -- src/d\$i | sha256sum | cmp -s - $work/locks/t\$i.saved || exit 1
done
SH
run twenty -n tr-hash "bash $work/twenty-ours.sh" -n bash "bash $work/twenty-bash.sh"

# Medians: on a machine shared with other work, a few slow runs would
# drag the means.
median() { awk -F, -v n="$2" '$1 == n { printf "%.1f", $4 * 1000 }' "$results/$1.csv"; }
ratio() { awk -v a="$(median "$1" "$2")" -v b="$(median "$1" "$3")" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "scenario | tr-hash ms | baseline | baseline ms | tr-hash / baseline (medians)"
for pair in cold:sha256sum cold:old-runner warm:sha256sum warm:old-runner \
    touched:old-runner next:old-runner twenty:bash; do
    s=${pair%%:*}
    b=${pair#*:}
    echo "$s | $(median "$s" tr-hash) | $b | $(median "$s" "$b") | $(ratio "$s" tr-hash "$b")"
done
echo
echo "hyperfine output in $results"
