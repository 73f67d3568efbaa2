// Snapshot, RevertSnapshot, DeleteSnapshot and ListSnapshots of a QemuVm: the checks, then the
// running qemu's steps (snapshot_live.cpp) or qemu-img on a stopped VM's images
// (snapshot_image.cpp). The chain record lives in <state_dir>/NAME/snapshots.json, the overlays
// in <state_dir>/NAME/snapshots/; every start puts the disks on their chains' tops (useSnapshots).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "supervisor/qemu_vm.hpp"
#include "supervisor/snapshot_image.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
namespace fs = std::filesystem;

fs::path QemuVm::snapshotDir() const {
    return context_.stateRoot / name_;
}

Outcome<SnapshotChain> QemuVm::chainFor(const std::string& name, bool mustExist) const {
    std::string error;
    auto chain = readChain(snapshotDir(), error);
    if (!chain) return OpError{ErrorKind::Failed, name_ + ": " + error + "."};
    bool there = chain->find(name) != nullptr;
    if (mustExist && !there)
        return OpError{ErrorKind::InvalidArgument, name_ + " has no snapshot " + name + "."};
    if (!mustExist && there)
        return OpError{ErrorKind::Exists, name_ + " has a snapshot " + name + " already."};
    return *chain;
}

std::optional<OpError> QemuVm::snapshotRefusal(const char* what) const {
    if (snapshotting_)
        return OpError{ErrorKind::Busy, name_ +
                                            " is in the middle of a snapshot operation; try "
                                            "again when it is done."};
    if (backupWatch_)
        return OpError{ErrorKind::Busy, name_ + " is being backed up; try again when it is done."};
    if (!spec_) return OpError{ErrorKind::InvalidDefinition, invalidWhy_};
    if (hasSavedState())
        return OpError{ErrorKind::InvalidState,
                       name_ +
                           " has a saved state, whose memory belongs to the disks as they "
                           "are; start it (or discard the state) before " +
                           std::string(what) + "."};
    if (running_) return instance_.checkUsable();
    auto state = instance_.state();
    if (state != State::Stopped && state != State::Crashed)
        return OpError{ErrorKind::Busy,
                       name_ + " is " + toString(state) + "; try again when it is done."};
    return std::nullopt;
}

void QemuVm::useSnapshots(std::vector<hypervisor::Device>& devices) const {
    std::string error;
    auto chain = readChain(snapshotDir(), error);
    if (!chain) throw std::runtime_error(error);
    if (int moved = useChain(devices, *chain))
        log(6, std::to_string(moved) + " disk(s) start on their snapshot overlays");
}

void QemuVm::runOffline(asio::awaitable<Outcome<SnapshotChain>> work, Done done) {
    snapshotting_ = true;
    std::weak_ptr<bool> alive = alive_;
    asio::co_spawn(
        context_.executor, std::move(work),
        [this, alive, done = std::move(done)](std::exception_ptr e, Outcome<SnapshotChain> result) {
            if (alive.expired()) return;
            snapshotting_ = false;
            if (e) return done(OpError{ErrorKind::Failed, name_ + ": snapshot failed"});
            if (!result) return done(result.error());
            done(okStatus());
        });
}

Reply<SnapshotChain> QemuVm::whileSnapshotting(Done done) {
    snapshotting_ = true;
    std::weak_ptr<bool> alive = alive_;
    return [this, alive, done = std::move(done)](Outcome<SnapshotChain> result) {
        if (!alive.expired()) snapshotting_ = false;
        done(result ? okStatus() : Status(result.error()));
    };
}

void QemuVm::snapshot(std::string name, Done done) {
    if (auto refused = snapshotRefusal("a snapshot")) return done(*refused);
    auto chain = chainFor(name, false);
    if (!chain) return done(chain.error());
    std::vector<hypervisor::Device> current;
    if (running_) {
        current = running_->state().devices;
    } else {
        current = spec_->devices;
        useChain(current, chain.value());
    }
    auto record =
        newSnapshot(chain.value(), name, current, snapshotDir(), context_.clock.realtimeUsec());
    if (record.disks.empty())
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " has no writable disk; read-only disks and CD-ROMs are "
                                    "not snapshotted."});
    if (!running_)
        return runOffline(snapshotOffline(context_.executor, snapshotDir(),
                                          std::move(chain.value()), std::move(record)),
                          std::move(done));
    running_->snapshot(snapshotDir(), std::move(chain.value()), std::move(record),
                       whileSnapshotting(std::move(done)));
}

void QemuVm::revertStopped(std::string name, Done done) {
    auto chain = chainFor(name, true);
    if (!chain) return done(chain.error());
    runOffline(revertOffline(context_.executor, snapshotDir(), std::move(chain.value()), name),
               std::move(done));
}

void QemuVm::revertSnapshot(std::string name, bool force, Done done) {
    if (auto refused = snapshotRefusal("a revert")) return done(*refused);
    if (auto chain = chainFor(name, true); !chain) return done(chain.error());
    if (!running_) return revertStopped(std::move(name), std::move(done));
    if (!force)
        return done(OpError{ErrorKind::InvalidState,
                            name_ +
                                " is running; stop it first, or revert with force (it is "
                                "then killed and started again from snapshot " +
                                name + ")."});
    // force: kill, revert the images, start again.
    log(5, "reverting to snapshot " + name + ": the VM is killed and started again");
    std::weak_ptr<bool> alive = alive_;
    instance_.kill([this, alive, name, done = std::move(done)](Status killed) mutable {
        if (alive.expired()) return done(killed);
        if (!killed) return done(killed);
        revertStopped(name, [this, alive, done = std::move(done)](Status reverted) {
            if (alive.expired() || !reverted) return done(reverted);
            instance_.start(done);
        });
    });
}

void QemuVm::deleteSnapshot(std::string name, Done done) {
    if (auto refused = snapshotRefusal("a snapshot's deletion")) return done(*refused);
    auto chain = chainFor(name, true);
    if (!chain) return done(chain.error());
    if (!running_)
        return runOffline(
            deleteOffline(context_.executor, snapshotDir(), std::move(chain.value()), name),
            std::move(done));
    running_->deleteSnapshot(snapshotDir(), std::move(chain.value()), std::move(name),
                             whileSnapshotting(std::move(done)));
}

Outcome<SnapshotChain> QemuVm::snapshots() const {
    std::string error;
    auto chain = readChain(snapshotDir(), error);
    if (!chain) return OpError{ErrorKind::Failed, name_ + ": " + error + "."};
    return *chain;
}

}  // namespace corral::supervisor
