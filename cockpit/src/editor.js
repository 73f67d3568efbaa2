// The definition editor: one dialog for Create (Manager.Define) and Edit (GetDefinition, then
// Instance.Update). The loader's refusals are listed by line and the first one selected in
// the text; the dialog stays open with the text as typed until corrald takes it.
import { definitionTemplate, formatDiagnostic, lineRange, nameProblem, parseDiagnostics }
    from "./definition.js";

const $ = id => document.getElementById(id);

export class DefinitionEditor {
    // model: the Model (callManager, call); onDone(sentence): what was done, for the page.
    constructor(model, onDone) {
        this.model = model;
        this.onDone = onDone;
        this.dialog = $("editor");
        this.vm = null; // null: Create; else the VM being edited
        $("editor-form").addEventListener("submit", ev => {
            ev.preventDefault();
            this.save();
        });
        $("editor-cancel").addEventListener("click", () => this.dialog.close());
    }

    create() {
        this.vm = null;
        $("editor-title").textContent = "Create VM";
        $("editor-name").value = "";
        $("editor-name").disabled = false;
        $("editor-text").value = definitionTemplate();
        this.show([]);
        this.dialog.showModal();
        $("editor-name").focus();
    }

    async edit(vm) {
        this.vm = vm;
        $("editor-title").textContent = `Edit ${vm.name}`;
        $("editor-name").value = vm.name;
        $("editor-name").disabled = true;
        $("editor-text").value = "";
        this.show([], `Reading ${vm.name}'s definition…`);
        this.dialog.showModal();
        try {
            const [text] = await this.model.call(vm.path, "GetDefinition", []);
            $("editor-text").value = text;
            this.show([]);
            $("editor-text").focus();
        } catch (ex) {
            this.show([], `GetDefinition refused: ${ex.message}`);
        }
    }

    async save() {
        const name = $("editor-name").value.trim();
        const text = $("editor-text").value;
        const problem = this.vm ? "" : nameProblem(name);
        if (problem) return this.show([], problem);
        $("editor-save").disabled = true;
        this.show([], this.vm ? `Updating ${name}…` : `Defining ${name}…`);
        try {
            if (this.vm) {
                const [pending] = await this.model.call(this.vm.path, "Update", [text], "s");
                this.onDone(pending.length
                    ? `${name} updated; its running qemu keeps the old values until it is ` +
                      `started again: ${pending.join(", ")}.`
                    : `${name} updated.`);
            } else {
                await this.model.callManager("Define", [name, text, {}], "ssa{sv}");
                this.onDone(`${name} defined.`);
            }
            this.dialog.close();
        } catch (ex) {
            const invalid = ex.name === "org.corral1.Error.InvalidDefinition";
            const diagnostics = invalid ? parseDiagnostics(ex.message) : [];
            this.show(diagnostics, invalid ? "" : `${this.vm ? "Update" : "Define"} refused: ${ex.message}`);
            if (diagnostics.length) this.select(diagnostics[0].line);
        } finally {
            $("editor-save").disabled = false;
        }
    }

    // The diagnostics as a list, each naming its line; SENTENCE above them.
    show(diagnostics, sentence = "") {
        const list = $("editor-errors");
        list.replaceChildren(...diagnostics.map(d => {
            const li = document.createElement("li");
            li.textContent = formatDiagnostic(d);
            li.setAttribute("data-line", String(d.line));
            if (d.line) li.addEventListener("click", () => this.select(d.line));
            return li;
        }));
        list.hidden = diagnostics.length === 0;
        $("editor-status").textContent = sentence;
        $("editor-status").hidden = !sentence;
    }

    select(line) {
        const area = $("editor-text");
        const range = lineRange(area.value, line);
        if (!range) return;
        area.focus();
        area.setSelectionRange(range.start, range.end);
    }
}
