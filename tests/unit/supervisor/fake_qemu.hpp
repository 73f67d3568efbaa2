// A fake qemu behind the seams of supervisor/qemu_parts.hpp, in the manner of concierge's
// FakeCrosvmControl: every link, hotplug and agent FakeQemu makes answers from the canned results
// below and counts what it was asked. Processes are pids the test declares alive; signals are
// only recorded, a process exits when the test says so. Runtime dirs and state.json are real
// files.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/qemu_parts.hpp"

namespace corral::supervisor::test {

class FakeQemu : public QemuParts {
  public:
    explicit FakeQemu(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

    LaunchedQemu launch(const hypervisor::InstanceSpec& spec,
                        const std::filesystem::path& runtimeRoot,
                        const std::string& binary) override;
    std::unique_ptr<ProcessHandle> adopt(pid_t pid, const std::vector<std::string>& argv,
                                         std::string& why) override;
    std::optional<std::vector<std::string>> cmdline(pid_t pid) const override;
    std::shared_ptr<QmpLink> qmp(std::chrono::milliseconds timeout) override;
    std::shared_ptr<HotplugControl> hotplug(QmpLink& link, const hypervisor::SlotPlan& plan,
                                            const std::string& name) override;
    std::shared_ptr<AgentLink> agent(const hypervisor::RuntimePaths& paths, const std::string& name,
                                     const std::filesystem::path& commandsDir) override;

    // Processes: pid -> command line of the ones alive.
    std::map<pid_t, std::vector<std::string>> live;
    pid_t nextPid = 4242;
    int launches = 0;
    int adopts = 0;
    std::vector<int> signals;  // every signal sent, in order
    // The process ends now (its exit watcher sees it on the next poll).
    void exit(pid_t pid, hypervisor::ExitStatus status = {hypervisor::ExitStatus::Kind::Exited, 0});

    // QMP, for every link: one result per connect attempt (front first; then success), the
    // query-status answers (front first; then `status`), command results by name (default ok).
    std::deque<Status> connectResults;
    std::deque<Outcome<RunStatus>> statusResults;
    RunStatus status{true, "running"};
    std::map<std::string, Status> commandResults;
    // Commands, hotplug attaches and detaches wait until releaseCommands() or until their link
    // closes.
    bool holdCommands = false;
    // Held calls succeed even when their link closes: QEMU's answer was already on its way.
    bool answerInFlight = false;
    int connects = 0;
    // Who serves the monitor socket (SO_PEERCRED); default: the qemu launched or adopted last.
    std::optional<pid_t> monitorPeer;
    pid_t lastQemu = 0;
    int statusQueries = 0;
    std::vector<std::string> commands;  // every command and passthrough, in order
    int linksMade = 0;
    void releaseCommands();
    // QEMU closes the newest link's connection, or sends it an event.
    void dropMonitor();
    void notice(QmpNotice notice);

    // Hotplug, for every Hotplug made: what it was told and what it answers.
    int hotplugsMade = 0;
    std::vector<std::vector<hypervisor::Device>> restores;  // each restore()
    int reconciles = 0;
    hypervisor::Recovery recovery;               // what recover() reports
    hypervisor::PciSlot attachSlot{"pci.0", 5};  // where an attached device lands
    std::optional<Error> attachError;
    std::deque<Result<void>> detachResults;  // front first; then success
    std::vector<std::string> attached;       // ids, in order
    std::vector<std::string> detached;
    std::vector<hypervisor::Device> devicesInQemu;  // what devices() lists

    // Agent: what list_commands answers (an error until the guest "boots").
    std::optional<std::vector<std::string>> agentCommands;
    int agentsMade = 0;
    int agentCalls = 0;
    int agentsClosed = 0;

  private:
    class Process;
    class Link;
    class Hotplug;
    class Agent;
    struct ProcessState {
        explicit ProcessState(boost::asio::any_io_executor executor)
            : ended(std::move(executor), boost::asio::steady_timer::time_point::max()) {}
        boost::asio::steady_timer ended;
        std::optional<hypervisor::ExitStatus> status;
    };
    // A call waiting for releaseCommands() or for its link to close.
    struct Held {
        explicit Held(boost::asio::any_io_executor executor)
            : released(std::move(executor), boost::asio::steady_timer::time_point::max()) {}
        boost::asio::steady_timer released;
        bool closed = false;
        const void* link = nullptr;
    };
    boost::asio::awaitable<Status> answer(const void* link, bool connected, std::string what);
    // An attach that QEMU carries out.
    Result<hypervisor::Device> plug(hypervisor::Device device);
    boost::asio::awaitable<bool> hold(const void* link);  // false: the link closed meanwhile
    void closeHeld(const void* link);
    std::shared_ptr<ProcessState> processState(pid_t pid);

    boost::asio::any_io_executor executor_;
    std::map<pid_t, std::shared_ptr<ProcessState>> processes_;
    std::vector<std::shared_ptr<Held>> held_;
    std::weak_ptr<Link> newest_;
};

}  // namespace corral::supervisor::test
