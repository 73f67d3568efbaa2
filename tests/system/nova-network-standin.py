#!/usr/bin/python3
"""Nova's network API answered without Neutron, for the Nova system test (nova.sh).

Nova 26 has no network service of its own: every compute and API service talks to Neutron.
Servers created with `--nic none` need no port, but Nova still asks Neutron about the instance
(its extensions, the ports bound to it, when it heals its network info cache and on delete).
This answers those questions for a cloud with no networks at all: every list is empty, every
single resource is absent, every change is refused. A production cloud runs Neutron; the corral
driver plugs VIFs of type "bridge" (Linux bridge agent), see nova/README.md.

    nova-network-standin.py PORT       serve on 127.0.0.1:PORT until killed
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class NoNetworks(BaseHTTPRequestHandler):
    def _reply(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _parts(self):
        path = urlsplit(self.path).path.strip("/")
        return [p.removesuffix(".json") for p in path.split("/") if p]

    def do_GET(self):
        parts = self._parts()
        if not parts:
            self._reply(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
                {"rel": "self", "href": f"http://{self.headers['Host']}/v2.0/"}]}]})
        elif parts == ["v2.0"]:
            self._reply(200, {"resources": []})
        elif len(parts) == 2 and parts[0] == "v2.0":
            self._reply(200, {parts[1]: []})
        else:
            self._absent(parts)

    def _absent(self, parts):
        self._reply(404, {"NeutronError": {
            "type": "NotFound", "detail": "",
            "message": f"{'/'.join(parts)}: no networks in this cloud (no Neutron)"}})

    def do_DELETE(self):
        self._absent(self._parts())

    def _refuse(self):
        self._reply(400, {"NeutronError": {
            "type": "BadRequest", "detail": "",
            "message": "no networks in this cloud (no Neutron): create servers with --nic none"}})

    do_POST = _refuse
    do_PUT = _refuse

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{self.command} {self.path} -> {fmt % args}\n")


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), NoNetworks).serve_forever()


if __name__ == "__main__":
    main()
