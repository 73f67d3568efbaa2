"""CorralDriver: Nova's ComputeDriver on top of corrald's D-Bus API.

A thin adaptor: every decision about QEMU (its command line, devices, confinement, shutdown
escalation, crash handling) is corrald's. The driver turns a Nova instance into a corral
instance definition (definition.py), keeps its disks (disks.py), and maps calls and states.
"""

import os
import socket

from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import units, versionutils
import os_resource_classes as orc

from nova.api.metadata import base as instance_metadata
from nova.compute import power_state
from nova.console import type as ctype
from nova import exception
from nova.i18n import _
from nova.objects import fields
from nova import utils
from nova.virt import configdrive
from nova.virt import driver
from nova.virt import hardware
from nova.virt.corral import bus as corral_bus
from nova.virt.corral import conf as corral_conf
from nova.virt.corral import definition
from nova.virt.corral import disks
from nova.virt.corral import events
from nova.virt.corral import host as corral_host
from nova.virt.corral import live_migration
from nova.virt.corral import privileged
from nova.virt.corral import states

CONF = corral_conf.CONF
LOG = logging.getLogger(__name__)

# What get_console_output returns at most: the end of the serial log.
MAX_CONSOLE_BYTES = 100 * units.Ki


def _usec(seconds):
    return int(seconds * 1000000)


