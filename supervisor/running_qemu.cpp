// RunningQemu: start after a launch, take-over after a reattach, the exit watch, state.json and
// the calls that go straight to QMP or the guest agent.
#include "supervisor/running_qemu.hpp"

#include "agent/qga_client.hpp"

#include <csignal>

#include "supervisor/disk_ops.hpp"
#include "supervisor/log_files.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto kQmpConnectWindow = 10s;
constexpr auto kReattachConnectWindow = 5s;
// After qemu exited, what it said before (SHUTDOWN from the guest) is still being read: the exit
// is reported when the monitor closes, at most this much later.
constexpr auto kDrainLimit = 1s;
constexpr int kAgentProbes = 300;
constexpr auto kAgentProbeTimeout = 2s;
constexpr auto kAgentProbePause = 1s;

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

// Calls that run on a channel the caller holds, so they need nothing of the RunningQemu.
asio::awaitable<Outcome<std::string>> executeIn(std::shared_ptr<AgentLink> agent,
                                                std::vector<std::string> argv, std::string input,
                                                std::chrono::milliseconds timeout) {
    std::optional<std::string> in;
    if (!input.empty()) in = std::move(input);
    auto result = co_await agent->execute(std::move(argv), std::move(in), timeout);
    if (!result) co_return toOpError(result.error(), Channel::Agent);
    co_return *result;
}

asio::awaitable<Outcome<agent::RunOutcome>> runIn(std::shared_ptr<AgentLink> agent,
                                                  std::vector<std::string> argv, std::string input,
                                                  std::chrono::milliseconds timeout) {
    // Named first: g++ 12 destroys a temporary in a co_await's arguments twice.
    agent::RunRequest request{std::move(argv), std::move(input)};
    auto result = co_await agent->run(std::move(request), timeout);
    if (!result) co_return toOpError(result.error(), Channel::Agent);
    co_return *result;
}

asio::awaitable<Outcome<std::vector<std::string>>> listIn(std::shared_ptr<AgentLink> agent) {
    auto result = co_await agent->listCommands(10s);
    if (!result) co_return toOpError(result.error(), Channel::Agent);
    co_return *result;
}

}  // namespace

RunningQemu::RunningQemu(VmContext& context, Setup setup, std::unique_ptr<ProcessHandle> process)
    : context_(context),
      name_(std::move(setup.name)),
      paths_(std::move(setup.paths)),
      state_(std::move(setup.state)),
      process_(std::move(process)),
      qmp_(context.parts.qmp(context.qmpTimeout)),
      tpm_(std::move(setup.tpm)),
      // The report outlives this object in the completions of coroutines it started.
      life_(context.executor, context.clock,
            [log = context.log, name = name_](const std::string& what) {
                if (log) log(3, name + ": " + what);
            }) {
    state_.pid = process_->pid();
    if (setup.spec) {
        agentWanted_ = setup.spec->agent.negotiator;
        qemuGaWanted_ = setup.spec->agent.qemuGa;
        display_ = setup.spec->display;
        try {
            plan_ = hypervisor::planSlots(*setup.spec);
        } catch (const std::exception& e) {
            log(4, std::string("no hotplug: ") + e.what());
        }
    }
    life_.spawn<ExitInfo>(watchExit(), "watching qemu", [this](ExitInfo exit) { finish(exit); });
    if (tpm_) life_.spawn(watchTpm(), "watching swtpm");
    if (!paths_.consoleLog.empty()) life_.spawn(rotateLogs(), "rotating logs");
}

RunningQemu::~RunningQemu() {
    // Our side only: pending calls on these end now and their coroutines end with life_.
    qmp_->close();
    if (agent_) agent_->close();
    if (qga_) qga_->close();
}

void RunningQemu::log(int priority, const std::string& text) const {
    if (context_.log) context_.log(priority, name_ + ": " + text);
}

OpError RunningQemu::exitedDuring(const std::string& what) const {
    return {ErrorKind::Failed, name_ + ": qemu exited during " + what};
}

std::optional<std::string> RunningQemu::persist() {
    auto error = hypervisor::writeState(paths_, state_);
    if (error) log(4, *error);
    return error;
}

