// A real VM: the Vm the D-Bus layer uses and the VmControl its lifecycle state machine drives.
// QemuVm holds the definition and the Instance; everything that lives as long as one qemu
// process is that process's RunningQemu, made at launch or reattach and dropped when it exits.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "common/signal.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "supervisor/running_qemu.hpp"
#include "supervisor/vm.hpp"
#include "supervisor/vm_context.hpp"
#include "supervisor/vm_control.hpp"

namespace corral::supervisor {

// The runtime paths of `name`, its logs in <logRoot>/<name>/ when the context has a log root.
hypervisor::RuntimePaths instancePaths(const VmContext& context, const std::string& name);

class QemuVm : public Vm, private VmControl {
  public:
    QemuVm(VmContext& context, std::string name, const hypervisor::LoadResult& definition);
    ~QemuVm() override;

    const std::string& name() const override { return name_; }
    Instance& lifecycle() override { return instance_; }
    VmInfo info() const override;
    void redefine(const hypervisor::LoadResult& definition) override;
    const hypervisor::InstanceSpec* activeSpec() const override {
        return spec_ ? &*spec_ : nullptr;
    }
    bool applyResources(const hypervisor::ResourcesSpec& resources) override;
    std::vector<hypervisor::Device> devices() const override;

    void attachDevice(hypervisor::Device device, Reply<std::string> reply) override;
    void changeMedia(std::string id, std::string path, Done done) override;
    void resizeDisk(std::string id, std::uint64_t bytes, Done done) override;
    void setDiskLimits(std::string id, std::map<std::string, std::uint64_t> changes,
                       Done done) override;
    void detach(std::string id, Done done) override;
    void guestRun(std::vector<std::string> argv, std::string input,
                  std::chrono::milliseconds timeout, Reply<agent::RunOutcome> reply) override;
    void guestExecute(std::vector<std::string> argv, std::string input,
                      std::chrono::milliseconds timeout, Reply<std::string> reply) override;
    void guestListCommands(Reply<std::vector<std::string>> reply) override;
    bool qemuGaConnected() const override { return running_ && running_->qemuGaAnswers(); }
    void qemuGaGuestInfo(Reply<GuestInfo> reply) override;
    void monitor(std::string json, Reply<std::string> reply) override;
    void screenshot(std::string path, Done done) override;
    void clearMigrated() override;
    void sample(Reply<VmSample> reply) override;
    void save(SaveReason reason, Done done) override;
    bool hasSavedState() const override;
    bool restoresAtBoot() const override;
    std::optional<std::string> discardSavedState() override;
    // Snapshots (snapshot_vm.cpp).
    void snapshot(std::string name, Done done) override;
    void revertSnapshot(std::string name, bool force, Done done) override;
    void deleteSnapshot(std::string name, Done done) override;
    Outcome<SnapshotChain> snapshots() const override;
    // Backups (backup_vm.cpp).
    void backup(BackupRequest request, Done done) override;
    void cancelBackup(Done done) override;
    Outcome<BackupRecord> backups() const override;
    BackupStatus backupStatus() const override { return backupStatus_; }

    // Daemon start: adopts a live qemu left by a previous corrald, or removes a stale runtime
    // dir. Never kills anything (qemu_vm_reattach.cpp).
    boost::asio::awaitable<void> reattach();
    bool autostart() const { return spec_ && spec_->lifecycle.autostart; }
    // The qemu of an incoming migration that arrived here (MigrationTarget): taken over like a
    // reattached one, with its handle (qemu_vm_migration.cpp).
    boost::asio::awaitable<void> adoptIncoming(std::unique_ptr<ProcessHandle> process,
                                               hypervisor::RuntimeState state);

  private:
    void setEvents(VmEvents events) override { events_ = std::move(events); }
    void launch(std::function<void(Outcome<pid_t>)> done) override;
    void command(VmCommand command, Done done) override;
    void signal(int signo) override;
    void shutdownBegan(std::uint64_t deadlineUsec) override;

