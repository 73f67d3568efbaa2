// The host's VMs as corrald publishes them on org.corral1: one entry per instance object with
// its org.corral1.Instance and org.corral1.Instance.Stats properties. Updates arrive as
// PropertiesChanged through cockpit.dbus proxies; onChange(name) is called on every change.
//
// corrald samples the stats when someone reads them (a read older than 1 s starts a refresh,
// which lands as PropertiesChanged), so while a VM runs the model reads its Stats once per
// kStatsPeriodMs; everything else comes from signals alone.

import { cpuPercent } from "./format.js";

const kStatsPeriodMs = 2000;
const kPrefix = "/org/corral1/instance";

export class Model {
    constructor(onChange, onError) {
        this.client = cockpit.dbus("org.corral1", { bus: "system" });
        this.instances = this.client.proxies("org.corral1.Instance", kPrefix);
        this.stats = this.client.proxies("org.corral1.Instance.Stats", kPrefix);
        this.previousStats = new Map(); // path -> the sample before the current one
        this.cpu = new Map(); // path -> percent
        this.onChange = onChange;
        this.running = null; // unknown until the bus tells who owns org.corral1
        for (const p of [this.instances, this.stats]) {
            p.addEventListener("added", () => onChange());
            p.addEventListener("removed", () => onChange());
            p.addEventListener("changed", (ev, proxy) => this.changed(proxy));
        }
        // owner: corrald's unique name on the bus, null while corrald is not running.
        this.client.addEventListener("owner", (ev, owner) => {
            this.running = owner !== null;
            onError(this.running ? "" : closedSentence({ problem: "not-found" }));
            onChange();
        });
        this.client.addEventListener("close", (ev, options) => onError(closedSentence(options)));
        this.ready = this.instances.wait().then(() => this.stats.wait());
        this.timer = window.setInterval(() => this.readStats(), kStatsPeriodMs);
    }

    changed(proxy) {
        if (proxy.iface === "org.corral1.Instance.Stats") {
            const last = this.previousStats.get(proxy.path);
            if (!last || last.SampledAt !== proxy.SampledAt) {
                if (last) this.cpu.set(proxy.path, cpuPercent(last, proxy));
                this.previousStats.set(proxy.path, {
                    SampledAt: proxy.SampledAt, CpuUsec: proxy.CpuUsec
                });
            }
        }
        this.onChange();
    }

    // Entries sorted by name: { path, name, state, instance proxy, stats proxy, cpu }.
    list() {
        return Object.keys(this.instances)
                .map(path => this.instances[path])
                .filter(p => p && p.valid && p.Name)
                .map(p => ({
                    path: p.path, name: p.Name, state: p.State, instance: p,
                    stats: this.stats[p.path], cpu: this.cpu.get(p.path) ?? null
                }))
                .sort((a, b) => a.name.localeCompare(b.name));
    }

    // Reading is what makes corrald sample; the answer itself arrives as PropertiesChanged.
    readStats() {
        for (const vm of this.list()) {
            if (vm.state !== "running" && vm.state !== "paused") continue;
            this.client.call(vm.path, "org.freedesktop.DBus.Properties", "GetAll",
                             ["org.corral1.Instance.Stats"])
                    .catch(() => {});
        }
    }

    // Calls METHOD on the instance at PATH; resolves, or rejects with the D-Bus error.
    call(path, method, args, signature) {
        const options = signature ? { type: signature } : {};
        return this.client.call(path, "org.corral1.Instance", method, args, options);
    }

    // The same for METHOD of org.corral1.Manager (Define).
    callManager(method, args, signature) {
        return this.client.call("/org/corral1", "org.corral1.Manager", method, args,
                                { type: signature });
    }
}

function closedSentence(options) {
    if (options.problem === "not-found")
        return "corrald is not running on this host (no owner of org.corral1 on the system bus): " +
               "start it (systemctl start corrald), then reload this page.";
    return `The connection to corrald closed: ${cockpit.message(options)}; reload this page.`;
}
