// One qemu process and everything that lives exactly as long as it: the watch for its exit, the
// QMP link and its health (prober, reconnect), hotplug bookkeeping, the guest agent channels and
// what state.json records. Made by QemuVm when it launches or adopts a qemu, destroyed when that
// qemu is gone. Destruction closes its channels and ends every coroutine it started (Lifetime),
// so nothing resumes into it; it never kills qemu (a corrald restart leaves VMs running).
#pragma once

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/signal.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "hypervisor/slot_plan.hpp"
#include "supervisor/backup_record.hpp"
#include "supervisor/guest_info.hpp"
#include "supervisor/lifetime.hpp"
#include "supervisor/managed_save.hpp"
#include "supervisor/qemu_parts.hpp"
#include "supervisor/snapshot_record.hpp"
#include "supervisor/swtpm_process.hpp"
#include "supervisor/vm.hpp"
#include "supervisor/vm_context.hpp"
#include "supervisor/vm_control.hpp"

namespace corral::agent {
class QgaClient;
}

namespace corral::supervisor {

class RunningQemu {
  public:
    struct Setup {
        std::string name;
        hypervisor::RuntimePaths paths;
        hypervisor::RuntimeState state;  // what state.json records
        // The definition (slot plan for hotplug, agent channels); null when it is invalid.
        const hypervisor::InstanceSpec* spec = nullptr;
        std::unique_ptr<SwtpmProcess> tpm = {};  // the VM's swtpm, if it has one
    };

    // Raised on the io_context.
    struct Notices {
        // Last of all: the runtime files are gone and a listener may destroy the RunningQemu.
        corral::Signal<ExitInfo> exited;
        corral::Signal<ShutdownCause> shutdown;  // QMP SHUTDOWN
        corral::Signal<bool> runStateChanged;
        corral::Signal<bool> agentChanged;
        corral::Signal<bool> qemuGaChanged;  // qemu-guest-agent answers (or stopped)
        corral::Signal<MonitorState> monitorChanged;
        corral::Signal<> devicesChanged;
        corral::Signal<const std::string&> migration;  // QMP MIGRATION's status
    };

    // Starts watching `process` at once.
    RunningQemu(VmContext& context, Setup setup, std::unique_ptr<ProcessHandle> process);
    ~RunningQemu();
    RunningQemu(const RunningQemu&) = delete;
    RunningQemu& operator=(const RunningQemu&) = delete;

    // After a launch: connects QMP and the agent, sets up hotplug and resumes the vCPUs (qemu was
    // spawned paused). `done` gets the pid, or why not (qemu is killed then).
    void start(std::function<void(Outcome<pid_t>)> done);
    // After a reattach: connects to what a previous corrald left (in the background if QMP does
    // not answer), settles its hotplug bookkeeping and completes a start it interrupted. Returns
    // whether the vCPUs run. Throws Lifetime::Ended if the qemu went away meanwhile.
    boost::asio::awaitable<bool> takeOver();

    Notices& notices() { return notices_; }
    pid_t pid() const { return process_->pid(); }
    const hypervisor::RuntimeState& state() const { return state_; }
    MonitorState monitorState() const { return monitorState_; }

    // Writes state.json; the error (also logged) if it could not.
    std::optional<std::string> persist();
    // A Shutdown must end by `deadlineUsec` (realtime); recorded for a restarted corrald.
    void shutdownBegan(std::uint64_t deadlineUsec);
    void command(VmCommand command, Done done);
    void signal(int signo) { process_->kill(signo); }

