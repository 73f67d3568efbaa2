// QemuVm and live migration: the destination's hand-over of an arrived qemu.
#include "supervisor/qemu_vm.hpp"

#include "supervisor/migration_marker.hpp"

namespace corral::supervisor {

boost::asio::awaitable<void> QemuVm::adoptIncoming(std::unique_ptr<ProcessHandle> process,
                                                   hypervisor::RuntimeState state) {
    track(std::move(process), std::move(state));
    running_->persist();
    co_await takeOverTracked();
}

void QemuVm::clearMigrated() {
    removeMigratedMarker(context_.stateRoot, name_);
    instance_.setMigratedTo({});
}

}  // namespace corral::supervisor
