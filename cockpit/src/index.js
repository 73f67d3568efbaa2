// The corral page: the VM table, its actions and the serial console, all over cockpit.dbus
// and cockpit channels to corrald.
import { Model } from "./model.js";
import { VmTable } from "./view.js";
import { SerialConsole } from "./console.js";

const $ = id => document.getElementById(id);

function confirmDialog(text) {
    const dialog = $("confirm");
    $("confirm-title").textContent = "Kill the VM?";
    $("confirm-body").textContent = text;
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
async function access(table) {
    const user = await cockpit.user();
    const allowed = user.id === 0 || (user.groups ?? []).includes("corral");
    table.setReadOnly(!allowed);
    $("access").hidden = allowed;
    $("access-text").textContent = allowed
        ? ""
        : `Read-only: ${user.name} is neither root nor in group "corral", which corrald's ` +
          "D-Bus policy requires for starting, stopping or changing a VM.";
}

function main() {
    const serial = new SerialConsole($("terminal"), $("console-status"));
    let model = null;
    const table = new VmTable($("vm-rows"), {
        run: (vm, action, args) => model.call(vm.path, action.method, args, action.signature),
        confirm: confirmDialog,
        console: vm => {
            $("console-section").hidden = false;
            $("console-title").textContent = `Serial console: ${vm.name}`;
            serial.open(vm.name, vm.instance.SerialSocket);
        },
    });
    const render = () => {
        const vms = model.list();
        table.update(vms);
        $("vms").hidden = vms.length === 0;
        $("empty").hidden = vms.length !== 0 || model.running !== true;
    };
    model = new Model(render, showBusError);
    $("console-close").addEventListener("click", () => {
        serial.close();
        $("console-section").hidden = true;
    });
    access(table).catch(ex => showBusError(`Cannot tell who is logged in: ${ex.message}`));
    model.ready.then(render).catch(ex => {
        if ($("bus-error").hidden) showBusError(`corrald is not reachable: ${cockpit.message(ex)}`);
    });
}

document.addEventListener("DOMContentLoaded", main);
