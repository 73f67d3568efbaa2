// One managed instance as the D-Bus layer sees it: its definition, the lifecycle state machine
// and the operations that need a running VM (hotplug, guest agent, raw monitor).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/methods.hpp"
#include "common/signal.hpp"
#include "hypervisor/instance_spec.hpp"
#include "supervisor/backup_record.hpp"
#include "supervisor/guest_info.hpp"
#include "supervisor/instance.hpp"
#include "supervisor/managed_save.hpp"
#include "supervisor/snapshot_record.hpp"
#include "supervisor/stats.hpp"

namespace corral::supervisor {

// What an instance's definition says, in plain types (also for an invalid definition).
struct VmInfo {
    std::string machine;  // "q35" | "pc" | "" when invalid
    unsigned vcpus = 0;
    std::uint64_t memoryBytes = 0;
    std::string uuid;  // canonical; "" when invalid
    std::string qmpSocket;
    std::string serialSocket;
};

template <typename T>
using Reply = std::function<void(Outcome<T>)>;

class Vm {
  public:
    virtual ~Vm() = default;

    virtual const std::string& name() const = 0;
    virtual Instance& lifecycle() = 0;
    virtual VmInfo info() const = 0;
    // A reloaded definition: applied now when no qemu runs, otherwise at the next start.
    // An invalid one marks the instance invalid once it is not running.
    virtual void redefine(const hypervisor::LoadResult& definition) = 0;
    // The definition in force: what the running qemu was started with, or, with none running,
    // what the next start uses; nullptr when that is invalid (or unknown to a test double).
    virtual const hypervisor::InstanceSpec* activeSpec() const { return nullptr; }
    // Gives the running VM new [resources] now (its systemd scope's limits); false when it has
    // no scope to change (no qemu, or not under systemd): they wait for the next start then.
    virtual bool applyResources(const hypervisor::ResourcesSpec& resources) {
        (void)resources;
        return false;
    }
    // Boot-time and hotplugged devices of the running qemu (empty when none runs).
    virtual std::vector<hypervisor::Device> devices() const = 0;
    // Raised by the implementation whenever devices() changed; any number of subscribers.
    Signal<>& devicesChanged() { return devicesChanged_; }
    // QMP MIGRATION events of the running qemu (their status) and its block jobs' events (their
    // name, BLOCK_JOB_READY ...), as they arrive; migrations wait on them instead of polling
    // query-migrate and query-block-jobs.
    Signal<const std::string&>& migrationEvents() { return migrationEvents_; }

    // Hotplug of a device whose options passed its kind's schema (supervisor/dbus_args);
    // answers with the PCI address ("bus:SS.0") or an error.
    virtual void attachDevice(hypervisor::Device device, Reply<std::string> reply) = 0;
    virtual void detach(std::string id, Done done) = 0;
    // Puts the ISO at `path` (checked by supervisor/dbus_args) into CD-ROM `id`; "" ejects.
    virtual void changeMedia(std::string id, std::string path, Done done) {
        (void)id;
        (void)path;
        done(OpError{ErrorKind::InvalidState, "this instance has no CD-ROMs to change"});
    }
    // Grows disk `id` of the running VM to `bytes` (checked by supervisor/disk_args); a shrink,
    // a read-only disk or a CD-ROM is refused.
    virtual void resizeDisk(std::string id, std::uint64_t bytes, Done done) {
        (void)id;
        (void)bytes;
        done(OpError{ErrorKind::InvalidState, "this instance has no disks to resize"});
    }
    // Changes the I/O limits of disk `id` of the running VM: each key of `changes` (a limit key of
    // hypervisor/disk_limits.hpp, checked by supervisor/disk_args) set to its value, 0 removing
    // it; the whole throttle group follows. Refused, nothing changed, if the result breaks a rule.
    virtual void setDiskLimits(std::string id, std::map<std::string, std::uint64_t> changes,
                               Done done) {
        (void)id;
        (void)changes;
        done(OpError{ErrorKind::InvalidState, "this instance has no disks to limit"});
    }

