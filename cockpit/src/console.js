// The serial console of one VM in the page: xterm.js over a cockpit stream channel to the
// socket corrald publishes as the instance's SerialSocket property. QEMU's socket takes one
// client at a time, like `corralctl console`.
import { Terminal } from "@xterm/xterm";

export class SerialConsole {
    constructor(element, statusElement) {
        this.element = element;
        this.status = statusElement;
        this.channel = null;
        this.term = null;
    }

    open(name, socketPath) {
        this.close();
        this.term = new Terminal({ convertEol: false, rows: 24, cols: 80, scrollback: 2000 });
        this.term.open(this.element);
        this.setStatus(`Connecting to ${name}'s serial console…`);
        const channel = cockpit.channel({ payload: "stream", unix: socketPath, binary: true });
        this.channel = channel;
        const encoder = new TextEncoder();
        channel.addEventListener("ready", () => {
            this.setStatus(`Connected to ${name}'s serial console (${socketPath}).`);
            this.term.focus();
        });
        channel.addEventListener("message", (ev, data) => this.term.write(data));
        channel.addEventListener("close", (ev, options) => {
            if (this.channel !== channel) return;
            this.setStatus(options.problem
                ? `The serial console of ${name} refused: ${options.message || options.problem}`
                : `${name}'s serial console closed.`);
            this.channel = null;
        });
        this.term.onData(text => {
            if (this.channel === channel) channel.send(encoder.encode(text));
        });
    }

    close() {
        if (this.channel) {
            const channel = this.channel;
            this.channel = null;
            channel.close();
        }
        if (this.term) {
            this.term.dispose();
            this.term = null;
        }
    }

    setStatus(text) {
        this.status.textContent = text;
    }
}
