#!/bin/bash
# corralctl -H against a real sshd: the "remote host" is a network namespace (veth pair,
# 198.51.100.1 here, 198.51.100.2 there) running OpenSSH's sshd with a host key made here, in a
# mount namespace whose /run/dbus/system_bus_socket is a private dbus-daemon with its own
# corrald. The ssh session's systemd-stdio-bridge reaches that bus at the standard path, as on
# a real host. A second corrald on another private bus stands for the local host.
#
#   remote_test.sh BINARY_DIR GUEST_IMAGE_DIR
#
# Every process is killed by pid and the namespace, veth and temp dir removed on every path.
set -euo pipefail

bin=$(cd "$1" && pwd)
guest=$(cd "$2" && pwd)
SKIP=77
[ "$(id -u)" -eq 0 ] || { echo "remote test: SKIPPED: needs root (ip netns, veth, mount namespace)"; exit $SKIP; }
for tool in /usr/sbin/sshd ssh ssh-keygen ip unshare dbus-daemon systemd-stdio-bridge socat; do
    command -v "$tool" >/dev/null || { echo "remote test: $tool missing (make deps)"; exit 1; }
done
for f in vmlinuz initrd.img; do
    [ -f "$guest/$f" ] || { echo "remote test: $guest/$f missing (build target guest-image)"; exit 1; }
done

T=$(mktemp -d /tmp/corral-remote.XXXXXX)
NS=corral-remote-$$
VA=crlr$$a
VB=crlr$$b
HERE=198.51.100.1
THERE=198.51.100.2
NOBODY=198.51.100.3
PIDS=()

log() { echo "[remote $(date +%T.%3N)] $*"; }
fail() {
    log "FAILED: $*"
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
    exit 1
}

cleanup() {
    local rc=$? pid f
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for f in "$T"/*/run/*/qemu.pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    ip link del "$VA" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# until_ok SECONDS WHAT COMMAND...: poll every 100 ms, bounded.
until_ok() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for $what"
        sleep 0.1
    done
}

# A private bus whose socket is DIR/system_bus_socket, and a corrald on it with one instance.
start_host() {
    local side=$1 vm=$2 dir=$T/$1
    mkdir -p "$dir/dbus" "$dir/instances" "$dir/run" "$dir/commands"
    dbus-daemon --session --nofork --nopidfile \
        --address="unix:path=$dir/dbus/system_bus_socket" >"$T/$side-dbus.log" 2>&1 &
    PIDS+=($!)
    until_ok 10 "$side dbus-daemon" test -S "$dir/dbus/system_bus_socket"
    cat >"$dir/instances/$vm.toml" <<TOML
[machine]
type = "pc"
accel = "tcg"
memory = "256M"
[boot]
kernel = "$guest/vmlinuz"
initrd = "$guest/initrd.img"
cmdline = "console=ttyS0 quiet panic=-1"
[agent]
negotiator = false
TOML
    printf '[paths]\nguest_commands_dir = "%s"\n' "$dir/commands" >"$dir/corral.toml"
    "$bin/supervisor/corrald" --bus-address "unix:path=$dir/dbus/system_bus_socket" \
        --instances-dir "$dir/instances" --runtime-dir "$dir/run" --config "$dir/corral.toml" \
        >"$T/$side-corrald.log" 2>&1 &
    PIDS+=($!)
    CORRALD=$!
    until_ok 20 "$side corrald on its bus" busctl --address "unix:path=$dir/dbus/system_bus_socket" \
        status org.corral1
}

if ip -br addr | grep -q " ${HERE%.*}\."; then
    fail "${HERE%.*}.0/24 is already used on this host: the test needs it for its veth pair"
fi
log "network namespace $NS: $HERE <-> $THERE"
ip netns add "$NS"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VB" netns "$NS"
ip addr add "$HERE/24" dev "$VA"
ip link set "$VA" up
ip -n "$NS" addr add "$THERE/24" dev "$VB"
ip -n "$NS" link set "$VB" up
ip -n "$NS" link set lo up

start_host remote far1
remote_corrald=$CORRALD
start_host local near1

log "keys and sshd"
ssh-keygen -q -t ed25519 -N '' -C corral-test-host -f "$T/host_key"
ssh-keygen -q -t ed25519 -N '' -C corral-test-client -f "$T/client_key"
cp "$T/client_key.pub" "$T/authorized_keys"
echo "$THERE $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
cat >"$T/sshd_config" <<CFG
ListenAddress $THERE
Port 22
HostKey $T/host_key
AuthorizedKeysFile $T/authorized_keys
PidFile none
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel VERBOSE
CFG
# The far side's /run is its own: sshd's privilege separation directory and a /run/dbus that
# holds the remote bus's socket, at the path systemd-stdio-bridge uses.
ip netns exec "$NS" unshare --mount --propagation private sh -c \
    "mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd /run/dbus &&
     mount --bind '$T/remote/dbus' /run/dbus && exec /usr/sbin/sshd -D -e -f '$T/sshd_config'" \
    >"$T/sshd.log" 2>&1 &
