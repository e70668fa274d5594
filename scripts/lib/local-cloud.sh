# Sourced by scripts: starts the local cloud (the workspace's debug binaries, built first) on a
# free port over a temporary data folder, sets $api, $ws (the WebSocket API), $cloud_pid,
# $cloud_dir and $token_command,
# and stops it all on exit. Extra arguments go to todo-local.
start_local_cloud() {
  local_bin="${CARGO_TARGET_DIR:-target}/debug/todo-local"
  cloud_dir="$(mktemp -d)"
  "$local_bin" --port 0 --data "$cloud_dir/data" "$@" >"$cloud_dir/log" 2>&1 &
  cloud_pid=$!
  trap 'kill "$cloud_pid" 2>/dev/null || true; rm -rf "$cloud_dir"' EXIT
  until api=$(grep -o 'HTTP API *http://[0-9.:]*' "$cloud_dir/log" | awk '{print $3}') && [ -n "$api" ]; do
    kill -0 "$cloud_pid" || { cat "$cloud_dir/log"; exit 1; }
    sleep 0.05
  done
  ws=$(grep -o 'WebSocket API *ws://[^ ]*' "$cloud_dir/log" | awk '{print $3}')
  token_command="$local_bin token {user} --data $cloud_dir/data"
}
