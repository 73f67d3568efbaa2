"""The driver's pure parts, against Debian's Nova and corral's own definition checker."""

import os
import subprocess
import tempfile
import unittest

import novapath  # noqa: F401  (nova.virt.corral from this tree)

from nova.compute import power_state
from nova.virt import event as virtevent
from nova.virt.corral import definition, host, states

VALIDATE = os.environ.get("CORRAL_VALIDATE", "corral-validate")


class Render(unittest.TestCase):
    def validate(self, text):
        """corral-validate's verdict on the text as a definition file: (status, output)."""
        with tempfile.TemporaryDirectory() as d:
            for name in ("disk", "disk.config"):
                open(os.path.join(d, name), "wb").close()
            path = os.path.join(d, "instance-0000002a.toml")
            with open(path, "w") as f:
                f.write(text.replace("@DIR@", d))
            run = subprocess.run([VALIDATE, path], capture_output=True, text=True, timeout=30)
            return run.returncode, run.stdout + run.stderr

    def test_a_full_definition_is_one_corral_takes(self):
        text = definition.render(
            uuid="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", vcpus=2, memory_mb=2048,
            root_disk="@DIR@/disk", config_drive="@DIR@/disk.config",
            nics=[("nic0", "fa:16:3e:00:00:01", "br-int")], accel="tcg",
            vnc_listen="127.0.0.1:5901")
        status, output = self.validate(text)
        self.assertEqual(status, 0, output)
        self.assertTrue(text.startswith(definition.HEADER))
        self.assertIn('memory = "2048M"', text)
        self.assertIn('order = ["disk", "cdrom"]', text)
        self.assertIn('listen = "127.0.0.1:5901"', text)
        self.assertNotIn("accel", definition.render(
            uuid="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", vcpus=1, memory_mb=64,
            root_disk="/x"))

    def test_strings_are_quoted_for_toml(self):
        text = definition.render(uuid="u", vcpus=1, memory_mb=64, root_disk='/a "b\\c')
        self.assertIn('path = "/a \\"b\\\\c"', text)
        with self.assertRaises(definition.DefinitionError):
            definition.render(uuid="u", vcpus=1, memory_mb=64, root_disk="/a\nb")

    def test_a_broken_flavor_is_refused(self):
        with self.assertRaisesRegex(definition.DefinitionError, "0 vCPUs"):
            definition.render(uuid="u", vcpus=0, memory_mb=64, root_disk="/x")

    def test_names(self):
        self.assertEqual(definition.corral_name("instance-0000002a"), "instance-0000002a")
        for bad in ("", "-x", "a/b", "a" * 64, None):
            with self.assertRaises(definition.DefinitionError):
                definition.corral_name(bad)

    def test_bridge_vifs_become_nics_and_others_are_refused(self):
        vif = {"id": "p1", "type": "bridge", "address": "FA:16:3E:00:00:02",
               "network": {"bridge": "brq1"}}
        self.assertEqual(definition.nics_from_network_info([vif]),
                         [("nic0", "fa:16:3e:00:00:02", "brq1")])
        self.assertEqual(definition.nics_from_network_info(
            [dict(vif, network={})], default_bridge="br0")[0][2], "br0")
        for bad, why in ((dict(vif, type="ovs"), "type 'ovs'"),
                         (dict(vif, network={}), "no usable bridge"),
                         (dict(vif, network={"bridge": "a/b"}), "no usable bridge"),
                         (dict(vif, address="zz"), "MAC")):
            with self.assertRaisesRegex(definition.DefinitionError, why):
                definition.nics_from_network_info([bad])
        self.assertEqual(definition.nics_from_network_info(None), [])


class States(unittest.TestCase):
    def test_power_states(self):
        self.assertEqual(states.power_state_of("running"), power_state.RUNNING)
        self.assertEqual(states.power_state_of("paused"), power_state.PAUSED)
        self.assertEqual(states.power_state_of("stopped"), power_state.SHUTDOWN)
        self.assertEqual(states.power_state_of("stopped", True), power_state.SUSPENDED)
        self.assertEqual(states.power_state_of("crashed"), power_state.SHUTDOWN)
        self.assertEqual(states.power_state_of("starting"), power_state.NOSTATE)
        self.assertEqual(states.power_state_of("no-such-state"), power_state.NOSTATE)

    def test_transitions(self):
        t = states.lifecycle_transition
        self.assertEqual(t("starting", "running"), virtevent.EVENT_LIFECYCLE_STARTED)
        self.assertEqual(t("paused", "running"), virtevent.EVENT_LIFECYCLE_RESUMED)
        self.assertEqual(t("running", "paused"), virtevent.EVENT_LIFECYCLE_PAUSED)
        self.assertEqual(t("shutting-down", "stopped"), virtevent.EVENT_LIFECYCLE_STOPPED)
        self.assertEqual(t("running", "crashed"), virtevent.EVENT_LIFECYCLE_STOPPED)
        self.assertEqual(t("running", "stopped", True), virtevent.EVENT_LIFECYCLE_SUSPENDED)
        self.assertIsNone(t("running", "shutting-down"))
        self.assertIsNone(t("stopped", "starting"))
        self.assertIsNone(t("running", "running"))


class Host(unittest.TestCase):
    def test_readings(self):
        self.assertGreater(host.memory_mb(), 0)
        info = host.cpu_info()
        self.assertEqual(info["topology"]["cores"], os.cpu_count())
        self.assertTrue(info["vendor"])
        disk = host.disk_gb("/")
        self.assertEqual(disk.total, disk.used + disk.free)
        self.assertIn("load average", host.uptime_text())


if __name__ == "__main__":
    unittest.main()