    // The operations of Vm on this qemu (the caller checked that the instance is usable).
    void attachDevice(hypervisor::Device device, Reply<std::string> reply);
    void detach(std::string id, Done done);
    void guestRun(std::vector<std::string> argv, std::string input,
                  std::chrono::milliseconds timeout, Reply<agent::RunOutcome> reply);
    // The medium of CD-ROM `id` (running_qemu_media.cpp); `path` "" ejects.
    void changeMedia(std::string id, std::string path, Done done);
    // Grows disk `id` to `bytes`; new I/O limits for disk `id` (disk_ops.cpp).
    void resizeDisk(std::string id, std::uint64_t bytes, Done done);
    void setDiskLimits(std::string id, std::map<std::string, std::uint64_t> changes, Done done);
    // Snapshot `record` of the disks live / snapshot `name` merged away with block-commit; the
    // chain record in `dir` (the VM's state dir) as it is afterwards (snapshot_live.cpp).
    void snapshot(std::filesystem::path dir, SnapshotChain chain, SnapshotRecord record,
                  Reply<SnapshotChain> reply);
    void deleteSnapshot(std::filesystem::path dir, SnapshotChain chain, std::string name,
                        Reply<SnapshotChain> reply);
    // Backup `plan` of the disks, the record in `dir` as it is afterwards; ends a backup a
    // previous corrald left pending in `record` (backup_live.cpp).
    void backup(std::filesystem::path dir, BackupRecord record, BackupPlan plan,
                std::shared_ptr<BackupWatch> watch, Reply<BackupRecord> reply);
    void settleBackup(std::filesystem::path dir, BackupRecord record, Reply<BackupRecord> reply);
    void guestExecute(std::vector<std::string> argv, std::string input,
                      std::chrono::milliseconds timeout, Reply<std::string> reply);
    void guestListCommands(Reply<std::vector<std::string>> reply);
    // What qemu-guest-agent says of the guest (OS, IPv4 addresses); AgentUnavailable without it.
    void qemuGaGuestInfo(Reply<GuestInfo> reply);
    bool qemuGaAnswers() const { return qemuGaAnswers_; }
    void monitor(std::string json, Reply<std::string> reply);
    // QMP screendump as PNG into `path` (checked by the caller), written by qemu itself.
    void screenshot(std::string path, Done done);
    // Managed save (running_qemu_save.cpp): stops the vCPUs and streams the VM's state into `fd`
    // (QMP getfd, migrate fd:); done once QEMU says the migration completed, within `timeout`.
    // On failure the vCPUs run again if they ran.
    void save(int fd, std::chrono::seconds timeout, Done done);
    // Before start() of a qemu launched with -incoming defer: start() feeds it `fd` (its offset
    // where the migration stream begins) and waits up to `timeout` for the state to load
    // before it resumes the vCPUs.
    void restoreFrom(OwnedFd fd, std::chrono::seconds timeout) {
        restoreFd_ = std::move(fd);
        restoreTimeout_ = timeout;
    }
    // Completes `base` with this qemu's figures (stats_collect.cpp); `devices` name its NICs.
    void sample(VmSample base, std::vector<hypervisor::Device> devices, Reply<VmSample> reply);

  private:
    boost::asio::awaitable<Outcome<VmSample>> sampleSteps(VmSample base,
                                                          std::vector<hypervisor::Device> devices);
    boost::asio::awaitable<Outcome<pid_t>> startSteps();
    boost::asio::awaitable<Outcome<Unit>> saveSteps(int fd, std::chrono::seconds timeout);
    boost::asio::awaitable<Status> restoreSteps(std::chrono::seconds timeout);
    boost::asio::awaitable<Status> passFd(std::string name, int fd);
    // screendump into `path` through an fd corrald opened (running_qemu_screenshot.cpp).
    boost::asio::awaitable<Status> screenshotSteps(std::string path);
    // The VNC password from the definition's password_file, if any (running_qemu_display.cpp).
    boost::asio::awaitable<Status> setVncPassword();
    // Logs it if the VM's swtpm ends while qemu runs (the guest's TPM stops answering).
    boost::asio::awaitable<void> watchTpm();
    boost::asio::awaitable<ExitInfo> watchExit();
    // Rotates qemu.log and console.log every kLogCheckInterval (running_qemu_logs.cpp).
    boost::asio::awaitable<void> rotateLogs();
    // The process is gone: runtime files, MonitorState none, then `exited`.
    void finish(ExitInfo exit);
    void connectAgent();
    boost::asio::awaitable<void> probeAgent();
    // qemu-guest-agent (running_qemu_qga.cpp).
    void connectQemuGa();
    boost::asio::awaitable<void> probeQemuGa();
    // guest-shutdown when qemu-ga takes it, else ACPI system_powerdown.
    boost::asio::awaitable<Outcome<Unit>> powerdownSteps();
    OpError exitedDuring(const std::string& what) const;
    void log(int priority, const std::string& text) const;

    // Monitor health (running_qemu_monitor.cpp).
    void subscribe();
    void setMonitorState(MonitorState state);
    // The error for a QMP command while the monitor is not connected, if it is not.
    std::optional<OpError> checkMonitor() const;
    // Why `link` must not be used, if the socket is served by another process than this qemu (an
    // orphan of the same instance that held on to the socket).
    std::optional<OpError> checkMonitorOwner(const QmpLink& link) const;
    // Runs a QMP call; a timeout marks the monitor unresponsive and starts probing it.
    template <typename T>
    boost::asio::awaitable<Outcome<T>> watched(boost::asio::awaitable<Outcome<T>> call);
    boost::asio::awaitable<void> probeMonitor();
    boost::asio::awaitable<void> reconnectMonitor();
    // After a (re)connect: hotplug bookkeeping, run state and MonitorState from QEMU.
    boost::asio::awaitable<Outcome<RunStatus>> syncWithQemu();

