"""The corral instance definition (TOML text) for a Nova instance: a pure function."""

import re

# corral's instance names (docs/architecture.md "Names").
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# Linux interface names as corral takes them for a NIC's bridge.
_IFNAME = re.compile(r"^[^/:\s]{1,15}$")

HEADER = "# Defined by nova-compute (nova-compute-corral). Nova owns this instance: change it " \
    "through Nova.\n"


class DefinitionError(ValueError):
    pass


def _quote(text):
    """A TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(c) < 0x20 for c in escaped):
        raise DefinitionError(f"control character in {text!r}")
    return f'"{escaped}"'


def corral_name(instance_name):
    """corral's name for a Nova instance: Nova's instance name (instance-0000002a)."""
    if not _NAME.match(instance_name or ""):
        raise DefinitionError(
            f"Nova's instance name {instance_name!r} is not a valid corral instance name "
            "([A-Za-z0-9][A-Za-z0-9_.-]{0,62}); check instance_name_template")
    return instance_name


def nics_from_network_info(network_info, default_bridge=""):
    """[(id, mac, bridge)] for the VIFs corral can plug (type 'bridge'); others are refused."""
    nics = []
    for index, vif in enumerate(network_info or []):
        vif_type = vif.get("type")
        if vif_type != "bridge":
            raise DefinitionError(
                f"VIF {vif.get('id')} has type {vif_type!r}; corral plugs only 'bridge' VIFs")
        network = vif.get("network") or {}
        bridge = network.get("bridge") or default_bridge
        if not bridge or not _IFNAME.match(bridge) or bridge in (".", ".."):
            raise DefinitionError(f"VIF {vif.get('id')} names no usable bridge ({bridge!r})")
        mac = (vif.get("address") or "").lower()
        if not _MAC.match(mac):
            raise DefinitionError(f"VIF {vif.get('id')} has no usable MAC address ({mac!r})")
        nics.append((f"nic{index}", mac, bridge))
    return nics


def render(*, uuid, vcpus, memory_mb, root_disk, root_format="qcow2", config_drive=None,
           nics=(), accel="", machine_type="q35", vnc_listen=""):
    """The TOML text of the instance definition.

    root_disk: absolute path of the instance's root image; config_drive: path of its config
    drive ISO or None; nics: [(id, mac, bridge)]; vnc_listen: "" (no graphical console) or
    corral's [display] listen value ("unix" or "ADDRESS:PORT").
    """
    if vcpus < 1 or memory_mb < 1:
        raise DefinitionError(f"flavor with {vcpus} vCPUs and {memory_mb} MiB")
    lines = [HEADER, "[machine]", f"type = {_quote(machine_type)}"]
    if accel:
        lines.append(f"accel = {_quote(accel)}")
    lines += [f"cpus = {int(vcpus)}", f'memory = "{int(memory_mb)}M"', f"uuid = {_quote(uuid)}",
              "", "[boot]"]
    lines.append('order = ["disk", "cdrom"]' if config_drive else 'order = ["disk"]')
    lines += ["", "[[disk]]", 'id = "root"', f"path = {_quote(root_disk)}",
              f"format = {_quote(root_format)}"]
    if config_drive:
        lines += ["", "[[cdrom]]", 'id = "config"', f"path = {_quote(config_drive)}"]
    for nic_id, mac, bridge in nics:
        lines += ["", "[[nic]]", f"id = {_quote(nic_id)}", 'mode = "bridge"',
                  f"bridge = {_quote(bridge)}", f"mac = {_quote(mac)}"]
    if vnc_listen:
        lines += ["", "[display]", 'type = "vnc"', f"listen = {_quote(vnc_listen)}"]
    lines.append("")
    return "\n".join(lines)
