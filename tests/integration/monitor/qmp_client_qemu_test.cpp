// QmpClient against a real, paused qemu-system-x86_64 (TCG, no guest needed).
#include "monitor/qmp_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/monitor/run_await.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace corral::monitor {
namespace {

using test::runAwait;

class QmpClientQemuTest : public ::testing::Test {
  protected:
    void SetUp() override {
        qemu = test::Process::spawn(
            {"qemu-system-x86_64", "-S", "-accel", "tcg", "-machine", "q35", "-nodefaults",
             "-display", "none", "-qmp", "unix:" + socket.string() + ",server=on,wait=off"},
            dir / "qemu.log");
        client = QmpClient::create(io.get_executor());
        auto connected = runAwait(io, client->connect(socket.string(), 10s));
        ASSERT_TRUE(connected) << connected.error().message;
    }

    void TearDown() override {
        if (client) client->close();
    }

    Result<Json> run(std::string command, Json args = {}) {
        return runAwait(io, client->execute(std::move(command), std::move(args), 10s));
    }

    test::TempDir dir;
    std::filesystem::path socket = dir / "qmp.sock";
    test::Process qemu;
    boost::asio::io_context io;
    std::shared_ptr<QmpClient> client;
};

TEST_F(QmpClientQemuTest, NegotiatesAndQueriesStatus) {
    EXPECT_TRUE(client->connected());
    EXPECT_TRUE(client->supports("query-status"));
    EXPECT_TRUE(client->supports("device_add"));
    EXPECT_FALSE(client->supports("no-such-command"));
    auto status = run("query-status");
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_STREQ((*status)["status"].GetString(), "prelaunch");
    EXPECT_FALSE((*status)["running"].GetBool());
}

TEST_F(QmpClientQemuTest, QueryPciListsTheHostBridge) {
    auto pci = run("query-pci");
    ASSERT_TRUE(pci) << pci.error().message;
    ASSERT_TRUE(pci->IsArray());
    ASSERT_GE(pci->Size(), 1u);
    const auto& devices = (*pci)[0]["devices"];
    ASSERT_TRUE(devices.IsArray());
    bool hostBridge = false;
    for (const auto& device : devices.GetArray()) {
        hostBridge |=
            device["slot"].GetInt() == 0 && device["class_info"]["class"].GetInt() == 0x600;
    }
    EXPECT_TRUE(hostBridge);
}

TEST_F(QmpClientQemuTest, MapsErrorRepliesToTheirClass) {
    auto missing = run("device_del", JsonObject().set("id", "nope").take());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().remoteClass, "DeviceNotFound");
    EXPECT_EQ(missing.error().message.rfind("device_del: DeviceNotFound: ", 0), 0u);

    auto unknown = run("no-such-command");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().remoteClass, "CommandNotFound");

    auto badArgs = run("device_add", JsonObject().set("driver", "no-such-driver").take());
    ASSERT_FALSE(badArgs);
    EXPECT_EQ(badArgs.error().remoteClass, "GenericError");
    EXPECT_TRUE(run("query-status"));  // the session is still usable
}

TEST_F(QmpClientQemuTest, GetfdPassesARealFile) {
    int before = test::openFdCount();
    int fd = ::open((dir / "data").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    auto passed = runAwait(io, client->getfd("myfd", fd));
    ASSERT_TRUE(passed) << passed.error().message;
    // closefd only succeeds for a name QEMU really holds.
    EXPECT_TRUE(run("closefd", JsonObject().set("fdname", "myfd").take()));
    EXPECT_FALSE(run("closefd", JsonObject().set("fdname", "myfd").take()));
    ::close(fd);
    EXPECT_EQ(test::openFdCount(), before);
}

TEST_F(QmpClientQemuTest, AddFdPassesAFileAndRemoveFdDropsItsFdset) {
    int fd = ::open((dir / "disk").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    auto addFd = [&](Json args) -> int {
        auto added = runAwait(io, client->execute("add-fd", std::move(args), 10s, {fd}));
        EXPECT_TRUE(added) << added.error().message;
        return added ? (*added)["fdset-id"].GetInt() : -1;
    };
    const int fdset = addFd(Json());
    ASSERT_GE(fdset, 0);
    EXPECT_EQ(addFd(JsonObject().set("fdset-id", 7).take()), 7);
    ::close(fd);

    auto sets = run("query-fdsets");
    ASSERT_TRUE(sets);
    std::vector<int> ids;
    for (const auto& set : sets->GetArray()) ids.push_back(set["fdset-id"].GetInt());
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<int>{fdset, 7}));

    // QEMU closes removed fds only while the VM runs (monitor_fdset_cleanup).
    ASSERT_TRUE(run("cont"));
    ASSERT_TRUE(runAwait(io, client->removeFd(fdset)));
    ASSERT_TRUE(runAwait(io, client->removeFd(7)));
    EXPECT_EQ(run("query-fdsets")->Size(), 0u);
    EXPECT_FALSE(runAwait(io, client->removeFd(7)));
}

