"""CorralDriver in Debian's real Nova against a real corrald and a real guest (TCG).

What is real: Nova's code (its objects, its image fetch and format inspection, its config drive
builder, its driver base class), corrald on a private dbus-daemon, qemu booting a disk image
through SeaBIOS and GRUB. What is not: Nova's control plane (no nova-api, no database, no
Glance). The Glance download is answered from a local file by LocalImages below, the only
stand-in; privsep runs in-process (the test is root, as the privsep daemon is).

Environment (set by ctest): CORRAL_BINARY_DIR (corrald), CORRAL_BOOT_ISO (the guest's BIOS
bootable image, tests/integration/supervisor/build-isos.sh).
"""

import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402
import uuid as uuidlib  # noqa: E402

import novapath  # noqa: F401,E402

from nova.compute import power_state  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import exception  # noqa: E402
from nova import objects  # noqa: E402
import nova.privsep  # noqa: E402
from nova.virt import event as virtevent  # noqa: E402
from nova.virt import images  # noqa: E402
from nova.virt.corral import bus as corral_bus  # noqa: E402
from nova.virt.corral import conf as corral_conf  # noqa: E402
from nova.virt.corral import driver as corral_driver  # noqa: E402

CONF = corral_conf.CONF
BIN = os.environ.get("CORRAL_BINARY_DIR", "")
BOOT_ISO = os.environ.get("CORRAL_BOOT_ISO", "")
IMAGE_ID = "5b0a5c3e-0d5a-4a57-9a4b-0c0ffee00001"


class LocalImages:
    """Glance's image API as nova.virt.images uses it, answered from one local file."""

    def __init__(self, path, disk_format):
        self.path = path
        self.disk_format = disk_format
        self.downloads = 0

    def get(self, context, image_href):
        if image_href != IMAGE_ID:
            raise exception.ImageNotFound(image_id=image_href)
        return {"id": IMAGE_ID, "disk_format": self.disk_format, "container_format": "bare"}

    def download(self, context, image_href, dest_path=None, trusted_certs=None):
        self.get(context, image_href)
        self.downloads += 1
        shutil.copyfile(self.path, dest_path)


