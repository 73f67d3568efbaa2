// QemuVm: definition, launch, exit watching and teardown of one qemu process.
#include "supervisor/qemu_vm.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <fstream>

#include "agent/host_channel.hpp"
#include "agent/host_responder.hpp"
#include "hypervisor/hotplug.hpp"
#include "hypervisor/launch.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto kQmpConnectWindow = 10s;

LifecyclePolicy policyOf(const std::optional<hypervisor::InstanceSpec>& spec) {
    if (!spec) return {};
    return {std::chrono::duration_cast<Duration>(spec->lifecycle.shutdownTimeout),
            spec->lifecycle.onCrash == hypervisor::OnCrash::Restart};
}

std::string describeProblems(const hypervisor::LoadResult& definition) {
    std::string text;
    for (const auto& d : definition.diagnostics) text += (text.empty() ? "" : "; ") + d.format();
    return text.empty() ? "invalid definition" : text;
}

// The last non-empty line of qemu.log: usually qemu's own reason for refusing to start.
std::string lastLine(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

ExitInfo toExitInfo(const hypervisor::ExitStatus& status) {
    switch (status.kind) {
        case hypervisor::ExitStatus::Kind::Exited:
            return {false, status.code};
        case hypervisor::ExitStatus::Kind::Signaled:
            return {true, status.code};
        case hypervisor::ExitStatus::Kind::Unknown:
            break;
    }
    return {false, -1};
}

}  // namespace

QemuVm::QemuVm(VmContext& context, std::string name, const hypervisor::LoadResult& definition)
    : context_(context),
      name_(std::move(name)),
      paths_(hypervisor::RuntimePaths::forInstance(context.runtimeRoot, name_)),
      alive_(std::make_shared<bool>(true)),
      instance_(name_, *this, context.clock, policyOf(definition.spec), context.log) {
    apply(definition);
}

QemuVm::~QemuVm() {
    // Never kills qemu: a daemon restart must leave VMs running. Only our side is closed.
    if (qmp_) qmp_->close();
    if (agent_) agent_->close();
    if (responder_) responder_->stop();
}

void QemuVm::log(int priority, const std::string& text) const {
    if (context_.log) context_.log(priority, name_ + ": " + text);
}

template <typename T>
void QemuVm::run(asio::awaitable<Outcome<T>> work, std::function<void(Outcome<T>)> done) {
    asio::co_spawn(context_.executor, std::move(work),
                   [alive = std::weak_ptr<bool>(alive_), done = std::move(done), log = context_.log,
                    name = name_](std::exception_ptr e, Outcome<T> result) {
                       if (e) {
                           std::string what = "internal error";
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                               what = ex.what();
                           }
                           if (log) log(3, name + ": " + what);
                           result = OpError{ErrorKind::Failed, name + ": " + what};
                       }
                       if (alive.lock()) done(std::move(result));
                   });
}

void QemuVm::spawnLogged(asio::awaitable<void> work, const char* what) {
    asio::co_spawn(context_.executor, std::move(work),
                   [log = context_.log, name = name_, what](std::exception_ptr e) {
                       if (!e || !log) return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                           log(3, name + ": " + what + " failed: " + ex.what());
                       }
                   });
}

template void QemuVm::run(asio::awaitable<Outcome<Unit>>, std::function<void(Outcome<Unit>)>);
template void QemuVm::run(asio::awaitable<Outcome<std::string>>,
                          std::function<void(Outcome<std::string>)>);
template void QemuVm::run(asio::awaitable<Outcome<std::vector<std::string>>>,
                          std::function<void(Outcome<std::vector<std::string>>)>);

void QemuVm::apply(hypervisor::LoadResult definition) {
    pending_.reset();
    spec_ = std::move(definition.spec);
    instance_.setPolicy(policyOf(spec_));
    if (spec_) {
        invalidWhy_.clear();
        instance_.markValid();
    } else {
        invalidWhy_ = describeProblems(definition);
        instance_.markInvalid(invalidWhy_);
    }
}

void QemuVm::redefine(const hypervisor::LoadResult& definition) {
    if (process_) {
        pending_ = definition;
        return;
    }
    apply(definition);
}

VmInfo QemuVm::info() const {
    VmInfo info;
    info.qmpSocket = paths_.qmpSocket.string();
    info.serialSocket = paths_.serialSocket.string();
    if (!spec_) return info;
    info.machine = hypervisor::toString(spec_->machine.type);
    info.vcpus = spec_->machine.cpus;
    info.memoryBytes = spec_->machine.memoryBytes;
    return info;
}

std::vector<hypervisor::Device> QemuVm::devices() const {
    return devices_;
}

void QemuVm::setDevicesObserver(std::function<void()> observer) {
    devicesObserver_ = std::move(observer);
}

std::optional<std::string> QemuVm::persist() {
    hypervisor::RuntimeState state{argv_, process_ ? process_->pid() : 0, startedAt_, devices_,
                                   shutdownDeadline_};
    auto error = hypervisor::writeState(paths_, state);
    if (error) log(4, *error);
    return error;
}

void QemuVm::launch(std::function<void(Outcome<pid_t>)> done) {
    asio::co_spawn(context_.executor, launchSteps(),
                   [alive = std::weak_ptr<bool>(alive_), done = std::move(done)](
                       std::exception_ptr e, Outcome<pid_t> result) {
                       if (e) {
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                               result = OpError{ErrorKind::Failed, ex.what()};
                           }
                       }
                       if (alive.lock()) done(std::move(result));
                   });
}

