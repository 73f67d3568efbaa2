// RunningQemu: the VNC password, screenshots and the watch on the VM's swtpm. qemu starts with
// password=on, which refuses every VNC client until a password is set; corrald sets it over QMP on
// each new qemu (a start, a restart after a crash) before the vCPUs run. qemu keeps it for its
// lifetime, so a restarted corrald that adopts a running qemu has nothing to redo.
#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

asio::awaitable<Status> RunningQemu::setVncPassword() {
    if (!display_.vnc() || display_.passwordFile.empty()) co_return okStatus();
    std::string password;
    if (auto why = hypervisor::readVncPassword(display_.passwordFile, password))
        co_return OpError{ErrorKind::Failed, name_ + ": display.password_file: " + *why};
    auto json = qmpCommandJson("set_password", {{"protocol", "vnc"}, {"password", password}});
    auto set = co_await life_.guard(qmp_->passthrough(std::move(json)));
    if (!set) co_return OpError{set.error().kind, name_ + ": set_password: " + set.error().message};
    co_return okStatus();
}

asio::awaitable<void> RunningQemu::watchTpm() {
    auto exit = co_await life_.guard(tpm_->waitExit());
    // swtpm also ends because qemu did (--terminate): then this object ends within the grace.
    co_await life_.sleep(std::chrono::seconds(3));
    log(3, "swtpm (pid " + std::to_string(tpm_->pid()) + ") " + exit.describe() +
               " while qemu runs: the guest's TPM no longer answers");
}

void RunningQemu::screenshot(std::string path, Done done) {
    if (display_.vga == hypervisor::VgaModel::None)
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " has no VGA device to take a screenshot of; set [display] "
                                    "type = \"vnc\" or vga = \"std\" and restart it."});
    if (auto error = checkMonitor()) return done(*error);
    life_.run<Unit>(watched(screenshotSteps(std::move(path))), std::move(done),
                    exitedDuring("the screenshot"));
}

}  // namespace corral::supervisor
