"""What the host has: CPUs, memory, disk, uptime (read from the kernel, no bus)."""

import collections
import os
import platform

from oslo_concurrency import processutils
from oslo_utils import units

DiskGb = collections.namedtuple("DiskGb", "total used free")


def memory_mb(meminfo="/proc/meminfo"):
    with open(meminfo) as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError(f"{meminfo} has no MemTotal line")


def disk_gb(path):
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize // units.Gi
    free = st.f_bavail * st.f_frsize // units.Gi
    return DiskGb(total=total, used=total - free, free=free)


def cpu_info(cpuinfo="/proc/cpuinfo"):
    """The host CPU as Nova's cpu_info JSON describes it."""
    model = vendor = ""
    flags = []
    with open(cpuinfo) as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key == "vendor_id" and not vendor:
                vendor = value.strip()
            elif key == "flags" and not flags:
                flags = value.split()
    return {"arch": platform.machine(), "model": model, "vendor": vendor,
            "features": sorted(flags),
            "topology": {"sockets": 1, "cores": os.cpu_count(), "threads": 1}}


def uptime_text():
    """What `uptime` prints, as the libvirt driver returns it."""
    out, _ = processutils.execute("env", "LANG=C", "uptime")
    return out