    // By value: callers pass *pending_, which apply() resets.
    void apply(hypervisor::LoadResult definition);
    // Makes the RunningQemu for a spawned or adopted process and listens to it.
    void track(std::unique_ptr<ProcessHandle> process, hypervisor::RuntimeState state,
               std::unique_ptr<SwtpmProcess> tpm = nullptr);
    void ended(ExitInfo exit);
    // After track(): takes over the qemu and tells the Instance (reattach, incoming migration).
    boost::asio::awaitable<void> takeOverTracked();
    // For an operation on the running qemu: the error for the caller, if there is none or the
    // instance is busy.
    std::optional<OpError> checkUsable() const;
    std::optional<hypervisor::RuntimeState> findUnrecorded() const;
    // The swtpm a start needs ([tpm] type = "tpm2"), running; nullptr without a TPM. Throws
    // std::runtime_error (qemu_vm_tpm.cpp).
    std::unique_ptr<SwtpmProcess> startTpm();
    // The swtpm a previous corrald left in the runtime dir, if it still runs; `qemu` (null when it
    // is gone) tells the uid a confined one runs as.
    std::unique_ptr<SwtpmProcess> adoptTpm(const hypervisor::RuntimeState* qemu);
    std::optional<OpError> definitionGone() const;
    // Managed save (qemu_vm_save.cpp). The saved state the next launch restores from, its
    // header read; nullopt without one. Throws std::runtime_error when it cannot be used.
    struct Restore {
        SavedHeader header;
        OwnedFd fd;
    };
    std::optional<Restore> openSavedState() const;
    // Hands `restore` to the RunningQemu just made; returns what its start answers with: the
    // file goes once the VM runs again.
    std::function<void(Outcome<pid_t>)> afterRestore(Restore restore,
                                                     std::function<void(Outcome<pid_t>)> done);
    // After the save completed: the file is made the saved state and qemu is stopped.
    void commitSave(OwnedFd file, SaveReason reason, Done done);
    // After a reattach: what a save or restore that a previous corrald left unfinished needs.
    void settleSave();
    void log(int priority, const std::string& text) const;
    // Snapshots (snapshot_vm.cpp): <state_dir>/NAME; the chain record, or the error for a
    // caller; what refuses a snapshot operation now; a start's disks put on their chains' tops
    // (throws std::runtime_error when the record cannot be read).
    std::filesystem::path snapshotDir() const;
    Outcome<SnapshotChain> chainFor(const std::string& name, bool mustExist) const;
    std::optional<OpError> snapshotRefusal(const char* what) const;
    void useSnapshots(std::vector<hypervisor::Device>& devices) const;
    void revertStopped(std::string name, Done done);
    // Runs an offline snapshot operation; `done` only if this QemuVm still exists.
    void runOffline(boost::asio::awaitable<Outcome<SnapshotChain>> work, Done done);
    // Marks a running qemu's snapshot operation under way; the reply ends it and answers `done`.
    Reply<SnapshotChain> whileSnapshotting(Done done);
    // Backups (backup_vm.cpp): the checks before one, its run, its end (the record's pending
    // backup dropped if the qemu went away under it), BackupState/BackupProgress changes at a
    // bounded rate; after a reattach, a backup a previous corrald left is ended.
    std::optional<OpError> backupRefusal(const BackupRequest& request) const;
    void runBackup(BackupRecord record, BackupRequest request, Done done);
    void endBackup(Outcome<BackupRecord> result, Done done);
    void setBackupStatus(std::string state, std::uint64_t done, std::uint64_t total);
    void dropPendingBackup();
    void settleBackup();
    // The VM's log files (qemu_vm_logs.cpp), nothing without VmContext::logRoot: before a launch,
    // rotation and the reason in qemu.log; each LastExit and each running qemu's pid after it.
    void logLaunch(const std::string& why);
    void logEvent(const std::string& text) const;
    void watchForLog();

    VmContext& context_;
    std::string name_;
    std::optional<hypervisor::InstanceSpec> spec_;
    std::string invalidWhy_;
    std::optional<hypervisor::LoadResult> pending_;  // applied once qemu is gone
    hypervisor::RuntimePaths paths_;
    std::unique_ptr<RunningQemu> running_;
    std::vector<corral::Connection> runningNotices_;
    std::vector<hypervisor::Device> lastDevices_;  // what the last qemu had, once it exited
    VmEvents events_;
    bool saving_ = false;
    bool snapshotting_ = false;                 // a snapshot operation is under way
    std::shared_ptr<BackupWatch> backupWatch_;  // a backup is under way
    BackupStatus backupStatus_;
    std::chrono::steady_clock::time_point backupEmitted_;  // BackupProgress last announced
    // Dropped before running_: a save's completion that runs while this is destroyed does nothing.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    Instance instance_;            // last: its constructor hands its callbacks to this VmControl
    corral::Connection logWatch_;  // on instance_.changed()
};

}  // namespace corral::supervisor
