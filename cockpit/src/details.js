// The details of one VM below the table: its devices with Detach, the Attach disk and Attach
// NIC forms, its snapshots with Take, Revert and Delete, and Migrate with its progress. Every
// call shows its progress and corrald's sentence when refused in the section's status line.
import { deviceList, diskOptions, migrateOptions, migrationView, nicOptions, snapshotList }
    from "./devices.js";
import { element } from "./dom.js";

const $ = id => document.getElementById(id);

function button(label, action, danger) {
    return element("button", {
        type: "button", "data-action": action,
        class: `pf-v6-c-button pf-m-small ${danger ? "pf-m-danger" : "pf-m-secondary"}`
    }, label);
}

export class VmDetails {
    // model: the Model; confirm(title, text, ok) -> Promise<bool>.
    constructor(model, confirm) {
        this.model = model;
        this.confirm = confirm;
        this.vm = null;
        this.readOnly = true;
        this.busy = false;
        const form = (id, handler) => $(id).addEventListener("submit", ev => {
            ev.preventDefault();
            handler();
        });
        form("attach-disk", () => this.attach("disk", "disk", diskOptions({
            path: $("disk-path").value, format: $("disk-format").value,
            readonly: $("disk-readonly").checked, bus: $("disk-bus").value
        })));
        form("attach-nic", () => this.attach("nic", "nic", nicOptions({
            mode: $("nic-mode").value, bridge: $("nic-bridge").value, mac: $("nic-mac").value
        })));
        form("snapshot-take", () => this.takeSnapshot());
        form("migrate", () => this.migrate());
        $("details-close").addEventListener("click", () => this.close());
    }

    open(vm) {
        this.vm = vm;
        $("details-section").hidden = false;
        $("details-title").textContent = `Details: ${vm.name}`;
        this.say("", "info");
        this.update(vm);
        this.refreshSnapshots();
        $("details-section").scrollIntoView({ block: "nearest" });
    }

    close() {
        this.vm = null;
        $("details-section").hidden = true;
    }

    setReadOnly(readOnly) {
        this.readOnly = readOnly;
        this.enable();
    }

    enable() {
        for (const b of $("details-section").querySelectorAll("button[data-action], form button"))
            b.disabled = this.readOnly || this.busy;
    }

    // Called on every change of the model: the devices and the migration from the properties.
    update(vm) {
        if (!this.vm || !vm || vm.path !== this.vm.path) return;
        this.vm = vm;
        const rows = deviceList(vm.instance.Devices).map(d => {
            const tr = element("tr", { class: "pf-v6-c-table__tr", "data-device": d.id });
            for (const [label, text] of [["Id", d.id], ["Kind", d.kind], ["Bus", d.bus],
                                         ["Address", d.address]])
                tr.appendChild(element("td", { class: "pf-v6-c-table__td", "data-label": label }, text));
            const td = element("td", { class: "pf-v6-c-table__td", "data-label": "Actions" });
            if (!d.id.startsWith("corral")) { // corral's own devices stay with the VM
                const detach = button("Detach", "detach");
                detach.addEventListener("click", () => this.detach(d.id));
                td.appendChild(detach);
            }
            tr.appendChild(td);
            return tr;
        });
        $("device-rows").replaceChildren(...rows);
        $("devices-empty").hidden = rows.length !== 0;
        const m = migrationView(vm.instance.MigrationState, vm.instance.MigrationProgress);
        $("migration-text").textContent = m.text;
        const bar = $("migration-bar");
        bar.hidden = m.percent === null;
        bar.value = m.percent ?? 0;
        this.enable();
    }

    // Runs CALL (a promise factory) as WHAT: progress, then "done" or the refusal.
    async run(what, call) {
        const name = this.vm.name;
        this.busy = true;
        this.enable();
        this.say(`${what}: ${name}…`, "info");
        try {
            await call();
            this.say(`${what}: done.`, "success");
            return true;
        } catch (ex) {
            this.say(`${what} refused: ${ex.message}`, "danger");
            return false;
        } finally {
            this.busy = false;
            this.enable();
        }
    }

