#!/bin/bash
# Configures and starts Debian 12's OpenStack control plane in the booted Nova rig (nova.sh
# runs it inside the container): mariadb with the services' databases, rabbitmq, keystone
# (bootstrap, service users, endpoints on 127.0.0.1), glance (file store), placement, nova
# (api, conductor, scheduler, cell0 and cell1) and nova-compute with the corral driver, plus
# the network API stand-in (no Neutron). Each phase prints its time.
#
#   nova-configure.sh      (inside the container, as root)
set -euo pipefail

PW=corral-rig
DB="mysql+pymysql://openstack:$PW@127.0.0.1"
KS=http://127.0.0.1:5000/v3
# Debian's packaged configs say regionOne.
REGION=regionOne
TRANSPORT="rabbit://guest:guest@127.0.0.1:5672/"

t0=$(date +%s%N)
phase() { echo "[nova-configure $(date +%T) +$((($(date +%s%N) - t0) / 1000000)) ms] $*"; }
die() {
    echo "nova-configure: FAILED: $*" >&2
    exit 1
}
# wait_until SECONDS WHAT COMMAND...: poll COMMAND every 200 ms, bounded.
wait_until() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || die "timed out after ${limit}s waiting for $what"
        sleep 0.2
    done
}
# ini FILE SECTION KEY VALUE: set one option (crudini-like, no extra package).
ini() {
    /usr/bin/python3 - "$@" <<'EOF'
import configparser, sys
path, section, key, value = sys.argv[1:5]
cp = configparser.RawConfigParser(strict=False, interpolation=None)
cp.optionxform = str
cp.read(path)
if section != "DEFAULT" and not cp.has_section(section):
    cp.add_section(section)
cp.set(section, key, value)
with open(path, "w") as f:
    cp.write(f)
EOF
}
# authtoken FILE USER: the [keystone_authtoken] of a service.
authtoken() {
    local f=$1 user=$2
    ini "$f" keystone_authtoken www_authenticate_uri "$KS"
    ini "$f" keystone_authtoken auth_url "$KS"
    ini "$f" keystone_authtoken auth_type password
    ini "$f" keystone_authtoken project_domain_name Default
    ini "$f" keystone_authtoken user_domain_name Default
    ini "$f" keystone_authtoken project_name service
    ini "$f" keystone_authtoken username "$user"
    ini "$f" keystone_authtoken password "$PW"
    ini "$f" keystone_authtoken region_name "$REGION"
}
# client FILE SECTION USER: keystone credentials of a service calling another one.
client() {
    local f=$1 s=$2 user=$3
    ini "$f" "$s" auth_url "$KS"
    ini "$f" "$s" auth_type password
    ini "$f" "$s" project_domain_name Default
    ini "$f" "$s" user_domain_name Default
    ini "$f" "$s" project_name service
    ini "$f" "$s" username "$user"
    ini "$f" "$s" password "$PW"
    ini "$f" "$s" region_name "$REGION"
}
as() { su -s /bin/sh -c "$2" "$1"; }
answers() { curl -sf -o /dev/null "$1"; }

# --- the API services' uwsgi: packaged for a big host (8 processes of 32 threads each, and
# AppArmor profiles a container cannot load); one process of 4 threads serves a test.
phase "uwsgi trimmed"
for f in /etc/keystone/keystone-uwsgi.ini /etc/glance/glance-api-uwsgi.ini \
    /etc/placement/placement-api-uwsgi.ini /etc/nova/nova-api-uwsgi.ini; do
    [ -f "$f" ] || die "$f missing"
    sed -i -e 's/^processes = .*/processes = 1/' -e 's/^threads = .*/threads = 4/' \
        -e 's/^plugins = python3,apparmor/plugins = python3/' -e '/^apparmor-profile/d' "$f"
done

# --- databases and the message bus
phase "mariadb, rabbitmq"
systemctl start mariadb rabbitmq-server
mysql <<SQL
CREATE DATABASE IF NOT EXISTS keystone; CREATE DATABASE IF NOT EXISTS glance;
CREATE DATABASE IF NOT EXISTS placement; CREATE DATABASE IF NOT EXISTS nova_api;
CREATE DATABASE IF NOT EXISTS nova; CREATE DATABASE IF NOT EXISTS nova_cell0;
CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY '$PW';
GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1';
SQL

