// The rules of a kind's option schema, applied once for every front end: the TOML loader,
// D-Bus (supervisor/dbus_args) and corralctl. Each front end checks the value's type in its
// own terms, then asks these functions, and words the problem for its audience.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/device.hpp"

namespace corral::hypervisor {

struct OptionProblem {
    enum class What {
        NotAChoice,  // `value` is not one of option->choices
        BadValue,    // option->check refused `value`; `reason` may say why
        Missing,     // a required option is absent
        OnlyWith,    // given although option->onlyWith does not hold (`value`: the other's value)
        Needs,       // absent although option->onlyWith holds
        Conflict,    // option->fits refused the value among the others; `reason` says why
    };
    What what;
    const OptionSpec* option;
    std::string value;
    std::string reason;
};

// Checks (and normalises) a value of the right type given for `option`.
std::optional<OptionProblem> checkOptionValue(const OptionSpec& option, OptionValue& value);

// After each given option passed checkOptionValue: the rules between options and the required
// ones, in schema order; then fills in the defaults and runs each given option's `fits` rule.
// `options` is complete when nothing is returned.
std::vector<OptionProblem> completeOptions(const DeviceKind& kind, Options& options);

// A device of `kind` with complete options: the kind's derived values are filled in (with
// `instanceName`) and Device::backend set from the option that names it.
Device makeDevice(const DeviceKind& kind, std::string id, Options options,
                  std::string_view instanceName);

// A command-line word for a typed option: "true"/"false" for a Bool, the text otherwise; or
// why not.
std::optional<OptionValue> parseOptionText(const OptionSpec& option, std::string_view text,
                                           std::string& why);

// "path (s), readonly (b)": the options of `kind` (those in `only`, if not empty) with their
// D-Bus types, in schema order.
std::string optionList(const DeviceKind& kind, const std::vector<std::string_view>& only = {});

// 's' or 'b': the D-Bus type of an option's value.
char dbusType(const OptionSpec& option);

}  // namespace corral::hypervisor
