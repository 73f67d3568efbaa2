// The graphical console of one VM in the page: noVNC's RFB client over a cockpit stream
// channel to the VNC server corrald publishes in the instance's Display property (a unix
// socket, or an address and port). RFB takes any object shaped like a WebSocket; ChannelSocket
// is that shape around a cockpit channel, so no websocket proxy is needed on the host.
import RFB from "@novnc/novnc";
// noVNC's logger (not in its package exports): every failure is told in the page's status line
// instead, so that a refused console is no error in the browser's console.
import { initLogging } from "../node_modules/@novnc/novnc/core/util/logging.js";

initLogging("none");

// The WebSocket fields noVNC's Websock checks for, over a cockpit channel.
class ChannelSocket {
    constructor(options) {
        this.binaryType = "arraybuffer";
        this.protocol = "";
        this.readyState = "connecting";
        this.onopen = null;
        this.onmessage = null;
        this.onclose = null;
        this.onerror = null;
        this.problem = "";
        this.channel = cockpit.channel(options);
        this.channel.addEventListener("ready", () => {
            this.readyState = "open";
            if (this.onopen) this.onopen();
        });
        this.channel.addEventListener("message", (ev, data) => {
            if (this.onmessage) this.onmessage({ data });
        });
        this.channel.addEventListener("close", (ev, options) => {
            this.readyState = "closed";
            this.problem = options.problem ? (options.message || options.problem) : "";
            if (this.problem && this.onerror) this.onerror(new Error(this.problem));
            if (this.onclose) this.onclose({ code: this.problem ? 1006 : 1000, reason: this.problem, wasClean: !this.problem });
        });
        // Methods as own properties: Websock looks for them on the object.
        this.send = data => this.channel.send(data.slice()); // a copy: noVNC sends a view of its queue
        this.close = () => {
            if (this.readyState === "closed") return;
            this.readyState = "closing";
            this.channel.close();
        };
    }
}

export class GraphicalConsole {
    constructor(element, statusElement) {
        this.element = element;
        this.status = statusElement;
        this.rfb = null;
        this.socket = null;
    }

    open(name, options) {
        this.close();
        this.status.textContent = `Connecting to ${name}'s graphical console…`;
        const socket = new ChannelSocket(options);
        const rfb = new RFB(this.element, socket, { shared: true });
        rfb.scaleViewport = true;
        rfb.resizeSession = false;
        this.socket = socket;
        this.rfb = rfb;
        rfb.addEventListener("connect", () => {
            this.status.textContent = `Connected to ${name}'s graphical console.`;
            this.element.setAttribute("data-connected", "true");
        });
        rfb.addEventListener("disconnect", ev => {
            if (this.rfb !== rfb) return;
            this.element.removeAttribute("data-connected");
            this.status.textContent = socket.problem
                ? `The graphical console of ${name} refused: ${socket.problem}`
                : ev.detail.clean ? `${name}'s graphical console closed.`
                    : `${name}'s graphical console was disconnected.`;
            this.rfb = null;
        });
        rfb.addEventListener("credentialsrequired", () => {
            this.status.textContent = `${name}'s VNC server asks for a password, which this page ` +
                                      "does not send; use corralctl vnc.";
            rfb.disconnect();
        });
    }

    close() {
        if (this.rfb) {
            const rfb = this.rfb;
            this.rfb = null;
            rfb.disconnect();
        }
        this.element.removeAttribute("data-connected");
        this.element.replaceChildren();
    }
}
