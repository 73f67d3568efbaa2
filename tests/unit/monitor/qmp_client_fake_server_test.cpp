// QmpClient against the scripted fake server: the failure modes real QEMU will not produce.
#include "monitor/qmp_client.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/monitor/fake_qmp_server.hpp"
#include "tests/unit/monitor/run_await.hpp"

#include <gtest/gtest.h>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>

namespace corral::monitor {
namespace {

using test::FakeQmpServer;
using test::runAwait;
using Action = FakeQmpServer::Action;

class QmpClientFakeTest : public ::testing::Test {
  protected:
    std::shared_ptr<QmpClient> connectTo(FakeQmpServer::Script script) {
        server.emplace(socket, std::move(script));
        auto client = QmpClient::create(io.get_executor());
        auto connected = runAwait(io, client->connect(socket.string(), 2s));
        EXPECT_TRUE(connected) << (connected ? "" : connected.error().message);
        return client;
    }

    test::TempDir dir;
    std::filesystem::path socket = dir / "qmp.sock";
    boost::asio::io_context io;
    std::optional<FakeQmpServer> server;
};

TEST_F(QmpClientFakeTest, NegotiatesAndAnswersSupports) {
    auto client =
        connectTo([](auto&, auto& id, auto&) { return Action{FakeQmpServer::reply(id)}; });
    EXPECT_TRUE(client->connected());
    EXPECT_TRUE(client->supports("query-status"));
    EXPECT_FALSE(client->supports("device_add"));
    EXPECT_EQ(server->commands(), (std::vector<std::string>{"qmp_capabilities", "query-commands"}));
    client->close();
}

TEST_F(QmpClientFakeTest, ConnectRetriesUntilTheSocketAppears) {
    boost::asio::steady_timer later(io, 150ms);
    later.async_wait([this](auto) {
        server.emplace(socket,
                       [](auto&, auto& id, auto&) { return Action{FakeQmpServer::reply(id)}; });
    });
    auto client = QmpClient::create(io.get_executor());
    auto connected = runAwait(io, client->connect(socket.string(), 3s));
    ASSERT_TRUE(connected) << connected.error().message;
    client->close();
}

TEST_F(QmpClientFakeTest, ConnectGivesUpAfterTheWindow) {
    auto client = QmpClient::create(io.get_executor());
    auto start = std::chrono::steady_clock::now();
    auto connected = runAwait(io, client->connect(socket.string(), 200ms));
    ASSERT_FALSE(connected);
    EXPECT_EQ(connected.error().kind, corral::Errc::Connect);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_EQ(runAwait(io, client->execute("query-status")).error().kind,
              corral::Errc::Disconnected);
}

TEST_F(QmpClientFakeTest, PerCommandTimeoutFiresAndLaterCommandsStillWork) {
    auto client = connectTo([](const std::string& command, auto& id, auto&) {
        if (command == "never") return Action{};
        return Action{FakeQmpServer::reply(id, R"({"status": "paused"})")};
    });
    auto silent = runAwait(io, client->execute("never", Json(), 100ms));
    ASSERT_FALSE(silent);
    EXPECT_EQ(silent.error().kind, corral::Errc::Timeout);
    EXPECT_EQ(silent.error().message, "never: Timeout: no reply within 100 ms");
    auto status = runAwait(io, client->execute("query-status"));
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_STREQ((*status)["status"].GetString(), "paused");
    client->close();
}

// The session's decision carried out on a real socket: a call that timed out while its line was
// still queued behind a line QEMU is slow to read never reaches QEMU; the started line does.
TEST_F(QmpClientFakeTest, CallTimedOutBeforeItWasSentNeverReachesTheServer) {
    // Shared with the server thread, which may outlive this frame if the test fails early.
    struct Gate {
        std::mutex mutex;
        std::condition_variable opened;
        bool open = false;
    };
    auto gate = std::make_shared<Gate>();
    auto client = connectTo([gate](const std::string& command, auto& id, auto&) {
        if (command == "hold") {
            // Stops reading, so the client's next lines back up in the socket.
            std::unique_lock lock(gate->mutex);
            gate->opened.wait_for(lock, 10s, [&] { return gate->open; });
        }
        return Action{FakeQmpServer::reply(id)};
    });
    auto letGo = [gate] {
        std::lock_guard lock(gate->mutex);
        gate->open = true;
        gate->opened.notify_all();
    };
    std::optional<Result<Json>> hold;
    std::optional<Result<Json>> big;
    auto spawn = [&](std::string command, Json args, std::optional<Result<Json>>* out) {
        boost::asio::co_spawn(
            io,
            [](std::shared_ptr<QmpClient> c, std::string name, Json a,
               std::optional<Result<Json>>* result) -> awaitable<void> {
                result->emplace(co_await c->execute(name, std::move(a), 30s));
            }(client, std::move(command), std::move(args), out),
            boost::asio::detached);
    };
    spawn("hold", Json(), &hold);
    // Several times what a socket holds (net.core.wmem_default, about 200 KiB): the writer is
    // left with the rest of it and waits.
    spawn("big", JsonObject().set("blob", std::string(1024 * 1024, 'x')).take(), &big);
    auto late = runAwait(io, client->execute("late", Json(), 100ms));
    letGo();
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().kind, corral::Errc::Timeout);
    ASSERT_TRUE(test::runUntil(io, [&] { return hold && big; }));
    EXPECT_TRUE(*hold);
    EXPECT_TRUE(*big) << big->error().message;
    ASSERT_TRUE(runAwait(io, client->execute("after")));
    EXPECT_EQ(server->commands(), (std::vector<std::string>{"qmp_capabilities", "query-commands",
                                                            "hold", "big", "after"}));
    client->close();
}

TEST_F(QmpClientFakeTest, EofMidLineFailsPendingCallAndNotifies) {
    auto client = connectTo([](auto&, auto&, auto&) {
        return Action{R"({"return": {"half": )", true};
    });
    std::optional<Error> notified;
    client->onDisconnect([&](const Error& error) { notified = error; });
    auto reply = runAwait(io, client->execute("query-status", Json(), 10s));
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, corral::Errc::Disconnected);
    EXPECT_NE(reply.error().message.find("query-status"), std::string::npos);
    ASSERT_TRUE(notified);
    EXPECT_FALSE(client->connected());
}

