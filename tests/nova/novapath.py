"""Makes this tree's driver importable as nova.virt.corral next to Debian's Nova.

Nova loads compute drivers from the nova.virt package; the package installs the driver there
(/usr/lib/python3/dist-packages/nova/virt/corral). The tests put the source tree's nova/
(whose corral/ is the driver) on that package's path instead, so they run Debian's real Nova with the driver from the source tree.
"""

import os

import nova.virt

TREE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nova")
TREE = os.path.normpath(TREE)
if TREE not in nova.virt.__path__:
    nova.virt.__path__.insert(0, TREE)
