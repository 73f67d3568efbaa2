// Drives the corral page in Debian's Chromium (headless, through playwright-core) against a
// running cockpit-ws and corrald with one stopped VM:
//   node browser.mjs ADMIN_URL READER_URL VM SCREENSHOT_DIR COMMAND...
// ADMIN_URL is a session of root, READER_URL one of a user who is neither root nor in group
// corral. corrald starts with no VM: once the page shows its empty state, COMMAND defines VM
// (which must then appear without a reload). Exits non-zero on the first expectation that
// fails; every wait is bounded. With CORRAL_ADMIN_LOGIN and CORRAL_READER_LOGIN set
// (USER:PASSWORD), each session first logs in on Cockpit's own login page at the URL's origin.
// With CORRAL_PAGE_FILES set (a directory with web2.qcow2 and data.raw, see manage.mjs), the
// page also creates, edits and snapshots a second VM, hotplugs a disk and a NIC into VM and
// opens VM's graphical console (VM must then have [display] type = "vnc").
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createAndEdit, editRunning, graphical, hotplug, snapshotsAndMigration, tabOrder }
    from "./manage.mjs";

const [adminUrl, readerUrl, vm, shots, ...define] = process.argv.slice(2);
if (!define.length) {
    console.error("usage: browser.mjs ADMIN_URL READER_URL VM SCREENSHOT_DIR COMMAND...");
    process.exit(2);
}
mkdirSync(shots, { recursive: true });
const files = process.env.CORRAL_PAGE_FILES;
const kOverallMs = 540_000;
setTimeout(() => fail(`the whole browser run took more than ${kOverallMs / 1000} s`), kOverallMs).unref();

function log(text) {
    console.log(`[browser ${new Date().toISOString().slice(11, 23)}] ${text}`);
}

let browser = null;
const errors = []; // the browser console's errors, reported at the end or with a failure
async function fail(text) {
    console.error(`[browser] FAILED: ${text}`);
    if (errors.length) console.error(`[browser] the browser console's errors:\n  ${errors.join("\n  ")}`);
    if (browser) await browser.close().catch(() => {});
    process.exit(1);
}

// Cockpit's login form (cockpit-ws with PAM); the session cookie then opens the page directly.
async function logIn(page, url, login, label) {
    const colon = login.indexOf(":");
    await page.goto(new URL("/", url).href, { timeout: 30_000 });
    await page.locator("#login-user-input").fill(login.slice(0, colon), { timeout: 30_000 });
    await page.locator("#login-password-input").fill(login.slice(colon + 1));
    await page.locator("#login-button").click();
    await page.locator("#login-button").waitFor({ state: "hidden", timeout: 30_000 })
            .catch(() => fail(`${label} could not log in as ${login.slice(0, colon)}`));
    await shot(page, `login-${label}`);
}

async function openPage(url, errors, label) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const login = process.env[label === "root" ? "CORRAL_ADMIN_LOGIN" : "CORRAL_READER_LOGIN"];
    if (login) await logIn(page, url, login, label);
    page.on("console", m => { if (m.type() === "error") errors.push(`${label}: ${m.text()}`); });
    page.on("pageerror", e => errors.push(`${label}: ${e.message}`));
    await page.goto(url, { timeout: 30_000 });
    return page;
}

async function shot(page, name) {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    log(`screenshot ${name}.png`);
}

function cellText(page, label) {
    return page.locator(`tr[data-vm="${vm}"] td[data-label="${label}"]`);
}

async function expectText(locator, pattern, timeout, what) {
    const deadline = Date.now() + timeout;
    let text = "";
    while (Date.now() < deadline) {
        text = (await locator.textContent({ timeout }).catch(() => "")) ?? "";
        if (pattern.test(text)) return text;
        await locator.page().waitForTimeout(200);
    }
    await fail(`${what}: expected ${pattern}, saw "${text.slice(-400)}" after ${timeout} ms`);
}

