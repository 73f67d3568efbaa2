#include "hypervisor/device_options.hpp"

#include <algorithm>

namespace corral::hypervisor {

namespace {

// The condition's option as given or defaulted: what a message says it is.
std::string conditionValue(const DeviceKind& kind, const OptionCondition& condition,
                           const Options& options) {
    auto it = options.find(condition.key);
    if (it != options.end()) {
        if (auto* value = std::get_if<std::string>(&it->second)) return *value;
    }
    auto* spec = kind.option(condition.key);
    if (spec && spec->fallback) {
        if (auto* value = std::get_if<std::string>(&*spec->fallback)) return *value;
    }
    return {};
}

}  // namespace

std::optional<OptionProblem> checkOptionValue(const OptionSpec& option, OptionValue& value) {
    auto* text = std::get_if<std::string>(&value);
    if (!text) return std::nullopt;
    if (!option.choices.empty() &&
        std::find(option.choices.begin(), option.choices.end(), *text) == option.choices.end()) {
        return OptionProblem{OptionProblem::What::NotAChoice, &option, *text, {}};
    }
    if (option.check) {
        std::string original = *text;
        if (auto why = option.check(*text)) {
            return OptionProblem{OptionProblem::What::BadValue, &option, original, *why};
        }
    }
    return std::nullopt;
}

std::vector<OptionProblem> completeOptions(const DeviceKind& kind, Options& options) {
    std::vector<OptionProblem> problems;
    for (const auto& spec : kind.options) {
        bool given = options.count(spec.key) > 0;
        if (spec.onlyWith) {
            bool wanted = conditionValue(kind, *spec.onlyWith, options) == spec.onlyWith->value;
            if (given && !wanted) {
                problems.push_back({OptionProblem::What::OnlyWith,
                                    &spec,
                                    conditionValue(kind, *spec.onlyWith, options),
                                    {}});
            } else if (!given && wanted) {
                problems.push_back({OptionProblem::What::Needs, &spec, {}, {}});
            }
        } else if (!given && spec.required) {
            problems.push_back({OptionProblem::What::Missing, &spec, {}, {}});
        }
    }
    if (!problems.empty()) return problems;
    for (const auto& spec : kind.options) {
        if (spec.fallback && !options.count(spec.key)) options.emplace(spec.key, *spec.fallback);
    }
    for (const auto& spec : kind.options) {
        if (!spec.fits || !options.count(spec.key)) continue;
        if (auto why = spec.fits(options)) {
            problems.push_back({OptionProblem::What::Conflict, &spec, {}, *why});
        }
    }
    return problems;
}

Device makeDevice(const DeviceKind& kind, std::string id, Options options,
                  std::string_view instanceName) {
    Device device{std::move(id), &kind, {}, false, {}, std::move(options)};
    if (kind.derive) kind.derive(device, instanceName);
    for (const auto& spec : kind.options) {
        if (spec.namesBackend) device.backend = std::string(device.text(spec.key));
    }
    return device;
}

std::optional<OptionValue> parseOptionText(const OptionSpec& option, std::string_view text,
                                           std::string& why) {
    if (option.type != OptionType::Bool) return OptionValue(std::string(text));
    if (text == "true") return OptionValue(true);
    if (text == "false") return OptionValue(false);
    why = "\"" + std::string(option.key) + "\" takes true or false";
    return std::nullopt;
}

std::string optionList(const DeviceKind& kind, const std::vector<std::string_view>& only) {
    std::string list;
    for (const auto& spec : kind.options) {
        if (!only.empty() && std::find(only.begin(), only.end(), spec.key) == only.end()) continue;
        list += (list.empty() ? "" : ", ") + std::string(spec.key) + " (" + dbusType(spec) + ")";
    }
    return list;
}

char dbusType(const OptionSpec& option) {
    return option.type == OptionType::Bool ? 'b' : 's';
}

}  // namespace corral::hypervisor
