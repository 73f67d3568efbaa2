"""Live migration by CorralDriver between two real corralds, driven as Nova's compute manager does.

Two "hosts" in one machine: each a network namespace (a veth pair between them) with its own
dbus-daemon on a path socket and its own corrald (instances, runtime, state, log dirs); the
source's qemu sends the VM to the destination's over the veth. Nova's instances path is one
directory for both, as a shared instances path is for two hosts. Two driver objects, one per
host; what nova-compute's manager does between them (the RPC hops, the post and recover
callbacks) is done here in its order. Needs root (ip netns).

Environment (set by ctest): CORRAL_BINARY_DIR, CORRAL_BOOT_ISO (as test_driver.py).
"""

import eventlet

eventlet.monkey_patch()

import contextlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import unittest  # noqa: E402
import uuid as uuidlib  # noqa: E402

import novapath  # noqa: F401,E402

from nova.compute import power_state  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import exception  # noqa: E402
from nova import objects  # noqa: E402
import nova.privsep  # noqa: E402
from nova.virt import images  # noqa: E402
from nova.virt.corral import bus as corral_bus  # noqa: E402
from nova.virt.corral import conf as corral_conf  # noqa: E402
from nova.virt.corral import driver as corral_driver  # noqa: E402
from nova.virt.corral import live_migration  # noqa: E402
from test_driver import (BIN, BOOT_ISO, IMAGE_ID, LocalImages, kill_left_qemus,  # noqa: E402
                         wait_for)

CONF = corral_conf.CONF
TAG = os.getpid() % 200 + 20
PORTS = 51000 + (os.getpid() % 50) * 20


def ip(*args):
    subprocess.run(["ip", *args], check=True, timeout=30, capture_output=True)


class Host:
    """One Nova compute host: a netns, a dbus-daemon, a corrald, a CorralDriver."""

    def __init__(self, label, scratch, address):
        self.label = label
        self.netns = f"corral-nova-{label}-{os.getpid()}"
        self.address_ip = address
        self.dir = os.path.join(scratch, label)
        for sub in ("instances", "run", "state", "log"):
            os.makedirs(os.path.join(self.dir, sub))
        sock = os.path.join(self.dir, "bus.sock")
        self.dbus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
             f"--address=unix:path={sock}"], stdout=subprocess.PIPE, text=True)
        self.bus_address = self.dbus.stdout.readline().strip()
        self.corrald = None
        self.corrald_log = None
        self.driver = None

    def start(self):
        config = os.path.join(self.dir, "corral.toml")
        with open(config, "w") as f:
            f.write(f'[migration]\nlisten_address = "{self.address_ip}"\n'
                    f'port_range = "{PORTS}-{PORTS + 19}"\n')
        self.corrald_log = open(os.path.join(self.dir, "corrald.log"), "w")
        self.corrald = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, os.path.join(BIN, "supervisor", "corrald"),
             "--bus-address", self.bus_address,
             "--instances-dir", os.path.join(self.dir, "instances"),
             "--runtime-dir", os.path.join(self.dir, "run"),
             "--state-dir", os.path.join(self.dir, "state"),
             "--log-dir", os.path.join(self.dir, "log"), "--config", config],
            stdout=self.corrald_log, stderr=subprocess.STDOUT)
        bus = corral_bus.Bus(self.bus_address, 10)
        wait_for(f"corrald of {self.label} on its bus", lambda: _answers(bus), 20,
                 lambda: self.log())
        with self.acting():
            self.driver = corral_driver.CorralDriver(virtapi=None)
            self.driver.init_host(self.label)

    @contextlib.contextmanager
    def acting(self):
        """nova.conf as this host's nova-compute has it (one process per host in Nova)."""
        CONF.set_override("bus_address", self.bus_address, group="corral")
        CONF.set_override("log_dir", os.path.join(self.dir, "log"), group="corral")
        CONF.set_override("host", self.label)
        yield self.driver

    def bus(self):
        return corral_bus.Bus(self.bus_address, 30)

    def names(self):
        return [name for name, _state, _pid, _path in self.bus().list_instances()]

    def qemu_pid(self, name):
        props = self.bus().properties(name)
        return props["Pid"] if props["State"] == "running" else 0

    def netns_inode(self):
        return os.stat(f"/run/netns/{self.netns}").st_ino

    def log(self):
        text = ""
        for path in [os.path.join(self.dir, "corrald.log")] + [
                os.path.join(self.dir, "log", n, "qemu.log")
                for n in os.listdir(os.path.join(self.dir, "log"))]:
            try:
                with open(path, errors="replace") as f:
                    text += f"\n--- {path}:\n{f.read()[-3000:]}"
            except OSError as exc:
                text += f"\n--- {path}: {exc}"
        return text

    def stop(self):
        if self.driver is not None:
            self.driver.cleanup_host(self.label)
        for proc in (self.corrald, self.dbus):
            if proc is not None:
                proc.kill()
                proc.wait(10)
        kill_left_qemus(os.path.join(self.dir, "run"))
        if self.corrald_log is not None:
            self.corrald_log.close()


