// The browser run's steps that change VMs from the page (browser.mjs calls them with its
// helpers t = { expectText, shot, fail, log }): Create with a loader error then fixed, Edit,
// a VM's details with snapshots and a refused migration, hotplug of a disk the guest sees and
// of a NIC, and the keyboard's tab order. FILES is a directory with web2.qcow2 and data.raw.

function row(page, vm) {
    return page.locator(`tr[data-vm="${vm}"]`);
}

// A definition for VM2 with its disk in FILES; MEMORY is the value of machine.memory, on line 4.
function definition(files, memory) {
    return ["[machine]", "type = \"pc\"", "accel = \"tcg\"", `memory = ${memory}`, "[[disk]]",
            "id = \"root\"", `path = "${files}/web2.qcow2"`, "format = \"qcow2\"", ""].join("\n");
}

// The text of a textarea (its value, which textContent does not follow) matching PATTERN.
async function expectValue(locator, pattern, timeout, t, what) {
    const deadline = Date.now() + timeout;
    let value = "";
    while (Date.now() < deadline) {
        value = await locator.inputValue({ timeout }).catch(() => "");
        if (pattern.test(value)) return value;
        await locator.page().waitForTimeout(200);
    }
    await t.fail(`${what}: expected ${pattern}, saw "${value.slice(-400)}" after ${timeout} ms`);
}

export async function createAndEdit(page, t, files, vm2) {
    t.log("Create VM with an error on line 4, then fixed");
    await page.locator("#create").click();
    await page.locator("#editor[open]").waitFor({ timeout: 10_000 });
    const template = await page.locator("#editor-text").inputValue();
    if (!/\[machine\]/.test(template)) await t.fail(`the template has no [machine]: ${template}`);
    await page.locator("#editor-name").fill(vm2);
    await page.locator("#editor-text").fill(definition(files, "\"lots\""));
    await page.locator("#editor-save").click();
    const error = await t.expectText(page.locator("#editor-errors li[data-line=\"4\"]"),
                                     /^line 4, column \d+: \S.+/, 20_000, "the loader's error at its line");
    t.log(`shown: ${error}`);
    if (!(await page.locator("#editor[open]").isVisible())) await t.fail("the editor closed on an error");
    const kept = await page.locator("#editor-text").inputValue();
    if (!kept.includes("\"lots\"")) await t.fail("the editor lost the text on an error");
    await t.shot(page, "8-editor-error");
    await page.locator("#editor-text").fill(definition(files, "\"128M\""));
    await page.keyboard.press("Tab"); // to Save, then Enter: the keyboard path
    await page.keyboard.press("Enter");
    await t.expectText(row(page, vm2).locator("td[data-label=\"State\"]"), /^stopped$/, 30_000,
                       "the defined VM in the list");
    await page.locator("#editor:not([open])").waitFor({ state: "attached", timeout: 10_000 });

    t.log("Edit: the definition as corrald has it, changed");
    await row(page, vm2).locator("button[data-action=\"edit\"]").click();
    const text = await expectValue(page.locator("#editor-text"), /memory = "128M"/, 20_000, t,
                                   "GetDefinition's text");
    await page.locator("#editor-text").fill(text.replace("\"128M\"", "\"192M\""));
    await page.locator("#editor-save").click();
    await t.expectText(page.locator("#page-status"), new RegExp(`^${vm2} updated\\.$`), 20_000,
                       "Update's result");

    t.log("Edit again from the keyboard: the updated text; Escape closes without saving");
    await row(page, vm2).locator("button[data-action=\"edit\"]").focus();
    await page.keyboard.press("Enter");
    await expectValue(page.locator("#editor-text"), /memory = "192M"/, 20_000, t, "the updated text");
    await page.keyboard.press("Escape");
    await page.locator("#editor:not([open])").waitFor({ state: "attached", timeout: 10_000 });
}

async function confirm(page) {
    await page.locator("#confirm[open]").waitFor({ timeout: 10_000 });
    await page.locator("#confirm-ok").click();
}

export async function snapshotsAndMigration(page, t, vm2) {
    t.log(`${vm2}'s details: a snapshot taken and deleted, a refused migration`);
    await row(page, vm2).locator("button[data-action=\"details\"]").click();
    await t.expectText(page.locator("#devices-empty"), /^No devices listed: .+ once it has run\.$/,
                       20_000, "a VM that never ran has no devices listed");
    const status = page.locator("#details-status");
    await t.expectText(page.locator("#snapshots-empty"), /^No snapshots\.$/, 20_000, "no snapshots yet");
    await page.locator("#snapshot-name").fill("s1");
    await page.locator("#snapshot-create").click();
    await t.expectText(page.locator("#snapshot-rows tr[data-snapshot=\"s1\"]"), /s1.*root/, 30_000,
                       "the snapshot taken from the page");
    await t.expectText(status, /^Snapshot s1: done\.$/, 10_000, "Snapshot's progress");
    await page.locator("#snapshot-name").fill("s1");
    await page.locator("#snapshot-create").click();
    await t.expectText(status, /^Snapshot s1 refused: \S.+/, 20_000, "a second s1's refusal");
    await t.shot(page, "9-snapshots");
    await page.locator("#snapshot-rows tr[data-snapshot=\"s1\"] button[data-action=\"delete-snapshot\"]").click();
    await confirm(page);
    await t.expectText(page.locator("#snapshots-empty"), /^No snapshots\.$/, 60_000, "the snapshot deleted");

    await page.locator("#migrate-destination").fill("unix:path=/nonexistent");
    await page.locator("#migrate-start").click();
    const refused = await t.expectText(status, /^Migrate to unix:path=\/nonexistent refused: \S.+/,
                                       20_000, "Migrate's refusal for a stopped VM");
    t.log(`shown: ${refused}`);
}