# --- keystone
phase "keystone"
f=/etc/keystone/keystone.conf
ini $f database connection "$DB/keystone"
ini $f token provider fernet
# keystone-manage and nova-manage talk a lot; their output goes to the log, shown on failure.
quiet() { "$@" >>/var/log/nova-configure.log 2>&1 || { tail -n 30 /var/log/nova-configure.log; die "$*"; }; }
quiet as keystone "keystone-manage db_sync"
quiet keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
quiet keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
quiet keystone-manage bootstrap --bootstrap-password "$PW" --bootstrap-admin-url "$KS" \
    --bootstrap-internal-url "$KS" --bootstrap-public-url "$KS" --bootstrap-region-id "$REGION"
systemctl start keystone
wait_until 120 "keystone on :5000" answers "$KS"
cat >/root/admin-openrc <<EOF
export OS_AUTH_URL=$KS OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=$REGION
export OS_USERNAME=admin OS_PASSWORD=$PW OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
EOF
# shellcheck disable=SC1091
. /root/admin-openrc
# One client process for all of keystone's objects: each `openstack` start costs seconds here.
quiet openstack <<EOF
project create --domain default service
user create --domain default --password $PW glance
user create --domain default --password $PW placement
user create --domain default --password $PW nova
role add --project service --user glance admin
role add --project service --user placement admin
role add --project service --user nova admin
service create --name glance image
service create --name placement placement
service create --name nova compute
service create --name neutron network
endpoint create --region $REGION image public http://127.0.0.1:9292
endpoint create --region $REGION image internal http://127.0.0.1:9292
endpoint create --region $REGION placement public http://127.0.0.1:8778
endpoint create --region $REGION placement internal http://127.0.0.1:8778
endpoint create --region $REGION compute public http://127.0.0.1:8774/v2.1
endpoint create --region $REGION compute internal http://127.0.0.1:8774/v2.1
endpoint create --region $REGION network public http://127.0.0.1:9696
endpoint create --region $REGION network internal http://127.0.0.1:9696
EOF
openstack user show nova >/dev/null || die "keystone objects not created"

# --- glance, placement
phase "glance, placement"
f=/etc/glance/glance-api.conf
ini $f database connection "$DB/glance"
authtoken $f glance
ini $f paste_deploy flavor keystone
ini $f DEFAULT enabled_backends "file:file"
ini $f glance_store default_backend file
ini $f file filesystem_store_datadir /var/lib/glance/images/
quiet as glance "glance-manage db_sync"
f=/etc/placement/placement.conf
ini $f placement_database connection "$DB/placement"
ini $f api auth_strategy keystone
authtoken $f placement
quiet as placement "placement-manage db sync"
systemctl start glance-api placement-api

# --- nova
phase "nova databases"
f=/etc/nova/nova.conf
ini $f DEFAULT transport_url "$TRANSPORT"
ini $f DEFAULT my_ip 127.0.0.1
ini $f DEFAULT state_path /var/lib/nova
ini $f DEFAULT instances_path /var/lib/nova/instances
ini $f api_database connection "$DB/nova_api"
ini $f database connection "$DB/nova"
ini $f api auth_strategy keystone
authtoken $f nova
ini $f service_user send_service_user_token false
client $f placement placement
client $f neutron nova
ini $f neutron endpoint_override http://127.0.0.1:9696
ini $f glance api_servers http://127.0.0.1:9292
ini $f vnc enabled false
ini $f oslo_concurrency lock_path /var/lib/nova/tmp
ini $f scheduler discover_hosts_in_cells_interval -1
# The compute service reports (and is seen alive) quickly; the tests wait on it.
ini $f DEFAULT report_interval 5
ini $f DEFAULT service_down_time 30
# Nova's clean shutdown of `server stop` (corrald escalates within it); packaged: 60 s.
ini $f DEFAULT shutdown_timeout 10
ini $f corral accel tcg
ini $f corral machine_type pc
quiet as nova "nova-manage api_db sync"
quiet as nova "nova-manage cell_v2 map_cell0"
quiet as nova "nova-manage cell_v2 create_cell --name=cell1"
quiet as nova "nova-manage db sync"

phase "nova services"
systemctl start network-standin nova-api nova-conductor nova-scheduler corrald nova-compute
wait_until 120 "placement on :8778" answers http://127.0.0.1:8778/
wait_until 120 "glance on :9292" answers http://127.0.0.1:9292/
wait_until 120 "nova-api on :8774" answers http://127.0.0.1:8774/
computeUp() { openstack compute service list --service nova-compute -f value -c State | grep -x up >/dev/null; }
wait_until 180 "nova-compute up" computeUp
quiet as nova "nova-manage cell_v2 discover_hosts"
phase "ready"
