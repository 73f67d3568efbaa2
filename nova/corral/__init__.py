"""corral as an OpenStack Nova compute driver.

nova-compute loads it with ``[DEFAULT] compute_driver = corral.CorralDriver``: Nova imports
``nova.virt.corral`` and takes ``CorralDriver`` from it. Every decision about QEMU stays in
corrald; this package only turns Nova's calls into corrald's D-Bus API (``org.corral1``).
"""

from nova.virt.corral.driver import CorralDriver

__all__ = ["CorralDriver"]
