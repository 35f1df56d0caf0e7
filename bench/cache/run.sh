#!/usr/bin/env bash
# Benchmark: `tr-cache save` and `tr-cache restore` against the pipelines
# `tar -c | zstd -3` and `zstd -d | tar -x` on the same disk, for a 200 MB
# output tree (many small files and a few large ones) and a tree of 57,000
# small files (80 MB); then save and restore through a local S3 server.
#
# Usage: bench/cache/run.sh [WORK_DIR]
# Writes bench/cache/RESULTS.md. Each time is the median of three runs with
# a warm page cache; ratios come from this one run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
runs=3

for tool in tar zstd python3; do
    command -v "$tool" >/dev/null || { echo "run.sh: needs \`$tool\`" >&2; exit 2; }
done

echo "building tr-cache (release)..." >&2
(cd "$repo" && cargo build --quiet --release -p tr-cache --bin tr-cache --example s3_server)
bin=$target/release/tr-cache
server_bin=$target/release/examples/s3_server

if [[ -n ${1:-} ]]; then
    work=$1
    keep_work=1
else
    work=$(mktemp -d /var/tmp/tr-cache-bench.XXXXXX)
    keep_work=
fi
mkdir -p "$work"
chmod 700 "$work"
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
    if [[ -z $keep_work ]]; then
        echo "removing $work..." >&2
        rm -rf "$work"
    else
        rm -rf "$work/dst"
    fi
}
trap cleanup EXIT

if [[ -d $work/big/out && -d $work/small/out ]]; then
    echo "reusing the trees in $work" >&2
else
echo "generating trees in $work..." >&2
python3 - "$work" <<'PY'
import base64, os, random, sys
work = sys.argv[1]
rng = random.Random(42)
words = [base64.b32encode(os.urandom(5)).decode().lower() for _ in range(4000)]

def text(size):
    out, n = [], 0
    while n < size:
        w = rng.choice(words)
        out.append(w)
        n += len(w) + 1
    return (" ".join(out)[:size]).encode()

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

# 200 MB: 24,000 files of 1-6 KB (about 85 MB) and four files of 29 MB
# that compress about as well as object code.
big = os.path.join(work, "big/out")
for i in range(24000):
    write(f"{big}/src/d{i % 97}/e{i % 7}/f{i}.o", text(rng.randint(1000, 6000)))
for i in range(4):
    blob = base64.b64encode(os.urandom(22 * 1024 * 1024))[: 29 * 1024 * 1024]
    write(f"{big}/lib/blob{i}.a", blob)

# 57,000 small files, about 80 MB, as in a node_modules or build cache.
small = os.path.join(work, "small/out")
for i in range(57000):
    write(f"{small}/p{i % 57}/m{i % 10}/f{i}.js", text(rng.randint(300, 2500)))
PY
fi

now_ms() { date +%s%3N; }

# median_ms COMMAND: the median time of $runs runs of COMMAND, in which
# $dst is a new empty directory each time. Nothing is removed until all
# runs are done: on a disk mounted with `discard`, removing 57,000 files
# stalls the file system for many seconds afterwards.
counter=0
median_ms() {
    local command=$1 times=() start end
    for ((i = 0; i < runs; i++)); do
        counter=$((counter + 1))
        dst=$work/dst/$counter
        mkdir -p "$dst"
        sync
        sleep 1
        start=$(now_ms)
        eval "$command"
        end=$(now_ms)
        times+=($((end - start)))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

export TASKRUNNER_STATE_DIRECTORY=$work/state
export TASKRUNNER_CACHE_DIRECTORY=$work/store
export TASKRUNNER_CACHE_MAX_SIZE=100G
unset TASKRUNNER_REMOTE_CACHE_BUCKET

declare -A result
for tree in big small; do
    src=$work/$tree
    size=$(du -sm --apparent-size "$src/out" | cut -f1)
    files=$(find "$src/out" -type f | wc -l)
    echo "$tree: $files files, $size MB" >&2
    result[$tree.desc]="$files files, $size MB"

    result[$tree.pipe_save]=$(median_ms \
        "tar -C $src -cf - out | zstd -3 -q -f -o $work/$tree.tar.zst")
    result[$tree.save]=$(median_ms \
        "$bin save -n $tree --hash h --root $src $src/out 2>/dev/null")
    result[$tree.pipe_restore]=$(median_ms \
        "zstd -d -q -c $work/$tree.tar.zst | tar -C \$dst -xf -")
    result[$tree.restore]=$(median_ms \
        "$bin restore -n $tree --hash h --root \$dst 2>/dev/null")
    result[$tree.size_pipe]=$(stat -c %s "$work/$tree.tar.zst")
    result[$tree.size]=$(stat -c %s "$work/store/bundles/$tree-h.tar.zst")
done

echo "starting the local S3 server..." >&2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/s3/bench"
"$server_bin" "$work/s3" "$port" benchkey benchsecret 2>/dev/null &
server_pid=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
export TASKRUNNER_REMOTE_CACHE_BUCKET=bench
export TASKRUNNER_S3_ENDPOINT=http://127.0.0.1:$port
export TASKRUNNER_AWS_ACCESS_KEY=benchkey
export TASKRUNNER_AWS_SECRET_KEY=benchsecret
for tree in big small; do
    src=$work/$tree
    result[$tree.s3_save]=$(median_ms \
        "$bin save -n $tree --hash h --root $src $src/out 2>/dev/null")
    result[$tree.s3_restore]=$(median_ms \
        "$bin restore -n $tree --hash h --root \$dst 2>/dev/null")
done

{
    echo "# tr-cache benchmark"
    echo
    echo "Produced by \`bench/cache/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores,"
    echo "$(uname -sr). Median of $runs runs, warm page cache, same disk."
    echo "Ratio = tr-cache time / pipeline time (below 1 is faster)."
    echo
    echo "| tree | operation | pipeline ms | tr-cache ms | ratio |"
    echo "| --- | --- | ---: | ---: | ---: |"
    for tree in big small; do
        d=${result[$tree.desc]}
        echo "| $tree ($d) | save, directory store | ${result[$tree.pipe_save]} | ${result[$tree.save]} | $(ratio "${result[$tree.save]}" "${result[$tree.pipe_save]}") |"
        echo "| $tree | restore, directory store | ${result[$tree.pipe_restore]} | ${result[$tree.restore]} | $(ratio "${result[$tree.restore]}" "${result[$tree.pipe_restore]}") |"
        echo "| $tree | save to local S3 | ${result[$tree.pipe_save]} | ${result[$tree.s3_save]} | $(ratio "${result[$tree.s3_save]}" "${result[$tree.pipe_save]}") |"
        echo "| $tree | restore from local S3 | ${result[$tree.pipe_restore]} | ${result[$tree.s3_restore]} | $(ratio "${result[$tree.s3_restore]}" "${result[$tree.pipe_restore]}") |"
    done
    echo
    echo "Archive sizes: big $((result[big.size] / 1048576)) MiB (pipeline $((result[big.size_pipe] / 1048576)) MiB),"
    echo "small $((result[small.size] / 1048576)) MiB (pipeline $((result[small.size_pipe] / 1048576)) MiB)."
    echo
    echo "Restore speed-up on the small-file tree: $(ratio "${result[small.pipe_restore]}" "${result[small.restore]}")x"
    echo "(issue goal: at least 2x)."
} > "$here/RESULTS.md"
cat "$here/RESULTS.md"
