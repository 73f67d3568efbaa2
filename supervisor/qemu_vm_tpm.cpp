// QemuVm: the VM's swtpm at a start and at a reattach (supervisor/swtpm_process.hpp).
#include "hypervisor/confinement.hpp"
#include "hypervisor/tpm.hpp"
#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

std::unique_ptr<SwtpmProcess> QemuVm::startTpm() {
    if (spec_->tpm.type == hypervisor::TpmType::None) return nullptr;
    hypervisor::createRuntimeDir(paths_);
    // The uid the launch that follows gives qemu: nothing runs in between that could take it.
    auto uid = context_.parts.launchUid(*spec_, context_.runtimeRoot);
    auto tpm = SwtpmProcess::start(context_.executor, name_, paths_, context_.stateRoot, uid);
    log(6, "swtpm started (pid " + std::to_string(tpm->pid()) +
               (uid ? ", uid " + std::to_string(*uid) : std::string(", unconfined")) + ")");
    return tpm;
}

std::unique_ptr<SwtpmProcess> QemuVm::adoptTpm(const hypervisor::RuntimeState* qemu) {
    if (!std::filesystem::exists(hypervisor::swtpmPidPath(paths_.dir))) return nullptr;
    std::string why;
    auto uid = qemu ? hypervisor::confinedUid(qemu->argv) : std::nullopt;
    auto tpm = SwtpmProcess::adopt(context_.executor, name_, paths_, context_.stateRoot, uid, why);
    if (tpm)
        log(6, "adopted swtpm (pid " + std::to_string(tpm->pid()) + ")");
    else
        log(4, "swtpm not adopted: " + why + "; the guest's TPM may be gone");
    return tpm;
}

}  // namespace corral::supervisor
