# Sourced by run.sh (its helpers c, fail, wait_for, vmProp, vmStateIs, unitState): a VM run by
# its unit corral@web1 is live-migrated to a second corrald, and the unit ends without failing.
#
# The "destination host" is a second corrald in the same container with its own bus (a
# dbus-daemon on a socket under /run/corral-dst), instances, runtime, state and log dirs, and
# [migration] listen_address 127.0.0.1. It runs where /run/systemd is hidden (a tmpfs in its own
# mount namespace): one systemd cannot hold the same VM's scope and machined registration twice,
# which two real hosts never need to. Everything it made is removed when the step ends.

MIGRATE_DST=/run/corral-dst
MIGRATE_VM=web1

dstBus() { c busctl --address="unix:path=$MIGRATE_DST/bus.sock" "$@"; }
dstState() {
    dstBus get-property org.corral1 "/org/corral1/instance/$MIGRATE_VM" org.corral1.Instance \
        State 2>/dev/null | cut -d' ' -f2- | tr -d '"'
}
dstStateIs() { [ "$(dstState)" = "$1" ]; }
dstUp() { dstBus status org.corral1 >/dev/null 2>&1; }
migrateUnitIs() { [ "$(unitState "corral@$MIGRATE_VM.service")" = "$1" ]; }

migrateCleanup() {
    dstBus call org.corral1 "/org/corral1/instance/$MIGRATE_VM" org.corral1.Instance Kill \
        >/dev/null 2>&1 || true
    c systemctl stop "corral@$MIGRATE_VM.service" rig-dst-corrald.service rig-dst-bus.service \
        >/dev/null 2>&1 || true
    c systemctl reset-failed "corral@$MIGRATE_VM.service" rig-dst-corrald.service \
        rig-dst-bus.service >/dev/null 2>&1 || true
    c corralctl kill "$MIGRATE_VM" >/dev/null 2>&1 || true
    c corralctl undefine "$MIGRATE_VM" >/dev/null 2>&1 || true
    c rm -rf "$MIGRATE_DST" "/etc/corral/instances/$MIGRATE_VM.toml"
}

step_migrated_source_unit() {
    local out dest="unix:path=$MIGRATE_DST/bus.sock" journal
    trap migrateCleanup EXIT
    c sh -c "sed 's/^on_crash.*/on_crash = \"restart\"/' /etc/corral/instances/$VM.toml \
        > /etc/corral/instances/$MIGRATE_VM.toml" || fail "cannot write $MIGRATE_VM.toml"
    c busctl call org.corral1 /org/corral1 org.corral1.Manager Reload >/dev/null ||
        fail "Manager.Reload"
    wait_for 10 "$MIGRATE_VM published as stopped" vmStateIs "$MIGRATE_VM" stopped

    c mkdir -p "$MIGRATE_DST"/instances "$MIGRATE_DST"/run "$MIGRATE_DST"/state "$MIGRATE_DST"/log
    c sh -c "printf '[migration]\nlisten_address = \"127.0.0.1\"\nport_range = \"49700-49709\"\n' \
        > $MIGRATE_DST/corral.toml"
    c systemd-run --quiet --unit=rig-dst-bus dbus-daemon --session --nofork --nopidfile \
        --address="$dest" || fail "cannot start the destination's dbus-daemon"
    wait_for 10 "the destination's bus socket" c test -S "$MIGRATE_DST/bus.sock"
    c systemd-run --quiet --unit=rig-dst-corrald unshare -m sh -c \
        "mount -t tmpfs tmpfs /run/systemd && exec /usr/sbin/corrald --bus-address $dest \
         --instances-dir $MIGRATE_DST/instances --runtime-dir $MIGRATE_DST/run \
         --state-dir $MIGRATE_DST/state --log-dir $MIGRATE_DST/log \
         --config $MIGRATE_DST/corral.toml" || fail "cannot start the destination corrald"
    wait_for 20 "the destination corrald on its bus" dstUp

    c systemctl start "corral@$MIGRATE_VM.service" || fail "systemctl start corral@$MIGRATE_VM"
    vmStateIs "$MIGRATE_VM" running || fail "State=$(vmProp "$MIGRATE_VM" State) after the start"
    out=$(c corralctl migrate "$MIGRATE_VM" "$dest" --timeout 300 2>&1) ||
        fail "corralctl migrate: $out"
    echo "$out" | tail -n 2
    dstStateIs running || fail "State on the destination: $(dstState)"

    # The unit ends by itself, inactive and not failed, and says where the VM went.
    wait_for 30 "corral@$MIGRATE_VM to end" migrateUnitIs inactive
    [ "$(c systemctl is-failed "corral@$MIGRATE_VM.service")" != failed ] ||
        fail "corral@$MIGRATE_VM failed after the migration"
    [ "$(vmProp "$MIGRATE_VM" LastExit)" = "migrated to $dest" ] ||
        fail "LastExit=$(vmProp "$MIGRATE_VM" LastExit)"
    journalSays() {
        journal=$(c journalctl --no-pager -o cat -u "corral@$MIGRATE_VM.service")
        grep -q "$MIGRATE_VM: ended: migrated to $dest" <<<"$journal"
    }
    wait_for 10 "the unit's journal saying where it went" journalSays

    # Nothing here starts it again: not on_crash = restart, not the unit (no force).
    if c systemctl start "corral@$MIGRATE_VM.service" 2>/dev/null; then
        fail "corral@$MIGRATE_VM started again after the migration"
    fi
    refused() {
        journal=$(c journalctl --no-pager -o cat -u "corral@$MIGRATE_VM.service")
        grep -q "$MIGRATE_VM was migrated to $dest" <<<"$journal"
    }
    wait_for 10 "the refusal's sentence in the unit's journal" refused
    grep "was migrated to" <<<"$journal" | tail -n 1
    vmStateIs "$MIGRATE_VM" stopped || fail "State here: $(vmProp "$MIGRATE_VM" State)"
    dstStateIs running || fail "State on the destination after the refused start: $(dstState)"
}