TEST_F(QmpClientFakeTest, MalformedLineDisconnectsWithProtocolReason) {
    auto client = connectTo([](auto&, auto&, auto&) { return Action{"}}}garbage{{{\r\n"}; });
    auto reply = runAwait(io, client->execute("query-status", Json(), 10s));
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, corral::Errc::Disconnected);
    EXPECT_NE(reply.error().message.find("malformed line"), std::string::npos);
}

TEST_F(QmpClientFakeTest, OversizeLineDisconnects) {
    auto client = connectTo([](auto&, auto&, auto&) {
        return Action{std::string(kMaxLineBytes + 4096, 'x'), false};
    });
    auto reply = runAwait(io, client->execute("query-status", Json(), 10s));
    ASSERT_FALSE(reply);
    EXPECT_NE(reply.error().message.find("longer than"), std::string::npos);
}

TEST_F(QmpClientFakeTest, EventWaitDoesNotBlockOtherCommands) {
    auto client = connectTo([](const std::string& command, auto& id, auto&) {
        if (command == "device_del") {
            return Action{FakeQmpServer::reply(id) +
                          R"({"event": "DEVICE_DELETED", "data": {"path": "/x/virtio-backend"}})"
                          "\r\n"
                          R"({"event": "DEVICE_DELETED", "data": {"device": "d1"}})"
                          "\r\n"};
        }
        return Action{FakeQmpServer::reply(id, R"({"status": "running"})")};
    });
    auto watch = client->watchEvent([](const QmpEvent& e) {
        return e.name == "DEVICE_DELETED" && e.data.IsObject() && e.data.HasMember("device");
    });
    // While nothing matches yet, ordinary commands go out and come back.
    auto early = runAwait(io, watch.wait(50ms));
    EXPECT_EQ(early.error().kind, corral::Errc::Timeout);
    EXPECT_TRUE(runAwait(io, client->execute("query-status")));
    ASSERT_TRUE(runAwait(io, client->execute("device_del")));
    auto deleted = runAwait(io, watch.wait(5s));
    ASSERT_TRUE(deleted) << deleted.error().message;
    EXPECT_STREQ(deleted->data["device"].GetString(), "d1");
    client->close();
}

