#!/usr/bin/env bash
# Benchmark: `tr-cache save` and `tr-cache restore` against the pipelines
# `tar -c | zstd -3` and `zstd -d | tar -x` writing to the same file
# system, for a 200 MB output tree (many small files and a few large ones)
# and a tree of 57,000 small files (80 MB); then save and restore through
# a local S3 server (s3s-fs, the `s3_server` example) on 127.0.0.1.
#
# Usage: bench/cache/run.sh [WORK_DIR]
#
# Runs once on disk (WORK_DIR, default a new directory in /var/tmp) and
# once in /dev/shm (tmpfs, where creating files costs CPU only), then
# writes bench/cache/RESULTS.md. Each time is the median of three runs
# with a warm page cache; ratios come from this one invocation.
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
    disk=$1
    keep_disk=1
else
    disk=$(mktemp -d /var/tmp/tr-cache-bench.XXXXXX)
    keep_disk=
fi
shm=
if [[ -d /dev/shm ]]; then shm=$(mktemp -d /dev/shm/tr-cache-bench.XXXXXX); fi
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
    if [[ -n $shm ]]; then rm -rf "$shm"; fi
    if [[ -n $keep_disk ]]; then
        rm -rf "$disk/dst" "$disk/s3"
    else
        echo "removing $disk..." >&2
        rm -rf "$disk"
    fi
}
trap cleanup EXIT

generate() {
    local work=$1
    if [[ -d $work/big/out && -d $work/small/out ]]; then
        echo "reusing the trees in $work" >&2
        return
    fi
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

# 200 MB: 24,000 files of 1-6 KB (about 85 MB) and four of 29 MB that
# compress about as well as object code.
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
}

now_ms() { date +%s%3N; }

# median_ms COMMAND: the median time of $runs runs of COMMAND, in which
# $dst is a new empty directory each time. Nothing is removed until the
# end: on ext4, creating files soon after many were deleted is several
# times slower (the allocator avoids recently freed inodes), which would
# swamp what is measured here.
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

start_server() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$work/s3/bench"
    "$server_bin" "$work/s3" "$port" benchkey benchsecret 2>/dev/null &
    server_pid=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    s3_env="TASKRUNNER_REMOTE_CACHE_BUCKET=bench TASKRUNNER_S3_ENDPOINT=http://127.0.0.1:$port"
    s3_env+=" TASKRUNNER_AWS_ACCESS_KEY=benchkey TASKRUNNER_AWS_SECRET_KEY=benchsecret"
}

# measure LABEL WORK: appends table rows for both trees to $rows.
measure() {
    local label=$1
    work=$2
    mkdir -p "$work"
    chmod 700 "$work"
    generate "$work"
    export TASKRUNNER_STATE_DIRECTORY=$work/state
    export TASKRUNNER_CACHE_DIRECTORY=$work/store
    export TASKRUNNER_CACHE_MAX_SIZE=100G
    start_server
    local tree src desc pipe_save save pipe_restore restore s3_save s3_restore
    for tree in big small; do
        src=$work/$tree
        desc="$(find "$src/out" -type f | wc -l) files, $(du -sm --apparent-size "$src/out" | cut -f1) MB"
        echo "$label, $tree: $desc" >&2
        pipe_save=$(median_ms "tar -C $src -cf - out | zstd -3 -q -f -o $work/$tree.tar.zst")
        save=$(median_ms "$bin save -n $tree --hash h --root $src $src/out 2>/dev/null")
        pipe_restore=$(median_ms "zstd -d -q -c $work/$tree.tar.zst | tar -C \$dst -xf -")
        restore=$(median_ms "$bin restore -n $tree --hash h --root \$dst 2>/dev/null")
        s3_save=$(median_ms "env $s3_env $bin save -n $tree --hash h --root $src $src/out 2>/dev/null")
        s3_restore=$(median_ms "env $s3_env $bin restore -n $tree --hash h --root \$dst 2>/dev/null")
        rows+="| $label | $tree ($desc) | save | $pipe_save | $save | $(ratio "$save" "$pipe_save") | $s3_save | $(ratio "$s3_save" "$pipe_save") |"$'\n'
        rows+="| $label | $tree | restore | $pipe_restore | $restore | $(ratio "$restore" "$pipe_restore") | $s3_restore | $(ratio "$s3_restore" "$pipe_restore") |"$'\n'
        if [[ $tree == small ]]; then
            speedups+="- $label: $(ratio "$pipe_restore" "$restore")x from the directory store, $(ratio "$pipe_restore" "$s3_restore")x from local S3"$'\n'
        fi
    done
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

rows=
speedups=
measure "disk ($(stat -f -c %T "$(dirname "$disk")"))" "$disk"
if [[ -n $shm ]]; then measure "tmpfs" "$shm"; fi

{
    echo "# tr-cache benchmark"
    echo
    echo "Produced by \`bench/cache/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores,"
    echo "$(uname -sr), zstd $(zstd -V | grep -o 'v[0-9.]*'), $(tar --version | head -1)."
    echo "Times in ms, median of $runs runs, warm page cache. The pipelines are"
    echo "\`tar -c | zstd -3\` and \`zstd -d | tar -x\`; ratio = tr-cache / pipeline"
    echo "(below 1 is faster). The S3 columns go through a local s3s-fs server"
    echo "that shares the same cores."
    echo
    echo "| file system | tree | operation | pipeline | directory store | ratio | local S3 | ratio |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    printf '%s' "$rows"
    echo
    echo "Restore speed-up on the 57,000-file tree (issue goal: at least 2x):"
    echo
    printf '%s' "$speedups"
} > "$here/RESULTS.md"
cat "$here/RESULTS.md"
