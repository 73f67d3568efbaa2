#include "supervisor/dbus_args.hpp"

#include <climits>
#include <initializer_list>
#include <set>

#include "hypervisor/instance_name.hpp"
#include "hypervisor/instance_spec.hpp"

namespace corral::supervisor {
namespace {

using hypervisor::quoteForMessage;

OpError invalid(std::string message) {
    return OpError{ErrorKind::InvalidArgument, std::move(message)};
}

// A known option and the one D-Bus type it takes ('s' or 'b').
struct KnownOption {
    std::string_view key;
    char type;
};

std::string typeName(char type) {
    return type == 'b' ? "a boolean" : "a string";
}

// At most kMaxOptionEntries, each key once, known to `method`, and of its type: a readonly sent
// as the string "true" is refused rather than read as false.
std::optional<OpError> checkOptions(std::string_view method, const OptionDict& options,
                                    std::initializer_list<KnownOption> known) {
    if (options.size() > kMaxOptionEntries) {
        return invalid(std::string(method) + " takes at most " + std::to_string(kMaxOptionEntries) +
                       " options; got more.");
    }
    std::set<std::string_view> seen;
    for (const auto& entry : options) {
        auto key = quoteForMessage(entry.key);
        if (!seen.insert(entry.key).second) {
            return invalid("Option " + key + " is given twice; send each option once.");
        }
        const KnownOption* option = nullptr;
        for (const auto& k : known) {
            if (k.key == entry.key) option = &k;
        }
        if (!option) {
            std::string list;
            for (const auto& k : known) {
                list += (list.empty() ? "" : ", ") + std::string(k.key) + " (" + k.type + ")";
            }
            return invalid("Unknown option " + key + " for " + std::string(method) + "; it takes " +
                           list + ".");
        }
        std::string expected = typeName(option->type) + " (D-Bus type " + option->type + ")";
        if (entry.type != "s" && entry.type != "b") {
            return invalid("Option " + key + " has D-Bus type " + quoteForMessage(entry.type) +
                           ", but options must be a string or a boolean: " + key + " is " +
                           expected + ".");
        }
        if (entry.type[0] != option->type) {
            return invalid("Option " + key + " must be " + expected + ", not " +
                           typeName(entry.type[0]) + ".");
        }
    }
    return std::nullopt;
}

const OptionEntry* find(const OptionDict& options, std::string_view key) {
    for (const auto& entry : options) {
        if (entry.key == key) return &entry;
    }
    return nullptr;
}

bool hasDotDotComponent(std::string_view path) {
    while (!path.empty()) {
        auto slash = path.find('/');
        if (path.substr(0, slash) == "..") return true;
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return false;
}

std::optional<OpError> checkDiskPath(std::string_view path) {
    if (path.empty()) return invalid("Disk path must not be empty; give an absolute path.");
    auto quoted = quoteForMessage(path);
    if (path.find('\0') != std::string_view::npos) {
        return invalid("Disk path " + quoted + " contains a NUL byte.");
    }
    if (path.size() >= PATH_MAX) {
        return invalid("Disk path is " + std::to_string(path.size()) + " bytes long; at most " +
                       std::to_string(PATH_MAX - 1) + " are allowed (PATH_MAX).");
    }
    if (path.front() != '/') return invalid("Disk path " + quoted + " must be absolute.");
    if (hasDotDotComponent(path)) {
        return invalid("Disk path " + quoted + " must not contain a \"..\" component.");
    }
    return std::nullopt;
}

}  // namespace

std::optional<OpError> checkDeviceIdArgument(std::string_view id) {
    if (auto why = hypervisor::checkDeviceId(id)) return invalid("Bad device id: " + *why + ".");
    return std::nullopt;
}

Outcome<DiskRequest> validateAttachDisk(std::string_view id, std::string_view path,
                                        const OptionDict& options) {
    if (auto bad = checkDeviceIdArgument(id)) return *bad;
    if (auto bad = checkDiskPath(path)) return *bad;
    if (auto bad = checkOptions("AttachDisk", options, {{"readonly", 'b'}, {"format", 's'}}))
        return *bad;
    DiskRequest request{std::string(id), std::string(path), false, {}};
    if (auto* readonly = find(options, "readonly")) request.readonly = readonly->flag;
    if (auto* format = find(options, "format")) {
        if (format->text != "raw" && format->text != "qcow2")
            return invalid("Option 'format' is " + quoteForMessage(format->text) +
                           ", not one of raw, qcow2.");
        request.format = format->text;
    }
    return request;
}

Outcome<NicOptions> validateAttachNic(std::string_view id, const OptionDict& options) {
    if (auto bad = checkDeviceIdArgument(id)) return *bad;
    if (auto bad =
            checkOptions("AttachNic", options, {{"mode", 's'}, {"bridge", 's'}, {"mac", 's'}})) {
        return *bad;
    }
    NicOptions nic;
    if (auto* mode = find(options, "mode")) nic.mode = mode->text;
    if (nic.mode != "user" && nic.mode != "tap" && nic.mode != "bridge") {
        return invalid("NIC mode " + quoteForMessage(nic.mode) +
                       " is not one of user, tap, bridge.");
    }
    auto* bridge = find(options, "bridge");
    if (bridge && nic.mode != "bridge") {
        return invalid("Option \"bridge\" is only meaningful with mode \"bridge\", not mode " +
                       quoteForMessage(nic.mode) + ".");
    }
    if (!bridge && nic.mode == "bridge") {
        return invalid(
            "Mode \"bridge\" needs the option \"bridge\" (the bridge's interface name).");
    }
    if (bridge) {
        if (auto why = hypervisor::checkInterfaceName(bridge->text)) {
            return invalid("Bad bridge name: " + *why + ".");
        }
        nic.bridge = bridge->text;
    }
    if (auto* mac = find(options, "mac")) {
        auto normalized = hypervisor::normalizeMac(mac->text);
        if (!normalized) {
            return invalid(
                "Option \"mac\" must be a unicast MAC address such as \"52:54:00:12:34:56\" "
                "(six hex pairs, first octet even), not " +
                quoteForMessage(mac->text) + ".");
        }
        nic.mac = *normalized;
    }
    return nic;
}

}  // namespace corral::supervisor