class CorralDriver(live_migration.LiveMigrationMixin, driver.ComputeDriver):
    capabilities = dict(driver.ComputeDriver.capabilities, **{
        "supports_image_type_raw": True,
        "supports_image_type_qcow2": True,
    })

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi)
        self._bus = corral_bus.Bus(CONF.corral.bus_address, CONF.corral.call_timeout)
        self._listener = None
        self._owned = {}  # instance object path -> Nova uuid (None: not Nova's)

    # Host

    def init_host(self, host):
        try:
            version = self._bus.version()
        except (corral_bus.CorralError, OSError) as exc:
            raise exception.HypervisorUnavailable(host=host) from exc
        LOG.info("corral: corrald %s answers on %s", version,
                 CONF.corral.bus_address or "the system bus")
        os.makedirs(CONF.corral.instances_path, mode=0o755, exist_ok=True)
        self._listener = events.Listener(self._bus, self.emit_event, self._uuid_of_path)
        utils.spawn(self._listener.run)

    def cleanup_host(self, host):
        if self._listener is not None:
            self._listener.stop()

    def get_available_nodes(self, refresh=False):
        return [CONF.host]

    def get_host_uptime(self):
        return corral_host.uptime_text()

    def get_host_ip_addr(self):
        return CONF.my_ip

    def get_available_resource(self, nodename):
        used_vcpus = 0
        used_memory = 0
        for _name, _state, _pid, path in self._bus.list_instances():
            props = self._bus.get_all(path, corral_bus.INSTANCE)
            if props.get("State") not in ("stopped", "invalid"):
                used_vcpus += props.get("Vcpus", 0)
                used_memory += props.get("MemoryBytes", 0)
        disk = corral_host.disk_gb(CONF.corral.instances_path)
        version = self._bus.version()
        return {
            "vcpus": os.cpu_count(),
            "memory_mb": corral_host.memory_mb(),
            "local_gb": disk.total,
            "vcpus_used": used_vcpus,
            "memory_mb_used": used_memory // units.Mi,
            "local_gb_used": disk.used,
            "hypervisor_type": "corral",
            "hypervisor_version": versionutils.convert_version_to_int(
                version.split("~")[0].split("-")[0]),
            "hypervisor_hostname": nodename,
            "cpu_info": jsonutils.dumps(corral_host.cpu_info()),
            "disk_available_least": disk.free,
            "supported_instances": [(fields.Architecture.X86_64, fields.HVType.QEMU,
                                     fields.VMMode.HVM)],
            "numa_topology": None,
        }

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        inv = provider_tree.data(nodename).inventory
        ratios = self._get_allocation_ratios(inv)
        vcpus = os.cpu_count()
        memory = corral_host.memory_mb()
        disk = corral_host.disk_gb(CONF.corral.instances_path).total
        provider_tree.update_inventory(nodename, {
            orc.VCPU: {"total": vcpus, "min_unit": 1, "max_unit": vcpus, "step_size": 1,
                       "allocation_ratio": ratios[orc.VCPU],
                       "reserved": CONF.reserved_host_cpus},
            orc.MEMORY_MB: {"total": memory, "min_unit": 1, "max_unit": memory, "step_size": 1,
                            "allocation_ratio": ratios[orc.MEMORY_MB],
                            "reserved": CONF.reserved_host_memory_mb},
            orc.DISK_GB: {"total": disk, "min_unit": 1, "max_unit": disk, "step_size": 1,
                          "allocation_ratio": ratios[orc.DISK_GB],
                          "reserved": self._get_reserved_host_disk_gb_from_config()},
        })

    # Which corral instances are Nova's

    def _uuid_of_path(self, path):
        """The Nova uuid of the corral instance at path, None when Nova did not define it."""
        if path not in self._owned:
            try:
                (text,) = self._bus.call(path, corral_bus.INSTANCE, "GetDefinition")
                uuid = self._bus.get(path, corral_bus.INSTANCE, "Uuid")
            except corral_bus.CorralError:
                return None
            self._owned[path] = uuid if text.startswith(definition.HEADER) else None
        return self._owned[path]

    def _nova_instances(self):
        """[(corral name, Nova uuid)] of the instances the driver defined."""
        found = []
        for name, _state, _pid, path in self._bus.list_instances():
            uuid = self._uuid_of_path(path)
            if uuid is not None:
                found.append((name, uuid))
        return found

    def list_instances(self):
        return [name for name, _uuid in self._nova_instances()]

    def list_instance_uuids(self):
        return [uuid for _name, uuid in self._nova_instances()]

    def instance_exists(self, instance):
        try:
            self._bus.instance_path(self._name(instance))
            return True
        except corral_bus.CorralError as exc:
            if exc.short_name == "NoSuchInstance":
                return False
            raise

    @staticmethod
    def _name(instance):
        try:
            return definition.corral_name(instance.name)
        except definition.DefinitionError as exc:
            raise exception.InstanceNotFound(instance_id=instance.uuid) from exc

    # State

    def get_info(self, instance, use_cache=True):
        props = self._props(instance)
        return hardware.InstanceInfo(
            state=states.power_state_of(props["State"], props.get("HasSavedState", False)),
            internal_id=props.get("Uuid"))

    def _props(self, instance):
        try:
            return self._bus.properties(self._name(instance))
        except corral_bus.CorralError as exc:
            if exc.short_name == "NoSuchInstance":
                raise exception.InstanceNotFound(instance_id=instance.uuid) from exc
            raise

    def _call(self, instance, method, signature="", args=(), timeout=None, done_if=()):
        """An Instance method; an error whose short name is in done_if means 'already so'."""
        try:
            return self._bus.instance_call(self._name(instance), method, signature, args,
                                           timeout)
        except corral_bus.CorralError as exc:
            if exc.short_name in done_if:
                LOG.debug("corral: %s %s: %s", instance.uuid, method, exc.message)
                return None
            if exc.short_name == "NoSuchInstance":
                raise exception.InstanceNotFound(instance_id=instance.uuid) from exc
            raise exception.NovaException(
                _("corrald refused %(method)s of %(uuid)s: %(msg)s") %
                {"method": method, "uuid": instance.uuid, "msg": exc.message}) from exc

    # Spawn and destroy

    def spawn(self, context, instance, image_meta, injected_files, admin_password,
              allocations, network_info=None, block_device_info=None, power_on=True,
              accel_info=None):
        name = self._name(instance)
        path = CONF.corral.instances_path
        try:
            nics = definition.nics_from_network_info(network_info, CONF.corral.nic_bridge)
        except definition.DefinitionError as exc:
            raise exception.VirtualInterfaceCreateException(str(exc)) from exc
        base = disks.cached_image(context, path, instance.image_ref)
        root = disks.create_root_disk(path, instance.uuid, base, instance.flavor.root_gb)
        try:
            config = None
            if configdrive.required_by(instance):
                config = self._make_config_drive(instance, injected_files, admin_password,
                                                 network_info)
            text = definition.render(
                uuid=instance.uuid, vcpus=instance.flavor.vcpus,
                memory_mb=instance.flavor.memory_mb, root_disk=root, config_drive=config,
                nics=nics, accel=CONF.corral.accel, machine_type=CONF.corral.machine_type,
                vnc_listen=self._vnc_listen())
            privileged.define(CONF.corral.bus_address, CONF.corral.call_timeout, name, text)
        except Exception:
            disks.remove_instance_files(path, instance.uuid)
            raise
        LOG.info("corral: defined %s for instance %s", name, instance.uuid)
        if power_on:
            self._call(instance, "Start")

    def _make_config_drive(self, instance, injected_files, admin_password, network_info):
        extra_md = {"admin_pass": admin_password} if admin_password else {}
        inst_md = instance_metadata.InstanceMetadata(
            instance, content=injected_files, extra_md=extra_md, network_info=network_info)
        target = disks.config_drive_path(CONF.corral.instances_path, instance.uuid)
        with configdrive.ConfigDriveBuilder(instance_md=inst_md) as cdb:
            cdb.make_drive(target)
        return target

    def _vnc_listen(self):
        """corral's [display] listen for a new instance: the lowest VNC port no instance has."""
        if not CONF.vnc.enabled:
            return ""
        taken = set()
        for _name, _state, _pid, path in self._bus.list_instances():
            display = self._bus.get(path, corral_bus.INSTANCE, "Display")
            if "port" in display:
                taken.add(display["port"][1])
        port = CONF.corral.vnc_base_port
        while port in taken:
            port += 1
        listen = CONF.vnc.server_listen
        host = f"[{listen}]" if ":" in listen else listen
        return f"{host}:{port}"

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        if not self.instance_exists(instance):
            if destroy_disks:
                disks.remove_instance_files(CONF.corral.instances_path, instance.uuid)
            return
        self._call(instance, "Kill", done_if=("InvalidState",))
        self.cleanup(context, instance, network_info, block_device_info, destroy_disks,
                     destroy_secrets=destroy_secrets)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        name = self._name(instance)
        try:
            privileged.undefine(CONF.corral.bus_address, CONF.corral.call_timeout, name)
        except corral_bus.CorralError as exc:
            if exc.short_name != "NoSuchInstance":
                raise exception.NovaException(
                    _("corrald refused to undefine %(name)s: %(msg)s") %
                    {"name": name, "msg": exc.message}) from exc
        self._owned = {p: u for p, u in self._owned.items() if u != instance.uuid}
        if destroy_disks:
            disks.remove_instance_files(CONF.corral.instances_path, instance.uuid)

    # Power

    def power_off(self, instance, timeout=0, retry_interval=0):
        if timeout:
            # corrald escalates by itself (ACPI, quit, SIGTERM, SIGKILL) within the timeout.
            self._call(instance, "Shutdown", "t", (_usec(timeout),), timeout=timeout + 30,
                       done_if=("InvalidState",))
        else:
            self._call(instance, "Kill", done_if=("InvalidState",))

    def power_on(self, context, instance, network_info, block_device_info=None,
                 accel_info=None):
        self._call(instance, "Start", done_if=("InvalidState",))

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  block_device_info=None):
        if self.get_info(instance).state != power_state.RUNNING:
            self._call(instance, "Start", done_if=("InvalidState",))

    def reboot(self, context, instance, network_info, reboot_type, block_device_info=None,
               bad_volumes_callback=None, accel_info=None):
        state = self._props(instance)["State"]
        if reboot_type == "SOFT" and state == "running":
            self._call(instance, "Reboot")
        elif state in ("running", "paused"):
            self._call(instance, "Reset")
            if state == "paused":
                self._call(instance, "Resume")
        else:
            self._call(instance, "Start", done_if=("InvalidState",))

    def pause(self, instance):
        self._call(instance, "Pause")

    def unpause(self, instance):
        self._call(instance, "Resume")

    def suspend(self, context, instance):
        self._call(instance, "Save")

    def resume(self, context, instance, network_info, block_device_info=None):
        self._call(instance, "Start")

    # Consoles

    def get_console_output(self, context, instance):
        log = os.path.join(CONF.corral.log_dir, self._name(instance), "console.log")
        try:
            with open(log, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - MAX_CONSOLE_BYTES))
                return f.read()
        except FileNotFoundError:
            return b""

    def get_vnc_console(self, context, instance):
        display = self._props(instance).get("Display", {})
        if display.get("type", ("s", "none"))[1] != "vnc" or "port" not in display:
            raise exception.ConsoleTypeUnavailable(console_type="vnc")
        return ctype.ConsoleVNC(host=CONF.vnc.server_proxyclient_address,
                                port=display["port"][1])

    def get_instance_disk_info(self, instance, block_device_info=None):
        return jsonutils.dumps([])

    def get_volume_connector(self, instance):
        return {"ip": CONF.my_block_storage_ip, "initiator": None, "host": socket.gethostname()}

    def plug_vifs(self, instance, network_info):
        # corrald creates the tap device and adds it to the bridge at start.
        pass

    def unplug_vifs(self, instance, network_info):
        pass