TEST_F(QmpClientQemuTest, HumanMonitorCommandReturnsText) {
    auto text = runAwait(io, client->humanMonitorCommand("info status"));
    ASSERT_TRUE(text) << text.error().message;
    EXPECT_NE(text->find("VM status: paused (prelaunch)"), std::string::npos) << *text;
}

TEST_F(QmpClientQemuTest, StopAndContDeliverEvents) {
    std::vector<std::string> seen;
    auto subscription = client->subscribe([&](const QmpEvent& e) { seen.push_back(e.name); });
    auto resumed = client->watchEvent([](const QmpEvent& e) { return e.name == "RESUME"; });
    ASSERT_TRUE(run("cont"));
    auto resume = runAwait(io, resumed.wait(10s));
    ASSERT_TRUE(resume) << resume.error().message;
    EXPECT_GT(resume->seconds, 0);

    auto stopped = client->watchEvent([](const QmpEvent& e) { return e.name == "STOP"; });
    ASSERT_TRUE(run("stop"));
    ASSERT_TRUE(runAwait(io, stopped.wait(10s)));
    EXPECT_EQ(seen, (std::vector<std::string>{"RESUME", "STOP"}));
}

TEST_F(QmpClientQemuTest, CommandsFlowWhileAnEventWaitIsPending) {
    std::optional<Result<QmpEvent>> stop;
    boost::asio::co_spawn(
        io,
        [](std::shared_ptr<QmpClient> c, std::optional<Result<QmpEvent>>* out) -> awaitable<void> {
            auto stopped = c->watchEvent([](const QmpEvent& e) { return e.name == "STOP"; });
            out->emplace(co_await stopped.wait(20s));
        }(client, &stop),
        [](std::exception_ptr) {});
    ASSERT_TRUE(run("cont"));
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(run("query-status"));
    EXPECT_FALSE(stop);
    ASSERT_TRUE(run("stop"));
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!stop && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
    ASSERT_TRUE(stop);
    EXPECT_TRUE(*stop);
}

TEST_F(QmpClientQemuTest, QemuKilledMidCallFailsThePendingCallFast) {
    std::optional<Error> notified;
    client->onDisconnect([&](const Error& e) { notified = e; });
    // A stopped QEMU cannot answer, so the call is certainly pending when QEMU dies.
    ::kill(qemu.pid(), SIGSTOP);
    std::optional<Result<Json>> reply;
    boost::asio::co_spawn(
        io,
        [](std::shared_ptr<QmpClient> c, std::optional<Result<Json>>* out) -> awaitable<void> {
            out->emplace(co_await c->execute("query-status", Json(), 60s));
        }(client, &reply),
        [](std::exception_ptr) {});
    // Everything ready has run: the call went out and is parked, and nobody can answer it.
    test::runReady(io);
    ASSERT_FALSE(reply);
    ASSERT_TRUE(client->connected());
    auto killedAt = std::chrono::steady_clock::now();
    qemu.kill(SIGKILL);
    const auto deadline = killedAt + 10s;
    while (!reply && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
    ASSERT_TRUE(reply);
    EXPECT_LT(std::chrono::steady_clock::now() - killedAt, 2s);
    ASSERT_FALSE(*reply);
    EXPECT_EQ(reply->error().kind, corral::Errc::Disconnected);
    EXPECT_TRUE(notified);
    EXPECT_FALSE(client->connected());
    EXPECT_EQ(run("query-status").error().kind, corral::Errc::Disconnected);
}

}  // namespace
}  // namespace corral::monitor
