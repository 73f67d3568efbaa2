"""Live migration through corrald's Instance.Migrate (docs/dbus-api.md "Live migration").

The source corrald does the whole move: it asks the destination corrald to prepare the
incoming VM, sends the RAM (and, without shared storage, mirrors the disks), switches over and
has the destination finish. The driver only decides what to ask for and does Nova's side:
  destination  check_can_live_migrate_destination: a marker file in the instances path (the
               source looks for it: the file there = shared storage, else corrald copies);
               pre_live_migration: the instance's directory and the cached base image when the
               storage is not shared (corrald creates the disk images themselves);
  source       check_can_live_migrate_source: whether the marker is there, the instance is
               running or paused, and no config drive must be copied; live_migration: Migrate
               to the destination's corrald, then Nova's post or recover callback;
               then Nova's manager calls cleanup(): the source's definition undefined (corral
               keeps it stopped with "migrated to" otherwise), its files removed when not
               shared.
The destination's corrald is reached at [corral] migration_destinations[<nova host>], or at the
Nova host's name itself, which corrald reaches over ssh as `systemctl -H` does.
"""

import contextlib
import os

from oslo_log import log as logging
from oslo_utils import units

from nova import exception
from nova.i18n import _
from nova.objects import migrate_data as migrate_data_obj
from nova.virt.corral import bus as corral_bus
from nova.virt.corral import conf as corral_conf
from nova.virt.corral import disks

CONF = corral_conf.CONF
LOG = logging.getLogger(__name__)


# The data Nova's services pass between the hosts. nova-conductor deserializes it (it asks the
# destination for it and hands it to the source), and knows only Nova's own classes: a class of
# this package would fail there. HyperVLiveMigrateData carries exactly what corral needs (whether
# the instances path is shared), and Nova's manager then cleans up after it the way corral
# wants: driver.cleanup on the source after the move (disks too when not shared), on the
# destination after a rollback.
MigrateData = migrate_data_obj.HyperVLiveMigrateData


def marker_path(uuid):
    """The file the destination leaves in its instances path for the source to look for."""
    return os.path.join(CONF.corral.instances_path, f".live-migration-check-{uuid}")


def destination_bus(host):
    """Migrate's destination for the Nova compute host `host`."""
    return CONF.corral.migration_destinations.get(host, host)


def migrate_options(migrate_data):
    """Instance.Migrate's options from nova.conf and what the pre-checks found."""
    options = {"storage": ("s", "shared" if migrate_data.is_shared_instance_path else "copy")}
    if CONF.libvirt.live_migration_bandwidth:
        options["bandwidth"] = ("t", CONF.libvirt.live_migration_bandwidth * units.Mi)
    if CONF.libvirt.live_migration_downtime:
        options["downtime_ms"] = ("t", CONF.libvirt.live_migration_downtime)
    if CONF.corral.migration_timeout:
        options["timeout"] = ("t", CONF.corral.migration_timeout)
    if CONF.corral.migration_tls:
        options["tls"] = ("b", True)
    return options


class LiveMigrationMixin:
    """The live-migration half of CorralDriver (self._bus, self._call, self._props)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._migration_markers = set()  # uuids whose marker this destination made

    # Destination

    def check_can_live_migrate_destination(self, context, instance, src_compute_info,
                                           dst_compute_info, block_migration=False,
                                           disk_over_commit=False):
        # Shared storage or not is found out on the source (the marker there or not); without
        # it corrald copies the disks, whatever block_migration says.
        with open(marker_path(instance.uuid), "w"):
            pass
        self._migration_markers.add(instance.uuid)
        data = MigrateData()
        data.is_shared_instance_path = False
        return data

    def cleanup_live_migration_destination_check(self, context, dest_check_data):
        # Nova passes the data, not the instance: every marker this host made goes.
        for uuid in self._migration_markers:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(marker_path(uuid))
        self._migration_markers.clear()

    def pre_live_migration(self, context, instance, block_device_info, network_info,
                           disk_info, migrate_data):
        if not migrate_data.is_shared_instance_path:
            # corrald creates the disk images at the source's paths; their directory and the
            # overlay's base image must be here.
            path = CONF.corral.instances_path
            disks.cached_image(context, path, instance.image_ref)
            os.makedirs(disks.instance_dir(path, instance.uuid), mode=0o755, exist_ok=True)
        return migrate_data

    def post_live_migration_at_destination(self, context, instance, network_info,
                                           block_migration=False, block_device_info=None):
        # corrald's FinishIncoming defined the instance here and started it.
        pass

    def rollback_live_migration_at_destination(self, context, instance, network_info,
                                               block_device_info, destroy_disks=True,
                                               migrate_data=None):
        # A failed Migrate has already aborted the incoming VM here (corrald removed the disks
        # it created); what pre_live_migration made stays unless Nova says to destroy it.
        shared = migrate_data is not None and migrate_data.is_shared_instance_path
        if destroy_disks and not shared:
            disks.remove_instance_files(CONF.corral.instances_path, instance.uuid)

    # Source

    def check_can_live_migrate_source(self, context, instance, dest_check_data,
                                      block_device_info=None):
        data = dest_check_data
        if not isinstance(data, MigrateData):
            raise exception.MigrationPreCheckError(
                reason=_("the destination does not run the corral compute driver"))
        data.is_shared_instance_path = os.path.exists(marker_path(instance.uuid))
        if not data.is_shared_instance_path and os.path.exists(
                disks.config_drive_path(CONF.corral.instances_path, instance.uuid)):
            raise exception.MigrationPreCheckError(
                reason=_("an instance with a config drive migrates only with a shared "
                         "instances path"))
        state = self._props(instance)["State"]
        if state not in ("running", "paused"):
            raise exception.MigrationPreCheckError(
                reason=_("corral instance %(name)s is %(state)s, not running") %
                {"name": self._name(instance), "state": state})
        return data

    def live_migration(self, context, instance, dest, post_method, recover_method,
                       block_migration=False, migrate_data=None):
        name = self._name(instance)
        target = destination_bus(dest)
        options = migrate_options(migrate_data)
        LOG.info("corral: migrating %s to %s (%s)", name, target, options["storage"][1],
                 instance=instance)
        try:
            self._bus.instance_call(name, "Migrate", "sa{sv}", (target, options),
                                    timeout=CONF.corral.migration_timeout or 86400)
        except corral_bus.CorralError as exc:
            LOG.error("corral: migration of %s to %s failed: %s", name, target, exc.message,
                      instance=instance)
            recover_method(context, instance, dest, migrate_data)
            return
        post_method(context, instance, dest, block_migration, migrate_data)

    def live_migration_abort(self, instance):
        self._call(instance, "CancelMigration", done_if=("InvalidState",))

    def post_live_migration(self, context, instance, block_device_info, migrate_data=None):
        # Nova's manager calls cleanup() next (for this data class always): it undefines the
        # source's instance, which corral keeps stopped and marked "migrated to", and removes
        # its files when the instances path is not shared.
        pass

    def post_live_migration_at_source(self, context, instance, network_info):
        # corrald removed the source's tap devices when its qemu ended.
        pass

    def rollback_live_migration_at_source(self, context, instance, migrate_data):
        # corrald's Migrate left the VM running here on every failure it reports.
        pass