    // Hotplug bookkeeping (qemu_vm_hotplug.cpp).
    std::vector<hypervisor::Device> hotplugged() const;
    // Hotplug for the current QMP link; `hotplugged` are devices a previous corrald added.
    boost::asio::awaitable<void> startHotplug(std::vector<hypervisor::Device> hotplugged);
    // Adds the record and writes state.json; if that fails, drops the record again and detaches
    // the device from QEMU so no device runs unrecorded. The error says what happened.
    boost::asio::awaitable<std::optional<OpError>> recordDevice(
        std::shared_ptr<HotplugControl> hotplug, hypervisor::Device record, std::string address);
    void forgetDevice(const std::string& id);
    boost::asio::awaitable<Outcome<std::string>> attachSteps(hypervisor::Device device);
    boost::asio::awaitable<Outcome<Unit>> detachSteps(std::string id);
    boost::asio::awaitable<Outcome<Unit>> changeMediaSteps(std::string id, std::string path);
    boost::asio::awaitable<Outcome<Unit>> resizeSteps(std::string id, std::uint64_t bytes);
    // InvalidState while QEMU migrates the VM away, the monitor's error, or nothing.
    boost::asio::awaitable<std::optional<OpError>> migrationRefusal(monitor::QmpClient& client);
    boost::asio::awaitable<Outcome<Unit>> limitSteps(std::vector<hypervisor::Device> members);
    boost::asio::awaitable<Outcome<SnapshotChain>> snapshotSteps(std::filesystem::path dir,
                                                                 SnapshotChain chain,
                                                                 SnapshotRecord record);
    boost::asio::awaitable<Outcome<SnapshotChain>> mergeSnapshot(std::filesystem::path dir,
                                                                 SnapshotChain chain,
                                                                 std::string name);
    // Runs block-commit job `job` to its end (job-complete once an active commit is ready).
    boost::asio::awaitable<std::optional<OpError>> commitJob(monitor::QmpClient& client,
                                                             std::string job, monitor::Json args);
    boost::asio::awaitable<Outcome<BackupRecord>> backupSteps(std::filesystem::path dir,
                                                              BackupRecord record, BackupPlan plan,
                                                              std::shared_ptr<BackupWatch> watch);
    // Polls the plan's jobs to their end (job-cancel on a cancel or a failed job), dismisses
    // them; the failure, or nullopt once every disk was copied.
    boost::asio::awaitable<std::optional<OpError>> waitBackupJobs(
        monitor::QmpClient& client, const BackupPlan& plan, std::shared_ptr<BackupWatch> watch);
    boost::asio::awaitable<Outcome<BackupRecord>> settleSteps(std::filesystem::path dir,
                                                              BackupRecord record);
    boost::asio::awaitable<void> dropTargets(monitor::QmpClient& client,
                                             std::vector<std::string> disks);
    // The I/O limits of a device just hotplugged; if QEMU refuses them, the device is unplugged
    // again and the error returned (disk_ops.cpp).
    boost::asio::awaitable<std::optional<OpError>> limitAttached(
        std::shared_ptr<HotplugControl> hotplug, const hypervisor::Device& device);

    VmContext& context_;
    std::string name_;
    hypervisor::RuntimePaths paths_;
    hypervisor::RuntimeState state_;
    std::optional<hypervisor::SlotPlan> plan_;  // none: no hotplug
    bool agentWanted_ = false;
    bool qemuGaWanted_ = false;
    bool qemuGaAnswers_ = false;       // as the last probe found
    hypervisor::DisplaySpec display_;  // as the definition had it when this qemu started
    std::unique_ptr<ProcessHandle> process_;
    std::shared_ptr<QmpLink> qmp_;  // replaced by a reconnect
    std::vector<corral::Connection> qmpSubscriptions_;
    MonitorState monitorState_ = MonitorState::None;
    std::shared_ptr<HotplugControl> hotplug_;  // null until QMP is connected
    std::shared_ptr<AgentLink> agent_;
    std::shared_ptr<agent::QgaClient> qga_;  // null without [agent] qemu_ga
    Notices notices_;
    OwnedFd restoreFd_;  // set: start() restores the VM's state from this file
    std::chrono::seconds restoreTimeout_{0};
    std::unique_ptr<SwtpmProcess> tpm_;  // before life_: the watch on it ends first
    Lifetime life_;
};

}  // namespace corral::supervisor
