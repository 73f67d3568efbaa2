// The VM table: one row per instance, built once and updated in place, so that focus, a
// typed shutdown timeout and an action's message survive every PropertiesChanged.
import { kActions, actionArgs } from "./actions.js";
import { formatBytes, formatPercent, formatUptime } from "./format.js";
import { vncChannelOptions } from "./devices.js";
import { element } from "./dom.js";

function cell(label) {
    return element("td", { class: "pf-v6-c-table__td", "data-label": label });
}

export class VmTable {
    // handlers: { run(vm, action, args) -> Promise, confirm(text) -> Promise<bool>,
    //             console(vm), edit(vm), details(vm), vnc(vm) }
    constructor(tbody, handlers) {
        this.tbody = tbody;
        this.handlers = handlers;
        this.rows = new Map(); // path -> row parts
        this.readOnly = true;
    }

    setReadOnly(readOnly) {
        this.readOnly = readOnly;
        for (const row of this.rows.values())
            for (const b of row.buttons) b.disabled = readOnly || row.busy;
    }

    update(vms) {
        const seen = new Set();
        for (const vm of vms) {
            seen.add(vm.path);
            let row = this.rows.get(vm.path);
            if (!row) {
                row = this.build(vm);
                this.rows.set(vm.path, row);
            }
            this.fill(row, vm);
            this.tbody.appendChild(row.tr); // keeps the order sorted by name
        }
        for (const [path, row] of this.rows) {
            if (!seen.has(path)) {
                row.tr.remove();
                this.rows.delete(path);
            }
        }
    }

    build(vm) {
        const tr = element("tr", { class: "pf-v6-c-table__tr", "data-vm": vm.name });
        const row = { tr, vm, busy: false, buttons: [] };
        const name = cell("Name");
        const consoleLink = element("button", {
            type: "button", class: "pf-v6-c-button pf-m-link pf-m-inline vm-name",
            "aria-label": `Serial console of ${vm.name}`
        }, vm.name);
        consoleLink.addEventListener("click", () => this.handlers.console(row.vm));
        name.appendChild(consoleLink);
        row.state = cell("State");
        row.cpu = cell("CPU");
        row.memory = cell("Memory");
        row.uptime = cell("Uptime");
        row.agent = cell("Agent");
        const actions = cell("Actions");
        const box = element("div", { class: "vm-actions" });
        const details = element("button", {
            type: "button", class: "pf-v6-c-button pf-m-small pf-m-secondary",
            "data-action": "details"
        }, "Details");
        details.addEventListener("click", () => this.handlers.details(row.vm));
        box.appendChild(details); // reading: enabled for everyone
        row.vnc = element("button", {
            type: "button", class: "pf-v6-c-button pf-m-small pf-m-secondary", "data-action": "vnc"
        }, "Graphical console");
        row.vnc.addEventListener("click", () => this.handlers.vnc(row.vm));
        box.appendChild(row.vnc); // as the serial console: corrald's socket decides who may
        const edit = element("button", {
            type: "button", class: "pf-v6-c-button pf-m-small pf-m-secondary", "data-action": "edit"
        }, "Edit");
        edit.addEventListener("click", () => this.handlers.edit(row.vm));
        row.buttons.push(edit);
        box.appendChild(edit);
        for (const action of kActions) {
            if (action.timeout) {
                row.timeout = element("input", {
                    type: "text", inputmode: "numeric", class: "pf-v6-c-form-control",
                    "aria-label": `Shutdown timeout of ${vm.name} in seconds`,
                    placeholder: "timeout s", "data-action": "shutdown-timeout"
                });
                box.appendChild(row.timeout);
            }
            const b = element("button", {
                type: "button", "data-action": action.id,
                class: `pf-v6-c-button pf-m-small ${action.danger ? "pf-m-danger" : "pf-m-secondary"}`
            }, action.label);
            b.addEventListener("click", () => this.act(row, action));
            row.buttons.push(b);
            box.appendChild(b);
        }
        row.message = element("div", { class: "vm-message", role: "status", "data-role": "message" });
        actions.append(box, row.message);
        tr.append(name, row.state, row.cpu, row.memory, row.uptime, row.agent, actions);
        for (const b of row.buttons) b.disabled = this.readOnly;
        return row;
    }

    fill(row, vm) {
        row.vm = vm;
        const s = vm.stats;
        row.state.textContent = vm.state;
        row.cpu.textContent = vm.state === "running" ? formatPercent(vm.cpu) : "—";
        row.memory.textContent = formatBytes(s && s.MemoryBytes);
        row.uptime.textContent = formatUptime(s && s.UptimeUsec);
        row.agent.textContent = vm.instance.AgentConnected ? "connected" : "not connected";
        row.vnc.hidden = vncChannelOptions(vm.instance.Display) === null;
    }

    async act(row, action) {
        const vm = row.vm;
        let args;
        try {
            args = actionArgs(action, row.timeout && row.timeout.value);
        } catch (ex) {
            this.say(row, ex.message, "danger");
            return;
        }
        if (action.confirm) {
            const ok = await this.handlers.confirm(
                `Kill ${vm.name}? Its qemu is ended at once, as pulling the power cable.`);
            if (!ok) return;
        }
        this.setBusy(row, true);
        this.say(row, `${action.label}: ${vm.name}…`, "info");
        try {
            await this.handlers.run(vm, action, args);
            this.say(row, `${action.label}: done.`, "success");
        } catch (ex) {
            this.say(row, `${action.label} refused: ${ex.message}`, "danger");
        } finally {
            this.setBusy(row, false);
        }
    }

    setBusy(row, busy) {
        row.busy = busy;
        for (const b of row.buttons) b.disabled = busy || this.readOnly;
    }

    say(row, text, kind) {
        row.message.textContent = text;
        row.message.className = `vm-message pf-v6-c-helper-text__item pf-m-${kind}`;
        row.message.setAttribute("data-kind", kind);
    }
}
