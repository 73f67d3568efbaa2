// RunningQemu and managed save: the VM's state streamed into a file over QMP (stop, getfd,
// migrate fd:), and read back by a qemu started with -incoming defer (getfd, migrate-incoming
// fd:) before its vCPUs resume. The file is the caller's (qemu_vm_save.cpp); QEMU gets a copy of
// its descriptor with SCM_RIGHTS.
#include <csignal>

#include "monitor/qmp_client.hpp"
#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto kPoll = 100ms;
// After migrate_cancel, how long QEMU may take to say cancelled.
constexpr auto kCancelWindow = 30s;
// QEMU 7.2 caps a migration at 128 MiB/s by default; a save to a local file goes as fast as the
// disk takes it.
constexpr const char* kUnlimited =
    R"({"execute":"migrate-set-parameters","arguments":{"max-bandwidth":1099511627776}})";
constexpr const char* kSaveFd = "corral-save";
constexpr const char* kRestoreFd = "corral-restore";

OpError failed(std::string text) {
    return {ErrorKind::Failed, std::move(text)};
}

}  // namespace

asio::awaitable<Status> RunningQemu::passFd(std::string name, int fd) {
    auto client = qmpClientOf(*qmp_);
    if (!client) co_return failed(name_ + ": this monitor link cannot pass file descriptors");
    auto passed = co_await life_.guard(client->getfd(std::move(name), fd));
    if (!passed) co_return toOpError(passed.error(), Channel::Monitor);
    co_return okStatus();
}

void RunningQemu::save(int fd, std::chrono::seconds timeout, Done done) {
    if (auto error = checkMonitor()) return done(*error);
    life_.run<Unit>(saveSteps(fd, timeout), std::move(done), exitedDuring("the save"));
}

asio::awaitable<Outcome<Unit>> RunningQemu::saveSteps(int fd, std::chrono::seconds timeout) {
    // Every way out is one named error: g++ 12 destroys temporaries in co_await twice.
    std::string why;
    auto status = co_await life_.guard(qmp_->queryStatus());
    if (!status) co_return status.error();
    bool wasRunning = status.value().running;
    std::string stop = "stop";
    if (wasRunning) {
        auto stopped = co_await life_.guard(qmp_->command(std::move(stop)));
        if (!stopped) co_return stopped.error();
    }
    std::string fdName = kSaveFd;
    auto passed = co_await passFd(std::move(fdName), fd);
    if (!passed) why = "getfd: " + passed.error().message;
    if (why.empty()) {
        std::string unlimited = kUnlimited;
        auto set = co_await life_.guard(qmp_->passthrough(std::move(unlimited)));
        if (!set) why = "migrate-set-parameters: " + set.error().message;
    }
    if (why.empty()) {
        std::string migrate =
            std::string(R"({"execute":"migrate","arguments":{"uri":"fd:)") + kSaveFd + R"("}})";
        auto started = co_await life_.guard(qmp_->passthrough(std::move(migrate)));
        if (!started) why = "migrate: " + started.error().message;
    }
    auto deadline = context_.clock.now() + timeout;
    bool cancelSent = false;
    while (why.empty()) {
        std::string query = R"({"execute":"query-migrate"})";
        auto reply = co_await life_.guard(qmp_->passthrough(std::move(query)));
        auto parsed =
            reply ? parseMigrationQuery(reply.value()) : Outcome<MigrationQuery>(reply.error());
        if (!parsed) {
            why = "query-migrate: " + parsed.error().message;
            break;
        }
        const auto& state = parsed.value().status;
        if (state == "completed") co_return Unit{};
        if (state == "failed" || state == "cancelled") {
            why = cancelSent
                      ? "it did not complete within " + std::to_string(timeout.count()) + " s"
                  : parsed.value().error.empty() ? "QEMU: the migration " + state
                                                 : "QEMU: " + parsed.value().error;
            break;
        }
        if (!cancelSent && context_.clock.now() >= deadline) {
            cancelSent = true;
            deadline = context_.clock.now() + kCancelWindow;
            std::string cancel = R"({"execute":"migrate_cancel"})";
            auto sent = co_await life_.guard(qmp_->passthrough(std::move(cancel)));
            if (!sent) log(4, "migrate_cancel: " + sent.error().message);
        } else if (cancelSent && context_.clock.now() >= deadline) {
            why = "it did not complete within " + std::to_string(timeout.count()) +
                  " s and QEMU did not cancel it";
            break;
        }
        co_await life_.sleep(kPoll);
    }
    // Nothing was saved: the guest goes on as it was.
    if (wasRunning) {
        std::string cont = "cont";
        auto resumed = co_await life_.guard(qmp_->command(std::move(cont)));
        if (!resumed) why += "; cont failed: " + resumed.error().message;
    }
    co_return failed("Saving " + name_ + " failed: " + why + "; " + name_ +
                     (wasRunning ? " runs on." : " stays paused."));
}

asio::awaitable<Status> RunningQemu::restoreSteps(std::chrono::seconds timeout) {
    std::string fdName = kRestoreFd;
    auto passed = co_await passFd(std::move(fdName), restoreFd_.get());
    if (!passed) co_return failed("getfd: " + passed.error().message);
    restoreFd_ = OwnedFd();  // QEMU has its own copy now
    std::string incoming = std::string(R"({"execute":"migrate-incoming","arguments":{"uri":"fd:)") +
                           kRestoreFd + R"("}})";
    auto started = co_await life_.guard(qmp_->passthrough(std::move(incoming)));
    if (!started) co_return failed("migrate-incoming: " + started.error().message);
    // QEMU reads the stream in the background; a stream it cannot load makes it exit (the exit
    // then ends this start with qemu's own last sentence).
    auto deadline = context_.clock.now() + timeout;
    while (true) {
        auto status = co_await life_.guard(qmp_->queryStatus());
        if (!status) co_return status.error();
        const auto& state = status.value().status;
        if (state == "paused") co_return okStatus();
        if (state != "inmigrate")
            co_return failed("the saved state did not load (qemu is '" + state + "')");
        if (context_.clock.now() >= deadline)
            co_return failed("the saved state did not load within " +
                             std::to_string(timeout.count()) + " s");
        co_await life_.sleep(kPoll);
    }
}

}  // namespace corral::supervisor
