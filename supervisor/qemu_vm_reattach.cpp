// QemuVm at daemon start: adopt the qemu a previous corrald left running, or clean up after it.
#include <algorithm>

#include "hypervisor/launch.hpp"
#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// corrald killed between spawning qemu and writing state.json leaves a qemu that only its own
// pidfile points to. Its command line names this runtime dir's pidfile, so it is ours; it never
// left prelaunch (launch continues it only after state.json exists).
std::optional<hypervisor::RuntimeState> QemuVm::findUnrecorded() const {
    auto pid = hypervisor::readPidFile(paths_);
    if (!pid) return std::nullopt;
    auto argv = context_.parts.cmdline(*pid);
    if (!argv || std::find(argv->begin(), argv->end(), paths_.pidFile.string()) == argv->end())
        return std::nullopt;
    hypervisor::RuntimeState state;
    state.argv = *argv;
    state.pid = *pid;
    state.startedAtUsec = context_.clock.realtimeUsec();
    if (spec_)
        state.devices = hypervisor::bootDeviceRecords(*spec_, hypervisor::planSlots(*spec_), {});
    return state;
}

asio::awaitable<void> QemuVm::reattach() {
    if (!std::filesystem::exists(paths_.dir)) co_return;
    std::string problem;
    auto state = hypervisor::readState(paths_, problem);
    bool recorded = state.has_value();
    if (!state) state = findUnrecorded();
    std::unique_ptr<ProcessHandle> process;
    if (state) process = context_.parts.adopt(state->pid, state->argv, problem);
    if (!process) {
        log(5, "cleaning stale runtime dir " + paths_.dir.string() + " (" + problem + ")");
        hypervisor::removeRuntimeDir(paths_);
        co_return;
    }
    track(std::move(process), std::move(*state));
    if (!recorded) {
        log(4, "state.json unreadable (" + problem + "); qemu.pid names our qemu (pid " +
                   std::to_string(running_->pid()) + "): adopting it and rewriting state.json");
        running_->persist();
    }
    bool running = true;
    try {
        running = co_await running_->takeOver();
    } catch (const Lifetime::Ended&) {
        co_return;  // it died while we looked at it
    }
    auto deadline = running_->state().shutdownDeadlineUsec;
    instance_.adopt(running_->pid(), running, running_->state().startedAtUsec);
    if (devicesObserver_) devicesObserver_();
    if (deadline != 0) resumeShutdown(deadline);
}

// The previous corrald died while a Shutdown ran: the caller is gone, the intent is not. The
// escalation goes on with what is left of its timeout (at least a moment for ACPI).
void QemuVm::resumeShutdown(std::uint64_t deadlineUsec) {
    auto now = context_.clock.realtimeUsec();
    auto left = std::chrono::microseconds(deadlineUsec > now ? deadlineUsec - now : 0);
    auto timeout = std::max<Duration>(std::chrono::duration_cast<Duration>(left), 1s);
    log(5, "resuming a shutdown that a corrald restart interrupted (" +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
               " s left)");
    // The callback lives in instance_, which dies with this QemuVm.
    instance_.shutdown(timeout, [this](Status status) {
        if (!status) log(4, "resumed shutdown: " + status.error().message);
    });
}

}  // namespace corral::supervisor
