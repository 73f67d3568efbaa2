// Backup, CancelBackup and ListBackups of a QemuVm: the checks, the plan (backup_plan.cpp), then
// the running qemu's steps (backup_live.cpp). The record lives in <state_dir>/NAME/backups.json.
// A stopped VM is refused: its images are copied with qemu-img as they are (docs/architecture.md,
// "Backups").
#include <unistd.h>

#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace fs = std::filesystem;

namespace {

// PropertiesChanged of BackupProgress at most this often while a backup runs.
constexpr auto kProgressInterval = std::chrono::seconds(1);

}  // namespace

std::optional<OpError> QemuVm::backupRefusal(const BackupRequest& request) const {
    if (backupWatch_)
        return OpError{ErrorKind::Busy, name_ +
                                            " is being backed up; try again when it is done "
                                            "(or CancelBackup)."};
    if (snapshotting_)
        return OpError{ErrorKind::Busy, name_ +
                                            " is in the middle of a snapshot operation; try "
                                            "again when it is done."};
    if (!spec_) return OpError{ErrorKind::InvalidDefinition, invalidWhy_};
    if (!running_)
        return OpError{ErrorKind::InvalidState,
                       name_ +
                           " is not running; Backup copies the disks of a running VM (copy "
                           "a stopped VM's images with qemu-img convert)."};
    if (auto unusable = instance_.checkUsable()) return unusable;
    fs::path target(request.target);
    std::error_code ec;
    if (!target.is_absolute() || !fs::is_directory(target, ec) ||
        ::access(target.c_str(), W_OK | X_OK) != 0)
        return OpError{ErrorKind::InvalidArgument,
                       "Backup: target " + request.target +
                           " is not a writable directory (an absolute path); nothing was changed."};
    return std::nullopt;
}

void QemuVm::setBackupStatus(std::string state, std::uint64_t done, std::uint64_t total) {
    auto now = std::chrono::steady_clock::now();
    bool stateChanged = state != backupStatus_.state;
    backupStatus_ = {std::move(state), done, total};
    if (!stateChanged && now - backupEmitted_ < kProgressInterval) return;
    backupEmitted_ = now;
    instance_.changed().emit(kChangedBackup);
}

void QemuVm::backup(BackupRequest request, Done done) {
    if (auto refused = backupRefusal(request)) return done(*refused);
    std::string error;
    auto record = readBackups(snapshotDir(), error);
    if (!record) return done(OpError{ErrorKind::Failed, name_ + ": " + error + "."});
    if (!record->pending) return runBackup(std::move(*record), std::move(request), std::move(done));
    // A backup a killed corrald left: ended first.
    std::weak_ptr<bool> alive = alive_;
    backupWatch_ = std::make_shared<BackupWatch>();
    running_->settleBackup(snapshotDir(), std::move(*record),
                           [this, alive, request = std::move(request),
                            done = std::move(done)](Outcome<BackupRecord> settled) mutable {
                               if (alive.expired()) return done(okStatus());
                               backupWatch_.reset();
                               if (!settled) return done(settled.error());
                               if (auto refused = backupRefusal(request)) return done(*refused);
                               runBackup(std::move(settled.value()), std::move(request),
                                         std::move(done));
                           });
}

void QemuVm::runBackup(BackupRecord record, BackupRequest request, Done done) {
    auto plan =
        planBackup(record, request, running_->state().devices, context_.clock.realtimeUsec());
    if (!plan) {
        auto refused = plan.error();
        refused.message = name_ + ": " + refused.message;
        return done(refused);
    }
    auto watch = std::make_shared<BackupWatch>();
    std::weak_ptr<bool> alive = alive_;
    watch->progress = [this, alive](std::uint64_t copied, std::uint64_t total) {
        if (!alive.expired()) setBackupStatus("running", copied, total);
    };
    backupWatch_ = watch;
    setBackupStatus("running", 0, 0);
    running_->backup(snapshotDir(), std::move(record), std::move(plan.value()), watch,
                     [this, alive, done = std::move(done)](Outcome<BackupRecord> result) {
                         if (alive.expired())
                             return done(result ? okStatus() : Status(result.error()));
                         endBackup(std::move(result), done);
                     });
}

void QemuVm::endBackup(Outcome<BackupRecord> result, Done done) {
    bool cancelled = backupWatch_ && backupWatch_->cancel;
    backupWatch_.reset();
    if (result) {
        log(5, "backup " + result.value().checkpoints.back().name + " completed");
        setBackupStatus("completed", backupStatus_.total, backupStatus_.total);
        return done(okStatus());
    }
    // The qemu went away under it: its partial files are removed here.
    dropPendingBackup();
    setBackupStatus(cancelled ? "cancelled" : "failed", backupStatus_.done, backupStatus_.total);
    done(result.error());
}

void QemuVm::dropPendingBackup() {
    std::string error;
    auto record = readBackups(snapshotDir(), error);
    if (!record || !record->pending) return;
    for (const auto& f : record->pending->files) {
        std::error_code ignored;
        fs::remove(f.file, ignored);
    }
    log(5, "backup " + record->pending->name + " did not finish; its files were removed");
    record->pending.reset();
    if (auto unwritten = writeBackups(snapshotDir(), *record)) log(4, *unwritten);
}

void QemuVm::settleBackup() {
    std::string error;
    auto record = readBackups(snapshotDir(), error);
    if (!record || !record->pending || backupWatch_) return;
    if (!running_) return dropPendingBackup();
    std::weak_ptr<bool> alive = alive_;
    backupWatch_ = std::make_shared<BackupWatch>();
    running_->settleBackup(snapshotDir(), std::move(*record),
                           [this, alive](Outcome<BackupRecord> settled) {
                               if (alive.expired()) return;
                               backupWatch_.reset();
                               if (!settled) log(4, settled.error().message);
                           });
}

void QemuVm::cancelBackup(Done done) {
    if (!backupWatch_ || backupStatus_.state != "running")
        return done(OpError{ErrorKind::InvalidState, name_ + " runs no backup."});
    backupWatch_->cancel = true;
    log(5, "backup cancelled on request");
    done(okStatus());
}

Outcome<BackupRecord> QemuVm::backups() const {
    std::string error;
    auto record = readBackups(snapshotDir(), error);
    if (!record) return OpError{ErrorKind::Failed, name_ + ": " + error + "."};
    return *record;
}

}  // namespace corral::supervisor