    // External snapshots of the writable disks (snapshot_record.hpp); `name` checked by the
    // caller. Revert needs the VM stopped, or `force` (it is killed and started again).
    virtual void snapshot(std::string name, Done done) {
        (void)name;
        done(OpError{ErrorKind::InvalidState, "this instance has no disks to snapshot"});
    }
    virtual void revertSnapshot(std::string name, bool force, Done done) {
        (void)name;
        (void)force;
        done(OpError{ErrorKind::InvalidState, "this instance has no snapshots"});
    }
    virtual void deleteSnapshot(std::string name, Done done) {
        (void)name;
        done(OpError{ErrorKind::InvalidState, "this instance has no snapshots"});
    }
    // The chain record, oldest snapshot first.
    virtual Outcome<SnapshotChain> snapshots() const { return SnapshotChain{}; }

    // Backups of the disks (backup_record.hpp); `request` checked for shape by the caller. Done
    // once the copy ended; cancelBackup ends a running one.
    virtual void backup(BackupRequest request, Done done) {
        (void)request;
        done(OpError{ErrorKind::InvalidState, "this instance has no disks to back up"});
    }
    virtual void cancelBackup(Done done) {
        done(OpError{ErrorKind::InvalidState, "this instance runs no backup"});
    }
    virtual Outcome<BackupRecord> backups() const { return BackupRecord{}; }
    // BackupState (none, running, completed, failed, cancelled) and BackupProgress in bytes.
    struct BackupStatus {
        std::string state = "none";
        std::uint64_t done = 0;
        std::uint64_t total = 0;
    };
    virtual BackupStatus backupStatus() const { return {}; }

    // Guest agent calls over the negotiator host-to-guest channel.
    virtual void guestExecute(std::vector<std::string> argv, std::string input,
                              std::chrono::milliseconds timeout, Reply<std::string> reply) = 0;
    // corral_run: stdin bytes in; exit status, stdout and stderr out (NotSupported from an
    // agent without it, e.g. the original negotiator-guest).
    virtual void guestRun(std::vector<std::string> argv, std::string input,
                          std::chrono::milliseconds timeout, Reply<agent::RunOutcome> reply) = 0;
    virtual void guestListCommands(Reply<std::vector<std::string>> reply) = 0;
    // qemu-guest-agent ([agent] qemu_ga): whether it answered its last probe, and what it says
    // of the guest (Instance.GuestInfo asks it when the negotiator agent is not connected).
    virtual bool qemuGaConnected() const { return false; }
    virtual void qemuGaGuestInfo(Reply<GuestInfo> reply) {
        reply(OpError{ErrorKind::AgentUnavailable, name() + " has no qemu-guest-agent port."});
    }

    // Forgets that the VM was migrated away (Instance::migratedTo), so that Start works again:
    // an administrator's explicit decision (StartWithOptions force).
    virtual void clearMigrated() { lifecycle().setMigratedTo({}); }

    // Managed save (supervisor/qemu_vm_save.cpp): the running VM's state goes into its saved-state
    // file and its qemu stops (LastExit "saved"); the next start restores it. `done` once qemu
    // is gone, or with the error after which the VM runs on as before.
    virtual void save(SaveReason reason, Done done) {
        (void)reason;
        done(OpError{ErrorKind::NotSupported, name() + " cannot be saved."});
    }
    virtual bool hasSavedState() const { return false; }
    // Whether the next boot starts it to restore a state saved at host shutdown.
    virtual bool restoresAtBoot() const { return false; }
    // Drops the saved state, so that the next start boots afresh; the path removed, if any.
    virtual std::optional<std::string> discardSavedState() { return std::nullopt; }

    // Raw QMP: one JSON command in, the JSON reply out.
    virtual void monitor(std::string json, Reply<std::string> reply) = 0;

    // A PNG of the VGA console written by qemu to `path` (checked by supervisor/dbus_args).
    virtual void screenshot(std::string path, Done done) {
        (void)path;
        done(OpError{ErrorKind::InvalidState, name() + " has no display."});
    }

    // A sample of its resource use (supervisor/stats.hpp); zeros when no qemu runs. A figure
    // that cannot be had stays zero; it fails only if qemu exits while it is being sampled.
    virtual void sample(Reply<VmSample> reply) = 0;

  private:
    Signal<> devicesChanged_;
    Signal<const std::string&> migrationEvents_;
};

}  // namespace corral::supervisor
