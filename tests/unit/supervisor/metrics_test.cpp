// The Prometheus exposition (families, escaping) and the HTTP decisions of the metrics endpoint,
// without a socket.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "supervisor/metrics_exposition.hpp"
#include "supervisor/metrics_http.hpp"

namespace corral::supervisor {
namespace {

VmSample running(std::string name) {
    VmSample s;
    s.name = std::move(name);
    s.state = "running";
    s.running = true;
    s.source = StatsSource::Cgroup;
    s.cpuUsec = 2'500'000;
    s.vcpus = {{0, 1'000'000}, {1, 500'000}};
    s.memoryBytes = 268435456;
    s.pressure = PressureSample{1'000, 2'000, 3'000};
    s.disks = {{"disk0", 1024, 2048, 3, 4, 5'000'000'000, 6}};
    s.nics = {{"net0", "tap-web1", 10, 11, 12, 20, 21, 22}};
    s.uptimeUsec = 90'000'000;
    return s;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

bool has(const std::string& text, const std::string& line) {
    for (const auto& l : lines(text))
        if (l == line) return true;
    return false;
}

TEST(MetricsExposition, EveryFamilyHasHelpAndTypeBeforeItsSamples) {
    std::vector<VmSample> samples = {running("web1")};
    auto text = exposition(samples);
    std::set<std::string> typed;
    for (const auto& line : lines(text)) {
        if (line.starts_with("# TYPE ")) {
            auto name = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_TRUE(typed.insert(name).second) << "family twice: " << name;
            continue;
        }
        if (line.starts_with("#")) continue;
        auto name = line.substr(0, line.find_first_of("{ "));
        EXPECT_TRUE(typed.count(name)) << "sample before its TYPE: " << line;
    }
    EXPECT_EQ(typed.size(), 22u);
    EXPECT_TRUE(has(text, "# TYPE corral_vm_cpu_seconds_total counter"));
    EXPECT_TRUE(has(text, "# TYPE corral_vm_memory_bytes gauge"));
}

TEST(MetricsExposition, RunningVmFigures) {
    std::vector<VmSample> samples = {running("web1")};
    auto text = exposition(samples);
    EXPECT_TRUE(has(text, "corral_vm_cpu_seconds_total{instance=\"web1\"} 2.5")) << text;
    EXPECT_TRUE(has(text, "corral_vm_vcpu_seconds_total{instance=\"web1\",vcpu=\"1\"} 0.5"));
    EXPECT_TRUE(has(text, "corral_vm_memory_bytes{instance=\"web1\"} 268435456"));
    EXPECT_TRUE(has(text, "corral_vm_pressure_io_waiting_seconds_total{instance=\"web1\"} 0.003"));
    EXPECT_TRUE(
        has(text, "corral_vm_disk_read_bytes_total{instance=\"web1\",device=\"disk0\"} 1024"));
    EXPECT_TRUE(
        has(text, "corral_vm_disk_read_time_seconds_total{instance=\"web1\",device=\"disk0\"} 5"));
    EXPECT_TRUE(has(text,
                    "corral_vm_nic_transmitted_dropped_total{instance=\"web1\",device="
                    "\"net0\",interface=\"tap-web1\"} 22"));
    EXPECT_TRUE(has(text,
                    "corral_vm_nic_received_bytes_total{instance=\"web1\",device="
                    "\"net0\",interface=\"tap-web1\"} 10"));
    EXPECT_TRUE(has(text, "corral_vm_uptime_seconds{instance=\"web1\"} 90"));
    EXPECT_TRUE(has(text, "corral_vm_stats_source{instance=\"web1\",source=\"cgroup\"} 1"));
    EXPECT_TRUE(has(text, "corral_vm_running{instance=\"web1\"} 1"));
}

TEST(MetricsExposition, StoppedVmHasStateButNoResourceSeries) {
    VmSample stopped;
    stopped.name = "db";
    stopped.state = "stopped";
    std::vector<VmSample> samples = {stopped};
    auto text = exposition(samples);
    EXPECT_TRUE(has(text, "corral_vm_running{instance=\"db\"} 0"));
    EXPECT_TRUE(has(text, "corral_vm_state{instance=\"db\",state=\"stopped\"} 1"));
    EXPECT_TRUE(has(text, "corral_vm_state{instance=\"db\",state=\"running\"} 0"));
    EXPECT_EQ(text.find("corral_vm_cpu_seconds_total{"), std::string::npos);
    EXPECT_EQ(text.find("corral_vm_memory_bytes{"), std::string::npos);
}

TEST(MetricsExposition, LabelValuesAreEscaped) {
    EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    auto s = running("web1");
    s.disks[0].device = "we\"ird\\id\n";
    std::vector<VmSample> samples = {s};
    auto text = exposition(samples);
    EXPECT_TRUE(has(text,
                    "corral_vm_disk_read_bytes_total{instance=\"web1\",device="
                    "\"we\\\"ird\\\\id\\n\"} 1024"))
        << text;
}

TEST(MetricsHttp, GetMetricsIsServed) {
    auto d = examineRequest("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
    EXPECT_EQ(d.kind, HttpDecision::Kind::Serve);
    EXPECT_FALSE(d.head);
    EXPECT_TRUE(examineRequest("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n").head);
    EXPECT_EQ(examineRequest("GET /metrics HTTP/1.0\n\n").kind, HttpDecision::Kind::Serve);
}

TEST(MetricsHttp, IncompleteHeadWaits) {
    EXPECT_EQ(examineRequest("GET /metr").kind, HttpDecision::Kind::NeedMore);
    EXPECT_EQ(examineRequest("GET /metrics HTTP/1.1\r\nHost: x\r\n").kind,
              HttpDecision::Kind::NeedMore);
}

TEST(MetricsHttp, BadRequestsGetTheirStatus) {
    auto status = [](std::string_view text) { return examineRequest(text).status; };
    EXPECT_EQ(status("POST /metrics HTTP/1.1\r\n\r\n"), 405);
    EXPECT_EQ(status("GET / HTTP/1.1\r\n\r\n"), 404);
    EXPECT_EQ(status("GET /metricsx HTTP/1.1\r\n\r\n"), 404);
    EXPECT_EQ(status("\x16\x03\x01 garbage\r\n\r\n"), 400);
    EXPECT_EQ(status("GET /metrics\r\n\r\n"), 400);
    EXPECT_EQ(status("GET /metrics HTTP/2.0\r\n\r\n"), 505);
    EXPECT_EQ(status("get /metrics HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status(std::string("\x16\x03\x01\x02\x00", 5)), 400) << "refused before a line ends";
    EXPECT_EQ(status("GET /" + std::string(9000, 'a')), 414);
    EXPECT_EQ(status("GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a')), 431);
}

TEST(MetricsHttp, ResponsesCloseAndSayTheirLength) {
    auto r = httpResponse(405, "text/plain", "no\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    EXPECT_NE(r.find("Allow: GET, HEAD\r\n"), std::string::npos);
    EXPECT_NE(r.find("Content-Length: 3\r\n"), std::string::npos);
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(r.ends_with("\r\n\r\nno\n"));
    EXPECT_TRUE(httpResponse(200, "text/plain", "body", false).ends_with("\r\n\r\n"));
}

TEST(MetricsListen, AcceptedForms) {
    auto v4 = parseListenAddress("127.0.0.1:9477").address;
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->host, "127.0.0.1");
    EXPECT_EQ(v4->port, 9477);
    auto v6 = parseListenAddress("[::1]:9477").address;
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(toString(*v6), "[::1]:9477");
    auto unix = parseListenAddress("unix:/run/corral/metrics.sock").address;
    ASSERT_TRUE(unix);
    EXPECT_EQ(unix->kind, ListenAddress::Kind::Unix);
    EXPECT_EQ(unix->path, "/run/corral/metrics.sock");
}

TEST(MetricsListen, RefusalsSayWhy) {
    auto why = [](std::string_view text) { return parseListenAddress(text).error; };
    EXPECT_NE(why("localhost:9477").find("not a numeric IP address"), std::string::npos);
    EXPECT_NE(why("::1:9477").find("brackets"), std::string::npos);
    EXPECT_NE(why("127.0.0.1:0").find("1 to 65535"), std::string::npos);
    EXPECT_NE(why("127.0.0.1:70000").find("1 to 65535"), std::string::npos);
    EXPECT_NE(why("127.0.0.1:http").find("1 to 65535"), std::string::npos);
    EXPECT_NE(why("9477").find("HOST:PORT"), std::string::npos);
    EXPECT_NE(why("unix:relative.sock").find("absolute path"), std::string::npos);
    EXPECT_NE(why("unix:/" + std::string(120, 'a')).find("107"), std::string::npos);
}

}  // namespace
}  // namespace corral::supervisor