    async attach(kind, prefix, options) {
        const id = $(`${prefix}-id`).value.trim();
        if (await this.run(`Attach ${kind} ${id}`, () => this.model.call(
            this.vm.path, "AttachDevice", [kind, id, options], "ssa{sv}")))
            $(`attach-${kind}`).reset();
    }

    async detach(id) {
        await this.run(`Detach ${id}`, () => this.model.call(this.vm.path, "Detach", [id], "s"));
    }

    async refreshSnapshots() {
        const vm = this.vm;
        $("snapshot-rows").replaceChildren();
        let reply;
        try {
            [reply] = await this.model.call(vm.path, "ListSnapshots", []);
        } catch (ex) {
            $("snapshots-empty").textContent = `ListSnapshots refused: ${ex.message}`;
            $("snapshots-empty").hidden = false;
            return;
        }
        if (this.vm?.path !== vm.path) return; // closed or another VM meanwhile
        const rows = snapshotList(reply).map(s => {
            const tr = element("tr", { class: "pf-v6-c-table__tr", "data-snapshot": s.name });
            tr.append(element("td", { class: "pf-v6-c-table__td", "data-label": "Name" }, s.name),
                      element("td", { class: "pf-v6-c-table__td", "data-label": "Taken" },
                              s.created.toLocaleString()),
                      element("td", { class: "pf-v6-c-table__td", "data-label": "Disks" },
                              s.disks.join(", ")));
            const td = element("td", { class: "pf-v6-c-table__td", "data-label": "Actions" });
            const revert = button("Revert", "revert");
            const remove = button("Delete", "delete-snapshot", true);
            revert.addEventListener("click", () => this.revert(s.name));
            remove.addEventListener("click", () => this.deleteSnapshot(s.name));
            td.append(revert, remove);
            tr.appendChild(td);
            return tr;
        });
        $("snapshot-rows").replaceChildren(...rows);
        $("snapshots-empty").textContent = "No snapshots.";
        $("snapshots-empty").hidden = rows.length !== 0;
        this.enable();
    }

    async takeSnapshot() {
        const name = $("snapshot-name").value.trim();
        if (await this.run(`Snapshot ${name}`, () => this.model.call(
            this.vm.path, "Snapshot", [name, {}], "sa{sv}")))
            $("snapshot-take").reset();
        await this.refreshSnapshots();
    }

    async revert(name) {
        const vm = this.vm;
        const running = vm.state !== "stopped" && vm.state !== "crashed";
        const ok = await this.confirm(`Revert ${vm.name} to ${name}?`,
            `Its disks go back to how they were at ${name}; later snapshots are discarded.` +
            (running ? ` ${vm.name} is ${vm.state}: it is killed, reverted and started again.` : ""),
            "Revert");
        if (!ok) return;
        const options = running ? { force: { t: "b", v: true } } : {};
        await this.run(`Revert to ${name}`, () => this.model.call(
            vm.path, "RevertSnapshot", [name, options], "sa{sv}"));
        await this.refreshSnapshots();
    }

    async deleteSnapshot(name) {
        const ok = await this.confirm(`Delete snapshot ${name}?`,
            `The disks' writes since ${name} are merged into the images under it; ` +
            "it cannot be reverted to afterwards.", "Delete");
        if (!ok) return;
        await this.run(`Delete ${name}`, () => this.model.call(
            this.vm.path, "DeleteSnapshot", [name], "s"));
        await this.refreshSnapshots();
    }

    async migrate() {
        let options;
        try {
            options = migrateOptions({
                bandwidthMiB: $("migrate-bandwidth").value, downtimeMs: $("migrate-downtime").value,
                autoConverge: $("migrate-converge").checked, storage: $("migrate-storage").value,
            });
        } catch (ex) {
            return this.say(ex.message, "danger");
        }
        const destination = $("migrate-destination").value.trim();
        await this.run(`Migrate to ${destination}`, () => this.model.call(
            this.vm.path, "Migrate", [destination, options], "sa{sv}"));
    }

    say(text, kind) {
        const s = $("details-status");
        s.textContent = text;
        s.className = `vm-message pf-v6-c-helper-text__item pf-m-${kind}`;
        s.setAttribute("data-kind", kind);
    }
}
