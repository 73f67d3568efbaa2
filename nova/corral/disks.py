"""Instance disks: Glance images cached once per image, a qcow2 overlay per instance.

    <instances_path>/_base/<sha1 of the image id>    the image as Nova fetched it (raw)
    <instances_path>/<uuid>/disk                     qcow2 overlay on it, the flavor's root size
    <instances_path>/<uuid>/disk.config              the config drive, when Nova asks for one
    <instances_path>/locks/                          one lock file per image being fetched

Fetching and the safety checks on the image (format inspection, no backing or data file) are
Nova's own (nova.virt.images.fetch_to_raw), so a Glance image is judged here exactly as the
libvirt driver judges it.
"""

import hashlib
import json
import os
import shutil

from oslo_concurrency import lockutils, processutils
from oslo_utils import units

from nova.virt import images


def base_dir(instances_path):
    return os.path.join(instances_path, "_base")


def instance_dir(instances_path, uuid):
    return os.path.join(instances_path, uuid)


def root_disk_path(instances_path, uuid):
    return os.path.join(instance_dir(instances_path, uuid), "disk")


def config_drive_path(instances_path, uuid):
    return os.path.join(instance_dir(instances_path, uuid), "disk.config")


def cached_image(context, instances_path, image_id, fetch=images.fetch_to_raw):
    """The path of the cached raw copy of Glance image image_id, fetched on first use."""
    base = base_dir(instances_path)
    os.makedirs(base, mode=0o755, exist_ok=True)
    path = os.path.join(base, hashlib.sha1(image_id.encode()).hexdigest())

    locks = os.path.join(instances_path, "locks")  # not _base/: a lock file is not an image
    os.makedirs(locks, mode=0o755, exist_ok=True)

    @lockutils.synchronized(os.path.basename(path), external=True, lock_path=locks)
    def _fetch():
        if not os.path.exists(path):
            fetch(context, image_id, path)

    _fetch()
    return path


def virtual_size(path):
    out, _ = processutils.execute("qemu-img", "info", "--output=json", "-U", path)
    return int(json.loads(out)["virtual-size"])


def create_root_disk(instances_path, uuid, base, root_gb):
    """A qcow2 overlay on base, grown to root_gb GiB (0: the image's own size); its path."""
    directory = instance_dir(instances_path, uuid)
    os.makedirs(directory, mode=0o750, exist_ok=True)
    path = root_disk_path(instances_path, uuid)
    size = max(root_gb * units.Gi, virtual_size(base))
    processutils.execute("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base,
                         path, str(size))
    return path


def remove_instance_files(instances_path, uuid):
    """Remove the instance's directory (its overlay and config drive); True if it was there."""
    directory = instance_dir(instances_path, uuid)
    if not os.path.isdir(directory):
        return False
    shutil.rmtree(directory)
    return True
