// QemuVm: the operations on a running VM (guest agent, raw monitor) and reattach at start.
#include <boost/asio/co_spawn.hpp>

#include "agent/host_channel.hpp"
#include "agent/host_responder.hpp"
#include "hypervisor/hotplug.hpp"
#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

OpError agentError(const agent::Error& error) {
    if (error.kind == agent::kTimeout) return {ErrorKind::Timeout, error.message};
    if (error.kind == agent::kConnect || error.kind == agent::kDisconnected)
        return {ErrorKind::AgentUnavailable,
                error.message + " (is negotiator-guest running in the guest?)"};
    return {ErrorKind::Failed, error.message};
}

asio::awaitable<Outcome<std::string>> executeIn(std::shared_ptr<agent::HostChannel> channel,
                                                std::vector<std::string> argv, std::string input,
                                                std::chrono::milliseconds timeout) {
    std::optional<std::string> in;
    if (!input.empty()) in = std::move(input);
    auto result = co_await channel->execute(std::move(argv), std::move(in), timeout);
    if (!result) co_return agentError(result.error());
    co_return *result;
}

asio::awaitable<Outcome<std::vector<std::string>>> listIn(
    std::shared_ptr<agent::HostChannel> channel) {
    auto result = co_await channel->listCommands(10s);
    if (!result) co_return agentError(result.error());
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
    run<std::string>(qmp_->passthrough(std::move(json)), std::move(reply));
}

asio::awaitable<void> QemuVm::reattach() {
    if (!std::filesystem::exists(paths_.dir)) co_return;
    std::string problem;
    auto state = hypervisor::readState(paths_, problem);
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
    devices_ = state->devices;
    auto generation = ++generation_;
    spawnLogged(watchExit(generation), "watching qemu");

    qmp_ = std::make_unique<QmpLink>(context_.executor);
    auto socket = paths_.qmpSocket.string();
    auto connected = co_await qmp_->connect(std::move(socket), 5s);
    bool running = true;
    if (connected) {
        auto status = co_await qmp_->queryRunning();
        if (status) running = status.value();
        connectChannels(generation);
        std::vector<hypervisor::DeviceRecord> hotplugged;
        for (const auto& d : devices_)
            if (d.hotplugged) hotplugged.push_back(d);
        co_await startHotplug(std::move(hotplugged));
    } else {
        log(3, "reattached qemu does not answer on QMP: " + connected.error().message);
    }
    if (generation != generation_) co_return;  // it died while we looked at it
    instance_.adopt(process_->pid(), running, startedAt_);
    if (devicesObserver_) devicesObserver_();
}

}  // namespace corral::supervisor
