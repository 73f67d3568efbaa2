// The page's pure logic (no DOM, no D-Bus): formatting and action arguments.
//   node --test cockpit/test/logic.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpuPercent, formatBytes, formatPercent, formatUptime } from "../src/format.js";
import { kActions, actionArgs } from "../src/actions.js";

const shutdown = kActions.find(a => a.id === "shutdown");

test("CPU percent is CPU time over wall time between two samples", () => {
    const a = { SampledAt: 1_000_000, CpuUsec: 500_000 };
    const b = { SampledAt: 3_000_000, CpuUsec: 1_500_000 };
    assert.equal(cpuPercent(a, b), 50);
    assert.equal(cpuPercent(null, b), null);
    assert.equal(cpuPercent(b, b), null); // same sample: no wall time
    assert.equal(cpuPercent(b, a), null); // counters went back (a new qemu)
});

test("sizes, durations and percentages", () => {
    assert.equal(formatBytes(0), "—");
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(256 * 1024 * 1024), "256.0 MiB");
    assert.equal(formatUptime(0), "—");
    assert.equal(formatUptime(42e6), "42s");
    assert.equal(formatUptime((3600 + 120 + 5) * 1e6), "1h 2m");
    assert.equal(formatUptime((2 * 86400 + 3600) * 1e6), "2d 1h 0m");
    assert.equal(formatPercent(null), "—");
    assert.equal(formatPercent(12.345), "12.3 %");
});

test("shutdown's timeout: seconds to microseconds, empty is the instance default", () => {
    assert.deepEqual(actionArgs(shutdown, ""), [0]);
    assert.deepEqual(actionArgs(shutdown, " 30 "), [30_000_000]);
    assert.throws(() => actionArgs(shutdown, "-1"), /shutdown timeout "-1" is not a whole number/);
    assert.throws(() => actionArgs(shutdown, "1.5"), /not a whole number of seconds/);
    assert.deepEqual(actionArgs(kActions.find(a => a.id === "kill"), "junk"), []);
});

test("every action names a method of org.corral1.Instance once; only Kill asks first", () => {
    const methods = kActions.map(a => a.method);
    assert.deepEqual(methods, ["Start", "Shutdown", "Reboot", "Reset", "Pause", "Resume", "Kill"]);
    assert.deepEqual(kActions.filter(a => a.confirm).map(a => a.id), ["kill"]);
});
