// Pure helpers of the details view and the graphical console (no DOM, no D-Bus): the option
// dictionaries of AttachDevice and Migrate from the forms' fields, the shapes of what corrald
// returns, and the channel to a VM's VNC server.
// corrald judges ids, paths, MACs and names (its refusal is what the page shows); only a
// number field the page converts throws a sentence here, before anything is sent.

const str = v => ({ t: "s", v });
const bool = v => ({ t: "b", v });
const u64 = v => ({ t: "t", v });

// AttachDevice("disk", id, options): fields { path, format, readonly, bus }.
export function diskOptions(fields) {
    const path = (fields.path ?? "").trim();
    const options = { path: str(path), format: str(fields.format || "raw"),
                      readonly: bool(Boolean(fields.readonly)) };
    if (fields.bus) options.bus = str(fields.bus);
    return options;
}

// AttachDevice("nic", id, options): fields { mode, bridge, mac }.
export function nicOptions(fields) {
    const mode = fields.mode || "user";
    const options = { mode: str(mode) };
    const bridge = (fields.bridge ?? "").trim();
    if (bridge || mode === "bridge") options.bridge = str(bridge);
    const mac = (fields.mac ?? "").trim();
    if (mac) options.mac = str(mac);
    return options;
}

// Migrate's options: fields { bandwidthMiB, downtimeMs, autoConverge, storage, postcopy }.
export function migrateOptions(fields) {
    const options = {};
    const whole = (text, what) => {
        const t = String(text ?? "").trim();
        if (t === "") return null;
        if (!/^[0-9]+$/.test(t) || Number(t) === 0)
            throw new Error(`${what} "${t}" is not a whole number above 0`);
        return Number(t);
    };
    const bandwidth = whole(fields.bandwidthMiB, "bandwidth");
    if (bandwidth !== null) options.bandwidth = u64(bandwidth * 1024 * 1024);
    const downtime = whole(fields.downtimeMs, "downtime");
    if (downtime !== null) options.downtime_ms = u64(downtime);
    if (fields.autoConverge) options.auto_converge = bool(true);
    if (fields.storage && fields.storage !== "shared") options.storage = str(fields.storage);
    if (fields.postcopy && fields.postcopy !== "never") options.postcopy = str(fields.postcopy);
    return options;
}

// The Devices property a(ssss) as [{ id, kind, bus, address }].
export function deviceList(devices) {
    return (devices ?? []).map(([id, kind, bus, address]) => ({ id, kind, bus, address }));
}

// ListSnapshots' a(sta(sss)) as [{ name, created (Date), disks: [id…] }].
export function snapshotList(reply) {
    return (reply ?? []).map(([name, usec, disks]) => ({
        name, created: new Date(Number(usec) / 1000), disks: (disks ?? []).map(d => d[0])
    }));
}

// MigrationState and MigrationProgress as a progress bar: { active, percent (null when the
// total is not known yet), text }.
export function migrationView(state, progress) {
    const p = progress ?? {};
    const total = Number(p.total ?? 0) + Number(p.storage_total ?? 0);
    const done = Number(p.transferred ?? 0) + Number(p.storage_transferred ?? 0);
    const active = ["preparing", "copying-storage", "active", "postcopy", "completing"]
            .includes(state);
    let percent = null;
    if (state === "completed") percent = 100;
    else if (total > 0) percent = Math.min(100, Math.floor((100 * done) / total));
    const mib = n => `${(Number(n) / 1048576).toFixed(1)} MiB`;
    let text = `Migration: ${state || "none"}`;
    if (total > 0) text += `, ${mib(done)} of ${mib(total)}`;
    if (Number(p.remaining ?? 0) > 0 && active) text += `, ${mib(p.remaining)} left`;
    if (state === "completed" && p.downtime_ms !== undefined)
        text += `, downtime ${Number(p.downtime_ms)} ms`;
    return { active, percent, text };
}

// The cockpit channel options for DISPLAY (the a{sv} property as cockpit gives it), or null
// when the VM has no VNC server.
export function vncChannelOptions(display) {
    const d = display ?? {};
    const value = key => (d[key] && typeof d[key] === "object" && "v" in d[key] ? d[key].v : d[key]);
    if (value("type") !== "vnc") return null;
    if (value("socket")) return { payload: "stream", binary: true, unix: value("socket") };
    if (value("port")) return { payload: "stream", binary: true, address: value("address"), port: value("port") };
    return null;
}