def _answers(bus):
    try:
        return bool(bus.version())
    except (corral_bus.CorralError, OSError):
        return False


@unittest.skipUnless(BIN and BOOT_ISO, "needs CORRAL_BINARY_DIR and CORRAL_BOOT_ISO")
@unittest.skipUnless(os.geteuid() == 0, "needs root (ip netns)")
class LiveMigrationBetweenTwoCorralds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp(prefix="corral-nova-mig-")
        cls.nova_dir = os.path.join(cls.scratch, "nova")
        os.makedirs(cls.nova_dir)
        net = f"10.{TAG}.77"
        cls.src = Host("src", cls.scratch, f"{net}.1")
        cls.dst = Host("dst", cls.scratch, f"{net}.2")
        ip("netns", "add", cls.src.netns)
        ip("netns", "add", cls.dst.netns)
        ip("-n", cls.src.netns, "link", "add", "mig0", "type", "veth", "peer", "name", "mig1",
           "netns", cls.dst.netns)
        ip("-n", cls.src.netns, "addr", "add", f"{net}.1/24", "dev", "mig0")
        ip("-n", cls.dst.netns, "addr", "add", f"{net}.2/24", "dev", "mig1")
        for host, dev in ((cls.src, "mig0"), (cls.dst, "mig1")):
            ip("-n", host.netns, "link", "set", "lo", "up")
            ip("-n", host.netns, "link", "set", dev, "up")

        cls.image = os.path.join(cls.scratch, "guest.qcow2")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", BOOT_ISO, cls.image],
                       check=True, timeout=60)
        images.IMAGE_API = LocalImages(cls.image, "qcow2")
        CONF([], project="nova", default_config_files=[])
        objects.register_all()
        CONF.set_override("instances_path", cls.nova_dir, group="corral")
        CONF.set_override("instances_path", cls.nova_dir)
        CONF.set_override("accel", "tcg", group="corral")
        CONF.set_override("machine_type", "pc", group="corral")
        CONF.set_override("migration_destinations", {"dst": cls.dst.bus_address}, group="corral")
        CONF.set_override("migration_timeout", 300, group="corral")
        nova.privsep.sys_admin_pctxt.set_client_mode(False)
        cls.src.start()
        cls.dst.start()
        cls.context = nova_context.get_admin_context()

    @classmethod
    def tearDownClass(cls):
        for host in (cls.src, cls.dst):
            host.stop()
            subprocess.run(["ip", "netns", "del", host.netns], timeout=30)
        shutil.rmtree(cls.scratch, ignore_errors=True)

    def spawn(self, number):
        flavor = objects.Flavor(name="m1.tiny", flavorid="1", vcpus=1, memory_mb=256,
                                root_gb=1, ephemeral_gb=0, swap=0, extra_specs={})
        inst = objects.Instance(
            id=number, uuid=str(uuidlib.uuid4()), flavor=flavor, image_ref=IMAGE_ID,
            config_drive="", system_metadata={}, metadata={}, project_id="p", user_id="u",
            host="src", node="src", vm_state="active", task_state=None)
        with self.src.acting() as driver:
            driver.spawn(self.context, inst, objects.ImageMeta.from_dict({}), [], None, {})
        return inst

    def pre_checks(self, inst, block_migration=False):
        """The conductor's and the two managers' pre-checks, in their order."""
        with self.dst.acting() as driver:
            data = driver.check_can_live_migrate_destination(self.context, inst, {}, {},
                                                             block_migration)
        try:
            with self.src.acting() as driver:
                data = driver.check_can_live_migrate_source(self.context, inst, data)
        finally:
            with self.dst.acting() as driver:
                driver.cleanup_live_migration_destination_check(self.context, data)
        return data

    def migrate(self, inst, data):
        """pre_live_migration on dst, live_migration on src; which callback Nova got."""
        with self.dst.acting() as driver:
            data = driver.pre_live_migration(self.context, inst, None, [], None, data)
        called = []

        def post(ctxt, instance, dest, block_migration, migrate_data):
            called.append("post")
            with self.src.acting() as driver:
                # ComputeManager._post_live_migration, for this data class.
                driver.post_live_migration(ctxt, instance, None, migrate_data)
                driver.post_live_migration_at_source(ctxt, instance, [])
                driver.cleanup(ctxt, instance, [],
                               destroy_disks=not migrate_data.is_shared_instance_path,
                               migrate_data=migrate_data)
            with self.dst.acting() as driver:
                driver.post_live_migration_at_destination(ctxt, instance, [], block_migration)

        def recover(ctxt, instance, dest, migrate_data):
            called.append("recover")
            with self.src.acting() as driver:
                driver.rollback_live_migration_at_source(ctxt, instance, migrate_data)
            with self.dst.acting() as driver:
                driver.rollback_live_migration_at_destination(
                ctxt, instance, [], None, not migrate_data.is_shared_instance_path,
                migrate_data)

        with self.src.acting() as driver:
            driver.live_migration(self.context, inst, "dst", post, recover, False, data)
        return called

    def test_a_running_instance_moves_to_the_other_corrald(self):
        inst = self.spawn(7)
        name = "instance-00000007"
        wait_for("the guest's boot text on the source",
                 lambda: b"Linux version" in self.src.driver.get_console_output(self.context,
                                                                                 inst),
                 120, self.src.log)
        source_pid = self.src.qemu_pid(name)
        self.assertTrue(source_pid)

        data = self.pre_checks(inst)
        self.assertIsInstance(data, live_migration.MigrateData)
        self.assertTrue(data.is_shared_instance_path)
        self.assertEqual(live_migration.migrate_options(data)["storage"], ("s", "shared"))
        self.assertEqual([f for f in os.listdir(self.nova_dir) if f.startswith(".")], [],
                         "the destination check's marker file was left behind")

        called = self.migrate(inst, data)
        self.assertEqual(called, ["post"], self.src.log() + self.dst.log())
        # On the destination: a corral instance, running in the destination's namespace.
        self.assertIn(name, self.dst.names())
        pid = self.dst.qemu_pid(name)
        self.assertTrue(pid, self.dst.log())
        self.assertEqual(os.stat(f"/proc/{pid}/ns/net").st_ino, self.dst.netns_inode())
        with self.dst.acting() as driver:
            self.assertEqual(driver.get_info(inst).state, power_state.RUNNING)
            self.assertIn(inst.uuid, driver.list_instance_uuids())
        # On the source: nothing left, its qemu gone; the disk stays (it is shared).
        self.assertNotIn(name, self.src.names())
        wait_for("the source's qemu to end", lambda: not os.path.exists(f"/proc/{source_pid}"),
                 30)
        with self.src.acting() as driver:
            self.assertFalse(driver.instance_exists(inst))
        self.assertTrue(os.path.exists(os.path.join(self.nova_dir, inst.uuid, "disk")))

        with self.dst.acting() as driver:
            driver.destroy(self.context, inst, [])
            self.assertNotIn(name, self.dst.names())

    def test_a_failed_migration_leaves_the_instance_running_on_the_source(self):
        inst = self.spawn(8)
        name = "instance-00000008"
        pid = self.src.qemu_pid(name)
        data = self.pre_checks(inst)
        CONF.set_override("migration_destinations",
                          {"dst": f"unix:path={self.scratch}/no-such-bus.sock"}, group="corral")
        try:
            called = self.migrate(inst, data)
        finally:
            CONF.set_override("migration_destinations", {"dst": self.dst.bus_address},
                              group="corral")
        self.assertEqual(called, ["recover"])
        self.assertEqual(self.src.qemu_pid(name), pid)
        self.assertNotIn(name, self.dst.names())
        with self.src.acting() as driver:
            self.assertEqual(driver.get_info(inst).state, power_state.RUNNING)
            driver.destroy(self.context, inst, [])

    def test_the_pre_checks_find_the_storage_and_refuse_what_cannot_move(self):
        inst = self.spawn(9)
        with self.dst.acting() as driver:
            data = driver.check_can_live_migrate_destination(self.context, inst, {}, {})
            driver.cleanup_live_migration_destination_check(self.context, data)
        # The marker is gone, as if the destination's instances path were another disk:
        # corrald is to copy the disks.
        with self.src.acting() as driver:
            data = driver.check_can_live_migrate_source(self.context, inst, data)
            self.assertFalse(data.is_shared_instance_path)
            self.assertEqual(live_migration.migrate_options(data)["storage"], ("s", "copy"))
            with self.assertRaisesRegex(exception.MigrationPreCheckError,
                                        "not run the corral compute driver"):
                driver.check_can_live_migrate_source(self.context, inst,
                                                     objects.LibvirtLiveMigrateData())
            driver.power_off(inst)
        with self.assertRaisesRegex(exception.MigrationPreCheckError, "is stopped, not running"):
            self.pre_checks(inst)
        self.assertEqual([f for f in os.listdir(self.nova_dir) if f.startswith(".")], [])
        with self.src.acting() as driver:
            driver.destroy(self.context, inst, [])

if __name__ == "__main__":
    unittest.main()
