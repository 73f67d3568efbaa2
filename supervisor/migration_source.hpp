// The source side of a live migration (Instance.Migrate / CancelMigration): it drives both
// corrald through the phases of docs/architecture.md "Migration" and keeps the VM running on
// exactly one host whatever fails. One run per instance at a time; the last run's state stays
// readable (MigrationState, MigrationProgress) until the next Migrate.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/signal.hpp"
#include "supervisor/lifetime.hpp"
#include "supervisor/migration_config.hpp"
#include "supervisor/migration_control.hpp"
#include "supervisor/registry.hpp"
#include "supervisor/vm_context.hpp"

namespace corral::supervisor {

class StorageCopy;
struct RemoteReply;

class MigrationSource final : public MigrationControl {
  public:
    MigrationSource(VmContext& context, Registry& registry, boost::asio::io_context& io,
                    MigrationSettings settings);
    ~MigrationSource();
    MigrationSource(const MigrationSource&) = delete;
    MigrationSource& operator=(const MigrationSource&) = delete;

    void migrate(Vm& vm, std::string destination, MigrateOptions options, Done done) override;
    Status cancel(const Vm& vm) override;
    MigrationStatus status(const std::string& name) const override;
    // At daemon start, after reattach: a migration a previous corrald left in the middle
    // (<state_dir>/NAME/migrating) is ended with the VM here, cancelled in QEMU and aborted on
    // the destination, unless the switchover had been asked for: then the destination's
    // IncomingState says where it is (there: the qemu here goes, as after a switchover; not
    // resumed there: it goes on here), and if it cannot say, it stays paused here.
    void recover(Vm& vm);

  private:
    struct Run;

    boost::asio::awaitable<Outcome<Unit>> steps(std::shared_ptr<Run> run);
    boost::asio::awaitable<Outcome<std::string>> prepare(std::shared_ptr<Run> run);
    boost::asio::awaitable<Outcome<Unit>> perform(std::shared_ptr<Run> run, std::string uri);
    // migration_source_switch.cpp: FinishIncoming and the VM here stopped as migrated, or the
    // postcopy phase (migrate-start-postcopy, FinishIncoming, the rest of the pages) and then
    // the same end.
    boost::asio::awaitable<Outcome<Unit>> switchover(std::shared_ptr<Run> run);
    boost::asio::awaitable<Outcome<Unit>> startPostcopy(std::shared_ptr<Run> run);
    boost::asio::awaitable<Outcome<Unit>> finishPostcopy(std::shared_ptr<Run> run);
    // migration_source_resume.cpp: the rest of the pages, and QEMU's postcopy recovery when the
    // stream breaks (the destination's RecoverIncoming, then migrate resume), until completed or
    // the timeout.
    boost::asio::awaitable<Outcome<Unit>> drainPostcopy(std::shared_ptr<Run> run);
    boost::asio::awaitable<void> resumePostcopy(std::shared_ptr<Run> run);
    OpError postcopyLost(Run& run, const std::string& why);
    // After a restart with a `switching` record: the destination's IncomingState decides.
    boost::asio::awaitable<Outcome<Unit>> settleSwitch(std::shared_ptr<Run> run);
    boost::asio::awaitable<RemoteReply> finishIncoming(std::shared_ptr<Run> run);
    boost::asio::awaitable<Outcome<Unit>> departed(std::shared_ptr<Run> run);
    // From here the VM is never resumed here by corrald (the record says so across a restart).
    void markSwitching(Run& run);
    // Storage copy (migration_source_storage.cpp): the disks' sizes before Prepare; the mirrors
    // into the destination's exports until all are in sync (the stream's URI from Prepare's
    // answer, or the error after which the VM runs here); their end in sync at QEMU's
    // pre-switchover pause, then migrate-continue.
    boost::asio::awaitable<Outcome<Unit>> copyStorageSetup(std::shared_ptr<Run> run);
    boost::asio::awaitable<Outcome<std::string>> copyStorage(std::shared_ptr<Run> run,
                                                             std::string answer);
    boost::asio::awaitable<Outcome<Unit>> completeStorage(std::shared_ptr<Run> run);
    std::unique_ptr<StorageCopy> storageCopyOf(const std::shared_ptr<Run>& run,
                                               std::vector<hypervisor::Device> disks);
    // Before the switchover: the VM goes on here (cont if the migration stopped it), the
    // destination drops its qemu.
    boost::asio::awaitable<Outcome<Unit>> stayHere(std::shared_ptr<Run> run, std::string state,
                                                   std::string why);
    boost::asio::awaitable<Outcome<Unit>> recoverSteps(std::shared_ptr<Run> run);
    // What ends every run: the records, MigrationState, the log, then `done`.
    std::function<void(Status)> completion(std::shared_ptr<Run> run, Done done);
    boost::asio::awaitable<Outcome<std::string>> qmp(std::shared_ptr<Run> run, std::string json);
    void setState(Run& run, std::string state);
    void log(int priority, const std::string& text) const;

    VmContext& context_;
    MigrationSettings settings_;
    Registry& registry_;
    boost::asio::io_context& io_;
    std::map<std::string, std::shared_ptr<Run>, std::less<>> runs_;
    corral::Connection removing_;
    Lifetime life_;
};

}  // namespace corral::supervisor
