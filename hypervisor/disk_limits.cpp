#include "hypervisor/disk_limits.hpp"

#include <algorithm>
#include <utility>

#include "hypervisor/instance_name.hpp"
#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

namespace {

std::optional<std::uint64_t> valueOf(const Options& options, std::string_view key) {
    auto it = options.find(key);
    if (it == options.end()) return std::nullopt;
    const auto* text = std::get_if<std::string>(&it->second);
    if (!text || text->empty() || text->front() == '-') return std::nullopt;
    return parseSize(*text);
}

template <std::size_t I>
std::optional<std::string> limitFits(const Options& options) {
    return limitRule(kLimitKeys[I].key, options);
}

template <std::size_t... I>
void addLimitOptions(std::vector<OptionSpec>& options, std::index_sequence<I...>) {
    (options.push_back({.key = kLimitKeys[I].key,
                        .type = OptionType::Count,
                        .noun = "limit",
                        .expected = kLimitKeys[I].noun == "bytes/s"
                                        ? "a rate in bytes/s above 0, e.g. 1048576 or \"1M\""
                                        : "a rate in operations/s above 0, e.g. 500",
                        .check = checkLimitValue,
                        .fits = limitFits<I>}),
     ...);
}

}  // namespace

std::vector<OptionSpec> withLimitOptions(std::vector<OptionSpec> options) {
    addLimitOptions(options, std::make_index_sequence<kLimitKeys.size()>());
    options.push_back({.key = kThrottleGroupKey,
                       .noun = "throttle group",
                       .expected = "a name: a letter, then up to 31 letters, digits, '_' or '-'",
                       .check = checkThrottleGroup});
    return options;
}

const LimitKey* findLimitKey(std::string_view key) {
    auto it = std::find_if(kLimitKeys.begin(), kLimitKeys.end(),
                           [&](const LimitKey& k) { return k.key == key; });
    return it == kLimitKeys.end() ? nullptr : &*it;
}

std::optional<std::string> checkLimitValue(std::string& value) {
    auto number = value.empty() || value.front() == '-' ? std::nullopt : parseSize(value);
    if (!number || *number == 0 || *number > kMaxLimit) return std::string();
    value = std::to_string(*number);
    return std::nullopt;
}

std::optional<std::string> checkThrottleGroup(std::string& value) {
    return checkDeviceId(value);
}

std::optional<std::string> limitRule(std::string_view key, const Options& options) {
    const LimitKey* limit = findLimitKey(key);
    auto value = limit ? valueOf(options, key) : std::nullopt;
    if (!value) return std::nullopt;
    if (!limit->rate.empty()) {
        auto rate = valueOf(options, limit->rate);
        if (!rate)
            return std::string(key) + " is a burst above " + std::string(limit->rate) +
                   ", which is not set";
        if (*value < *rate)
            return std::string(key) + " (" + std::to_string(*value) + ") is below " +
                   std::string(limit->rate) + " (" + std::to_string(*rate) +
                   "); a burst is at least the rate";
        return std::nullopt;
    }
    if (key.ends_with("_total")) {
        std::string kind(key.substr(0, key.find('_')));
        for (const char* side : {"_rd", "_wr"}) {
            if (valueOf(options, kind + side))
                return std::string(key) + " and " + kind + side +
                       " exclude each other (a total limit, or read and write limits)";
        }
    }
    return std::nullopt;
}

std::optional<std::string> limitsProblem(const Options& options) {
    for (const auto& limit : kLimitKeys)
        if (auto problem = limitRule(limit.key, options)) return problem;
    return std::nullopt;
}

std::map<std::string, std::uint64_t, std::less<>> limitsOf(const Device& disk) {
    std::map<std::string, std::uint64_t, std::less<>> limits;
    for (const auto& limit : kLimitKeys)
        if (auto value = valueOf(disk.options, limit.key)) limits.emplace(limit.key, *value);
    return limits;
}

bool hasLimits(const Device& disk) {
    return !limitsOf(disk).empty();
}

std::string throttleGroupOf(const Device& disk) {
    auto group = disk.text(kThrottleGroupKey);
    return group.empty() ? "corral-disk-" + disk.id : std::string(group);
}

}  // namespace corral::hypervisor