// Every visible, enabled button and field is reached by Tab from the page's start.
export async function tabOrder(page, t) {
    const wanted = await page.evaluate(() => {
        const all = [...document.querySelectorAll("main button, main input, main select")];
        return all.filter(e => !e.disabled && e.offsetParent !== null)
                .map((e, i) => (e.dataset.tab = String(i)));
    });
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    const seen = new Set();
    for (let i = 0; i < wanted.length * 2 + 20 && seen.size < wanted.length; i++) {
        await page.keyboard.press("Tab");
        const tab = await page.evaluate(() => document.activeElement?.dataset?.tab ?? null);
        if (tab !== null) seen.add(tab);
    }
    const missed = wanted.filter(w => !seen.has(w));
    if (missed.length) {
        const names = await page.evaluate(m => m.map(i =>
            document.querySelector(`[data-tab="${i}"]`).outerHTML.slice(0, 120)), missed);
        await t.fail(`Tab does not reach: ${names.join("; ")}`);
    }
    t.log(`Tab reaches all ${wanted.length} buttons and fields`);
}

// VM is running with its serial console open in the page.
export async function hotplug(page, t, files, vm) {
    t.log(`${vm}'s details: attach a disk (refused, then the guest sees it), detach; a NIC`);
    await row(page, vm).locator("button[data-action=\"details\"]").click();
    const status = page.locator("#details-status");
    await page.locator("#disk-id").fill("data");
    await page.locator("#disk-path").fill("data.raw");
    await page.locator("#disk-attach").click();
    const refused = await t.expectText(status, /^Attach disk data refused: \S.+/, 20_000,
                                       "a relative path's refusal");
    t.log(`shown: ${refused}`);
    await page.locator("#disk-id").fill("data");
    await page.locator("#disk-path").fill(`${files}/data.raw`);
    await page.locator("#disk-attach").click();
    await t.expectText(page.locator("#device-rows tr[data-device=\"data\"]"), /disk/, 60_000,
                       "the attached disk in the devices");
    await t.expectText(status, /^Attach disk data: done\.$/, 10_000, "AttachDevice's progress");
    const terminal = page.locator("#terminal .xterm-rows");
    await page.locator("#terminal").click();
    // The reply comes before the guest's driver has probed the disk: the guest waits for it,
    // at most 20 s.
    await page.keyboard.type("for i in $(seq 100); do [ -e /sys/block/vda ] && break; sleep 0.2; done; " +
                             "echo disks: $(ls /sys/block | grep vd)\n");
    await t.expectText(terminal, /disks: vda/, 30_000, "the guest's view of the new disk");
    await t.shot(page, "10-attached");
    await page.locator("#device-rows tr[data-device=\"data\"] button[data-action=\"detach\"]").click();
    await t.expectText(status, /^Detach data: done\.$/, 60_000, "Detach's progress");
    if (await page.locator("#device-rows tr[data-device=\"data\"]").count())
        await t.fail("the detached disk stays in the devices");

    await page.locator("#nic-id").fill("net1");
    await page.locator("#nic-mac").fill("52:54:00:c0:ff:01");
    await page.locator("#nic-attach").click();
    await t.expectText(page.locator("#device-rows tr[data-device=\"net1\"]"), /nic/, 60_000,
                       "the attached NIC in the devices");
    await page.locator("#device-rows tr[data-device=\"net1\"] button[data-action=\"detach\"]").click();
    await t.expectText(status, /^Detach net1: done\.$/, 60_000, "the NIC's Detach");
}

// VM runs with [display] type = "vnc": its graphical console connects and draws the screen.
export async function graphical(page, t, vm) {
    t.log(`${vm}'s graphical console (noVNC over a cockpit channel to vnc.sock)`);
    await row(page, vm).locator("button[data-action=\"vnc\"]").click();
    await page.locator("#vnc-screen[data-connected=\"true\"]").waitFor({ timeout: 30_000 })
            .catch(() => t.fail("the graphical console did not connect: " + "see #vnc-status"));
    await t.expectText(page.locator("#vnc-status"), /^Connected to /, 5_000, "the VNC status");
    const deadline = Date.now() + 60_000;
    let lit = 0;
    while (Date.now() < deadline) {
        lit = await page.evaluate(() => {
            const canvas = document.querySelector("#vnc-screen canvas");
            if (!canvas || !canvas.width) return 0;
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) if (data[i] | data[i + 1] | data[i + 2]) n++;
            return n;
        });
        if (lit > 0) break;
        await page.waitForTimeout(250);
    }
    if (!lit) await t.fail("the graphical console stays black: no framebuffer update drawn");
    t.log(`the guest's screen drawn: ${lit} lit pixels`);
    await t.shot(page, "3-graphical");
    await page.locator("#vnc-close").click();
}

// VM runs: Update takes the new text, and the page names what its qemu keeps until a restart.
export async function editRunning(page, t, vm) {
    t.log(`Edit ${vm} while it runs: the pending keys named`);
    await row(page, vm).locator("button[data-action=\"edit\"]").click();
    const text = await expectValue(page.locator("#editor-text"), /memory = "256M"/, 20_000, t,
                                   "the running VM's definition");
    await page.locator("#editor-text").fill(text.replace("\"256M\"", "\"384M\""));
    await page.locator("#editor-save").click();
    await t.expectText(page.locator("#page-status"),
                       new RegExp(`^${vm} updated; its running qemu keeps .*: machine\\.memory\\.$`),
                       20_000, "Update's pending keys");
}
