// MigrationTarget::recover (Manager.RecoverIncoming): QEMU's postcopy recovery on the destination.
// The VM arrived by postcopy and runs here, but the rest of its memory is still on the source and
// the stream broke. Its qemu must be in `postcopy-paused` (QEMU's migrate-pause makes it so when
// the socket has not noticed a dead link yet) before `migrate-recover` opens a new listener on
// [migration] listen_address; the source's qemu resumes the stream there (docs/architecture.md
// "Postcopy recovery").
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "supervisor/migration_incoming_checks.hpp"
#include "supervisor/migration_target.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// How long qemu may take to see its stream shut down after migrate-pause.
constexpr auto kPauseWindow = 10s;
constexpr auto kPausePoll = 100ms;

OpError failed(std::string text) {
    return {ErrorKind::Failed, std::move(text)};
}

}  // namespace

void MigrationTarget::recover(std::string name, Reply<std::string> reply) {
    if (!registry_.find(name))
        return reply(OpError{ErrorKind::NoSuchInstance,
                             "No migrated instance named " + name + " is here to recover."});
    life_.run<std::string>(recoverSteps(std::move(name)), std::move(reply),
                           failed("corrald is stopping"));
}

asio::awaitable<Outcome<std::string>> MigrationTarget::vmQmp(std::string name, std::string json) {
    Vm* vm = registry_.find(name);
    if (!vm) co_return OpError{ErrorKind::NoSuchInstance, name + " is gone"};
    auto executor = context_.executor;
    auto initiate = [vm, json = std::move(json), executor](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        vm->monitor(std::move(json), [shared, executor](Outcome<std::string> result) {
            asio::post(executor, [shared, result = std::move(result)]() mutable {
                (*shared)(std::move(result));
            });
        });
    };
    co_return co_await life_.guard(
        asio::async_initiate<decltype(asio::use_awaitable), void(Outcome<std::string>)>(
            std::move(initiate), asio::use_awaitable));
}

asio::awaitable<Outcome<std::string>> MigrationTarget::recoverSteps(std::string name) {
    std::string status;
    auto deadline = context_.clock.now() + kPauseWindow;
    bool paused = false;
    while (true) {
        auto reply = co_await vmQmp(name, R"({"execute":"query-migrate"})");
        if (!reply) co_return failed(name + ": query-migrate: " + reply.error().message);
        auto query = parseMigrationQuery(reply.value());
        if (!query) co_return failed(name + ": query-migrate: " + query.error().message);
        status = query.value().status;
        if (status != "postcopy-active" || context_.clock.now() >= deadline) break;
        if (!paused) {
            // The source sees the stream broken; this side has not noticed yet.
            log(5, name + ": postcopy stream stalled, pausing it here");
            auto pause = co_await vmQmp(name, R"({"execute":"migrate-pause"})");
            if (!pause) co_return failed(name + ": migrate-pause: " + pause.error().message);
            paused = true;
        }
        co_await life_.sleep(kPausePoll);
    }
    if (status != "postcopy-paused")
        co_return OpError{ErrorKind::InvalidState,
                          name + "'s incoming stream is '" + status + "', not postcopy-paused"};
    auto port = freePort();
    if (!port)
        co_return failed("No free port to recover " + name + "'s stream in [migration] port_range");
    const std::string listen =
        "tcp:" + hostPart(settings_.listenAddress) + ":" + std::to_string(*port);
    auto recovered = co_await vmQmp(
        name, R"({"execute":"migrate-recover","arguments":{"uri":")" + listen + R"("}})");
    if (!recovered) {
        // Asked again while the listener of the last migrate-recover still waits for the source
        // (its connection did not come through): that one is the answer.
        auto it = recovering_.find(name);
        if (it != recovering_.end() &&
            recovered.error().message.find("triggered already") != std::string::npos)
            co_return uriFor(it->second);
        co_return failed(name + ": migrate-recover: " + recovered.error().message);
    }
    recovering_[name] = *port;
    log(5, name + ": postcopy stream broken; waiting for the source again on " + listen);
    co_return uriFor(*port);
}

}  // namespace corral::supervisor