TEST_F(QmpClientFakeTest, HundredConcurrentCallsGetTheirOwnReplies) {
    auto client = connectTo([](auto&, const std::string& id, const std::string& line) {
        std::smatch n;
        std::regex_search(line, n, std::regex(R"re("n":([0-9]+))re"));
        return Action{FakeQmpServer::reply(id, R"({"echo": )" + n[1].str() + "}")};
    });
    int ok = 0;
    for (int i = 0; i < 100; ++i) {
        boost::asio::co_spawn(
            io,
            [](std::shared_ptr<QmpClient> c, int n, int* count) -> awaitable<void> {
                auto reply = co_await c->execute("query-status", JsonObject().set("n", n).take());
                if (reply && (*reply)["echo"].IsInt() && (*reply)["echo"].GetInt() == n) ++*count;
            }(client, i, &ok),
            boost::asio::detached);
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (ok < 100 && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
    EXPECT_EQ(ok, 100);
    client->close();
}

TEST_F(QmpClientFakeTest, CloseFailsPendingCallsAndEventWaits) {
    auto client = connectTo([](auto&, auto&, auto&) { return Action{}; });
    std::optional<Result<Json>> pending;
    boost::asio::co_spawn(
        io,
        [](std::shared_ptr<QmpClient> c, std::optional<Result<Json>>* out) -> awaitable<void> {
            out->emplace(co_await c->execute("never", Json(), 30s));
        }(client, &pending),
        boost::asio::detached);
    auto watch = client->watchEvent([](const QmpEvent&) { return true; });
    ASSERT_TRUE(test::runUntil(io, [&] { return server->commands().back() == "never"; }));
    client->close();
    EXPECT_EQ(runAwait(io, watch.wait(30s)).error().kind, corral::Errc::Disconnected);
    ASSERT_TRUE(test::runUntil(io, [&] { return pending.has_value(); }));
    ASSERT_FALSE(*pending);
    EXPECT_EQ(pending->error().kind, corral::Errc::Disconnected);
}

TEST_F(QmpClientFakeTest, SubscriptionStopsWhenHandleIsDestroyed) {
    auto client = connectTo([](auto&, auto& id, auto&) {
        return Action{FakeQmpServer::reply(id) + R"({"event": "STOP"})" + "\r\n"};
    });
    auto isStop = [](const QmpEvent& e) { return e.name == "STOP"; };
    int seen = 0;
    {
        auto subscription = client->subscribe([&](const QmpEvent& e) { seen += e.name == "STOP"; });
        auto stopped = client->watchEvent(isStop);
        ASSERT_TRUE(runAwait(io, client->execute("stop")));
        ASSERT_TRUE(runAwait(io, stopped.wait(5s)));
    }
    auto stopped = client->watchEvent(isStop);
    ASSERT_TRUE(runAwait(io, client->execute("stop")));
    ASSERT_TRUE(runAwait(io, stopped.wait(5s)));
    EXPECT_EQ(seen, 1);
    client->close();
}

TEST_F(QmpClientFakeTest, ThrowingPredicateDoesNotStopTheReader) {
    auto client = connectTo([](auto&, auto& id, auto&) {
        return Action{FakeQmpServer::reply(id) + R"({"event": "STOP"})" + "\r\n"};
    });
    auto bad = client->watchEvent([](const QmpEvent&) -> bool { throw std::runtime_error("x"); });
    auto good = client->watchEvent([](const QmpEvent& e) { return e.name == "STOP"; });
    ASSERT_TRUE(runAwait(io, client->execute("stop")));
    EXPECT_TRUE(runAwait(io, good.wait(5s)));
    EXPECT_TRUE(runAwait(io, client->execute("stop")));
    client->close();
}

TEST_F(QmpClientFakeTest, LeavesNoFdOrReferenceBehind) {
    server.emplace(socket, [](const std::string& command, auto& id, auto&) {
        return command == "never" ? Action{} : Action{FakeQmpServer::reply(id)};
    });
    boost::asio::steady_timer reactorUp(io);  // the io_context's own fds exist from here on
    const int before = test::openFdCount();
    std::weak_ptr<QmpClient> weak;
    {
        auto client = QmpClient::create(io.get_executor());
        weak = client;
        ASSERT_TRUE(runAwait(io, client->connect(socket.string(), 2s)));
        EXPECT_TRUE(runAwait(io, client->execute("query-status")));
        EXPECT_FALSE(runAwait(io, client->execute("never", Json(), 20ms)));
        client->close();
    }
    // The fake server closes its end on its own thread: wait for it, bounded.
    EXPECT_TRUE(
        test::runUntil(io, [&] { return weak.expired() && test::openFdCount() == before; }));
    EXPECT_TRUE(weak.expired());
    EXPECT_EQ(test::openFdCount(), before);
}

TEST(QmpClientLifetime, DestroyingTheIoContextReleasesParkedCalls) {
    test::TempDir dir;
    FakeQmpServer server(dir / "qmp.sock", [](auto&, auto&, auto&) { return Action{}; });
    std::weak_ptr<QmpClient> weak;
    bool resumed = false;
    {
        boost::asio::io_context io;
        auto client = QmpClient::create(io.get_executor());
        weak = client;
        ASSERT_TRUE(runAwait(io, client->connect((dir / "qmp.sock").string(), 2s)));
        boost::asio::co_spawn(
            io,
            [](std::shared_ptr<QmpClient> c, bool* flag) -> awaitable<void> {
                co_await c->execute("never", Json(), 30s);
                *flag = true;
            }(client, &resumed),
            boost::asio::detached);
        ASSERT_TRUE(test::runUntil(io, [&] { return server.commands().back() == "never"; }));
    }
    EXPECT_TRUE(weak.expired());
    EXPECT_FALSE(resumed);
}

}  // namespace
}  // namespace corral::monitor
