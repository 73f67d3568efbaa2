#include "supervisor/ctl_attach.hpp"

#include <filesystem>
#include <variant>

#include "hypervisor/device.hpp"
#include "hypervisor/device_options.hpp"
#include "supervisor/ctl_output.hpp"

namespace corral::supervisor::ctl {

namespace {

using hypervisor::DeviceKind;
using hypervisor::OptionValue;

const DeviceKind& attachableKind(const std::string& name) {
    const DeviceKind* kind = hypervisor::findKind(name);
    if (kind && kind->definable && kind->hotpluggable) return *kind;
    throw CtlError(kUsage, "unknown device kind '" + name + "'; attach takes " +
                               hypervisor::attachableKinds());
}

// KEY=VALUE -> the key and its value in the type of the schema.
std::pair<std::string, OptionValue> convert(const DeviceKind& kind, const std::string& word) {
    auto equals = word.find('=');
    if (equals == std::string::npos || equals == 0)
        throw CtlError(kUsage, "--option wants KEY=VALUE, got '" + word + "'");
    std::string key = word.substr(0, equals);
    const auto* option = kind.option(key);
    if (!option) {
        throw CtlError(kUsage, "unknown option '" + key + "' for a " + std::string(kind.name) +
                                   "; it takes " + hypervisor::optionList(kind));
    }
    std::string why;
    auto value = hypervisor::parseOptionText(*option, word.substr(equals + 1), why);
    if (!value) throw CtlError(kUsage, why);
    if (auto* text = std::get_if<std::string>(&*value);
        text && option->type == hypervisor::OptionType::Path) {
        *text = resolveLocalPath(
            *text, "the " + std::string(kind.name) + " " + key + " (--option " + key + "=)");
    }
    return {key, std::move(*value)};
}

}  // namespace

std::string resolveLocalPath(const std::string& text, const std::string& what) {
    if (text.empty()) throw CtlError(kUsage, what + " is empty", false);
    std::error_code error;
    auto path = std::filesystem::absolute(text, error);
    if (!error) path = std::filesystem::weakly_canonical(path, error);
    if (error)
        throw CtlError(kUsage, "cannot resolve " + what + " '" + text + "': " + error.message(),
                       false);
    return path.string();
}

int attachDevice(Client& client, const std::string& name, const std::string& kind,
                 const std::string& id, const std::vector<std::string>& options, bool persist,
                 bool json) {
    const auto& schema = attachableKind(kind);
    std::vector<std::pair<std::string, OptionValue>> values;
    for (const auto& word : options) values.push_back(convert(schema, word));
    const char* method = persist ? "AttachDeviceWithOptions" : "AttachDevice";
    auto reply = client.callInstance(name, method, 60'000'000, [&](sd_bus_message* m) {
        int r = sd_bus_message_append(m, "ss", kind.c_str(), id.c_str());
        if (r >= 0) r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (auto it = values.begin(); r >= 0 && it != values.end(); ++it) {
            const auto& [key, value] = *it;
            if (auto* text = std::get_if<std::string>(&value))
                r = sd_bus_message_append(m, "{sv}", key.c_str(), "s", text->c_str());
            else
                r = sd_bus_message_append(m, "{sv}", key.c_str(), "b", int(std::get<bool>(value)));
        }
        if (r >= 0) r = sd_bus_message_close_container(m);
        if (r < 0 || !persist) return r;
        return sd_bus_message_append(m, "a{sv}", 1, "persist", "b", 1);
    });
    const char* address = "";
    check(sd_bus_message_read(reply.get(), "s", &address), "bad reply");
    printValue("pci_address", address, json);
    return kOk;
}

}  // namespace corral::supervisor::ctl
