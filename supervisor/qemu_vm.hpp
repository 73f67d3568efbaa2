// A real VM: the Vm the D-Bus layer uses and the VmControl its lifecycle state machine drives,
// built on hypervisor/ (argv, process, runtime dir, hotplug), monitor/ (through QmpLink) and
// agent/ (HostChannel for guest calls, HostResponder for guest-to-host calls).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <optional>

#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/qmp_link.hpp"
#include "supervisor/systemd_scope.hpp"
#include "supervisor/vm.hpp"
#include "supervisor/vm_control.hpp"

namespace corral::hypervisor {
class Hotplug;
}

namespace corral::agent {
class HostChannel;
class HostResponder;
}  // namespace corral::agent

namespace corral::supervisor {

// What every QemuVm of one daemon shares.
struct VmContext {
    boost::asio::any_io_executor executor;
    Clock& clock;
    std::filesystem::path runtimeRoot;
    std::filesystem::path commandsDir;  // guest-to-host commands
    LogSink log;
    ScopeManager* scopes = nullptr;  // null when systemd is not there
    std::string qemuBinary = hypervisor::kDefaultQemuBinary;
    std::chrono::milliseconds qmpTimeout = std::chrono::seconds(30);  // per QMP command
};

class QemuVm : public Vm, private VmControl {
  public:
    QemuVm(VmContext& context, std::string name, const hypervisor::LoadResult& definition);
    ~QemuVm() override;

    const std::string& name() const override { return name_; }
    Instance& lifecycle() override { return instance_; }
    VmInfo info() const override;
    void redefine(const hypervisor::LoadResult& definition) override;
    std::vector<hypervisor::Device> devices() const override;
    void setDevicesObserver(std::function<void()> observer) override;

    void attachDevice(hypervisor::Device device, Reply<std::string> reply) override;
    void detach(std::string id, Done done) override;
    void guestExecute(std::vector<std::string> argv, std::string input,
                      std::chrono::milliseconds timeout, Reply<std::string> reply) override;
    void guestListCommands(Reply<std::vector<std::string>> reply) override;
    void monitor(std::string json, Reply<std::string> reply) override;

    // Daemon start: adopts a live qemu left by a previous corrald, or removes a stale runtime
    // dir. Never kills anything.
    boost::asio::awaitable<void> reattach();
    bool autostart() const { return spec_ && spec_->lifecycle.autostart; }

  private:
    void setEvents(VmEvents events) override { events_ = std::move(events); }
    void launch(std::function<void(Outcome<pid_t>)> done) override;
    void command(VmCommand command, Done done) override;
    void signal(int signo) override;
    void shutdownBegan(std::uint64_t deadlineUsec) override;

    std::optional<hypervisor::RuntimeState> findUnrecorded() const;
    void resumeShutdown();
    // By value: callers pass *pending_, which apply() resets.
    void apply(hypervisor::LoadResult definition);
    boost::asio::awaitable<Outcome<pid_t>> launchSteps();
    boost::asio::awaitable<void> watchExit(std::uint64_t generation);
    boost::asio::awaitable<void> probeAgent(std::uint64_t generation);
    // QMP notices and loss of the connection for the current qemu (qemu_vm_monitor.cpp).
    void subscribeQmp(std::uint64_t generation);
    void connectAgent(std::uint64_t generation);
    void setMonitorState(MonitorState state);
    // The error for a QMP command while the monitor is not connected, if it is not.
    std::optional<OpError> checkMonitor() const;
    // Runs a QMP step; a timeout marks the monitor unresponsive and starts probing it.
    template <typename T>
    void runQmp(boost::asio::awaitable<Outcome<T>> work, std::function<void(Outcome<T>)> done);
    boost::asio::awaitable<void> probeMonitor(std::uint64_t generation);
    boost::asio::awaitable<void> reconnectMonitor(std::uint64_t generation);
    // After a (re)connect: hotplug bookkeeping, run state and MonitorState from QEMU.
    boost::asio::awaitable<Outcome<RunStatus>> syncWithQemu(std::uint64_t generation);
    std::vector<hypervisor::Device> hotplugged() const;
    // Hotplug bookkeeping for the current qemu; `hotplugged` are devices a previous corrald
    // added (reattach).
    boost::asio::awaitable<void> startHotplug(std::vector<hypervisor::Device> hotplugged);
    // Adds the record and writes state.json; if that fails, drops the record again and detaches
    // the device from QEMU so no device runs unrecorded. The error says what happened.
    boost::asio::awaitable<std::optional<OpError>> recordDevice(hypervisor::Device record,
                                                                std::string address);
    void forgetDevice(const std::string& id);
    boost::asio::awaitable<Outcome<std::string>> attachSteps(hypervisor::Device device);
    boost::asio::awaitable<Outcome<Unit>> detachSteps(std::string id);
    void teardown();
    // Writes state.json from the current records; the error (also logged) if it could not.
    std::optional<std::string> persist();
    void log(int priority, const std::string& text) const;
    // Runs a coroutine on the executor; its result goes to `done` unless this Vm is gone.
    void spawnLogged(boost::asio::awaitable<void> work, const char* what);
    template <typename T>
    void run(boost::asio::awaitable<Outcome<T>> work, std::function<void(Outcome<T>)> done);

    VmContext& context_;
    std::string name_;
    std::optional<hypervisor::InstanceSpec> spec_;
    std::string invalidWhy_;
    std::optional<hypervisor::LoadResult> pending_;  // applied once qemu is gone
    hypervisor::RuntimePaths paths_;

    std::optional<hypervisor::QemuProcess> process_;
    std::uint64_t generation_ = 0;  // one per qemu process
    std::vector<std::string> argv_;
    std::uint64_t startedAt_ = 0;
    std::uint64_t shutdownDeadline_ = 0;  // realtime µs; 0: no Shutdown in progress
    std::vector<hypervisor::Device> devices_;
    std::unique_ptr<QmpLink> qmp_;
    MonitorState monitorState_ = MonitorState::None;
    std::unique_ptr<hypervisor::Hotplug> hotplug_;
    std::shared_ptr<agent::HostChannel> agent_;
    std::shared_ptr<agent::HostResponder> responder_;
    VmEvents events_;
    std::function<void()> devicesObserver_;
    std::shared_ptr<bool> alive_;
    Instance instance_;  // last: its constructor hands its callbacks to this VmControl
};

}  // namespace corral::supervisor