asio::awaitable<Outcome<pid_t>> QemuVm::launchSteps() {
    if (pending_) apply(*pending_);
    if (!spec_) co_return OpError{ErrorKind::InvalidDefinition, invalidWhy_};
    try {
        // Runtime dir, taps for tap/bridge NICs, paused spawn and state.json.
        auto launched = hypervisor::launchInstance(context_.executor, *spec_, context_.runtimeRoot,
                                                   context_.qemuBinary);
        argv_ = launched.state.argv;
        devices_ = launched.state.devices;
        startedAt_ = launched.state.startedAtUsec;
        process_.emplace(std::move(launched.process));
    } catch (const std::exception& e) {
        co_return OpError{ErrorKind::Failed, e.what()};
    }
    auto generation = ++generation_;
    pid_t pid = process_->pid();
    if (context_.scopes) context_.scopes->place(name_, pid, spec_->resources);
    if (devicesObserver_) devicesObserver_();
    spawnLogged(watchExit(generation), "watching qemu");

    qmp_ = std::make_unique<QmpLink>(context_.executor, context_.qmpTimeout);
    // Coroutine arguments are named first: g++ 12 may destroy temporaries in co_await twice.
    auto socket = paths_.qmpSocket.string();
    auto connected = co_await qmp_->connect(std::move(socket), kQmpConnectWindow);
    if (generation != generation_) co_return OpError{ErrorKind::Failed, "qemu exited"};
    if (!connected) {
        process_->kill(SIGKILL);
        co_return OpError{ErrorKind::Failed, connected.error().message +
                                                 " (qemu.log: " + lastLine(paths_.logFile) + ")"};
    }
    subscribeQmp(generation);
    setMonitorState(MonitorState::Connected);
    connectAgent(generation);
    co_await startHotplug({});
    if (generation != generation_) co_return OpError{ErrorKind::Failed, "qemu exited"};
    std::string cont = "cont";
    auto resumed = co_await qmp_->command(std::move(cont));
    if (generation != generation_) co_return OpError{ErrorKind::Failed, "qemu exited"};
    if (!resumed) {
        process_->kill(SIGKILL);
        co_return resumed.error();
    }
    co_return pid;
}

void QemuVm::connectAgent(std::uint64_t generation) {
    if (!spec_ || !spec_->agent.negotiator) return;
    agent_ = agent::HostChannel::create(context_.executor, paths_.negotiatorHostToGuest.string());
    responder_ = agent::HostResponder::create(
        context_.executor, paths_.negotiatorGuestToHost.string(), name_, context_.commandsDir);
    responder_->start();
    spawnLogged(probeAgent(generation), "probing the guest agent");
}

asio::awaitable<void> QemuVm::probeAgent(std::uint64_t generation) {
    // The channel to QEMU opens at once; the agent answers only once the guest has booted.
    auto channel = agent_;
    asio::steady_timer pause(context_.executor);
    for (int attempt = 0; attempt < 300 && generation == generation_; ++attempt) {
        auto answer = co_await channel->listCommands(std::chrono::seconds(2));
        if (generation != generation_) co_return;
        if (answer) {
            log(6, "guest agent answered");
            events_.agentChanged(true);
            co_return;
        }
        pause.expires_after(1s);
        co_await pause.async_wait(asio::use_awaitable);
    }
}

asio::awaitable<void> QemuVm::watchExit(std::uint64_t generation) {
    auto status = co_await process_->waitExit();
    if (generation != generation_) co_return;
    // Let the QMP reader deliver what QEMU said before exiting (SHUTDOWN from the guest):
    // wait for its end-of-stream, bounded.
    if (qmp_ && qmp_->connected()) {
        auto drained = std::make_shared<asio::steady_timer>(context_.executor);
        drained->expires_after(1s);
        qmp_->onDisconnect([drained] { drained->cancel(); });
        boost::system::error_code ec;
        co_await drained->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (generation != generation_) co_return;
    teardown();
    events_.exited(toExitInfo(status));
}

void QemuVm::teardown() {
    ++generation_;
    shutdownDeadline_ = 0;
    setMonitorState(MonitorState::None);
    if (qmp_) qmp_->close();
    if (agent_) agent_->close();
    if (responder_) responder_->stop();
    hotplug_.reset();
    agent_.reset();
    responder_.reset();
    process_.reset();
    // Sockets and state go; qemu.log stays for the post-mortem.
    std::error_code ec;
    for (const auto& p : {paths_.qmpSocket, paths_.serialSocket, paths_.negotiatorHostToGuest,
                          paths_.negotiatorGuestToHost, paths_.pidFile, paths_.stateFile})
        std::filesystem::remove(p, ec);
    if (pending_) apply(*pending_);
}

void QemuVm::command(VmCommand command, Done done) {
    if (!qmp_ || !process_) return done(OpError{ErrorKind::InvalidState, name_ + " has no qemu."});
    if (auto error = checkMonitor()) return done(*error);
    runQmp<Unit>(qmp_->command(toString(command)), std::move(done));
}

void QemuVm::signal(int signo) {
    if (process_) process_->kill(signo);
}

void QemuVm::shutdownBegan(std::uint64_t deadlineUsec) {
    shutdownDeadline_ = deadlineUsec;
    persist();
}

}  // namespace corral::supervisor
