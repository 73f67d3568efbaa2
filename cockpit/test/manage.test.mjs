// The pure logic of the definition editor and the details view (no DOM, no D-Bus).
//   node --test cockpit/test/manage.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { definitionTemplate, formatDiagnostic, lineRange, nameProblem, parseDiagnostics }
    from "../src/definition.js";
import { deviceList, diskOptions, migrateOptions, migrationView, nicOptions, snapshotList,
         vncChannelOptions }
    from "../src/devices.js";

test("the loader's diagnostics, one per line, by line and column", () => {
    const message = "/etc/corral/instances/web2.toml:4:10: error: memory \"lots\" is not a size\n" +
                    "/etc/corral/instances/web2.toml:12:1: unknown key \"cpu\" in [machine]\n" +
                    "no line here";
    const d = parseDiagnostics(message);
    assert.deepEqual(d, [
        { line: 4, column: 10, text: "memory \"lots\" is not a size" },
        { line: 12, column: 1, text: "unknown key \"cpu\" in [machine]" },
        { line: 0, column: 0, text: "no line here" },
    ]);
    assert.equal(formatDiagnostic(d[0]), "line 4, column 10: memory \"lots\" is not a size");
    assert.equal(formatDiagnostic(d[2]), "no line here");
    // A sentence quoting "a:1:2: b" keeps its own text: the first FILE:LINE:COL: is the place.
    assert.deepEqual(parseDiagnostics("f.toml:3:5: value \"x:1:2: y\" bad")[0],
                     { line: 3, column: 5, text: "value \"x:1:2: y\" bad" });
    assert.deepEqual(parseDiagnostics(""), []);
});

test("a line's offsets in the text, for selecting it", () => {
    const text = "[machine]\ncpus = 1\nmemory = \"x\"";
    assert.deepEqual(lineRange(text, 1), { start: 0, end: 9 });
    assert.deepEqual(lineRange(text, 3), { start: 19, end: 31 });
    assert.equal(text.slice(19, 31), "memory = \"x\"");
    assert.equal(lineRange(text, 0), null);
    assert.equal(lineRange(text, 4), null);
});

test("names and the template", () => {
    assert.equal(nameProblem("web-1.a_b"), "");
    assert.match(nameProblem(""), /Give the VM a name/);
    assert.match(nameProblem("-web"), /"-web" is not a VM name/);
    assert.match(nameProblem("a".repeat(64)), /is not a VM name/);
    assert.match(definitionTemplate(), /^\[machine\]\n/);
    assert.match(definitionTemplate(), /\[\[disk\]\]/);
});

test("attach dictionaries as D-Bus variants", () => {
    assert.deepEqual(diskOptions({ path: " /srv/d.raw ", format: "", readonly: false, bus: "virtio" }), {
        path: { t: "s", v: "/srv/d.raw" }, format: { t: "s", v: "raw" },
        readonly: { t: "b", v: false }, bus: { t: "s", v: "virtio" }
    });
    assert.deepEqual(nicOptions({ mode: "user", bridge: "", mac: "" }), { mode: { t: "s", v: "user" } });
    assert.deepEqual(nicOptions({ mode: "bridge", bridge: "br0", mac: "52:54:00:00:00:01" }), {
        mode: { t: "s", v: "bridge" }, bridge: { t: "s", v: "br0" },
        mac: { t: "s", v: "52:54:00:00:00:01" }
    });
});

test("migration options: numbers converted, defaults left out, bad numbers refused", () => {
    assert.deepEqual(migrateOptions({ storage: "shared" }), {});
    assert.deepEqual(migrateOptions({ bandwidthMiB: "64", downtimeMs: " 500 ", autoConverge: true,
                                      storage: "copy" }), {
        bandwidth: { t: "t", v: 64 * 1048576 }, downtime_ms: { t: "t", v: 500 },
        auto_converge: { t: "b", v: true }, storage: { t: "s", v: "copy" }
    });
    assert.throws(() => migrateOptions({ bandwidthMiB: "fast" }), /bandwidth "fast" is not a whole number/);
    assert.throws(() => migrateOptions({ downtimeMs: "0" }), /downtime "0" is not a whole number above 0/);
});

test("MigrationState and MigrationProgress as a progress bar", () => {
    assert.deepEqual(migrationView("none", {}), { active: false, percent: null, text: "Migration: none" });
    const mib = 1048576;
    const active = migrationView("active", { transferred: 64 * mib, remaining: 192 * mib, total: 256 * mib });
    assert.deepEqual(active, { active: true, percent: 25,
                               text: "Migration: active, 64.0 MiB of 256.0 MiB, 192.0 MiB left" });
    const storage = migrationView("copying-storage", { transferred: 0, total: 100 * mib,
                                                       storage_transferred: 100 * mib, storage_total: 300 * mib });
    assert.equal(storage.percent, 25);
    const done = migrationView("completed", { transferred: 256 * mib, remaining: 0, total: 256 * mib,
                                              downtime_ms: 42 });
    assert.equal(done.percent, 100);
    assert.equal(done.active, false);
    assert.match(done.text, /downtime 42 ms$/);
    assert.equal(migrationView("failed", undefined).percent, null);
});

test("Devices and ListSnapshots replies", () => {
    assert.deepEqual(deviceList([["root", "disk", "pcie.0", "04.0"], ["net0", "nic", "corral-port1", "00.0"]]), [
        { id: "root", kind: "disk", bus: "pcie.0", address: "04.0" },
        { id: "net0", kind: "nic", bus: "corral-port1", address: "00.0" },
    ]);
    assert.deepEqual(deviceList(undefined), []);
    const [s] = snapshotList([["s1", 1_700_000_000_000_000, [["root", "/a.qcow2", "/b.qcow2"]]]]);
    assert.equal(s.name, "s1");
    assert.equal(s.created.getTime(), 1_700_000_000_000);
    assert.deepEqual(s.disks, ["root"]);
});

test("the graphical console's channel from the Display property", () => {
    const v = (t, x) => ({ t, v: x });
    assert.deepEqual(vncChannelOptions({ type: v("s", "vnc"), listen: v("s", "unix"),
                                         socket: v("s", "/run/corral/web1/vnc.sock") }),
                     { payload: "stream", binary: true, unix: "/run/corral/web1/vnc.sock" });
    assert.deepEqual(vncChannelOptions({ type: v("s", "vnc"), address: v("s", "127.0.0.1"),
                                         port: v("u", 5901) }),
                     { payload: "stream", binary: true, address: "127.0.0.1", port: 5901 });
    assert.equal(vncChannelOptions({ type: v("s", "none"), vga: v("s", "none") }), null);
    assert.equal(vncChannelOptions({}), null); // an invalid definition
    assert.equal(vncChannelOptions(undefined), null);
});
