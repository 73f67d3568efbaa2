// QemuVm: the operations on a running VM (guest agent, raw monitor) and reattach at start.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>

#include "agent/host_channel.hpp"
#include "agent/host_responder.hpp"
#include "hypervisor/hotplug.hpp"
#include "hypervisor/launch.hpp"
#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<Outcome<std::string>> executeIn(std::shared_ptr<agent::HostChannel> channel,
                                                std::vector<std::string> argv, std::string input,
                                                std::chrono::milliseconds timeout) {
    std::optional<std::string> in;
    if (!input.empty()) in = std::move(input);
    auto result = co_await channel->execute(std::move(argv), std::move(in), timeout);
    if (!result) co_return toOpError(result.error(), Channel::Agent);
    co_return *result;
}

asio::awaitable<Outcome<std::vector<std::string>>> listIn(
    std::shared_ptr<agent::HostChannel> channel) {
    auto result = co_await channel->listCommands(10s);
    if (!result) co_return toOpError(result.error(), Channel::Agent);
    co_return *result;
}

}  // namespace

void QemuVm::guestExecute(std::vector<std::string> argv, std::string input,
                          std::chrono::milliseconds timeout, Reply<std::string> reply) {
    if (auto error = instance_.checkUsable()) return reply(*error);
    if (!agent_)
        return reply(OpError{ErrorKind::AgentUnavailable,
                             name_ + " has no negotiator channel; set agent.negotiator = true."});
    run<std::string>(executeIn(agent_, std::move(argv), std::move(input), timeout),
                     std::move(reply));
}

void QemuVm::guestListCommands(Reply<std::vector<std::string>> reply) {
    if (auto error = instance_.checkUsable()) return reply(*error);
    if (!agent_)
        return reply(OpError{ErrorKind::AgentUnavailable,
                             name_ + " has no negotiator channel; set agent.negotiator = true."});
    run<std::vector<std::string>>(listIn(agent_), std::move(reply));
}

void QemuVm::monitor(std::string json, Reply<std::string> reply) {
    if (!process_ || !qmp_)
        return reply(OpError{ErrorKind::InvalidState, name_ + " is not running; start it first."});
    if (auto error = checkMonitor()) return reply(*error);
    runQmp<std::string>(qmp_->passthrough(std::move(json)), std::move(reply));
}

// corrald killed between spawning qemu and writing state.json leaves a qemu that only its own
// pidfile points to. Its command line names this runtime dir's pidfile, so it is ours; it never
// left prelaunch (launch continues it only after state.json exists).
std::optional<hypervisor::RuntimeState> QemuVm::findUnrecorded() const {
    auto pid = hypervisor::readPidFile(paths_);
    if (!pid) return std::nullopt;
    auto argv = hypervisor::processCmdline(*pid);
    if (!argv || std::find(argv->begin(), argv->end(), paths_.pidFile.string()) == argv->end())
        return std::nullopt;
    hypervisor::RuntimeState state;
    state.argv = *argv;
    state.pid = *pid;
    state.startedAtUsec = context_.clock.realtimeUsec();
    if (spec_) state.devices = hypervisor::planSlots(*spec_).devices;
    return state;
}

asio::awaitable<void> QemuVm::reattach() {
    if (!std::filesystem::exists(paths_.dir)) co_return;
    std::string problem;
    auto state = hypervisor::readState(paths_, problem);
    bool recorded = state.has_value();
    if (!state) state = findUnrecorded();
    std::optional<hypervisor::QemuProcess> process;
    if (state)
        process =
            hypervisor::QemuProcess::adopt(context_.executor, state->pid, state->argv, problem);
    if (!process) {
        log(5, "cleaning stale runtime dir " + paths_.dir.string() + " (" + problem + ")");
        hypervisor::removeRuntimeDir(paths_);
        co_return;
    }
    process_ = std::move(process);
    argv_ = state->argv;
    startedAt_ = state->startedAtUsec;
    shutdownDeadline_ = state->shutdownDeadlineUsec;
    devices_ = state->devices;
    auto generation = ++generation_;
    spawnLogged(watchExit(generation), "watching qemu");
    if (!recorded) {
        log(4, "state.json unreadable (" + problem + "); qemu.pid names our qemu (pid " +
                   std::to_string(process_->pid()) + "): adopting it and rewriting state.json");
        persist();
    }

    qmp_ = std::make_unique<QmpLink>(context_.executor, context_.qmpTimeout);
    auto socket = paths_.qmpSocket.string();
    auto connected = co_await qmp_->connect(std::move(socket), 5s);
    if (generation != generation_) co_return;  // it died while we looked at it
    connectAgent(generation);
    bool running = true;
    if (connected) {
        subscribeQmp(generation);
        auto status = co_await syncWithQemu(generation);
        if (generation != generation_) co_return;
        if (status) running = status.value().running;
        if (status && status.value().status == "prelaunch") {
            // Started with -S and never continued: corrald died inside Start. Finish it.
            log(5, "completing a start that a corrald restart interrupted");
            std::string cont = "cont";
            auto resumed = co_await qmp_->command(std::move(cont));
            if (generation != generation_) co_return;
            if (resumed)
                running = true;
            else
                log(3, "cont failed: " + resumed.error().message);
        }
    } else {
        log(4, "reattached qemu does not answer on QMP (" + connected.error().message +
                   "); reconnecting in the background");
        setMonitorState(MonitorState::Disconnected);
        spawnLogged(reconnectMonitor(generation), "reconnecting QMP");
    }
    instance_.adopt(process_->pid(), running, startedAt_);
    if (devicesObserver_) devicesObserver_();
    if (shutdownDeadline_ != 0) resumeShutdown();
}

// The previous corrald died while a Shutdown ran: the caller is gone, the intent is not. The
// escalation goes on with what is left of its timeout (at least a moment for ACPI).
void QemuVm::resumeShutdown() {
    auto now = context_.clock.realtimeUsec();
    auto left = std::chrono::microseconds(shutdownDeadline_ > now ? shutdownDeadline_ - now : 0);
    auto timeout = std::max<Duration>(std::chrono::duration_cast<Duration>(left), 1s);
    log(5, "resuming a shutdown that a corrald restart interrupted (" +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
               " s left)");
    instance_.shutdown(timeout, [this, alive = std::weak_ptr<bool>(alive_)](Status status) {
        if (alive.lock() && !status) log(4, "resumed shutdown: " + status.error().message);
    });
}

}  // namespace corral::supervisor
