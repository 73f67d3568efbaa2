"""The ``[corral]`` section of nova.conf."""

from oslo_config import cfg

import nova.conf

CONF = nova.conf.CONF

corral_group = cfg.OptGroup(
    "corral", title="corral options", help="How nova-compute reaches the local corrald.")

corral_opts = [
    cfg.StrOpt(
        "bus_address",
        default="",
        help="D-Bus address of the bus corrald is on (e.g. unix:path=/run/dbus/test.sock). "
        "Empty: the system bus, where corrald runs on a packaged host."),
    cfg.StrOpt(
        "instances_path",
        default="/var/lib/nova/instances/corral",
        help="Directory for the instances' disk images (one subdirectory per instance) and the "
        "cache of Glance images (_base/). qemu never opens it by path: corrald opens each "
        "image and hands qemu the descriptor."),
    cfg.StrOpt(
        "log_dir",
        default="/var/log/corral",
        help="corrald's log directory ([paths] log_dir in corral.toml): the serial console "
        "log get_console_output returns is <log_dir>/<name>/console.log."),
    cfg.StrOpt(
        "accel",
        default="",
        help="[machine] accel of the instances the driver defines (kvm, tcg, kvm:tcg). "
        "Empty: corral's default (kvm:tcg, KVM when the host has it)."),
    cfg.StrOpt(
        "machine_type",
        default="q35",
        choices=["q35", "pc"],
        help="[machine] type of the instances the driver defines."),
    cfg.StrOpt(
        "nic_bridge",
        default="",
        help="Host bridge a VIF of type 'bridge' is plugged into when its network does not "
        "name one."),
    cfg.PortOpt(
        "vnc_base_port",
        default=5900,
        min=5900,
        help="With [vnc] enabled, each instance gets the lowest TCP port from this one up that "
        "no other corral instance has, on [vnc] server_listen."),
    cfg.IntOpt(
        "call_timeout",
        default=120,
        min=1,
        help="Seconds the driver waits for corrald to answer a call that is not bounded by "
        "its own timeout (Start, Reboot, Save and the like)."),
    cfg.DictOpt(
        "migration_destinations",
        default={},
        help="Live migration: how this host's corrald reaches the corrald of another Nova "
        "compute host, as Instance.Migrate takes it: nova-host:address pairs, the address a "
        "D-Bus address (unix:path=...) or [user@]host for its system bus over ssh. A host "
        "not listed is reached at its Nova host name over ssh (root's keys on this host)."),
    cfg.IntOpt(
        "migration_timeout",
        default=0,
        min=0,
        max=86400,
        help="Live migration: seconds corrald lets the transfer run before it cancels it "
        "(Migrate's timeout; the VM keeps running here). 0: no limit."),
    cfg.BoolOpt(
        "migration_tls",
        default=False,
        help="Live migration: the stream over TLS with the certificates of corral.toml's "
        "[migration] tls_dir on both hosts."),
]

CONF.register_group(corral_group)
CONF.register_opts(corral_opts, group=corral_group)


def list_opts():
    return {corral_group: corral_opts}