def kill_left_qemus(run_dir):
    """qemus corrald started die with it only when it stops them: end any left, by pid."""
    for name in os.listdir(run_dir):
        pidfile = os.path.join(run_dir, name, "qemu.pid")
        if os.path.exists(pidfile):
            with open(pidfile) as f:
                text = f.read().strip()
            try:
                os.kill(int(text), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass


def wait_for(what, predicate, timeout, detail=lambda: ""):
    """Polls predicate (green sleeps, so the event listener runs meanwhile) until true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail()}")


@unittest.skipUnless(BIN and BOOT_ISO, "needs CORRAL_BINARY_DIR and CORRAL_BOOT_ISO")
class DriverAgainstCorrald(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="corral-nova-")
        d = cls.dir
        for sub in ("instances", "run", "state", "log", "nova"):
            os.makedirs(os.path.join(d, sub))
        cls.dbus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
            stdout=subprocess.PIPE, text=True)
        cls.address = cls.dbus.stdout.readline().strip()
        with open(os.path.join(d, "corral.toml"), "w") as f:
            f.write("")
        cls.corrald_log = open(os.path.join(d, "corrald.log"), "w")
        cls.corrald = subprocess.Popen(
            [os.path.join(BIN, "supervisor", "corrald"), "--bus-address", cls.address,
             "--instances-dir", os.path.join(d, "instances"),
             "--runtime-dir", os.path.join(d, "run"), "--state-dir", os.path.join(d, "state"),
             "--log-dir", os.path.join(d, "log"), "--config", os.path.join(d, "corral.toml")],
            stdout=cls.corrald_log, stderr=subprocess.STDOUT)
        bus = corral_bus.Bus(cls.address, 10)
        wait_for("corrald on the bus", lambda: cls._answers(bus), 20)

        # The "Glance" image: the bootable guest disk as qcow2, which Nova converts to raw.
        cls.image = os.path.join(d, "guest.qcow2")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", BOOT_ISO, cls.image],
                       check=True, timeout=60)
        cls.images = LocalImages(cls.image, "qcow2")
        images.IMAGE_API = cls.images

        CONF([], project="nova", default_config_files=[])
        objects.register_all()
        CONF.set_override("bus_address", cls.address, group="corral")
        CONF.set_override("instances_path", os.path.join(d, "nova"), group="corral")
        CONF.set_override("log_dir", os.path.join(d, "log"), group="corral")
        CONF.set_override("accel", "tcg", group="corral")
        CONF.set_override("machine_type", "pc", group="corral")
        cls.vnc_port = 20000 + os.getpid() % 20000  # not 5900: other VMs of the host have it
        CONF.set_override("vnc_base_port", cls.vnc_port, group="corral")
        CONF.set_override("enabled", True, group="vnc")
        CONF.set_override("server_listen", "127.0.0.1", group="vnc")
        CONF.set_override("server_proxyclient_address", "127.0.0.1", group="vnc")
        CONF.set_override("host", "corral-test-host")
        CONF.set_override("instances_path", os.path.join(d, "nova"))
        nova.privsep.sys_admin_pctxt.set_client_mode(False)

        cls.events = []
        cls.driver = corral_driver.CorralDriver(virtapi=None)
        cls.driver.register_event_listener(cls.events.append)
        cls.driver.init_host("corral-test-host")
        cls.context = nova_context.get_admin_context()

    @staticmethod
    def _answers(bus):
        try:
            return bool(bus.version())
        except (corral_bus.CorralError, OSError):
            return False

    @classmethod
    def tearDownClass(cls):
        cls.driver.cleanup_host("corral-test-host")
        for proc in (cls.corrald, cls.dbus):
            proc.kill()
            proc.wait(10)
        kill_left_qemus(os.path.join(cls.dir, "run"))
        cls.corrald_log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def make_instance(self, number):
        flavor = objects.Flavor(name="m1.tiny", flavorid="1", vcpus=1, memory_mb=256,
                                root_gb=1, ephemeral_gb=0, swap=0, extra_specs={})
        return objects.Instance(
            id=number, uuid=str(uuidlib.uuid4()), flavor=flavor, image_ref=IMAGE_ID,
            config_drive="", system_metadata={}, metadata={}, project_id="p", user_id="u",
            host=CONF.host, node=CONF.host, vm_state="building", task_state=None)

    def events_for(self, uuid):
        return [e.get_transition() for e in self.events if e.get_instance_uuid() == uuid]

    def wait_event(self, uuid, transition, timeout=30):
        wait_for(f"event {virtevent.NAMES.get(transition)} of {uuid}",
                 lambda: transition in self.events_for(uuid), timeout)

    def logs(self, name):
        """What corrald and the VM's qemu logged, for a failure's message."""
        text = ""
        for path in (os.path.join(self.dir, "corrald.log"),
                     os.path.join(self.dir, "log", name, "qemu.log"),
                     os.path.join(self.dir, "log", name, "console.log")):
            try:
                with open(path, errors="replace") as f:
                    text += f"\n--- {path}:\n{f.read()[-3000:]}"
            except OSError as exc:
                text += f"\n--- {path}: {exc}"
        return text

    def state(self, instance):
        return self.driver.get_info(instance).state

    def test_a_nova_instance_lives_its_whole_life_under_corrald(self):
        inst = self.make_instance(42)
        self.driver.spawn(self.context, inst, objects.ImageMeta.from_dict({}), [], "secret",
                          {})
        self.assertEqual(self.state(inst), power_state.RUNNING)
        self.wait_event(inst.uuid, virtevent.EVENT_LIFECYCLE_STARTED)
        self.assertIn("instance-0000002a", self.driver.list_instances())
        self.assertIn(inst.uuid, self.driver.list_instance_uuids())
        self.assertTrue(self.driver.instance_exists(inst))

        # The guest boots from its disk: GRUB's line, then the kernel's, in the serial log.
        wait_for("the guest's boot text in the console log",
                 lambda: b"Linux version" in self.driver.get_console_output(self.context, inst),
                 120, lambda: self.logs("instance-0000002a"))
        self.assertIn(b"corral-iso: loading the guest kernel",
                      self.driver.get_console_output(self.context, inst))
        vnc = self.driver.get_vnc_console(self.context, inst)
        self.assertEqual((vnc.host, vnc.port), ("127.0.0.1", self.vnc_port))

        resources = self.driver.get_available_resource(CONF.host)
        self.assertEqual(resources["vcpus"], os.cpu_count())
        self.assertGreaterEqual(resources["vcpus_used"], 1)
        self.assertGreaterEqual(resources["memory_mb_used"], 256)
        self.assertEqual(resources["hypervisor_type"], "corral")

        self.driver.pause(inst)
        self.assertEqual(self.state(inst), power_state.PAUSED)
        self.wait_event(inst.uuid, virtevent.EVENT_LIFECYCLE_PAUSED)
        self.driver.unpause(inst)
        self.wait_event(inst.uuid, virtevent.EVENT_LIFECYCLE_RESUMED)
        self.assertEqual(self.state(inst), power_state.RUNNING)

        self.driver.suspend(self.context, inst)
        self.assertEqual(self.state(inst), power_state.SUSPENDED)
        self.wait_event(inst.uuid, virtevent.EVENT_LIFECYCLE_SUSPENDED)
        self.driver.resume(self.context, inst, None)
        self.assertEqual(self.state(inst), power_state.RUNNING)

        # A qemu that dies reaches Nova as an event at once, not at the next power sync.
        pid = corral_bus.Bus(self.address).properties("instance-0000002a")["Pid"]
        before = len(self.events_for(inst.uuid))
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_for("the STOPPED event after qemu died",
                 lambda: virtevent.EVENT_LIFECYCLE_STOPPED in self.events_for(inst.uuid)[before:],
                 10)
        print(f"qemu SIGKILL -> Nova's STOPPED event: {1000 * (time.monotonic() - killed):.0f} ms")
        self.assertEqual(self.state(inst), power_state.SHUTDOWN)

        self.driver.power_on(self.context, inst, None)
        self.assertEqual(self.state(inst), power_state.RUNNING)
        self.driver.reboot(self.context, inst, None, "HARD")
        self.assertEqual(self.state(inst), power_state.RUNNING)
        self.driver.power_off(inst, timeout=5)
        self.assertEqual(self.state(inst), power_state.SHUTDOWN)
        self.driver.power_off(inst)  # already off: done, not an error
        self.driver.reboot(self.context, inst, None, "HARD")  # a stopped VM starts
        self.assertEqual(self.state(inst), power_state.RUNNING)

        instance_dir = os.path.join(CONF.corral.instances_path, inst.uuid)
        self.assertTrue(os.path.exists(os.path.join(instance_dir, "disk")))
        self.driver.destroy(self.context, inst, None)
        self.assertFalse(self.driver.instance_exists(inst))
        self.assertNotIn(inst.uuid, self.driver.list_instance_uuids())
        self.assertFalse(os.path.exists(instance_dir))
        with self.assertRaises(exception.InstanceNotFound):
            self.driver.get_info(inst)
        self.driver.destroy(self.context, inst, None)  # gone already: nothing to do
        self.assertEqual(self.images.downloads, 1)

    def test_a_vif_corral_cannot_plug_defines_nothing(self):
        inst = self.make_instance(43)
        vif = {"id": "p1", "type": "ovs", "address": "fa:16:3e:00:00:09",
               "network": {"bridge": "br-int"}}
        with self.assertRaises(exception.VirtualInterfaceCreateException):
            self.driver.spawn(self.context, inst, objects.ImageMeta.from_dict({}), [], None, {},
                              network_info=[vif])
        self.assertFalse(self.driver.instance_exists(inst))
        self.assertFalse(os.path.exists(os.path.join(CONF.corral.instances_path, inst.uuid)))


if __name__ == "__main__":
    unittest.main()
