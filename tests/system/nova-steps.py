#!/usr/bin/python3
"""The timed steps of the Nova system test (nova.sh), run inside the rig with Debian's
novaclient: one process per step, so a wait polls Nova's API every 100 ms instead of paying an
`openstack` start per poll, and a step's time is measured in-process.

    nova-steps.py create NAME FLAVOR IMAGE HOST     -> "<id> <instance_name> <ms to ACTIVE>"
    nova-steps.py act ID ACTION STATUS              -> "<ms>"  (stop start reboot-hard pause
                                                                unpause), until STATUS
    nova-steps.py kill ID PID                       -> "<ms>"  SIGKILL PID, until SHUTOFF
    nova-steps.py delete ID                         -> "<ms>"  until Nova no longer has it
Credentials from the OS_* environment (admin-openrc). Every wait is bounded (TIMEOUT below); a
server in ERROR ends the step with its fault.
"""

import os
import signal
import sys
import time

from keystoneauth1 import loading, session
from novaclient import client, exceptions

TIMEOUT = 300


def nova():
    auth = loading.get_plugin_loader("password").load_from_options(
        auth_url=os.environ["OS_AUTH_URL"], username=os.environ["OS_USERNAME"],
        password=os.environ["OS_PASSWORD"], project_name=os.environ["OS_PROJECT_NAME"],
        user_domain_name="Default", project_domain_name="Default")
    return client.Client("2.37", session=session.Session(auth=auth))


def fail(text):
    sys.exit(f"FAILED: {text}")


def wait_status(api, server_id, status, t0):
    """ms from t0 until the server has `status` and no task in progress."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        server = api.servers.get(server_id)
        task = getattr(server, "OS-EXT-STS:task_state", None)
        if server.status == status and task is None:
            return int((time.monotonic() - t0) * 1000)
        if server.status == "ERROR":
            fail(f"server {server_id} went to ERROR: {getattr(server, 'fault', {})}")
        time.sleep(0.1)
    fail(f"server {server_id} not {status} within {TIMEOUT} s "
         f"(status {server.status}, task {task})")


def create(api, name, flavor, image, host):
    flavor_id = api.flavors.find(name=flavor).id
    t0 = time.monotonic()
    server = api.servers.create(name, image, flavor_id, nics="none",
                                availability_zone=f"nova:{host}")
    ms = wait_status(api, server.id, "ACTIVE", t0)
    server = api.servers.get(server.id)
    print(server.id, getattr(server, "OS-EXT-SRV-ATTR:instance_name"), ms)


def act(api, server_id, action, status):
    server = api.servers.get(server_id)
    t0 = time.monotonic()
    if action == "reboot-hard":
        server.reboot(reboot_type="HARD")
    else:
        getattr(server, action)()
    print(wait_status(api, server_id, status, t0))


def kill(api, server_id, pid):
    t0 = time.monotonic()
    os.kill(int(pid), signal.SIGKILL)
    print(wait_status(api, server_id, "SHUTOFF", t0))


def delete(api, server_id):
    t0 = time.monotonic()
    api.servers.delete(server_id)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            server = api.servers.get(server_id)
        except exceptions.NotFound:
            print(int((time.monotonic() - t0) * 1000))
            return
        if server.status == "ERROR":
            fail(f"delete of {server_id}: ERROR {getattr(server, 'fault', {})}")
        time.sleep(0.1)
    fail(f"server {server_id} still there {TIMEOUT} s after delete")


COMMANDS = {"create": (create, 4), "act": (act, 3), "kill": (kill, 2), "delete": (delete, 1)}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS or \
            len(sys.argv) - 2 != COMMANDS[sys.argv[1]][1]:
        sys.exit(__doc__.strip())
    function, _count = COMMANDS[sys.argv[1]]
    function(nova(), *sys.argv[2:])


if __name__ == "__main__":
    main()
