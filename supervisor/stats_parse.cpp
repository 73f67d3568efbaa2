// The kernel's text formats for cgroup v2, PSI and procfs, parsed without touching a file.
#include <charconv>

#include "supervisor/stats.hpp"

namespace corral::supervisor {

namespace {

std::optional<std::uint64_t> number(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data()) return std::nullopt;
    return value;
}

// Calls `line` for each line of `text` until it returns a value.
template <typename F>
auto eachLine(std::string_view text, F line) -> decltype(line(text)) {
    while (!text.empty()) {
        auto end = text.find('\n');
        auto current = text.substr(0, end);
        if (auto found = line(current)) return found;
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return std::nullopt;
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

}  // namespace

std::optional<std::uint64_t> parseCpuStat(std::string_view text) {
    return eachLine(text, [](std::string_view line) -> std::optional<std::uint64_t> {
        constexpr std::string_view kKey = "usage_usec ";
        if (!line.starts_with(kKey)) return std::nullopt;
        return number(trimmed(line.substr(kKey.size())));
    });
}

std::optional<std::uint64_t> parseNumber(std::string_view text) {
    auto value = trimmed(text);
    auto parsed = number(value);
    if (!parsed || std::to_string(*parsed).size() != value.size()) return std::nullopt;
    return parsed;
}

std::optional<std::uint64_t> parsePressureSome(std::string_view text) {
    return eachLine(text, [](std::string_view line) -> std::optional<std::uint64_t> {
        if (!line.starts_with("some ")) return std::nullopt;
        auto at = line.find(" total=");
        if (at == std::string_view::npos) return std::nullopt;
        return number(line.substr(at + 7));
    });
}

std::optional<std::string> parseUnifiedCgroup(std::string_view text) {
    return eachLine(text, [](std::string_view line) -> std::optional<std::string> {
        if (!line.starts_with("0::")) return std::nullopt;
        auto path = trimmed(line.substr(3));
        if (path.empty() || path.front() != '/') return std::nullopt;
        return std::string(path);
    });
}

std::optional<std::string> parseV1Cgroup(std::string_view text, std::string_view controller) {
    return eachLine(text, [controller](std::string_view line) -> std::optional<std::string> {
        auto first = line.find(':');
        if (first == std::string_view::npos) return std::nullopt;
        auto second = line.find(':', first + 1);
        if (second == std::string_view::npos) return std::nullopt;
        // The controllers field is a comma-separated list ("2:cpu,cpuacct:/a").
        auto list = line.substr(first + 1, second - first - 1);
        bool named = false;
        while (!list.empty()) {
            auto comma = list.find(',');
            if (list.substr(0, comma) == controller) named = true;
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
        auto path = trimmed(line.substr(second + 1));
        if (!named || path.empty() || path.front() != '/') return std::nullopt;
        return std::string(path);
    });
}

bool isOwnScope(std::string_view cgroup, std::string_view name) {
    auto slash = cgroup.rfind('/');
    if (slash == std::string_view::npos) return false;
    auto last = cgroup.substr(slash + 1);
    return last.size() == name.size() + 13 && last.starts_with("corral-") &&
           last.substr(7, name.size()) == name && last.ends_with(".scope");
}

std::optional<std::uint64_t> parseProcStatCpu(std::string_view text, long ticksPerSecond) {
    // The command name in parentheses may hold spaces and ')': fields start after the last ')'.
    auto close = text.rfind(')');
    if (close == std::string_view::npos || ticksPerSecond <= 0) return std::nullopt;
    auto rest = text.substr(close + 1);
    // After ')': state is field 3, so utime (14) and stime (15) are the 12th and 13th.
    std::uint64_t ticks = 0;
    int field = 0;
    while (!rest.empty() && field < 13) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        auto end = rest.find(' ');
        auto word = rest.substr(0, end);
        ++field;
        if (field == 12 || field == 13) {
            auto value = number(word);
            if (!value) return std::nullopt;
            ticks += *value;
        }
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end);
    }
    if (field < 13) return std::nullopt;
    return ticks * 1'000'000 / static_cast<std::uint64_t>(ticksPerSecond);
}

std::optional<std::uint64_t> parseStatusRss(std::string_view text) {
    return eachLine(text, [](std::string_view line) -> std::optional<std::uint64_t> {
        if (!line.starts_with("VmRSS:")) return std::nullopt;
        auto value = trimmed(line.substr(6));
        if (!value.ends_with(" kB")) return std::nullopt;
        auto kib = number(trimmed(value.substr(0, value.size() - 3)));
        if (!kib) return std::nullopt;
        return *kib * 1024;
    });
}

std::optional<NicSample> parseNetDev(std::string_view text, std::string_view ifname) {
    return eachLine(text, [ifname](std::string_view line) -> std::optional<NicSample> {
        auto colon = line.find(':');
        if (colon == std::string_view::npos || trimmed(line.substr(0, colon)) != ifname)
            return std::nullopt;
        // rx: bytes packets errs drop fifo frame compressed multicast; then tx: bytes packets
        // errs drop ...
        std::uint64_t field[12] = {};
        auto rest = line.substr(colon + 1);
        for (auto& value : field) {
            while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
            auto end = rest.find(' ');
            auto parsed = number(rest.substr(0, end));
            if (!parsed) return std::nullopt;
            value = *parsed;
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
        }
        NicSample host;
        host.ifname = std::string(ifname);
        host.rxBytes = field[0];
        host.rxPackets = field[1];
        host.rxDropped = field[3];
        host.txBytes = field[8];
        host.txPackets = field[9];
        host.txDropped = field[11];
        return host;
    });
}

std::string deviceIdOfQdev(std::string_view qdev) {
    constexpr std::string_view kPrefix = "/machine/peripheral/";
    if (!qdev.starts_with(kPrefix)) return {};
    auto rest = qdev.substr(kPrefix.size());
    return std::string(rest.substr(0, rest.find('/')));
}

}  // namespace corral::supervisor
