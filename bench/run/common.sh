# Shared by the bench/run scripts: a git repository of TASKS folders of 50
# files each, and the script of TASKS tasks whose inputs are those folders.
# Source it, then call these.

# make_task_repo DIR TASKS
make_task_repo() {
  local repo=$1 tasks=$2 t f
  mkdir -p "$repo"
  (
    cd "$repo"
    git init -q
    for ((t = 1; t <= tasks; t++)); do
      mkdir "dir$t"
      for ((f = 1; f <= 50; f++)); do
        head -c 2000 /dev/urandom | base64 >"dir$t/file$f.txt"
      done
    done
    git add -A
    git -c user.name=bench -c user.email=bench@example.invalid commit -qm files
  )
}

# write_task_script FILE TASKS: each task hashes its folder and echoes
# `work` when it runs.
write_task_script() {
  cat >"$1" <<SCRIPT
for ((t = 1; t <= $2; t++)); do
  tr-run -n "task\$t" bash -c "snapshot dir\$t; echo work"
done
SCRIPT
}
