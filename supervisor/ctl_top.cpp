#include "supervisor/ctl_top.hpp"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "supervisor/ctl_output.hpp"

namespace corral::supervisor::ctl {

namespace {

constexpr const char* kStatsInterface = "org.corral1.Instance.Stats";

std::string size(double bytes) {
    const char* units[] = {"B", "K", "M", "G", "T"};
    int unit = 0;
    while (bytes >= 1024 && unit < 4) {
        bytes /= 1024;
        ++unit;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f%s" : "%.1f%s", bytes, units[unit]);
    return buf;
}

std::string rate(double value) {
    return value < 0 ? "-" : size(value) + "/s";
}

std::string percent(double value) {
    if (value < 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", value);
    return buf;
}

std::string jsonNumber(double value) {
    if (value < 0) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", value);
    return buf;
}

std::uint64_t readCounter(sd_bus* bus, const std::string& path, const char* property) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    std::uint64_t value = 0;
    int r = sd_bus_get_property_trivial(bus, "org.corral1", path.c_str(), kStatsInterface, property,
                                        &error, 't', &value);
    sd_bus_error_free(&error);
    check(r, "cannot read the statistics (does corrald serve org.corral1.Instance.Stats?)");
    return value;
}

// Sums the columns `a` and `b` (0-based, among the uint64 fields) of an array of structs.
void sumArray(sd_bus* bus, const std::string& path, const char* property, const char* signature,
              unsigned strings, unsigned a, unsigned b, std::uint64_t& sumA, std::uint64_t& sumB) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    MessageRef reply;
    int r = sd_bus_get_property(bus, "org.corral1", path.c_str(), kStatsInterface, property, &error,
                                reply.put(), signature);
    sd_bus_error_free(&error);
    check(r, "cannot read the statistics");
    std::string element(signature + 1);                          // "(stttttt)"
    std::string fields = element.substr(1, element.size() - 2);  // "stttttt"
    check(sd_bus_message_enter_container(reply.get(), 'a', element.c_str()), "bad reply");
    while ((r = sd_bus_message_enter_container(reply.get(), 'r', fields.c_str())) > 0) {
        for (unsigned i = 0; i < strings; ++i) {
            const char* ignored = nullptr;
            check(sd_bus_message_read_basic(reply.get(), 's', &ignored), "bad reply");
        }
        for (unsigned i = 0; sd_bus_message_at_end(reply.get(), false) == 0; ++i) {
            std::uint64_t value = 0;
            check(sd_bus_message_read_basic(reply.get(), 't', &value), "bad reply");
            if (i == a) sumA += value;
            if (i == b) sumB += value;
        }
        check(sd_bus_message_exit_container(reply.get()), "bad reply");
    }
    check(r, "bad reply");
}

TopSample fetch(Client& client, const InstanceRow& row) {
    TopSample s;
    s.name = row.name;
    s.state = row.state;
    sd_bus* bus = client.bus();
    s.sampledAtUsec = readCounter(bus, row.path, "SampledAt");
    s.cpuUsec = readCounter(bus, row.path, "CpuUsec");
    s.memoryBytes = readCounter(bus, row.path, "MemoryBytes");
    // Disks (stttttt): read bytes, written bytes; Nics (sstttttt): rx bytes, tx bytes.
    sumArray(bus, row.path, "Disks", "a(stttttt)", 1, 0, 1, s.diskReadBytes, s.diskWrittenBytes);
    sumArray(bus, row.path, "Nics", "a(sstttttt)", 2, 0, 3, s.netRxBytes, s.netTxBytes);
    return s;
}

std::vector<TopSample> fetchAll(Client& client) {
    std::vector<TopSample> out;
    for (const auto& row : client.list()) out.push_back(fetch(client, row));
    return out;
}

// A read starts a refresh of a stale sample and returns the old one: wait (bounded) for samples
// newer than `previous` to land.
std::vector<TopSample> fetchNewer(Client& client, const std::map<std::string, TopSample>& previous,
                                  std::chrono::milliseconds patience) {
    auto until = std::chrono::steady_clock::now() + patience;
    for (;;) {
        auto samples = fetchAll(client);
        bool allNew = true;
        for (const auto& s : samples) {
            auto it = previous.find(s.name);
            if (s.state != "stopped" && it != previous.end() &&
                it->second.sampledAtUsec >= s.sampledAtUsec)
                allNew = false;
        }
        if (allNew || std::chrono::steady_clock::now() >= until) return samples;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

double parsePositive(const std::string* text, double fallback, const char* option, double max) {
    if (!text) return fallback;
    double value = -1;
    try {
        std::size_t used = 0;
        value = std::stod(*text, &used);
        if (used != text->size()) value = -1;
    } catch (const std::exception&) {
    }
    if (!(value > 0 && value <= max))
        throw CtlError(kUsage, std::string(option) + " wants a number above 0 and at most " +
                                   std::to_string(static_cast<long>(max)) + ", got '" + *text +
                                   "'");
    return value;
}

}  // namespace

TopRow topRow(const TopSample& before, const TopSample& now) {
    TopRow row{now.name, now.state, -1, now.memoryBytes, -1, -1, -1, -1};
    if (before.sampledAtUsec == 0 || now.sampledAtUsec <= before.sampledAtUsec) return row;
    if (now.cpuUsec < before.cpuUsec || now.diskReadBytes < before.diskReadBytes ||
        now.diskWrittenBytes < before.diskWrittenBytes || now.netRxBytes < before.netRxBytes ||
        now.netTxBytes < before.netTxBytes)
        return row;
    if (now.state == "stopped" || now.sampledAtUsec == 0) return row;
    double seconds = static_cast<double>(now.sampledAtUsec - before.sampledAtUsec) / 1e6;
    row.cpuPercent = static_cast<double>(now.cpuUsec - before.cpuUsec) / 1e6 / seconds * 100;
    row.diskReadRate = static_cast<double>(now.diskReadBytes - before.diskReadBytes) / seconds;
    row.diskWriteRate =
        static_cast<double>(now.diskWrittenBytes - before.diskWrittenBytes) / seconds;
    row.netRxRate = static_cast<double>(now.netRxBytes - before.netRxBytes) / seconds;
    row.netTxRate = static_cast<double>(now.netTxBytes - before.netTxBytes) / seconds;
    return row;
}

std::string topTable(const std::vector<TopRow>& rows) {
    std::size_t nameWidth = 8;
    for (const auto& r : rows) nameWidth = std::max(nameWidth, r.name.size());
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-*s %-13s %6s %8s %10s %10s %10s %10s\n",
                  static_cast<int>(nameWidth), "INSTANCE", "STATE", "CPU%", "MEMORY", "DISK-R",
                  "DISK-W", "NET-RX", "NET-TX");
    out += line;
    for (const auto& r : rows) {
        std::snprintf(line, sizeof line, "%-*s %-13s %6s %8s %10s %10s %10s %10s\n",
                      static_cast<int>(nameWidth), r.name.c_str(), r.state.c_str(),
                      percent(r.cpuPercent).c_str(),
                      r.memoryBytes ? size(static_cast<double>(r.memoryBytes)).c_str() : "-",
                      rate(r.diskReadRate).c_str(), rate(r.diskWriteRate).c_str(),
                      rate(r.netRxRate).c_str(), rate(r.netTxRate).c_str());
        out += line;
    }
    return out;
}

std::string topJson(const std::vector<TopRow>& rows) {
    std::string out = "{\"instances\":[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        if (i > 0) out += ",";
        out += "{\"name\":" + jsonQuote(r.name) + ",\"state\":" + jsonQuote(r.state) +
               ",\"cpu_percent\":" + jsonNumber(r.cpuPercent) +
               ",\"memory_bytes\":" + std::to_string(r.memoryBytes) +
               ",\"disk_read_bytes_per_second\":" + jsonNumber(r.diskReadRate) +
               ",\"disk_written_bytes_per_second\":" + jsonNumber(r.diskWriteRate) +
               ",\"net_rx_bytes_per_second\":" + jsonNumber(r.netRxRate) +
               ",\"net_tx_bytes_per_second\":" + jsonNumber(r.netTxRate) + "}";
    }
    return out + "]}";
}

int top(const Args& a) {
    double delay = parsePositive(a.option(kDelay), 1.0, "--delay", 3600);
    bool terminal = isatty(STDOUT_FILENO) && !a.json;
    // On a terminal it runs until interrupted unless --iterations is given.
    long iterations = terminal ? 0 : 1;
    if (a.option(kIterations))
        iterations =
            static_cast<long>(parsePositive(a.option(kIterations), 1, "--iterations", 1e9));
    Client client(a.bus, a.address);
    auto delayMs = std::chrono::milliseconds(static_cast<long>(delay * 1000));
    // The baseline is a sample taken after this call began, so that the first rates are about
    // now, not about whenever the cache was last filled.
    std::map<std::string, TopSample> previous;
    for (const auto& s : fetchAll(client)) previous[s.name] = s;
    for (const auto& s : fetchNewer(client, previous, std::chrono::seconds(2)))
        previous[s.name] = s;
    for (long shown = 0; iterations == 0 || shown < iterations; ++shown) {
        std::this_thread::sleep_for(delayMs);
        auto samples = fetchNewer(client, previous, std::chrono::seconds(2));
        std::vector<TopRow> rows;
        for (const auto& s : samples) rows.push_back(topRow(previous[s.name], s));
        previous.clear();
        for (const auto& s : samples) previous[s.name] = s;
        if (a.json) {
            std::printf("%s\n", topJson(rows).c_str());
        } else {
            if (terminal)
                std::fputs("\033[H\033[2J", stdout);
            else if (shown > 0)
                std::fputs("\n", stdout);
            std::fputs(topTable(rows).c_str(), stdout);
        }
        std::fflush(stdout);
    }
    return kOk;
}

}  // namespace corral::supervisor::ctl
