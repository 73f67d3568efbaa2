"""corrald's PropertiesChanged signals turned into Nova lifecycle events.

One green thread keeps a D-Bus connection with a match on the instances' property changes. A
change of State becomes a LifecycleEvent at once, so a guest poweroff or a qemu crash reaches
Nova without waiting for the periodic power-state sync. When corrald goes away the thread
reconnects with a bounded back-off and compares every instance's State with what it last saw,
so a change made meanwhile is not lost.
"""

import time

from jeepney import MatchRule, message_bus
from jeepney.io.blocking import Proxy
from oslo_log import log as logging

from nova.virt import event as virtevent
from nova.virt.corral import bus as corral_bus
from nova.virt.corral import states

LOG = logging.getLogger(__name__)

_RULE = MatchRule(type="signal", interface=corral_bus.PROPERTIES, member="PropertiesChanged",
                  path_namespace="/org/corral1/instance")
_RULE.add_arg_condition(0, corral_bus.INSTANCE)


class Listener:
    """Watches corrald and calls emit(LifecycleEvent) for Nova's instances."""

    def __init__(self, bus, emit, owned_uuid):
        """owned_uuid(path) -> the Nova instance uuid of that corral instance, or None."""
        self._bus = bus
        self._emit = emit
        self._owned_uuid = owned_uuid
        self._seen = {}  # object path -> (State, HasSavedState)
        self._running = True

    def stop(self):
        self._running = False

    def run(self):
        delay = 0.5
        while self._running:
            try:
                self._listen()
                delay = 0.5
            except Exception as exc:  # corrald or the bus went away: reconnect
                LOG.warning("corral: lost the event connection to corrald (%s); retrying in "
                            "%.1f s", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _listen(self):
        conn = self._bus.connect()
        try:
            Proxy(message_bus, conn).AddMatch(_RULE)
            with conn.filter(_RULE) as queue:
                self._resync()
                while self._running:
                    try:
                        msg = conn.recv_until_filtered(queue, timeout=5)
                    except TimeoutError:
                        continue
                    _, changed, _ = msg.body
                    self._changed(msg.header.fields[1], changed)
        finally:
            conn.close()

    def _resync(self):
        """After a (re)connect: compare each instance's State with the last one seen."""
        for _name, state, _pid, path in self._bus.list_instances():
            saved = bool(self._bus.get(path, corral_bus.INSTANCE, "HasSavedState"))
            self._update(path, state, saved)

    def _changed(self, path, changed):
        if "State" not in changed and "HasSavedState" not in changed:
            return
        old_state, old_saved = self._seen.get(path, (None, False))
        state = changed["State"][1] if "State" in changed else old_state
        saved = changed["HasSavedState"][1] if "HasSavedState" in changed else old_saved
        if state is None:
            state = self._bus.get(path, corral_bus.INSTANCE, "State")
        self._update(path, state, saved)

    def _update(self, path, state, saved):
        old = self._seen.get(path)
        self._seen[path] = (state, saved)
        if old is None or old == (state, saved):
            return
        transition = states.lifecycle_transition(old[0], state, saved)
        if transition is None:
            return
        uuid = self._owned_uuid(path)
        if uuid is None:
            return
        LOG.debug("corral: %s went %s -> %s", uuid, old[0], state)
        self._emit(virtevent.LifecycleEvent(uuid, transition))
