// The corral page: the VM table, its actions, the definition editor, a VM's details and the
// serial console, all over cockpit.dbus and cockpit channels to corrald.
import { Model } from "./model.js";
import { VmTable } from "./view.js";
import { SerialConsole } from "./console.js";
import { DefinitionEditor } from "./editor.js";
import { VmDetails } from "./details.js";
import { GraphicalConsole } from "./vnc.js";
import { vncChannelOptions } from "./devices.js";

const $ = id => document.getElementById(id);

function confirmDialog(title, text, ok) {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-body").textContent = text;
    $("confirm-ok").textContent = ok;
    return new Promise(resolve => {
        dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
        dialog.returnValue = "";
        dialog.showModal();
    });
}

function showBusError(text) {
    $("bus-error").hidden = !text;
    $("bus-error-text").textContent = text;
}

// Root and members of group "corral" may call methods (corrald's D-Bus policy); everyone
// else reads.
async function access(readOnlyParts) {
    const user = await cockpit.user();
    const allowed = user.id === 0 || (user.groups ?? []).includes("corral");
    for (const part of readOnlyParts) part.setReadOnly(!allowed);
    for (const b of document.querySelectorAll("button.vm-create")) b.disabled = !allowed;
    $("access").hidden = allowed;
    $("access-text").textContent = allowed
        ? ""
        : `Read-only: ${user.name} is neither root nor in group "corral", which corrald's ` +
          "D-Bus policy requires for starting, stopping or changing a VM.";
}

function main() {
    const serial = new SerialConsole($("terminal"), $("console-status"));
    const graphical = new GraphicalConsole($("vnc-screen"), $("vnc-status"));
    let model = null;
    let editor = null;
    let details = null;
    const table = new VmTable($("vm-rows"), {
        run: (vm, action, args) => model.call(vm.path, action.method, args, action.signature),
        confirm: text => confirmDialog("Kill the VM?", text, "Kill"),
        edit: vm => editor.edit(vm),
        details: vm => details.open(vm),
        vnc: vm => {
            const options = vncChannelOptions(vm.instance.Display);
            if (!options) return;
            $("vnc-section").hidden = false;
            $("vnc-title").textContent = `Graphical console: ${vm.name}`;
            graphical.open(vm.name, options);
        },
        console: vm => {
            $("console-section").hidden = false;
            $("console-title").textContent = `Serial console: ${vm.name}`;
            serial.open(vm.name, vm.instance.SerialSocket);
        },
    });
    const render = () => {
        const vms = model.list();
        table.update(vms);
        if (details.vm) {
            const shown = vms.find(vm => vm.path === details.vm.path);
            if (shown) details.update(shown);
            else details.close();
        }
        $("vms").hidden = vms.length === 0;
        $("empty").hidden = vms.length !== 0 || model.running !== true;
    };
    model = new Model(render, showBusError);
    details = new VmDetails(model, confirmDialog);
    editor = new DefinitionEditor(model, sentence => { $("page-status").textContent = sentence; });
    for (const b of document.querySelectorAll("button.vm-create"))
        b.addEventListener("click", () => editor.create());
    $("vnc-close").addEventListener("click", () => {
        graphical.close();
        $("vnc-section").hidden = true;
    });
    $("console-close").addEventListener("click", () => {
        serial.close();
        $("console-section").hidden = true;
    });
    access([table, details]).catch(ex => showBusError(`Cannot tell who is logged in: ${ex.message}`));
    model.ready.then(render).catch(ex => {
        if ($("bus-error").hidden) showBusError(`corrald is not reachable: ${cockpit.message(ex)}`);
    });
}

// noVNC awaits at its module's top level, so this module may run after DOMContentLoaded.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
else main();
