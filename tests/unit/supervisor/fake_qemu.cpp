#include "tests/unit/supervisor/fake_qemu.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "hypervisor/launch.hpp"

namespace corral::supervisor::test {

namespace asio = boost::asio;

namespace {

template <typename T>
T takeFront(std::deque<T>& queue, T otherwise) {
    if (queue.empty()) return otherwise;
    T front = std::move(queue.front());
    queue.pop_front();
    return front;
}

Error disconnected(const std::string& what) {
    return Error{Errc::Disconnected, what + ": monitor closed during the call"};
}

}  // namespace

// Coroutine arguments are named before co_await (g++ 12 may destroy temporaries in it twice).
// Every coroutine below touches only the FakeQemu (which outlives the test's VMs) after it
// suspended, never the object it was called on: the seams promise that.

class FakeQemu::Process final : public ProcessHandle {
  public:
    Process(FakeQemu& qemu, pid_t pid) : qemu_(qemu), pid_(pid) {}
    pid_t pid() const override { return pid_; }
    asio::awaitable<hypervisor::ExitStatus> waitExit() override {
        auto state = qemu_.processState(pid_);
        if (!state->status) {
            boost::system::error_code ec;
            co_await state->ended.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_return state->status.value_or(hypervisor::ExitStatus{});
    }
    bool kill(int signo) override {
        qemu_.signals.push_back(signo);
        return qemu_.live.count(pid_) > 0;
    }

  private:
    FakeQemu& qemu_;
    pid_t pid_;
};

class FakeQemu::Link final : public QmpLink {
  public:
    explicit Link(FakeQemu& qemu) : qemu_(qemu) {}
    ~Link() override { close(); }

    asio::awaitable<Status> connect(std::string, std::chrono::milliseconds) override {
        ++qemu_.connects;
        auto result = takeFront(qemu_.connectResults, okStatus());
        connected_ = result.ok();
        co_return result;
    }
    asio::awaitable<Status> command(std::string name) override {
        co_return co_await qemu_.answer(this, connected_, std::move(name));
    }
    asio::awaitable<Outcome<RunStatus>> queryStatus() override {
        ++qemu_.statusQueries;
        if (!connected_) co_return OpError{ErrorKind::Failed, "query-status: not connected"};
        co_return takeFront(qemu_.statusResults, Outcome<RunStatus>(qemu_.status));
    }
    asio::awaitable<Outcome<std::string>> passthrough(std::string json) override {
        auto status = co_await qemu_.answer(this, connected_, std::move(json));
        if (!status) co_return status.error();
        co_return std::string("{}");
    }
    bool connected() const override { return connected_; }
    pid_t peerPid() const override {
        return connected_ ? qemu_.monitorPeer.value_or(qemu_.lastQemu) : 0;
    }
    void close() override {
        connected_ = false;
        qemu_.closeHeld(this);
    }
    void drop() {
        connected_ = false;
        qemu_.closeHeld(this);
        disconnected.emit();
    }

  private:
    FakeQemu& qemu_;
    bool connected_ = false;
};

asio::awaitable<Status> FakeQemu::answer(const void* link, bool connected, std::string what) {
    commands.push_back(what);
    if (!connected) co_return OpError{ErrorKind::Failed, what + ": not connected"};
    if (holdCommands && !co_await hold(link))
        co_return toOpError(disconnected(what), Channel::Monitor);
    auto found = commandResults.find(what);
    co_return found == commandResults.end() ? okStatus() : found->second;
}

class FakeQemu::Hotplug final : public HotplugControl {
  public:
    Hotplug(FakeQemu& qemu, const void* link) : qemu_(qemu), link_(link) {}

    asio::awaitable<Result<hypervisor::Device>> attach(hypervisor::Device device) override {
        auto& qemu = qemu_;
        qemu.attached.push_back(device.id);
        if (qemu.holdCommands && !co_await qemu.hold(link_))
            co_return disconnected("device_add " + device.id);
        co_return qemu.plug(std::move(device));
    }
    asio::awaitable<Result<void>> detach(std::string id, std::chrono::milliseconds) override {
        auto& qemu = qemu_;
        qemu.detached.push_back(id);
        if (qemu.holdCommands && !co_await qemu.hold(link_))
            co_return disconnected("device_del " + id);
        auto result = takeFront(qemu.detachResults, Result<void>());
        if (result) std::erase_if(qemu.devicesInQemu, [&](const auto& d) { return d.id == id; });
        co_return result;
    }
    asio::awaitable<Result<std::vector<hypervisor::OccupiedSlot>>> reconcile() override {
        ++qemu_.reconciles;
        co_return std::vector<hypervisor::OccupiedSlot>{};
    }
    void restore(const std::vector<hypervisor::Device>& devices) override {
        qemu_.restores.push_back(devices);
    }
    asio::awaitable<Result<hypervisor::Recovery>> recover() override { co_return qemu_.recovery; }
    std::vector<hypervisor::Device> devices() const override { return qemu_.devicesInQemu; }

