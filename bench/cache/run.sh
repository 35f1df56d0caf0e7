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

for tool in tar zstd python3 curl /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "run.sh: needs \`$tool\`" >&2; exit 2; }
done

echo "building tr-cache (release)..." >&2
(cd "$repo" && cargo build --quiet --release -p tr-cache --bin tr-cache --example s3_server)
bin=$target/release/tr-cache
# The pipelines' S3 clients. The AWS CLI is what a CI script would use:
# `aws s3 cp -` uploads a stream in 8 MB parts, as tr-cache does. curl,
# signing with SigV4, sends the stream as one chunked request, which
# s3s-fs takes but AWS refuses without a length: a lower bound.
curl="curl -sS -f -H x-amz-content-sha256:UNSIGNED-PAYLOAD --aws-sigv4 aws:amz:eu-central-1:s3 --user benchkey:benchsecret"
venv=$target/bench-awscli
if [[ ! -x $venv/bin/aws ]]; then
    echo "installing the AWS CLI into $venv..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet awscli
fi
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret AWS_DEFAULT_REGION=eu-central-1
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

# compare COMMAND...: runs the commands in turns, $runs times, and prints
# the median wall time of each, in ms, then the median CPU time (user +
# system) of each. Taking turns spreads the load of other processes on
# the machine over all of them. In each run $dst
# is a new empty directory. Nothing is removed until the end: on ext4,
# creating files soon after many were deleted is several times slower
# (the allocator avoids recently freed inodes).
compare() {
    local commands=("$@") walls=() cpus=() i c start end before after
    for ((i = 0; i < runs; i++)); do
        for c in "${!commands[@]}"; do
            mkdir -p "$work/dst"
            dst=$(mktemp -d "$work/dst/XXXXXX")
            sync
            sleep 1
            cpu_ticks
            before=$ticks
            start=$(now_ms)
            eval "${commands[c]}"
            end=$(now_ms)
            cpu_ticks
            after=$ticks
            walls[c]+="$((end - start)) "
            cpus[c]+="$(((after - before) * 1000 / $(getconf CLK_TCK))) "
        done
    done
    for c in "${!commands[@]}"; do median ${walls[c]}; done
    for c in "${!commands[@]}"; do median ${cpus[c]}; done
}

median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

# CPU ticks used by this shell's finished children so far (`times`
# would run in a subshell of its own and see none).
cpu_ticks() {
    local fields
    read -r -a fields < "/proc/$BASHPID/stat"
    ticks=$((fields[15] + fields[16]))
}

# peak COMMAND: the largest resident size of COMMAND, in MB.
peak() {
    # shellcheck disable=SC2086 # COMMAND is split into words on purpose
    /usr/bin/time -f %M -o "$work/peak" $1 >/dev/null 2>&1
    echo $(($(tail -1 "$work/peak") / 1024))
}

ratio() { python3 -c "print(f'{$1 / max($2, 1):.2f}')"; }

