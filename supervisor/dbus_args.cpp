#include "supervisor/dbus_args.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <set>

#include "hypervisor/device_options.hpp"
#include "hypervisor/instance_name.hpp"

namespace corral::supervisor {
namespace {

using hypervisor::DeviceKind;
using hypervisor::OptionProblem;
using hypervisor::OptionSpec;
using hypervisor::quoteForMessage;

OpError invalid(std::string message) {
    return OpError{ErrorKind::InvalidArgument, std::move(message)};
}

std::string typeName(char type) {
    return type == 'b' ? "a boolean" : "a string";
}

std::string capitalized(std::string_view text) {
    std::string out(text);
    if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return out;
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

// A path corrald opens on behalf of the caller; `noun` names it ("disk path").
std::optional<OpError> checkPath(std::string_view noun, std::string_view path) {
    auto what = capitalized(noun);
    if (path.empty()) return invalid(what + " must not be empty; give an absolute path.");
    auto quoted = quoteForMessage(path);
    if (path.find('\0') != std::string_view::npos) {
        return invalid(what + " " + quoted + " contains a NUL byte.");
    }
    if (path.size() >= PATH_MAX) {
        return invalid(what + " is " + std::to_string(path.size()) + " bytes long; at most " +
                       std::to_string(PATH_MAX - 1) + " are allowed (PATH_MAX).");
    }
    if (path.front() != '/') return invalid(what + " " + quoted + " must be absolute.");
    if (hasDotDotComponent(path)) {
        return invalid(what + " " + quoted + " must not contain a \"..\" component.");
    }
    return std::nullopt;
}

// The schema's verdict in the words of a D-Bus error.
OpError refusal(const OptionProblem& problem) {
    const OptionSpec& option = *problem.option;
    std::string key = quoteForMessage(option.key);
    std::string value = quoteForMessage(problem.value);
    switch (problem.what) {
        case OptionProblem::What::NotAChoice: {
            std::string list;
            for (auto choice : option.choices)
                list += (list.empty() ? "" : ", ") + std::string(choice);
            return invalid("Option '" + std::string(option.key) + "' is " + value +
                           ", which is not one of " + list + ".");
        }
        case OptionProblem::What::BadValue:
            if (!problem.reason.empty())
                return invalid("Bad " + std::string(option.noun) + ": " + problem.reason + ".");
            return invalid("Option " + key + " must be " + std::string(option.expected) + ", not " +
                           value + ".");
        case OptionProblem::What::Missing:
            return invalid("Option " + key + " is required (the " + std::string(option.noun) +
                           ").");
        case OptionProblem::What::Needs:
            return invalid(capitalized(option.onlyWith->key) + " " +
                           quoteForMessage(option.onlyWith->value) + " needs the option " + key +
                           " (the " + std::string(option.noun) + ").");
        case OptionProblem::What::OnlyWith:
            return invalid("Option " + key + " is only meaningful with " +
                           std::string(option.onlyWith->key) + " " +
                           quoteForMessage(option.onlyWith->value) + ", not " +
                           std::string(option.onlyWith->key) + " " + value + ".");
        case OptionProblem::What::Conflict:
            return invalid("Option " + key + ": " + problem.reason + ".");
    }
    return invalid("Option " + key + " is refused.");
}

// The options of `kind` that `method` takes (all of them when `only` is empty): at most
// kMaxOptionEntries, each key once, known, of its type (a readonly sent as the string "true" is
// refused rather than read as false) and valid by the schema.
Outcome<hypervisor::Options> readOptions(std::string_view method, const DeviceKind& kind,
                                         const OptionDict& options,
                                         const std::vector<std::string_view>& only = {}) {
    if (options.size() > kMaxOptionEntries) {
        return invalid(std::string(method) + " takes at most " + std::to_string(kMaxOptionEntries) +
                       " options; got more.");
    }
    hypervisor::Options out;
    std::set<std::string_view> seen;
    for (const auto& entry : options) {
        auto key = quoteForMessage(entry.key);
        if (!seen.insert(entry.key).second) {
            return invalid("Option " + key + " is given twice; send each option once.");
        }
        const OptionSpec* option = kind.option(entry.key);
        if (option && !only.empty() && std::find(only.begin(), only.end(), entry.key) == only.end())
            option = nullptr;
        if (!option) {
            return invalid("Unknown option " + key + " for " + std::string(method) + "; it takes " +
                           hypervisor::optionList(kind, only) + ".");
        }
        char type = hypervisor::dbusType(*option);
        std::string expected = typeName(type) + " (D-Bus type " + type + ")";
        if (entry.type != "s" && entry.type != "b") {
            return invalid("Option " + key + " has D-Bus type " + quoteForMessage(entry.type) +
                           ", but options must be a string or a boolean: " + key + " is " +
                           expected + ".");
        }
        if (entry.type[0] != type) {
            return invalid("Option " + key + " must be " + expected + ", not " +
                           typeName(entry.type[0]) + ".");
        }
        hypervisor::OptionValue value = entry.text;
        if (type == 'b') value = entry.flag;
        if (option->type == hypervisor::OptionType::Path) {
            if (auto bad = checkPath(option->noun, entry.text)) return *bad;
        } else if (auto problem = hypervisor::checkOptionValue(*option, value)) {
            return refusal(*problem);
        }
        out.emplace(entry.key, std::move(value));
    }
    return out;
}

// The device once the rules between its options hold and the defaults are in.
Outcome<hypervisor::Device> complete(const DeviceKind& kind, std::string_view id,
                                     hypervisor::Options options) {
    auto problems = hypervisor::completeOptions(kind, options);
    if (!problems.empty()) return refusal(problems.front());
    hypervisor::Device device{std::string(id), &kind};
    device.options = std::move(options);
    return device;
}

const DeviceKind& kindNamed(std::string_view name) {
    return *hypervisor::findKind(name);
}

}  // namespace

std::optional<OpError> checkTimeoutArgument(std::string_view what, std::uint64_t usec) {
    if (usec <= kMaxTimeoutUsec) return std::nullopt;
    return OpError{ErrorKind::InvalidArgument,
                   std::string(what) + ": " + std::to_string(usec) +
                       " us is more than the longest timeout, one year (" +
                       std::to_string(kMaxTimeoutUsec) + " us); 0 means the default"};
}

std::optional<OpError> checkDeviceIdArgument(std::string_view id) {
    if (auto why = hypervisor::checkDeviceId(id)) return invalid("Bad device id: " + *why + ".");
    return std::nullopt;
}

std::optional<OpError> checkChangeMediaArguments(std::string_view id, std::string_view path) {
    if (auto bad = checkDeviceIdArgument(id)) return bad;
    if (path.empty()) return std::nullopt;
    if (auto bad = checkPath("ISO path", path)) return bad;
    std::string name(path);
    struct stat status {};
    if (::stat(name.c_str(), &status) != 0 || ::access(name.c_str(), R_OK) != 0)
        return invalid("ISO path " + quoteForMessage(path) + ": " + std::strerror(errno) + ".");
    if (!S_ISREG(status.st_mode))
        return invalid("ISO path " + quoteForMessage(path) + " is not a regular file.");
    return std::nullopt;
}

Outcome<hypervisor::Device> validateAttachDevice(std::string_view kind, std::string_view id,
                                                 const OptionDict& options) {
    const DeviceKind* found = hypervisor::findKind(kind);
    if (!found || !found->definable || !found->hotpluggable) {
        return invalid("Unknown device kind " + quoteForMessage(kind) + "; AttachDevice takes " +
                       hypervisor::attachableKinds() + ".");
    }
    if (auto bad = checkDeviceIdArgument(id)) return *bad;
    auto read = readOptions("AttachDevice(\"" + std::string(found->name) + "\")", *found, options);
    if (!read) return read.error();
    return complete(*found, id, std::move(read.value()));
}

Outcome<hypervisor::Device> validateAttachDisk(std::string_view id, std::string_view path,
                                               const OptionDict& options) {
    const auto& disk = kindNamed("disk");
    if (auto bad = checkDeviceIdArgument(id)) return *bad;
    if (auto bad = checkPath(disk.option("path")->noun, path)) return *bad;
    auto read = readOptions("AttachDisk", disk, options, {"readonly", "format"});
    if (!read) return read.error();
    auto& given = read.value();
    given.emplace("path", std::string(path));
    if (!given.count("format")) {
        bool qcow2 = std::filesystem::path(path).extension() == ".qcow2";
        given.emplace("format", std::string(qcow2 ? "qcow2" : "raw"));
    }
    return complete(disk, id, std::move(given));
}

Outcome<hypervisor::Device> validateAttachNic(std::string_view id, const OptionDict& options) {
    const auto& nic = kindNamed("nic");
    if (auto bad = checkDeviceIdArgument(id)) return *bad;
    auto read = readOptions("AttachNic", nic, options);
    if (!read) return read.error();
    return complete(nic, id, std::move(read.value()));
}

Outcome<std::map<std::string, bool, std::less<>>> validateFlags(
    std::string_view method, const OptionDict& options,
    const std::vector<std::string_view>& flags) {
    std::string takes = "no options";
    for (std::size_t i = 0; i < flags.size(); ++i)
        takes = (i == 0 ? "" : takes + ", ") + std::string(flags[i]) + " (b)";
    if (options.size() > kMaxOptionEntries) {
        return invalid(std::string(method) + " takes at most " + std::to_string(kMaxOptionEntries) +
                       " options; got more.");
    }
    std::map<std::string, bool, std::less<>> out;
    for (const auto& entry : options) {
        auto key = quoteForMessage(entry.key);
        if (out.count(entry.key))
            return invalid("Option " + key + " is given twice; send each option once.");
        if (std::find(flags.begin(), flags.end(), entry.key) == flags.end())
            return invalid("Unknown option " + key + " for " + std::string(method) + "; it takes " +
                           takes + ".");
        if (entry.type != "b") {
            return invalid("Option " + key + " must be a boolean (D-Bus type b), not D-Bus type " +
                           quoteForMessage(entry.type) + ".");
        }
        out.emplace(entry.key, entry.flag);
    }
    return out;
}

std::optional<OpError> checkScreenshotPath(std::string_view path) {
    if (auto bad = checkPath("screenshot path", path)) return bad;
    std::filesystem::path file(path);
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
        return invalid("Screenshot path " + quoteForMessage(path) +
                       " is a directory; name the PNG file to write.");
    if (!std::filesystem::is_directory(file.parent_path(), ec))
        return invalid("Screenshot path " + quoteForMessage(path) + ": directory " +
                       quoteForMessage(file.parent_path().string()) + " does not exist.");
    return std::nullopt;
}

}  // namespace corral::supervisor
