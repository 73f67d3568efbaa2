// qmp-bench: sequential query-status round trips with QmpClient and with a raw blocking client
// against the same real QEMU, plus 100 concurrent execute calls. Prints figures; never fails on
// time, only when a reply is wrong.
#include "monitor/qmp_client.hpp"
#include "tests/bench/monitor/raw_qmp_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace corral;
using Clock = std::chrono::steady_clock;
using Micros = std::chrono::duration<double, std::micro>;

struct Figures {
    double perSecond = 0;
    double p50 = 0;
    double p99 = 0;
};

// Latencies of every round trip and the total time spent, accumulated over rounds.
struct Samples {
    std::vector<double> latencies;
    double seconds = 0;

    Figures summarize() {
        std::sort(latencies.begin(), latencies.end());
        auto at = [&](double q) {
            auto index = static_cast<std::size_t>(q * static_cast<double>(latencies.size()));
            return latencies[std::min(latencies.size() - 1, index)];
        };
        return {static_cast<double>(latencies.size()) / seconds, at(0.50), at(0.99)};
    }
};

// Runs `task` on `io` until it completes (the client bounds every wait).
template <class T>
T runUntilDone(boost::asio::io_context& io, monitor::awaitable<T> task) {
    std::optional<T> out;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        if (e) std::rethrow_exception(e);
        out.emplace(std::move(value));
    });
    while (!out) io.run_one();
    return std::move(*out);
}

void roundRaw(bench::RawQmpClient& raw, int count, Samples* samples) {
    auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
        auto t0 = Clock::now();
        auto line = raw.roundTrip(R"({"execute":"query-status","id":)" + std::to_string(i) + "}");
        if (line.find("\"status\"") == std::string::npos) {
            throw std::runtime_error("raw client: unexpected reply " + line);
        }
        if (samples) samples->latencies.push_back(Micros(Clock::now() - t0).count());
    }
    if (samples) samples->seconds += std::chrono::duration<double>(Clock::now() - start).count();
}

monitor::awaitable<int> roundOurs(std::shared_ptr<monitor::QmpClient> client, int count,
                                  Samples* samples) {
    auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
        auto t0 = Clock::now();
        auto reply = co_await client->execute("query-status");
        if (!reply || !reply->HasMember("status")) {
            throw std::runtime_error("QmpClient: bad reply: " + (reply
                                                                     ? monitor::toJsonString(*reply)
                                                                     : reply.error().message));
        }
        if (samples) samples->latencies.push_back(Micros(Clock::now() - t0).count());
    }
    if (samples) samples->seconds += std::chrono::duration<double>(Clock::now() - start).count();
    co_return count;
}

// Fires `count` execute calls from separate coroutines at once; returns how many came back right.
int concurrentCalls(boost::asio::io_context& io, std::shared_ptr<monitor::QmpClient> client,
                    int count, double& millis) {
    int ok = 0;
    int finished = 0;
    auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
        boost::asio::co_spawn(
            io,
            [](std::shared_ptr<monitor::QmpClient> c, int* good) -> monitor::awaitable<void> {
                auto reply = co_await c->execute("query-status");
                if (reply && reply->HasMember("status")) ++*good;
            }(client, &ok),
            [&finished](std::exception_ptr) { ++finished; });
    }
    while (finished < count) io.run_one();
    millis = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    int n = 5000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            n = 200;
        } else if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = std::max(1, std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr, "usage: qmp-bench [--quick | -n N]\n");
            return 2;
        }
    }
    const int warmup = std::min(200, n / 10 + 1);
    try {
        test::TempDir dir;
        auto rawSocket = dir / "raw.sock";
        auto oursSocket = dir / "ours.sock";
        // Two QMP monitors on one QEMU, so both clients stay connected and their rounds
        // interleave: background load on this shared machine then hits both alike.
        auto qemu = test::Process::spawn(
            {"qemu-system-x86_64", "-S", "-accel", "tcg", "-machine", "q35", "-nodefaults",
             "-display", "none", "-qmp", "unix:" + rawSocket.string() + ",server=on,wait=off",
             "-qmp", "unix:" + oursSocket.string() + ",server=on,wait=off"},
            dir / "qemu.log");
        if (!test::waitForPath(rawSocket, std::chrono::seconds(10))) {
            throw std::runtime_error("QEMU did not create its QMP socket");
        }
        bench::RawQmpClient raw(rawSocket.string());
        boost::asio::io_context io;
        auto client = monitor::QmpClient::create(io.get_executor());
        auto connected =
            runUntilDone(io, client->connect(oursSocket.string(), std::chrono::seconds(10)));
        if (!connected) throw std::runtime_error(connected.error().message);

        roundRaw(raw, warmup, nullptr);
        runUntilDone(io, roundOurs(client, warmup, nullptr));
        Samples rawSamples;
        Samples oursSamples;
        const int rounds = std::min(10, n);
        for (int round = 0; round < rounds; ++round) {
            int count = n / rounds + (round < n % rounds ? 1 : 0);
            if (round % 2 == 0) roundRaw(raw, count, &rawSamples);
            runUntilDone(io, roundOurs(client, count, &oursSamples));
            if (round % 2 == 1) roundRaw(raw, count, &rawSamples);
        }
        Figures rawFigures = rawSamples.summarize();
        Figures ours = oursSamples.summarize();
        double concurrentMs = 0;
        int concurrentOk = concurrentCalls(io, client, 100, concurrentMs);
        client->close();

        std::printf("qmp-bench: %d sequential query-status round trips against one QEMU\n", n);
        std::printf("%-22s %12s %10s %10s\n", "client", "cmd/s", "p50 us", "p99 us");
        std::printf("%-22s %12.0f %10.1f %10.1f\n", "raw blocking (base)", rawFigures.perSecond,
                    rawFigures.p50, rawFigures.p99);
        std::printf("%-22s %12.0f %10.1f %10.1f\n", "QmpClient (ours)", ours.perSecond, ours.p50,
                    ours.p99);
        std::printf("%-22s %12.3f %10.3f %10.3f\n", "ratio ours/raw",
                    ours.perSecond / rawFigures.perSecond, ours.p50 / rawFigures.p50,
                    ours.p99 / rawFigures.p99);
        std::printf("concurrent: %d/100 execute calls from separate coroutines ok in %.1f ms\n",
                    concurrentOk, concurrentMs);
        std::printf(R"({"bench":"qmp","n":%d,"raw":{"cmd_per_s":%.0f,"p50_us":%.1f,"p99_us":%.1f},)"
                    R"("ours":{"cmd_per_s":%.0f,"p50_us":%.1f,"p99_us":%.1f},)"
                    R"("ratio_throughput":%.3f,"ratio_p50":%.3f,"concurrent_ok":%d})"
                    "\n",
                    n, rawFigures.perSecond, rawFigures.p50, rawFigures.p99, ours.perSecond,
                    ours.p50, ours.p99, ours.perSecond / rawFigures.perSecond,
                    ours.p50 / rawFigures.p50, concurrentOk);
        return concurrentOk == 100 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qmp-bench: %s\n", e.what());
        return 1;
    }
}