# row FS TREE OPERATION WALL0..WALL4 CPU0..CPU4, for the commands in the
# order: pipeline, directory store, pipeline through S3 with curl, with
# the AWS CLI, tr-cache through S3.
row() {
    rows+="| $1 | $2 | $3 | $4 (${9}) | $5 (${10}) | $(ratio "$5" "$4") "
    rows+="| $6 (${11}) | $7 (${12}) | $8 (${13}) | $(ratio "$8" "$7") | $(ratio "$8" "$6") |"$'\n'
}

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
    s3_url=http://127.0.0.1:$port/bench/pipeline
    aws="$venv/bin/aws --endpoint-url http://127.0.0.1:$port s3 cp"
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
    local tree src desc
    for tree in big small; do
        src=$work/$tree
        desc="$(find "$src/out" -type f | wc -l) files, $(du -sm --apparent-size "$src/out" | cut -f1) MB"
        echo "$label, $tree: $desc" >&2
        local save=() restore=()
        # Saves first: the restores read their archives.
        read -r -d '' -a save < <(compare \
            "tar -C $src -cf - out | zstd -3 -q -f -o $work/$tree.tar.zst" \
            "$bin save -n $tree --hash h --root $src $src/out 2>/dev/null" \
            "tar -C $src -cf - out | zstd -3 -q -c | $curl -T - $s3_url/$tree.tar.zst" \
            "tar -C $src -cf - out | zstd -3 -q -c | $aws --quiet - s3://bench/aws/$tree.tar.zst" \
            "env $s3_env $bin save -n $tree --hash h --root $src $src/out 2>/dev/null" \
            && printf '\0')
        read -r -d '' -a restore < <(compare \
            "zstd -d -q -c $work/$tree.tar.zst | tar -C \$dst -xf -" \
            "$bin restore -n $tree --hash h --root \$dst 2>/dev/null" \
            "$curl $s3_url/$tree.tar.zst | zstd -d -q | tar -C \$dst -xf -" \
            "$aws --quiet s3://bench/aws/$tree.tar.zst - | zstd -d -q | tar -C \$dst -xf -" \
            "env $s3_env $bin restore -n $tree --hash h --root \$dst 2>/dev/null" \
            && printf '\0')
        local archive
        archive=$(du -m --apparent-size "$work/$tree.tar.zst" | cut -f1)
        mkdir -p "$work/dst"
        peaks+="| $label | $tree ($desc) | $archive MB"
        peaks+=" | $(peak "$bin save -n $tree-peak --hash h --root $src $src/out")"
        peaks+=" | $(peak "$bin restore -n $tree --hash h --root $(mktemp -d "$work/dst/XXXXXX")")"
        peaks+=" | $(peak "env $s3_env $bin save -n $tree-peak --hash h --root $src $src/out")"
        peaks+=" | $(peak "env $s3_env $bin restore -n $tree --hash h --root $(mktemp -d "$work/dst/XXXXXX")") |"$'\n'
        row "$label" "$tree ($desc)" save "${save[@]}"
        row "$label" "$tree" restore "${restore[@]}"
        if [[ $tree == small ]]; then
            speedups+="- $label: $(ratio "${restore[0]}" "${restore[1]}")x from the directory store;"
            speedups+=" from local S3, $(ratio "${restore[3]}" "${restore[4]}")x against the pipeline"
            speedups+=" with the AWS CLI, $(ratio "${restore[2]}" "${restore[4]}")x against it with curl"$'\n'
        fi
    done
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

rows=
speedups=
peaks=
load=$(cut -d' ' -f1-3 /proc/loadavg)
measure "disk ($(findmnt -no FSTYPE -T "$disk" 2>/dev/null || echo disk))" "$disk"
if [[ -n $shm ]]; then measure "tmpfs" "$shm"; fi

{
    echo "# tr-cache benchmark"
    echo
    echo "Produced by \`bench/cache/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores,"
    echo "$(uname -sr), zstd $(zstd -V | grep -o 'v[0-9.]*'), $(tar --version | head -1)."
    echo "Load average when it started: $load (other work shares the cores)."
    echo
    echo "Wall time in ms, median of $runs runs taken in turns, warm page cache;"
    echo "in parentheses the CPU time (user + system) of the client side. The"
    echo "pipelines are \`tar -c | zstd -3\` and \`zstd -d | tar -x\` to and from"
    echo "a local file, and the same pipelines streamed to and from a local"
    echo "s3s-fs server on the same cores (its CPU time is not counted) by"
    echo "\`aws s3 cp -\` (AWS CLI v1, multipart like tr-cache) and by curl (one"
    echo "chunked request, which AWS itself would refuse: a lower bound). ratio"
    echo "= tr-cache / pipeline, below 1 is faster; the last column sets"
    echo "tr-cache through S3 against curl."
    echo
    echo "| file system | tree | operation | pipeline | directory store | ratio | curl | AWS CLI | tr-cache S3 | ratio | vs curl |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s' "$rows"
    echo
    echo "Restore speed-up on the 57,000-file tree (issue goal: at least 2x):"
    echo
    printf '%s' "$speedups"
    echo
    echo "Peak resident memory of tr-cache in MB (one run each; memory stays"
    echo "flat whatever the archive's size):"
    echo
    echo "| file system | tree | archive | save | restore | S3 save | S3 restore |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    printf '%s' "$peaks"
} > "$here/RESULTS.md"
cat "$here/RESULTS.md"
