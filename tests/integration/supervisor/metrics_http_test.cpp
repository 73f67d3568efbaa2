// corrald's Prometheus endpoint over real sockets, with definitions that are never booted: what
// it serves, how it refuses bad requests (garbage, a huge request line, a slow client, POST, too
// many connections) while it keeps serving, a unix socket, a malformed [metrics] listen, and the
// org.corral1.Instance.Stats interface of a stopped instance through busctl.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/integration/supervisor/metrics_client.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGet = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";

class MetricsHttp : public CorraldFixture {
  protected:
    void startWithMetrics() {
        port_ = freeTcpPort();
        ASSERT_NE(port_, 0);
        extraConfig_ = "[metrics]\nlisten = \"127.0.0.1:" + std::to_string(port_) + "\"\n";
        defineWeb1();
        startCorrald();
    }
    bool servesMetrics() {
        auto response = httpExchange(port_, kGet);
        return response.starts_with("HTTP/1.1 200 OK\r\n") &&
               response.find("corral_vm_running{instance=\"web1\"} 0\n") != std::string::npos;
    }
    // A valid definition that is never booted (the loader only checks that the kernel exists).
    void defineWeb1() {
        std::ofstream(dir_ / "vmlinuz").close();
        writeFile("web1.toml", "[boot]\nkernel = \"" + (dir_ / "vmlinuz").string() + "\"\n");
    }
    unsigned short port_ = 0;
};

TEST_F(MetricsHttp, ServesTheExpositionOfEveryInstance) {
    startWithMetrics();
    auto response = httpExchange(port_, kGet);
    ASSERT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response << corraldLog();
    EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
              std::string::npos);
    auto body = httpBody(response);
    EXPECT_NE(body.find("# TYPE corral_vm_state gauge\n"), std::string::npos);
    EXPECT_NE(body.find("corral_vm_state{instance=\"web1\",state=\"stopped\"} 1\n"),
              std::string::npos)
        << body;
    auto head = httpExchange(port_, "HEAD /metrics HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
    EXPECT_EQ(httpBody(head), "");
}

TEST_F(MetricsHttp, BadRequestsGetAStatusAndTheDaemonKeepsServing) {
    startWithMetrics();
    struct Case {
        std::string request, status;
    };
    std::vector<Case> cases = {
        {"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 405 "},
        {"GET /admin HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "},
        {std::string("\x16\x03\x01\x02\x00\x01\xfc\x03\x03", 9), "HTTP/1.1 400 "},
        {"\xff\xfe garbage\r\n\r\n", "HTTP/1.1 400 "},
        {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n", "HTTP/1.1 414 "},
        {"GET /metrics HTTP/1.1\r\nCookie: " + std::string(20000, 'b') + "\r\n\r\n",
         "HTTP/1.1 431 "},
        {"GET /metrics HTTP/3\r\n\r\n", "HTTP/1.1 505 "},
    };
    for (const auto& c : cases) {
        auto response = httpExchange(port_, c.request);
        EXPECT_TRUE(response.starts_with(c.status))
            << c.request.substr(0, 40) << " got: " << response.substr(0, 80);
        EXPECT_TRUE(servesMetrics()) << corraldLog();
    }
}

TEST_F(MetricsHttp, SlowClientGetsTimeoutWhileOthersAreServed) {
    startWithMetrics();
    HttpConnection slow(port_);
    ASSERT_TRUE(slow.connected());
    ASSERT_TRUE(slow.send("GET /metrics HTTP/1.1\r\nHost: a"));  // and never the rest
    auto began = std::chrono::steady_clock::now();
    EXPECT_TRUE(servesMetrics()) << "a slow client held up another";
    auto response = slow.readAll(15s);
    EXPECT_TRUE(response.starts_with("HTTP/1.1 408 ")) << response;
    auto waited = std::chrono::steady_clock::now() - began;
    EXPECT_GE(waited, 4s);
    EXPECT_LT(waited, 10s);
    EXPECT_TRUE(servesMetrics());
}

TEST_F(MetricsHttp, ConnectionsBeyondTheLimitGet503) {
    startWithMetrics();
    std::vector<std::unique_ptr<HttpConnection>> idle;
    for (int i = 0; i < 16; ++i) {
        idle.push_back(std::make_unique<HttpConnection>(port_));
        ASSERT_TRUE(idle.back()->connected());
        ASSERT_TRUE(idle.back()->send("G"));
    }
    // The server counts a connection once it accepted it: the 17th is refused once all are in.
    std::string refused;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        refused = httpExchange(port_, kGet, 5s);
        if (refused.starts_with("HTTP/1.1 503 ")) break;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(refused.starts_with("HTTP/1.1 503 ")) << refused;
    idle.clear();
    deadline = std::chrono::steady_clock::now() + 10s;
    while (!servesMetrics() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(servesMetrics()) << corraldLog();
}

TEST_F(MetricsHttp, UnixSocket) {
    auto socket = dir_ / "metrics.sock";
    extraConfig_ = "[metrics]\nlisten = \"unix:" + socket.string() + "\"\n";
    defineWeb1();
    startCorrald();
    auto curl = runCommand({"curl", "-sS", "--max-time", "10", "--unix-socket", socket.string(),
                            "http://localhost/metrics"},
                           20s, dir_.path());
    ASSERT_EQ(curl.status, 0) << curl.output << corraldLog();
    EXPECT_NE(curl.output.find("corral_vm_running{instance=\"web1\"} 0\n"), std::string::npos)
        << curl.output;
}

TEST_F(MetricsHttp, MalformedListenStopsCorraldWithFileLineAndColumn) {
    auto config = dir_ / "bad.toml";
    std::ofstream(config) << "[metrics]\nlisten = \"localhost:9477\"\n";
    auto result =
        runCommand({std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald", "--bus-address",
                    address_, "--config", config.string(), "--instances-dir",
                    (dir_ / "instances").string(), "--runtime-dir", (dir_ / "run").string()},
                   20s, dir_.path());
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_NE(result.output.find(config.string() +
                                 ":2:10: metrics.listen 'localhost:9477': 'localhost' is not a "
                                 "numeric IP address"),
              std::string::npos)
        << result.output;
}

TEST_F(MetricsHttp, StatsInterfaceOfAStoppedInstanceReadsZeros) {
    defineWeb1();
    startCorrald();
    auto get = [&](const std::string& prop) {
        auto r = busctl(
            {"get-property", "org.corral1", path("web1"), "org.corral1.Instance.Stats", prop});
        return r.output;
    };
    EXPECT_EQ(get("CpuUsec"), "t 0\n");
    EXPECT_EQ(get("Source"), "s \"none\"\n");
    EXPECT_EQ(get("Disks"), "a(stttttt) 0\n");
    EXPECT_EQ(get("Nics"), "a(sstttttt) 0\n");
    EXPECT_EQ(get("Pressure"), "(ttt) 0 0 0\n");
    auto introspect =
        busctl({"introspect", "org.corral1", path("web1"), "org.corral1.Instance.Stats"});
    EXPECT_NE(introspect.output.find(".VcpuUsec"), std::string::npos) << introspect.output;
}

}  // namespace
}  // namespace corral::test