  private:
    FakeQemu& qemu_;
    const void* link_;
};

Result<hypervisor::Device> FakeQemu::plug(hypervisor::Device device) {
    if (attachError) return *attachError;
    device.slot = attachSlot;
    device.hotplugged = true;
    if (device.backend.empty()) device.backend = device.kindName() == "nic" ? "tap7" : "";
    devicesInQemu.push_back(device);
    return device;
}

class FakeQemu::Agent final : public AgentLink {
  public:
    explicit Agent(FakeQemu& qemu) : qemu_(qemu) {}
    ~Agent() override { close(); }

    asio::awaitable<Result<std::vector<std::string>>> listCommands(
        std::chrono::milliseconds) override {
        ++qemu_.agentCalls;
        if (closed_) co_return Error{Errc::Disconnected, "agent closed"};
        if (!qemu_.agentCommands) co_return Error{Errc::Timeout, "list_commands: no answer"};
        co_return *qemu_.agentCommands;
    }
    asio::awaitable<Result<std::string>> execute(std::vector<std::string> argv,
                                                 std::optional<std::string>,
                                                 std::chrono::milliseconds) override {
        ++qemu_.agentCalls;
        co_return argv.empty() ? std::string() : argv.front();
    }
    asio::awaitable<Result<agent::RunOutcome>> run(agent::RunRequest request,
                                                   std::chrono::milliseconds) override {
        ++qemu_.agentCalls;
        co_return agent::RunOutcome{0, request.argv.front(), {}};
    }
    void close() override {
        if (!closed_) ++qemu_.agentsClosed;
        closed_ = true;
    }

  private:
    FakeQemu& qemu_;
    bool closed_ = false;
};

LaunchedQemu FakeQemu::launch(const hypervisor::InstanceSpec& spec,
                              const std::filesystem::path& runtimeRoot, const std::string& binary) {
    ++launches;
    auto paths = hypervisor::RuntimePaths::forInstance(runtimeRoot, spec.name);
    hypervisor::createRuntimeDir(paths);
    auto plan = hypervisor::planSlots(spec);
    hypervisor::RuntimeState state;
    state.argv = {binary, "-name", spec.name, "-pidfile", paths.pidFile.string()};
    state.pid = nextPid++;
    state.startedAtUsec = 1'700'000'000'000'000ull;
    state.devices = plan.devices;
    if (auto error = hypervisor::writeState(paths, state)) throw std::runtime_error(*error);
    live[state.pid] = state.argv;
    auto pid = state.pid;
    lastQemu = pid;
    return {std::move(state), std::make_unique<Process>(*this, pid)};
}

std::unique_ptr<ProcessHandle> FakeQemu::adopt(pid_t pid, const std::vector<std::string>& argv,
                                               std::string& why) {
    ++adopts;
    auto found = live.find(pid);
    if (found == live.end()) {
        why = "process " + std::to_string(pid) + " is not running";
        return nullptr;
    }
    if (found->second != argv) {
        why = "process " + std::to_string(pid) + " is not the qemu started for this instance";
        return nullptr;
    }
    lastQemu = pid;
    return std::make_unique<Process>(*this, pid);
}

std::optional<std::vector<std::string>> FakeQemu::cmdline(pid_t pid) const {
    auto found = live.find(pid);
    if (found == live.end()) return std::nullopt;
    return found->second;
}

std::shared_ptr<QmpLink> FakeQemu::qmp(std::chrono::milliseconds) {
    ++linksMade;
    auto link = std::make_shared<Link>(*this);
    newest_ = link;
    return link;
}

std::shared_ptr<HotplugControl> FakeQemu::hotplug(QmpLink& link, const hypervisor::SlotPlan&,
                                                  const std::string&) {
    ++hotplugsMade;
    return std::make_shared<Hotplug>(*this, &link);
}

std::shared_ptr<AgentLink> FakeQemu::agent(const hypervisor::RuntimePaths&, const std::string&,
                                           const std::filesystem::path&) {
    ++agentsMade;
    return std::make_shared<Agent>(*this);
}

std::shared_ptr<FakeQemu::ProcessState> FakeQemu::processState(pid_t pid) {
    auto& state = processes_[pid];
    if (!state) state = std::make_shared<ProcessState>(executor_);
    return state;
}

void FakeQemu::exit(pid_t pid, hypervisor::ExitStatus status) {
    live.erase(pid);
    auto state = processState(pid);
    state->status = status;
    state->ended.cancel();
}

asio::awaitable<bool> FakeQemu::hold(const void* link) {
    auto held = std::make_shared<Held>(executor_);
    held->link = link;
    held_.push_back(held);
    boost::system::error_code ec;
    co_await held->released.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return !held->closed;
}

void FakeQemu::releaseCommands() {
    auto held = std::move(held_);
    held_.clear();
    for (auto& h : held) h->released.cancel();
}

void FakeQemu::closeHeld(const void* link) {
    for (auto& h : held_) {
        if (h->link != link) continue;
        h->closed = !answerInFlight;
        h->released.cancel();
    }
    std::erase_if(held_, [link](const auto& h) { return h->link == link; });
}

void FakeQemu::dropMonitor() {
    if (auto link = newest_.lock()) link->drop();
}

void FakeQemu::notice(QmpNotice notice) {
    if (auto link = newest_.lock()) link->notices.emit(notice);
}

}  // namespace corral::supervisor::test
