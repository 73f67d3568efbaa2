// agent::QgaClient against a stand-in for QEMU's chardev socket that plays qemu-ga: a sane one,
// and hostile ones that send nothing, an endless line, replies of the wrong id, or stale bytes.
// Every call ends within its bound with a sentence; the client stays usable afterwards.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <functional>
#include <optional>
#include <regex>

#include "agent/qga_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::agent {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::local::stream_protocol;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// How the fake answers one request line: the bytes to send back.
using Script = std::function<std::string(const std::string& line)>;

std::string syncIdOf(const std::string& line) {
    std::smatch match;
    static const std::regex id(R"("id":([0-9]+))");
    return std::regex_search(line, match, id) ? match[1].str() : "";
}

// Serves one connection after another with `script`, on the test's io_context.
asio::awaitable<void> serve(stream_protocol::acceptor& acceptor, Script script) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(kTuple);
        if (ec) co_return;
        asio::streambuf in;
        for (;;) {
            auto [rec, n] = co_await asio::async_read_until(socket, in, '\n', kTuple);
            if (rec) break;
            std::string line(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + n);
            in.consume(n);
            auto answer = script(line);
            if (answer.empty()) continue;
            auto [wec, w] = co_await asio::async_write(socket, asio::buffer(answer), kTuple);
            (void)w;
            if (wec) break;
        }
    }
}

// qemu-ga as it behaves: the delimited sync reply, then the command's.
std::string sane(const std::string& line) {
    if (line.find("guest-sync-delimited") != std::string::npos)
        return "{\"return\": 999}\n\xff{\"return\": " + syncIdOf(line) + "}\n";
    if (line.find("guest-get-osinfo") != std::string::npos)
        return R"({"return": {"id": "debian", "name": "Debian GNU/Linux", "version-id": "12"}})"
               "\n";
    return R"({"error": {"class": "CommandNotFound", "desc": "not here"}})"
           "\n";
}

class QgaClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        path_ = (dir_.path() / "qga.sock").string();
        acceptor_.emplace(io_, stream_protocol::endpoint(path_));
    }
    template <typename T>
    T run(asio::awaitable<T> work, Script script) {
        asio::co_spawn(io_, serve(*acceptor_, std::move(script)), asio::detached);
        std::optional<T> result;
        asio::co_spawn(io_, std::move(work), [&](std::exception_ptr e, T value) {
            if (e) std::rethrow_exception(e);
            result.emplace(std::move(value));
            acceptor_->close();
            io_.stop();
        });
        io_.run_for(30s);
        EXPECT_TRUE(result) << "the call did not end";
        return std::move(*result);
    }
    std::chrono::milliseconds since(std::chrono::steady_clock::time_point begin) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - begin);
    }

    test::TempDir dir_;
    std::string path_;
    asio::io_context io_;
    std::optional<stream_protocol::acceptor> acceptor_;
    std::shared_ptr<QgaClient> client_ = QgaClient::create(io_.get_executor(), "");
};

TEST_F(QgaClientTest, SaneAgentAnswersAfterStaleBytesAreDropped) {
    client_ = QgaClient::create(io_.get_executor(), path_);
    auto info = run(client_->osInfo(5s), sane);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->name, "Debian GNU/Linux");
    EXPECT_EQ(info->versionId, "12");
}

TEST_F(QgaClientTest, AnAgentErrorIsRemoteWithItsClass) {
    client_ = QgaClient::create(io_.get_executor(), path_);
    auto reply = run(client_->call("guest-nothing", "", 5s), sane);
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, Errc::Remote);
    EXPECT_EQ(reply.error().remoteClass, "CommandNotFound");
    EXPECT_NE(reply.error().message.find("guest-nothing via "), std::string::npos);
}

TEST_F(QgaClientTest, SilenceEndsAtTheTimeout) {
    client_ = QgaClient::create(io_.get_executor(), path_);
    auto begin = std::chrono::steady_clock::now();
    auto reply = run(client_->ping(300ms), [](const std::string&) { return std::string(); });
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, Errc::Timeout);
    EXPECT_GE(since(begin), 300ms);
    EXPECT_LT(since(begin), 10s);
    EXPECT_FALSE(client_->connected()) << "a late reply must not reach the next call";
}

TEST_F(QgaClientTest, AnEndlessLineIsAProtocolError) {
    client_ = QgaClient::create(io_.get_executor(), path_);
    auto reply = run(client_->ping(20s), [](const std::string&) {
        return "\xff" + std::string(kQgaMaxLine + 4096, 'x');
    });
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, Errc::Protocol);
    EXPECT_NE(reply.error().message.find("longer than"), std::string::npos);
}

TEST_F(QgaClientTest, RepliesOfAnotherIdAreNotTakenForTheSync) {
    client_ = QgaClient::create(io_.get_executor(), path_);
    auto reply = run(client_->ping(20s), [](const std::string&) {
        std::string flood = "\xff";
        for (int i = 0; i < 100; ++i) flood += "{\"return\": 1}\nnot json\n";
        return flood;
    });
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, Errc::Protocol);
    EXPECT_NE(reply.error().message.find("no answer to guest-sync-delimited"), std::string::npos);
}

TEST_F(QgaClientTest, NoSocketIsConnectError) {
    client_ = QgaClient::create(io_.get_executor(), path_ + ".none");
    auto reply = run(client_->ping(2s), sane);
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, Errc::Connect);
}

}  // namespace
}  // namespace corral::agent
