// A hostile or broken QEMU behind the QMP socket: QmpClient must fail the pending call with
// Protocol/Disconnected (or Timeout for a monitor that stops answering) within its timeout, keep
// memory bounded whatever the peer sends, and leak no fd.
#include "monitor/json.hpp"
#include "monitor/qmp_client.hpp"
#include "tests/reliability/fake_peer.hpp"
#include "tests/reliability/run_bounded.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMiB = 1024 * 1024;
// The session may hold one capped line (10 MiB) plus read buffers; never what the peer streams.
constexpr std::size_t kMaxGrowth = 48 * kMiB;
constexpr std::string_view kGreeting =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
    "\"package\": \"\"}, \"capabilities\": []}}\r\n";

// Reads QMP request lines from a client and answers them like QEMU.
class FakeMonitor {
  public:
    explicit FakeMonitor(PeerConnection& connection) : connection_(connection) {}

    // The id (as JSON text) of the next request, or nullopt when the client is gone.
    std::optional<std::string> nextRequestId() {
        for (;;) {
            auto newline = buffer_.find('\n');
            if (newline != std::string::npos) {
                auto line = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                auto request = monitor::parseJson(line);
                if (!request || !request->IsObject() || !request->HasMember("id")) return "null";
                return monitor::toJsonString((*request)["id"]);
            }
            auto bytes = connection_.read(10s);
            if (!bytes) return std::nullopt;
            buffer_ += *bytes;
        }
    }

    bool reply(const std::string& id, std::string_view value) {
        return connection_.write("{\"return\": " + std::string(value) + ", \"id\": " + id +
                                 "}\r\n");
    }

    // Greeting, qmp_capabilities and query-commands, as QmpClient::connect expects them.
    bool handshake() {
        if (!connection_.write(kGreeting)) return false;
        auto caps = nextRequestId();
        if (!caps || !reply(*caps, "{}")) return false;
        auto commands = nextRequestId();
        return commands && reply(*commands, "[{\"name\": \"query-status\"}]");
    }

    PeerConnection& connection() { return connection_; }

  private:
    PeerConnection& connection_;
    std::string buffer_;
};

// Streams `total` bytes without a newline: one line nobody may buffer whole.
void streamEndlessLine(PeerConnection& connection, std::size_t total) {
    if (!connection.write("{\"return\": \"")) return;
    const std::string chunk(kMiB, 'x');
    for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
        if (!connection.write(chunk)) return;
    }
    connection.holdOpen();
}

class HostileQemu : public ::testing::Test {
  protected:
    // Starts the fake QEMU: handshake, then `hostile` on the first command after it.
    void startPeer(std::function<void(FakeMonitor&)> hostile) {
        peer_.emplace(socket_, [hostile](PeerConnection& connection) {
            FakeMonitor monitor(connection);
            if (monitor.handshake()) hostile(monitor);
        });
    }

    monitor::Result<void> connect() {
        auto result = runBounded(io_, client_->connect(socket_.native(), 5s), 15s);
        if (!result) ADD_FAILURE() << "connect did not complete";
        if (!result) return monitor::Error{Errc::Timeout, "test: no completion within the bound"};
        return std::move(*result);
    }

    monitor::Result<monitor::Json> execute(std::chrono::milliseconds timeout) {
        auto started = Clock::now();
        auto result = runBounded(io_, client_->execute("query-status", monitor::Json(), timeout),
                                 timeout + 5s);
        elapsed_ = Clock::now() - started;
        if (!result) ADD_FAILURE() << "execute did not complete within its timeout + 5 s";
        if (!result) return monitor::Error{Errc::Timeout, "test: no completion within the bound"};
        return std::move(*result);
    }

    void expectBoundedMemory() {
        EXPECT_LT(residentBytes(), rssBefore_ + kMaxGrowth)
            << "grew by " << (residentBytes() - rssBefore_) / kMiB << " MiB";
    }

    void TearDown() override {
        client_->close();
        client_.reset();
        io_.restart();
        io_.poll();
        peer_.reset();
        EXPECT_EQ(openFdCount(), fdsBefore_) << "fds leaked";
    }

    TempDir dir_;
    std::filesystem::path socket_ = dir_ / "qmp.sock";
    boost::asio::io_context io_;
    std::shared_ptr<monitor::QmpClient> client_ = monitor::QmpClient::create(io_.get_executor());
    int fdsBefore_ = openFdCount();
    std::size_t rssBefore_ = residentBytes();
    std::optional<FakePeer> peer_;
    Clock::duration elapsed_{};
};

TEST_F(HostileQemu, EndlessLineFailsThePendingCall) {
    startPeer([](FakeMonitor& monitor) {
        if (monitor.nextRequestId()) streamEndlessLine(monitor.connection(), 16 * kMiB);
    });
    auto connected = connect();
    ASSERT_TRUE(connected.has_value()) << connected.error().message;
    client_->setLogSink([](std::string_view) {});
    auto result = execute(10s);
    ASSERT_FALSE(result.has_value());
    EXPECT_TRUE(result.error().kind == Errc::Protocol || result.error().kind == Errc::Disconnected)
        << corral::toString(result.error().kind) << ": " << result.error().message;
    EXPECT_LT(elapsed_, 10s);
    EXPECT_FALSE(client_->connected());
    expectBoundedMemory();
}

TEST_F(HostileQemu, GarbageFailsThePendingCall) {
    startPeer([](FakeMonitor& monitor) {
        if (!monitor.nextRequestId()) return;
        if (monitor.connection().write("\x16\x03\x01 this is not QMP\r\n")) {
            monitor.connection().holdOpen();
        }
    });
    auto connected = connect();
    ASSERT_TRUE(connected.has_value()) << connected.error().message;
    client_->setLogSink([](std::string_view) {});
    auto result = execute(5s);
    ASSERT_FALSE(result.has_value());
    EXPECT_TRUE(result.error().kind == Errc::Protocol || result.error().kind == Errc::Disconnected)
        << corral::toString(result.error().kind) << ": " << result.error().message;
    EXPECT_LT(elapsed_, 5s);
    EXPECT_FALSE(client_->connected());
}

TEST_F(HostileQemu, EndlessGreetingFailsTheConnect) {
    peer_.emplace(socket_,
                  [](PeerConnection& connection) { streamEndlessLine(connection, 16 * kMiB); });
    auto connected = connect();
    ASSERT_FALSE(connected.has_value());
    EXPECT_TRUE(connected.error().kind == Errc::Protocol ||
                connected.error().kind == Errc::Disconnected)
        << corral::toString(connected.error().kind) << ": " << connected.error().message;
    EXPECT_NE(connected.error().message.find("line longer than"), std::string::npos)
        << connected.error().message;
    expectBoundedMemory();
}

TEST_F(HostileQemu, SilentMonitorTimesOutEachCommand) {
    startPeer([](FakeMonitor& monitor) { monitor.connection().holdOpen(); });
    auto connected = connect();
    ASSERT_TRUE(connected.has_value()) << connected.error().message;
    client_->setLogSink([](std::string_view) {});
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto result = execute(500ms);
        ASSERT_FALSE(result.has_value());
        EXPECT_EQ(result.error().kind, Errc::Timeout) << result.error().message;
        EXPECT_GE(elapsed_, 500ms);
        EXPECT_LT(elapsed_, 2s);
    }
}

}  // namespace
}  // namespace corral::test
