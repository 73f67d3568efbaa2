"""corrald's D-Bus API as plain Python calls (jeepney, no main loop).

Each call opens its own connection, so that the many green threads of nova-compute never share
a socket; a UNIX-socket connection costs about a millisecond. Errors come back as CorralError
with corrald's D-Bus error name and its sentence.
"""

from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
from jeepney.io.blocking import open_dbus_connection

SERVICE = "org.corral1"
MANAGER_PATH = "/org/corral1"
MANAGER = "org.corral1.Manager"
INSTANCE = "org.corral1.Instance"
STATS = "org.corral1.Instance.Stats"
PROPERTIES = "org.freedesktop.DBus.Properties"


class CorralError(Exception):
    """A D-Bus error from corrald (or from the bus: corrald not running)."""

    def __init__(self, name, message):
        # Both in args: privsep rebuilds the exception in nova-compute from its args.
        super().__init__(name, message)
        self.name = name
        self.message = message

    def __str__(self):
        return f"{self.name}: {self.message}"

    @property
    def short_name(self):
        """The part after org.corral1.Error. (NoSuchInstance, InvalidState, ...)."""
        return self.name.rsplit(".", 1)[-1]


def _connect(address):
    return open_dbus_connection(bus=address or "SYSTEM")


class Bus:
    """Method calls and property reads against one corrald."""

    def __init__(self, address="", timeout=120):
        self.address = address
        self.timeout = timeout

    def connect(self):
        """A new connection of our own (the event listener keeps one open)."""
        return _connect(self.address)

    def call(self, path, interface, method, signature="", args=(), timeout=None):
        msg = new_method_call(DBusAddress(path, bus_name=SERVICE, interface=interface), method,
                              signature or None, tuple(args))
        conn = _connect(self.address)
        try:
            reply = conn.send_and_get_reply(msg, timeout=timeout or self.timeout)
        except TimeoutError as exc:
            raise CorralError("org.corral1.Error.Timeout",
                              f"corrald did not answer {method} within "
                              f"{timeout or self.timeout} s") from exc
        finally:
            conn.close()
        if reply.header.message_type == MessageType.error:
            name = reply.header.fields.get(HeaderFields.error_name, "org.freedesktop.DBus.Error")
            text = reply.body[0] if reply.body else ""
            raise CorralError(name, text)
        return reply.body

    # Manager

    def list_instances(self):
        """[(name, state, pid, path)]"""
        (items,) = self.call(MANAGER_PATH, MANAGER, "ListInstances")
        return items

    def instance_path(self, name):
        (path,) = self.call(MANAGER_PATH, MANAGER, "GetInstance", "s", (name,))
        return path

    def define(self, name, toml):
        (path,) = self.call(MANAGER_PATH, MANAGER, "Define", "ssa{sv}", (name, toml, {}))
        return path

    def version(self):
        return self.get(MANAGER_PATH, MANAGER, "Version")

    # Properties

    def get(self, path, interface, prop):
        (value,) = self.call(path, PROPERTIES, "Get", "ss", (interface, prop))
        return value[1]

    def get_all(self, path, interface):
        (values,) = self.call(path, PROPERTIES, "GetAll", "s", (interface,))
        return {key: variant[1] for key, variant in values.items()}

    # Instance methods by name

    def instance_call(self, name, method, signature="", args=(), timeout=None):
        return self.call(self.instance_path(name), INSTANCE, method, signature, args, timeout)

    def properties(self, name):
        return self.get_all(self.instance_path(name), INSTANCE)
