// Pure helpers of the definition editor (no DOM, no D-Bus): the text a new VM starts from,
// and the loader's diagnostics taken apart so that the editor can show each at its line.

// The instance name rule of Manager.Define.
const kNameRule = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

// A sentence for a name Define would refuse, or "" for a good one.
export function nameProblem(name) {
    if (name === "") return "Give the VM a name.";
    if (!kNameRule.test(name))
        return `"${name}" is not a VM name: a letter or digit, then up to 62 of ` +
               "letters, digits, \"_\", \".\" and \"-\".";
    return "";
}

// The text the Create dialog opens with: every key a VM needs, the ones to fill in marked.
export function definitionTemplate() {
    return [
        "[machine]",
        "type = \"q35\"",
        "cpus = 1",
        "memory = \"1G\"",
        "",
        "# A disk image to boot from (qemu-img create -f qcow2 FILE 10G) ...",
        "[[disk]]",
        "id = \"root\"",
        "path = \"/var/lib/corral/images/NAME.qcow2\"",
        "format = \"qcow2\"",
        "",
        "# ... or a kernel and initrd:",
        "# [boot]",
        "# kernel = \"/var/lib/corral/images/vmlinuz\"",
        "# initrd = \"/var/lib/corral/images/initrd.img\"",
        "# cmdline = \"console=ttyS0\"",
        "",
        "[[nic]]",
        "id = \"net0\"",
        "mode = \"user\"",
        "",
    ].join("\n");
}

// The loader's message (one "FILE:LINE:COL: error: sentence" per line) as
// [{ line, column, text }]; a line of another shape keeps line 0 and its whole text.
export function parseDiagnostics(message) {
    return String(message ?? "")
            .split("\n")
            .filter(l => l.trim() !== "")
            .map(l => {
                const m = /^.*?:(\d+):(\d+): (?:error: )?(.*)$/.exec(l);
                return m ? { line: Number(m[1]), column: Number(m[2]), text: m[3] }
                    : { line: 0, column: 0, text: l };
            });
}

// One diagnostic as the editor lists it.
export function formatDiagnostic(d) {
    return d.line ? `line ${d.line}, column ${d.column}: ${d.text}` : d.text;
}

// The character offsets of LINE (1-based) in TEXT: where the editor selects it.
export function lineRange(text, line) {
    const lines = text.split("\n");
    if (line < 1 || line > lines.length) return null;
    let start = 0;
    for (let i = 0; i < line - 1; i++) start += lines[i].length + 1;
    return { start, end: start + lines[line - 1].length };
}