async function admin(errors) {
    const page = await openPage(adminUrl, errors, "root");
    await expectText(page.locator("#empty"), /corralctl define/, 30_000, "the empty state");
    // The text is in the page from the start; the page unhides it once the list is loaded.
    await page.locator("#empty").waitFor({ state: "visible", timeout: 30_000 })
        .catch(() => fail("the empty state is hidden"));
    await shot(page, "0-empty");
    log(`defining ${vm}: ${define.join(" ")}`);
    execFileSync(define[0], define.slice(1), { stdio: "inherit", timeout: 30_000 });
    await expectText(cellText(page, "State"), /^stopped$/, 30_000, "the new VM in the list");
    if (await page.locator("#empty").isVisible()) await fail("the empty state stays with a VM");
    if (await page.locator("#access").isVisible()) await fail("root sees the read-only notice");
    await shot(page, "1-list");
    const t = { expectText, shot, fail, log };
    if (files) {
        await createAndEdit(page, t, files, "web2");
        await snapshotsAndMigration(page, t, "web2");
        await tabOrder(page, t);
    }

    log("a refused action: Pause on a stopped VM");
    const message = page.locator(`tr[data-vm="${vm}"] [data-role="message"]`);
    await page.locator(`tr[data-vm="${vm}"] button[data-action="pause"]`).click();
    const refused = await expectText(message, /^Pause refused: \S.+/, 20_000, "Pause's refusal");
    log(`refusal shown: ${refused}`);
    await shot(page, "2-refused");

    log("start");
    await page.locator(`tr[data-vm="${vm}"] button[data-action="start"]`).click();
    await expectText(cellText(page, "State"), /^running$/, 60_000, "the state after Start");
    await expectText(message, /^Start: done\.$/, 60_000, "Start's progress");
    if (files) await graphical(page, t, vm);

    log("serial console");
    await page.locator(`tr[data-vm="${vm}"] button.vm-name`).click();
    const terminal = page.locator("#terminal .xterm-rows");
    await expectText(page.locator("#console-status"), /^Connected/, 20_000, "the console channel");
    await expectText(terminal, /corral-guest: userspace ready/, 120_000, "the guest's boot text");
    await page.locator("#terminal").click();
    await page.keyboard.type("echo corral-$((6*7))\n");
    await expectText(terminal, /corral-42/, 30_000, "a command's output in the console");
    await shot(page, "3-console");
    if (files) {
        await hotplug(page, t, files, vm);
        await editRunning(page, t, vm);
    }

    log("live stats and agent");
    await expectText(cellText(page, "Memory"), /^[0-9.]+ (KiB|MiB|GiB)$/, 30_000, "memory use");
    await expectText(cellText(page, "Uptime"), /^[0-9]+[smhd]/, 30_000, "uptime");
    await expectText(cellText(page, "CPU"), /^[0-9.]+ %$/, 30_000, "CPU use");
    await expectText(cellText(page, "Agent"), /^connected$/, 90_000, "agent reachability");
    await shot(page, "4-running");
    return page;
}

async function reader(errors) {
    const page = await openPage(readerUrl, errors, "reader");
    await expectText(cellText(page, "State"), /^running$/, 30_000, "the reader's list");
    await expectText(page.locator("#access-text"), /^Read-only: .+ neither root nor in group "corral"/,
                     20_000, "the read-only notice");
    const enabled = await page.locator(
        `tr[data-vm="${vm}"] button[data-action]:not([data-action="details"]):not([data-action="vnc"]):enabled`).count();
    if (enabled !== 0) await fail(`the reader has ${enabled} enabled action buttons`);
    await page.locator(`tr[data-vm="${vm}"] button.vm-name`).click();
    const status = await expectText(page.locator("#console-status"), /refused: \S+/, 20_000,
                                    "the reader's console refusal");
    log(`reader's console: ${status}`);
    if (files) {
        await page.locator(`tr[data-vm="${vm}"] button[data-action="vnc"]`).click();
        const vnc = await expectText(page.locator("#vnc-status"), /refused: \S+/, 20_000,
                                     "the reader's graphical console refusal");
        log(`reader's graphical console: ${vnc}`);
    }
    if (await page.locator("#create").isEnabled()) await fail("the reader's Create VM is enabled");
    await page.locator(`tr[data-vm="${vm}"] button[data-action="details"]`).click();
    await expectText(page.locator("#details-title"), new RegExp(`${vm}$`), 10_000, "the reader's details");
    const detailEnabled = await page.locator("#details-section button[data-action]:enabled, " +
                                             "#details-section form button:enabled").count();
    if (detailEnabled !== 0) await fail(`the reader has ${detailEnabled} enabled buttons in the details`);
    await shot(page, "5-read-only");
    await page.context().close();
}

async function narrowAndKill(page) {
    log("400 px wide");
    await page.setViewportSize({ width: 400, height: 900 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 400) await fail(`at 400 px the page is ${width} px wide`);
    await shot(page, "6-narrow");
    log("3840x2160");
    await page.setViewportSize({ width: 3840, height: 2160 });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    if (wide > 3840) await fail(`at 3840 px the page is ${wide} px wide`);
    await shot(page, "6-4k");
    await page.setViewportSize({ width: 1280, height: 900 });

    log("kill, from the keyboard: Escape cancels, then confirm");
    const kill = page.locator(`tr[data-vm="${vm}"] button[data-action="kill"]`);
    await kill.focus();
    await page.keyboard.press("Enter");
    await page.locator("#confirm[open]").waitFor({ timeout: 10_000 });
    await shot(page, "7-confirm-kill");
    await page.keyboard.press("Escape");
    await page.locator("#confirm:not([open])").waitFor({ state: "attached", timeout: 10_000 });
    if ((await cellText(page, "State").textContent()) !== "running")
        await fail("cancelling the kill changed the state");
    await kill.focus();
    await page.keyboard.press("Enter");
    await page.locator("#confirm[open]").waitFor({ timeout: 10_000 });
    await page.keyboard.press("Shift+Tab"); // Cancel has the focus; the button before it kills
    await page.keyboard.press("Enter");
    await expectText(cellText(page, "State"), /^(stopped|crashed)$/, 30_000, "the state after Kill");
}

browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 60_000,
});
const page = await admin(errors);
await reader(errors);
await narrowAndKill(page);
await browser.close();
browser = null;
if (errors.length) await fail(`errors in the browser console:\n  ${errors.join("\n  ")}`);
log("all expectations met");