PIDS+=($!)
until_ok 10 "sshd listening on $THERE:22" timeout 1 bash -c "</dev/tcp/$THERE/22"
# A port that accepts and never answers: ssh then waits for a banner that does not come.
ip netns exec "$NS" socat -u TCP-LISTEN:2222,bind=$THERE,reuseaddr,fork OPEN:/dev/null \
    >"$T/silent.log" 2>&1 &
PIDS+=($!)
until_ok 10 "the silent port" timeout 1 bash -c "</dev/tcp/$THERE/2222"

# The client's ssh: sd-bus of systemd 252 runs "ssh" from PATH (later ones honour $SYSTEMD_SSH).
mkdir -p "$T/bin"
cat >"$T/ssh_config" <<CFG
Host silent
    HostName $THERE
    Port 2222
    ConnectTimeout 120
Host *
    IdentityFile $T/client_key
    IdentitiesOnly yes
    UserKnownHostsFile $T/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
CFG
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$T/ssh_config" >"$T/bin/ssh"
chmod +x "$T/bin/ssh"
export SYSTEMD_SSH=$T/bin/ssh PATH=$T/bin:$PATH

ctl() { timeout 60 "$bin/supervisor/corralctl" "$@"; }
remote() { ctl -H "root@$THERE" "$@"; }
local_bus="unix:path=$T/local/dbus/system_bus_socket"

log "list: the remote's instances, not the local ones"
out=$(remote list 2>&1) || fail "corralctl -H root@$THERE list: $out"
echo "$out"
echo "$out" | grep -q '^far1 ' || fail "far1 missing from the remote list: $out"
echo "$out" | grep -q near1 && fail "the local near1 is in the remote list: $out"
out=$(ctl --address "$local_bus" list 2>&1) || fail "local list: $out"
echo "$out" | grep -q '^near1 ' || fail "near1 missing from the local list: $out"
echo "$out" | grep -q far1 && fail "far1 is in the local list: $out"

log "status, reload, start and kill over ssh"
out=$(remote status far1 2>&1) || fail "status far1: $out"
echo "$out" | grep -Eq 'State: stopped' || fail "status far1: $out"
# The UUID derived from "far1" (uuid5 in corral's namespace).
echo "$out" | grep -q "Uuid: 972a8561-bab8-5880-ba6c-d5e4b7774ad7" ||
    fail "status far1 shows no derived Uuid: $out"
remote reload || fail "reload over ssh"
out=$(remote start far1 2>&1) || fail "start far1: $out"
[ "$out" = "far1: running" ] || fail "start far1 said: $out"
out=$(remote --json status far1 2>&1) || fail "status far1: $out"
echo "$out" | grep -q '"State":"running"' || fail "far1 not running after start: $out"
pid=$(echo "$out" | sed -n 's/.*"Pid":\([0-9]*\).*/\1/p')
cmdline=$(tr '\0' ' ' <"/proc/${pid:-0}/cmdline" 2>/dev/null || true)
echo "$cmdline" | grep -q "$T/remote/run/far1/qemu.pid" || fail "Pid=$pid is not the remote's qemu: $out"
out=$(remote kill far1 2>&1) || fail "kill far1: $out"
stopped() { remote --json status far1 | grep -q '"State":"stopped"'; }
until_ok 20 "far1 stopped" stopped

log "verbs that need this host's files refuse -H"
out=$(remote console far1 2>&1) && fail "console with -H succeeded: $out"
echo "$out" | grep -q "console does not work with -H" || fail "console with -H: $out"
out=$(remote validate "$T/remote/instances/far1.toml" 2>&1) && fail "validate with -H: $out"
echo "$out" | grep -q "validate does not work with -H" || fail "validate with -H: $out"
out=$(ctl -H "root@$THERE" --address "$local_bus" list 2>&1) && fail "-H with --address: $out"
echo "$out" | grep -q "cannot go with --address" || fail "-H with --address: $out"

bounded() {  # bounded SECONDS TARGET EXPECTED_TEXT: fails with exit 6 and the text, in time
    local limit=$1 target=$2 text=$3 t0 rc=0 ms
    t0=$(date +%s%N)
    out=$(ctl -H "$target" list 2>&1) || rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    log "-H $target: exit $rc after $ms ms: $out"
    [ "$rc" = 6 ] || fail "-H $target: exit $rc, want 6: $out"
    [ "$ms" -lt $((limit * 1000)) ] || fail "-H $target took $ms ms, bound ${limit}s"
    echo "$out" | grep -q "$text" || fail "-H $target: no '$text' in: $out"
}
log "an address where nobody answers (ssh's ConnectTimeout 5 in the test config)"
bounded 12 "root@$NOBODY" "cannot reach the system bus of root@$NOBODY"
log "a port that never sends the ssh banner (corralctl's own bound)"
bounded 20 root@silent "no answer over ssh within 15 s"
if pgrep -f "$T/ssh_config" >/dev/null; then fail "an ssh is left behind: $(pgrep -af "$T/ssh_config")"; fi

log "a host without corrald"
kill -TERM "$remote_corrald"
until_ok 20 "the remote corrald gone" sh -c "! kill -0 $remote_corrald"
bounded 12 "root@$THERE" "corrald is not running on root@$THERE"

log "all passed"
