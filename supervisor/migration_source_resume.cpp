// MigrationSource after the switch to postcopy: the guest runs on the destination and fetches its
// pages from here while QEMU sends the rest. A broken stream is QEMU's `postcopy-paused` (neither
// side alone has the whole memory, so neither runs on): corrald recovers it, bounded by the
// migration's timeout (docs/architecture.md "Postcopy recovery").
#include "supervisor/migration_remote.hpp"
#include "supervisor/migration_source.hpp"
#include "supervisor/migration_source_run.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace migration_run;

asio::awaitable<Outcome<Unit>> MigrationSource::drainPostcopy(std::shared_ptr<Run> run) {
    setState(*run, "postcopy");
    auto limit =
        run->options.timeout.count() > 0 ? run->options.timeout : seconds(kIncomingDefaultSeconds);
    auto deadline = context_.clock.now() + limit;
    std::uint64_t sent = 0;
    auto moved = context_.clock.now();
    std::string why;
    while (why.empty()) {
        run->eventSeen = false;
        auto reply = co_await qmp(run, R"({"execute":"query-migrate"})");
        auto query =
            reply ? parseMigrationQuery(reply.value()) : Outcome<MigrationQuery>(reply.error());
        if (!query) {
            why = "query-migrate: " + query.error().message;
            break;
        }
        const std::string status = query.value().status;
        const auto now = context_.clock.now();
        if (status == "completed") {
            run->status.progress = query.value().progress;
            co_return co_await departed(run);
        }
        if (status == "postcopy-paused") {
            co_await resumePostcopy(run);
            moved = context_.clock.now();
        } else if (status == "postcopy-recover") {
            moved = now;  // QEMU connects to the destination's new listener
        } else if (status == "postcopy-active" || status == "active" || status == "device") {
            if (run->status.state != "postcopy") {
                log(5, run->name + ": postcopy stream resumed");
                setState(*run, "postcopy");
            }
            run->status.progress = query.value().progress;
            changed_.emit(run->name);
            if (query.value().progress.transferred != sent) {
                sent = query.value().progress.transferred;
                moved = now;
            } else if (status == "postcopy-active" && now - moved >= kPostcopyStall) {
                log(4, run->name + ": postcopy stream sent nothing for " +
                           std::to_string(kPostcopyStall.count()) + " s; pausing it");
                auto paused = co_await qmp(run, R"({"execute":"migrate-pause"})");
                if (!paused) log(4, run->name + ": migrate-pause: " + paused.error().message);
                moved = now;
            }
        } else {
            why = "QEMU's postcopy stream is '" + status + "'" +
                  (query.value().error.empty() ? "" : " (" + query.value().error + ")");
            break;
        }
        if (context_.clock.now() >= deadline) {
            why = "postcopy did not complete within " + std::to_string(limit.count()) + " s";
            if (run->resumeAttempts > 0)
                why += " (its stream broke and could not be resumed: " +
                       (run->resumeWhy.empty() ? std::string("no connection") : run->resumeWhy) +
                       ")";
            break;
        }
        if (!run->eventSeen) co_await life_.sleep(kPoll, run->wake);
    }
    co_return postcopyLost(*run, why);
}

// One recovery attempt: the destination's qemu listens again (RecoverIncoming), the qemu here
// resumes the stream there. Whatever fails, the next query-migrate says postcopy-paused again and
// the next attempt follows (after kRetry), until the timeout.
asio::awaitable<void> MigrationSource::resumePostcopy(std::shared_ptr<Run> run) {
    if (run->status.state != "postcopy-paused") {
        log(4, run->name + ": postcopy stream to " + run->destination + " broken; recovering it");
        setState(*run, "postcopy-paused");
    }
    if (run->resumeAttempts++ > 0) co_await life_.sleep(kRetry);
    if (!run->remote) {
        auto remote = RemoteCorrald::open(io_, run->destination);
        if (!remote) {
            run->resumeWhy = remote.error().message;
            co_return;
        }
        run->remote = remote.value();
    }
    auto reply = co_await life_.guard(run->remote->call(
        "RecoverIncoming",
        [&](sd_bus_message* m) { return sd_bus_message_append(m, "sa{sv}", run->name.c_str(), 0); },
        kAbortTimeout));
    const char* uri = nullptr;
    if (!reply.ok() || sd_bus_message_read(reply.message.get(), "s", &uri) < 0 || !uri) {
        run->resumeWhy = "RecoverIncoming: " +
                         (reply.errorMessage.empty() ? reply.errorName : reply.errorMessage);
        co_return;
    }
    const std::string target = uri;
    setState(*run, "postcopy-recovering");
    auto resumed = co_await qmp(
        run, R"({"execute":"migrate","arguments":{"uri":")" + target + R"(","resume":true}})");
    if (!resumed) {
        run->resumeWhy = "migrate resume: " + resumed.error().message;
        setState(*run, "postcopy-paused");
        co_return;
    }
    log(5, run->name + ": resuming the postcopy stream to " + target);
}

}  // namespace corral::supervisor