void RunningQemu::shutdownBegan(std::uint64_t deadlineUsec) {
    state_.shutdownDeadlineUsec = deadlineUsec;
    persist();
}

void RunningQemu::start(std::function<void(Outcome<pid_t>)> done) {
    life_.run<pid_t>(startSteps(), std::move(done), exitedDuring("start"));
}

asio::awaitable<Outcome<pid_t>> RunningQemu::startSteps() {
    // Coroutine arguments are named first: g++ 12 may destroy temporaries in co_await twice.
    auto socket = paths_.qmpSocket.string();
    auto connected = co_await life_.guard(qmp_->connect(std::move(socket), kQmpConnectWindow));
    if (!connected) {
        process_->kill(SIGKILL);
        co_return OpError{ErrorKind::Failed, connected.error().message + " (qemu.log: " +
                                                 lastQemuLine(paths_.logFile) + ")"};
    }
    if (auto foreign = checkMonitorOwner(*qmp_)) {
        qmp_->close();
        process_->kill(SIGKILL);
        co_return OpError{foreign->kind,
                          foreign->message + " (qemu.log: " + lastQemuLine(paths_.logFile) + ")"};
    }
    subscribe();
    setMonitorState(MonitorState::Connected);
    // qemu made its sockets before it answered on QMP.
    if (auto problem = hypervisor::shareConsole(paths_)) log(4, *problem);
    connectAgent();
    connectQemuGa();
    // A reboot's qemu already has the records it kept (persist_reboot), a restore's the saved
    // ones, hotplugged included; a fresh start has none.
    co_await startHotplug(hotplugged());
    auto link = qmp_;
    auto devices = state_.devices;
    auto unlimited = co_await life_.guard(applyDiskLimits(std::move(link), std::move(devices)));
    if (unlimited) {
        process_->kill(SIGKILL);
        co_return OpError{ErrorKind::Failed, name_ + ": " + *unlimited};
    }
    auto password = co_await setVncPassword();
    if (!password) {
        process_->kill(SIGKILL);
        co_return password.error();
    }
    if (restoreFd_) {
        auto restored = co_await restoreSteps(restoreTimeout_);
        if (!restored) {
            process_->kill(SIGKILL);
            // A stream qemu cannot load makes it say why and exit.
            co_return OpError{restored.error().kind, restored.error().message + " (qemu.log: " +
                                                         lastQemuLine(paths_.logFile) + ")"};
        }
    }
    std::string cont = "cont";
    auto resumed = co_await life_.guard(qmp_->command(std::move(cont)));
    if (!resumed) {
        process_->kill(SIGKILL);
        co_return resumed.error();
    }
    co_return process_->pid();
}

asio::awaitable<bool> RunningQemu::takeOver() {
    auto socket = paths_.qmpSocket.string();
    auto connected = co_await life_.guard(qmp_->connect(std::move(socket), kReattachConnectWindow));
    connectAgent();
    connectQemuGa();
    if (connected) {
        if (auto foreign = checkMonitorOwner(*qmp_)) {
            qmp_->close();
            connected = *foreign;
        }
    }
    if (!connected) {
        log(4, "reattached qemu does not answer on QMP (" + connected.error().message +
                   "); reconnecting in the background");
        setMonitorState(MonitorState::Disconnected);
        life_.spawn(reconnectMonitor(), "reconnecting QMP");
        co_return true;
    }
    subscribe();
    auto status = co_await syncWithQemu();
    bool running = !status || status.value().running;
    // The records are the truth for I/O limits (a SetDiskLimits or a start may have been cut
    // short); applying them again is harmless.
    auto link = qmp_;
    auto devices = state_.devices;
    if (auto unlimited =
            co_await life_.guard(applyDiskLimits(std::move(link), std::move(devices), true)))
        log(4, *unlimited);
    if (status && status.value().status == "prelaunch") {
        // Started with -S and never continued: corrald died inside Start. Finish it.
        log(5, "completing a start that a corrald restart interrupted");
        if (auto password = co_await setVncPassword(); !password) log(3, password.error().message);
        std::string cont = "cont";
        auto resumed = co_await life_.guard(qmp_->command(std::move(cont)));
        if (resumed)
            running = true;
        else
            log(3, "cont failed: " + resumed.error().message);
    }
    co_return running;
}

