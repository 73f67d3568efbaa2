"""The corrald calls only root may make (Define, Undefine), through Nova's privsep daemon.

nova-compute runs as the user nova, a member of group corral (the package adds it), which may
call corrald's lifecycle methods. corrald takes a new definition only from root (its own
check, docs/dbus-api.md "Access"), so these two calls go through nova.privsep.sys_admin_pctxt:
the privsep daemon Nova already starts as root makes them, with the same bus address.
"""

import nova.privsep

from nova.virt.corral import bus as corral_bus


@nova.privsep.sys_admin_pctxt.entrypoint
def define(bus_address, timeout, name, toml):
    return corral_bus.Bus(bus_address, timeout).define(name, toml)


@nova.privsep.sys_admin_pctxt.entrypoint
def undefine(bus_address, timeout, name):
    (removed,) = corral_bus.Bus(bus_address, timeout).instance_call(
        name, "Undefine", "a{sv}", ({},))
    return list(removed)
