"""corral's instance states as Nova sees them (pure functions, no bus)."""

from nova.compute import power_state
from nova.virt import event as virtevent

# State values of org.corral1.Instance (docs/architecture.md "D-Bus API").
_POWER = {
    "running": power_state.RUNNING,
    "starting": power_state.NOSTATE,
    "paused": power_state.PAUSED,
    "shutting-down": power_state.RUNNING,
    "stopped": power_state.SHUTDOWN,
    # qemu ended without being asked (killed, a QEMU error): the VM is off, as libvirt's
    # "shut off (crashed)" is SHUTDOWN. Nova acts on a STOPPED event only when get_info agrees
    # that the power state is SHUTDOWN; CRASHED would leave the instance ACTIVE until the
    # periodic sync.
    "crashed": power_state.SHUTDOWN,
    "invalid": power_state.NOSTATE,
}


def power_state_of(state, has_saved_state=False):
    """Nova's power state for corral's State (a stopped VM with a saved state is SUSPENDED)."""
    if state == "stopped" and has_saved_state:
        return power_state.SUSPENDED
    return _POWER.get(state, power_state.NOSTATE)


def lifecycle_transition(old_state, new_state, has_saved_state=False):
    """The Nova lifecycle event for a change of State, or None when Nova need not hear of it.

    Transitional states (starting, shutting-down) are not events: the change that ends them is.
    """
    if old_state == new_state:
        return None
    if new_state == "running":
        return (virtevent.EVENT_LIFECYCLE_RESUMED
                if old_state == "paused" else virtevent.EVENT_LIFECYCLE_STARTED)
    if new_state == "paused":
        return virtevent.EVENT_LIFECYCLE_PAUSED
    if new_state == "stopped" and has_saved_state:
        return virtevent.EVENT_LIFECYCLE_SUSPENDED
    if new_state in ("stopped", "crashed"):
        return virtevent.EVENT_LIFECYCLE_STOPPED
    return None
