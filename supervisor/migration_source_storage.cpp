// MigrationSource with storage "copy": the disks are measured before Prepare, mirrored into the
// destination's NBD exports until in sync (MigrationState copying-storage), and the mirrors are
// ended in sync at QEMU's pre-switchover pause (docs/architecture.md "Storage copy").
#include "supervisor/migration_source.hpp"
#include "supervisor/migration_source_run.hpp"
#include "supervisor/migration_tls.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

namespace {

const std::string kPreSwitchover = R"({"execute":"migrate-continue","arguments":{"state":)"
                                   R"("pre-switchover"}})";

}  // namespace

std::unique_ptr<StorageCopy> MigrationSource::storageCopyOf(const std::shared_ptr<Run>& run,
                                                            std::vector<hypervisor::Device> disks) {
    std::weak_ptr<Run> weak = run;
    auto qmp = [this, weak](std::string json) -> asio::awaitable<Outcome<std::string>> {
        auto run = weak.lock();
        if (!run) co_return OpError{ErrorKind::Failed, "the migration ended"};
        co_return co_await this->qmp(run, std::move(json));
    };
    return std::make_unique<StorageCopy>(std::move(disks), qmp, life_);
}

asio::awaitable<Outcome<Unit>> MigrationSource::copyStorageSetup(std::shared_ptr<Run> run) {
    const auto devices = run->vm->devices();
    std::vector<hypervisor::Device> disks;
    for (const auto* disk : copiedDisks(devices)) disks.push_back(*disk);
    if (disks.empty())
        co_return OpError{ErrorKind::InvalidArgument, "Migrate: storage 'copy': " + run->name +
                                                          " has no writable disk to copy"};
    run->storage = storageCopyOf(run, std::move(disks));
    auto sizes = co_await run->storage->measure();
    if (!sizes) {
        run->storage.reset();
        co_return OpError{ErrorKind::Failed, "Migrate: " + sizes.error().message};
    }
    run->sizes = std::move(sizes.value());
    co_return Unit{};
}

asio::awaitable<Outcome<std::string>> MigrationSource::copyStorage(std::shared_ptr<Run> run,
                                                                   std::string answer) {
    auto uris = splitCopyUri(answer);
    setState(*run, "copying-storage");
    std::optional<std::filesystem::path> tls;
    if (run->options.tls) tls = settings_.tlsDir;
    std::string why;
    const std::uint64_t speed = run->options.bandwidth.value_or(0);
    // A confined qemu has the client credentials on its command line (migration_tls_confined).
    std::string preloaded = run->tlsPreloaded ? kMigrationTlsClientId : "";
    auto started = co_await run->storage->start(*uris, tls, speed, preloaded);
    if (!started) why = started.error().message;
    if (why.empty()) {
        auto deadline = context_.clock.now() + run->options.timeout;
        std::weak_ptr<Run> weak = run;
        auto stop = [this, weak, deadline]() -> std::string {
            auto run = weak.lock();
            if (!run) return "the migration ended";
            if (!run->vm) return run->name + " was removed";
            if (run->stopWhy.empty() && run->options.timeout.count() > 0 &&
                context_.clock.now() >= deadline)
                run->stopWhy = "the disks were not copied within " +
                               std::to_string(run->options.timeout.count()) + " s (timeout)";
            return run->stopWhy;
        };
        auto progress = [this, weak](std::uint64_t done, std::uint64_t total) {
            auto run = weak.lock();
            if (!run) return;
            run->status.progress.storageTransferred = done;
            run->status.progress.storageTotal = total;
            changed_.emit(run->name);
        };
        auto ready = co_await run->storage->waitReady(run->wake, stop, progress);
        if (!ready) why = ready.error().message;
    }
    if (why.empty()) {
        log(5, run->name + ": disks in sync on " + run->destination + "; migrating the RAM");
        co_return uris->stream;
    }
    std::string state = run->cancelled ? "cancelled" : "failed";
    auto here = co_await stayHere(run, state, why);
    co_return here.error();
}

asio::awaitable<Outcome<Unit>> MigrationSource::completeStorage(std::shared_ptr<Run> run) {
    // The vCPUs are stopped: the mirrors have at most what the guest wrote last to send.
    auto ended = co_await run->storage->complete();
    if (!ended)
        co_return OpError{ErrorKind::Failed, "ending the storage copy: " + ended.error().message};
    run->storageEnded = true;
    log(5, run->name + ": disks copied; switching over");
    auto resumed = co_await qmp(run, kPreSwitchover);
    if (!resumed)
        co_return OpError{ErrorKind::Failed, "migrate-continue: " + resumed.error().message};
    co_return Unit{};
}

}  // namespace corral::supervisor
