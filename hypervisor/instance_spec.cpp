#include "hypervisor/instance_spec.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

#include "hypervisor/definition_dir.hpp"
#include "hypervisor/toml_reader.hpp"

namespace corral::hypervisor {

std::string Diagnostic::format() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + message;
}

namespace {

// The caller's lack of permission, said as such: corral-validate run by a user on a root file.
std::string deniedHint(const std::filesystem::path& file) {
    return ::access(file.c_str(), R_OK) != 0 && errno == EACCES ? nonRootHint() : std::string();
}

// Splits "2G" into number and suffix; the suffix selects a multiplier from `units`.
template <typename Units>
std::optional<std::uint64_t> parseScaled(std::string_view text, const Units& units) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data()) return std::nullopt;
    std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
    for (const auto& [name, factor] : units) {
        if (suffix != name) continue;
        if (value > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
        return value * factor;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> parseSize(std::string_view text) {
    static const std::pair<std::string_view, std::uint64_t> kUnits[] = {
        {"", 1},           {"B", 1},
        {"K", 1ull << 10}, {"KiB", 1ull << 10},
        {"M", 1ull << 20}, {"MiB", 1ull << 20},
        {"G", 1ull << 30}, {"GiB", 1ull << 30},
        {"T", 1ull << 40}, {"TiB", 1ull << 40}};
    return parseScaled(text, kUnits);
}

std::optional<std::chrono::microseconds> parseDuration(std::string_view text) {
    static const std::pair<std::string_view, std::uint64_t> kUnits[] = {
        {"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000ull}};
    auto usec = parseScaled(text, kUnits);
    if (!usec || *usec > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
    }
    return std::chrono::microseconds(static_cast<std::int64_t>(*usec));
}

std::optional<std::string> normalizeMac(std::string_view mac) {
    if (mac.size() != 17) return std::nullopt;
    std::string out(mac);
    for (std::size_t i = 0; i < out.size(); ++i) {
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
        bool ok = i % 3 == 2 ? c == ':' : std::isxdigit(static_cast<unsigned char>(c)) != 0;
        if (!ok) return std::nullopt;
        out[i] = c;
    }
    int first = std::stoi(out.substr(0, 2), nullptr, 16);
    if (first & 1) return std::nullopt;  // multicast addresses cannot be a NIC's own
    return out;
}

std::string derivedMac(std::string_view name, std::string_view id) {
    std::uint32_t hash = 2166136261u;
    for (char c : std::string(name) + "/" + std::string(id)) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
    }
    char buf[18];
    std::snprintf(buf, sizeof buf, "52:54:00:%02x:%02x:%02x", (hash >> 16) & 0xff,
                  (hash >> 8) & 0xff, hash & 0xff);
    return buf;
}

LoadResult loadInstanceSpec(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    // A missing file is plainly unopenable; a directory, a symlink loop, ... say what they are.
    std::error_code ec;
    bool missing =
        std::filesystem::symlink_status(file, ec).type() == std::filesystem::file_type::not_found;
    auto unusable = missing ? std::string() : unusableDefinitionFile(file);
    if (!in || !unusable.empty()) {
        LoadResult result;
        result.diagnostics.push_back({file.string(), 1, 1,
                                      unusable.empty()
                                          ? "cannot open the file for reading"
                                          : "the file " + unusable + deniedHint(file)});
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parseInstanceSpec(text.str(), file);
}

}  // namespace corral::hypervisor
