#include "supervisor/ctl_output.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace corral::supervisor::ctl {

std::string localTimeText(std::uint64_t usec) {
    std::time_t seconds = static_cast<std::time_t>(usec / 1'000'000);
    std::tm tm{};
    ::localtime_r(&seconds, &tm);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S%z", &tm);
    return text;
}

std::string jsonQuote(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            // Bytes, not code points: output stays ASCII and parseable whatever the guest sent.
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

void printList(const std::vector<InstanceRow>& rows, bool json) {
    if (json) {
        std::printf("[");
        for (std::size_t i = 0; i < rows.size(); ++i)
            std::printf("%s{\"name\":%s,\"state\":%s,\"pid\":%u,\"path\":%s}", i ? "," : "",
                        jsonQuote(rows[i].name).c_str(), jsonQuote(rows[i].state).c_str(),
                        rows[i].pid, jsonQuote(rows[i].path).c_str());
        std::printf("]\n");
        return;
    }
    std::size_t width = 4;
    for (const auto& r : rows) width = std::max(width, r.name.size());
    std::printf("%-*s  %-13s  %s\n", static_cast<int>(width), "NAME", "STATE", "PID");
    for (const auto& r : rows)
        std::printf("%-*s  %-13s  %s\n", static_cast<int>(width), r.name.c_str(), r.state.c_str(),
                    r.pid ? std::to_string(r.pid).c_str() : "-");
}

namespace {

std::string jsonValue(const PropertyValue& value) {
    if (auto* s = std::get_if<std::string>(&value)) return jsonQuote(*s);
    if (auto* n = std::get_if<std::uint64_t>(&value)) return std::to_string(*n);
    if (auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
    std::string out = "[";
    if (auto* list = std::get_if<std::vector<std::string>>(&value)) {
        for (const auto& item : *list) out += (out.size() > 1 ? "," : "") + jsonQuote(item);
        return out + "]";
    }
    const char* keys[] = {"id", "kind", "bus", "addr"};
    for (const auto& row : std::get<std::vector<std::vector<std::string>>>(value)) {
        out += out.size() > 1 ? ",{" : "{";
        for (std::size_t i = 0; i < row.size() && i < 4; ++i)
            out += (i ? ",\"" : "\"") + std::string(keys[i]) + "\":" + jsonQuote(row[i]);
        out += "}";
    }
    return out + "]";
}

std::uint64_t nowUsec() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace

std::string startedAtText(std::uint64_t startedUsec, std::uint64_t nowUsec) {
    if (startedUsec == 0) return "-";
    std::time_t seconds = static_cast<std::time_t>(startedUsec / 1'000'000);
    std::tm local{};
    char stamp[40] = "";
    if (!localtime_r(&seconds, &local) ||
        std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &local) == 0)
        return std::to_string(startedUsec);
    std::string text = stamp;
    // strftime's %z is "+0100"; ISO 8601's extended form, like the rest of the stamp, is "+01:00".
    if (text.size() >= 5) text.insert(text.size() - 2, ":");
    std::uint64_t up = nowUsec > startedUsec ? (nowUsec - startedUsec) / 1'000'000 : 0;
    std::string uptime;
    if (up >= 86400) uptime += std::to_string(up / 86400) + "d ";
    if (up >= 3600) uptime += std::to_string(up / 3600 % 24) + "h ";
    if (up >= 60) uptime += std::to_string(up / 60 % 60) + "m ";
    uptime += std::to_string(up % 60) + "s";
    return text + " (up " + uptime + ")";
}

void printValidations(const std::vector<Validation>& validations, bool json) {
    if (!json) {
        for (const auto& [file, result] : validations) {
            for (const auto& d : result.diagnostics) std::printf("%s\n", d.format().c_str());
            if (result.ok())
                std::printf("%s: ok (instance %s)\n", file.c_str(), result.spec->name.c_str());
        }
        return;
    }
    std::string out = "[";
    for (const auto& [file, result] : validations) {
        out += (out.size() > 1 ? ",{\"file\":" : "{\"file\":") + jsonQuote(file) +
               ",\"ok\":" + (result.ok() ? "true" : "false");
        if (result.ok()) out += ",\"instance\":" + jsonQuote(result.spec->name);
        out += ",\"diagnostics\":[";
        for (std::size_t i = 0; i < result.diagnostics.size(); ++i) {
            const auto& d = result.diagnostics[i];
            out += (i ? ",{\"file\":" : "{\"file\":") + jsonQuote(d.file) +
                   ",\"line\":" + std::to_string(d.line) +
                   ",\"column\":" + std::to_string(d.column) +
                   ",\"message\":" + jsonQuote(d.message) + "}";
        }
        out += "]}";
    }
    std::printf("%s]\n", out.c_str());
}

void printStatus(const Properties& properties, bool json) {
    if (json) {
        std::string out = "{";
        for (const auto& [k, v] : properties)
            out += (out.size() > 1 ? "," : "") + jsonQuote(k) + ":" + jsonValue(v);
        std::printf("%s}\n", out.c_str());
        return;
    }
    static const char* order[] = {"Name",         "State",         "LastExit",       "Pid",
                                  "StartedAt",    "Machine",       "Uuid",           "Vcpus",
                                  "MemoryBytes",  "MonitorState",  "AgentConnected", "GuestOS",
                                  "GuestRelease", "GuestCodename", "GuestAddresses", "QmpSocket",
                                  "SerialSocket"};
    for (const char* key : order) {
        auto it = properties.find(key);
        if (it == properties.end()) continue;
        std::string text;
        if (auto* s = std::get_if<std::string>(&it->second)) text = s->empty() ? "-" : *s;
        if (auto* n = std::get_if<std::uint64_t>(&it->second))
            text = key == std::string_view("StartedAt") ? startedAtText(*n, nowUsec())
                                                        : std::to_string(*n);
        if (auto* b = std::get_if<bool>(&it->second)) text = *b ? "yes" : "no";
        if (auto* list = std::get_if<std::vector<std::string>>(&it->second))
            for (const auto& item : *list) text += (text.empty() ? "" : " ") + item;
        std::printf("%16s: %s\n", key, text.c_str());
    }
    auto devices = properties.find("Devices");
    if (devices == properties.end()) return;
    std::printf("%16s:\n", "Devices");
    for (const auto& row : std::get<std::vector<std::vector<std::string>>>(devices->second))
        if (row.size() == 4)
            std::printf("%18s%-16s %-14s %s %s\n", "", row[0].c_str(), row[1].c_str(),
                        row[2].c_str(), row[3].c_str());
}

void printValue(const std::string& name, const std::string& value, bool json) {
    if (json)
        std::printf("{%s:%s}\n", jsonQuote(name).c_str(), jsonQuote(value).c_str());
    else
        std::printf("%s\n", value.c_str());
}

void printLines(const std::vector<std::string>& lines, bool json) {
    if (!json) {
        for (const auto& l : lines) std::printf("%s\n", l.c_str());
        return;
    }
    std::string out = "[";
    for (const auto& l : lines) out += (out.size() > 1 ? "," : "") + jsonQuote(l);
    std::printf("%s]\n", out.c_str());
}

}  // namespace corral::supervisor::ctl
