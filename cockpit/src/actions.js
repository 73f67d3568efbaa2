// The per-VM actions: which D-Bus method each button calls, with what arguments. A kind of
// action is a row here; the view builds its buttons from this table.

export const kActions = [
    { id: "start", label: "Start", method: "Start" },
    { id: "shutdown", label: "Shut down", method: "Shutdown", signature: "t", timeout: true },
    { id: "reboot", label: "Reboot", method: "Reboot" },
    { id: "reset", label: "Reset", method: "Reset" },
    { id: "pause", label: "Pause", method: "Pause" },
    { id: "resume", label: "Resume", method: "Resume" },
    { id: "kill", label: "Kill", method: "Kill", danger: true, confirm: true },
];

// The arguments of ACTION given the shutdown timeout field's text (seconds; empty = the
// instance's default). Throws a sentence for a timeout that is not a whole number >= 0.
export function actionArgs(action, timeoutText) {
    if (!action.timeout) return [];
    const text = (timeoutText ?? "").trim();
    if (text === "") return [0];
    if (!/^[0-9]+$/.test(text))
        throw new Error(`shutdown timeout "${text}" is not a whole number of seconds`);
    return [Number(text) * 1e6];
}
