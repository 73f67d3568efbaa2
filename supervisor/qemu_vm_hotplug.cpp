// QemuVm: hotplug of disks and NICs, delegated to hypervisor/ once its Hotplug API exists.
#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace {

OpError notAvailable() {
    return {ErrorKind::Failed, "Hotplug is not available in this build of corrald."};
}

}  // namespace

void QemuVm::attachDisk(std::string, std::string, bool, Reply<std::string> reply) {
    if (auto error = instance_.checkUsable()) return reply(*error);
    reply(notAvailable());
}

void QemuVm::attachNic(std::string, NicOptions, Reply<std::string> reply) {
    if (auto error = instance_.checkUsable()) return reply(*error);
    reply(notAvailable());
}

void QemuVm::detach(std::string, Done done) {
    if (auto error = instance_.checkUsable()) return done(*error);
    done(notAvailable());
}

}  // namespace corral::supervisor