asio::awaitable<ExitInfo> RunningQemu::watchExit() {
    auto status = co_await life_.guard(process_->waitExit());
    if (qmp_->connected()) co_await life_.sleep(kDrainLimit, qmp_->disconnected);
    auto exit = toExitInfo(status);
    exit.lastLogLine = lastQemuLine(paths_.logFile);
    co_return exit;
}

void RunningQemu::finish(ExitInfo exit) {
    setMonitorState(MonitorState::None);
    if (tpm_) tpm_->stop();
    // Sockets and state go; qemu.log stays for the post-mortem.
    std::error_code ec;
    for (const auto& p : {paths_.qmpSocket, paths_.serialSocket, paths_.negotiatorHostToGuest,
                          paths_.negotiatorGuestToHost, paths_.qemuGaSocket, paths_.pidFile,
                          paths_.stateFile, hypervisor::vncSocketPath(paths_.dir)})
        std::filesystem::remove(p, ec);
    notices_.exited.emit(exit);  // may destroy this: nothing after it
}

void RunningQemu::command(VmCommand command, Done done) {
    if (auto error = checkMonitor()) return done(*error);
    if (command == VmCommand::Powerdown)
        return life_.run<Unit>(powerdownSteps(), std::move(done), exitedDuring("the powerdown"));
    life_.run<Unit>(watched(qmp_->command(toString(command))), std::move(done),
                    exitedDuring(std::string("'") + toString(command) + "'"));
}

void RunningQemu::monitor(std::string json, Reply<std::string> reply) {
    if (auto error = checkMonitor()) return reply(*error);
    life_.run<std::string>(watched(qmp_->passthrough(std::move(json))), std::move(reply),
                           exitedDuring("the monitor command"));
}

void RunningQemu::connectAgent() {
    if (!agentWanted_) return;
    agent_ = context_.parts.agent(paths_, name_, context_.commandsDir);
    life_.spawn(probeAgent(), "probing the guest agent");
}

asio::awaitable<void> RunningQemu::probeAgent() {
    // The channel to QEMU opens at once; the agent answers only once the guest has booted.
    for (int attempt = 0; attempt < kAgentProbes; ++attempt) {
        if (co_await life_.guard(agent_->listCommands(kAgentProbeTimeout))) {
            log(6, "guest agent answered");
            notices_.agentChanged.emit(true);
            co_return;
        }
        co_await life_.sleep(kAgentProbePause);
    }
}

void RunningQemu::guestExecute(std::vector<std::string> argv, std::string input,
                               std::chrono::milliseconds timeout, Reply<std::string> reply) {
    if (!agent_)
        return reply(OpError{ErrorKind::AgentUnavailable,
                             name_ + " has no negotiator channel; set agent.negotiator = true."});
    life_.run<std::string>(executeIn(agent_, std::move(argv), std::move(input), timeout),
                           std::move(reply), exitedDuring("the guest call"));
}

void RunningQemu::guestRun(std::vector<std::string> argv, std::string input,
                           std::chrono::milliseconds timeout, Reply<agent::RunOutcome> reply) {
    if (!agent_)
        return reply(OpError{ErrorKind::AgentUnavailable,
                             name_ + " has no negotiator channel; set agent.negotiator = true."});
    life_.run<agent::RunOutcome>(runIn(agent_, std::move(argv), std::move(input), timeout),
                                 std::move(reply), exitedDuring("the guest call"));
}

void RunningQemu::guestListCommands(Reply<std::vector<std::string>> reply) {
    if (!agent_)
        return reply(OpError{ErrorKind::AgentUnavailable,
                             name_ + " has no negotiator channel; set agent.negotiator = true."});
    life_.run<std::vector<std::string>>(listIn(agent_), std::move(reply),
                                        exitedDuring("the guest call"));
}

}  // namespace corral::supervisor
