#include "supervisor/ctl_verbs.hpp"

#include <algorithm>

#include "hypervisor/instance_name.hpp"

namespace corral::supervisor::ctl {

namespace {

constexpr OptionInfo kOptions[] = {
    {kTimeout, "--timeout", "S"},
    {kReadonly, "--readonly", ""},
    {kFormat, "--format", "raw|qcow2"},
    {kMode, "--mode", "user|tap|bridge"},
    {kBridge, "--bridge", "BR"},
    {kMac, "--mac", "MAC"},
    {kDeviceOption, "--option", "KEY=VALUE"},
    {kRemoveStorage, "--remove-storage", ""},
    {kDelay, "--delay", "S"},
    {kIterations, "--iterations", "N"},
    {kEject, "--eject", ""},
    {kBandwidth, "--bandwidth", "BYTES/S"},
    {kDowntime, "--downtime", "MS"},
    {kCancel, "--cancel", ""},
    {kDiscardSaved, "--discard-saved", ""},
    {kTls, "--tls", ""},
    {kCopyStorage, "--copy-storage", ""},
    {kPostcopy, "--postcopy", "never|auto|always"},
    {kPersist, "--persist", ""},
    {kForce, "--force", ""},
    {kIncremental, "--incremental", ""},
    {kDisk, "--disk", "ID[,ID...]"},
};

// The options that go with any verb, as the parser below reads them; for the completion.
constexpr OptionInfo kGlobalOptions[] = {
    {Option{}, "-H", "[USER@]HOST"}, {Option{}, "--host", "[USER@]HOST"},
    {Option{}, "--address", "ADDR"}, {Option{}, "--system", ""},
    {Option{}, "--session", ""},     {Option{}, "--json", ""},
    {Option{}, "--help", ""},
};

// Where the help of a verb starts in the usage text; longer entries put it on the next line.
constexpr std::size_t kHelpColumn = 36;

const OptionInfo* findOption(std::string_view name) {
    for (const auto& o : kOptions)
        if (o.name == name) return &o;
    return nullptr;
}

std::string_view optionName(Option option) {
    for (const auto& o : kOptions)
        if (o.option == option) return o.name;
    return {};
}

const Verb* findVerb(std::span<const Verb> verbs, std::string_view name) {
    for (const auto& v : verbs)
        if (v.name == name) return &v;
    return nullptr;
}

// "--mode, --bridge and --mac"; "no options".
std::string optionList(unsigned options) {
    std::vector<std::string_view> names;
    for (const auto& o : kOptions)
        if (options & o.option) names.push_back(o.name);
    if (names.empty()) return "no options";
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
        out += names[i];
    }
    return out;
}

// "attach-disk NAME ID PATH [--readonly] [--format raw|qcow2]".
std::string synopsis(const Verb& verb) {
    std::string out(verb.name);
    if (!verb.arguments.empty()) out.append(" ").append(verb.arguments);
    for (const auto& o : kOptions) {
        if (!(verb.options & o.option)) continue;
        out.append(" [").append(o.name);
        if (!o.value.empty()) out.append(" ").append(o.value);
        out.append("]");
        if (o.option == kDeviceOption) out.append("...");
    }
    if (verb.takesArgv) out += " -- ARGV...";
    return out;
}

// Every rule of the verb, in the order a person fixes them: options, counts, then the name.
void checkAgainstVerb(const Args& a) {
    const Verb& verb = *a.verb;
    for (const auto& [option, value] : a.options) {
        if (verb.options & option) continue;
        std::string name(verb.name);
        throw CtlError(kUsage, "option " + std::string(optionName(option)) + " does not apply to " +
                                   name + " (" + name + " takes " + optionList(verb.options) + ")");
    }
    if (!verb.takesArgv && !a.argv.empty())
        throw CtlError(kUsage, std::string(verb.name) + " takes no arguments after --");
    if (a.args.size() < verb.minArgs || a.args.size() > verb.maxArgs ||
        (verb.takesArgv && a.argv.empty()))
        throw CtlError(kUsage, verbUsage(verb));
    if (verb.firstIsName)
        if (auto problem = hypervisor::checkInstanceName(a.args.front()))
            throw CtlError(kUsage, *problem, false);
}

// -H goes to the system bus of another host: --address and --session name another bus.
void checkBusChoice(const Args& a, bool address, bool session) {
    if (a.bus != Client::Bus::Remote) return;
    if (address || session)
        throw CtlError(kUsage, std::string("-H/--host reaches HOST's system bus over ssh and ") +
                                   "cannot go with " + (address ? "--address" : "--session"));
    const std::string& host = a.address;
    if (host.empty() || host.front() == '-' || host.find_first_of(" \t\n/") != std::string::npos)
        throw CtlError(kUsage, "-H/--host wants [user@]host[:port], got '" + host + "'");
}

}  // namespace

std::span<const OptionInfo> verbOptions() {
    return kOptions;
}

const std::string* Args::option(Option o) const {
    auto it = options.find(o);
    return it == options.end() ? nullptr : &it->second;
}

Args parseCommandLine(std::span<const Verb> verbs, const std::vector<std::string>& words) {
    Args a;
    std::vector<std::string> positional;
    bool address = false, session = false;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= words.size()) throw CtlError(kUsage, word + " needs a value");
            return words[++i];
        };
        if (word == "--") {
            a.argv.assign(words.begin() + static_cast<std::ptrdiff_t>(i) + 1, words.end());
            break;
        }
        if (word == "--system") {
            a.bus = Client::Bus::System;
        } else if (word == "--session") {
            if (a.bus != Client::Bus::Remote) a.bus = Client::Bus::Session;
            session = true;
        } else if (word == "--address") {
            auto text = value();
            if (a.bus != Client::Bus::Remote) {
                a.bus = Client::Bus::Address;
                a.address = text;
            }
            address = true;
        } else if (word == "-H" || word == "--host") {
            a.bus = Client::Bus::Remote;
            a.address = value();
        } else if (word == "--json") {
            a.json = true;
        } else if (word == "--help" || word == "-h") {
            a.help = true;
        } else if (const auto* o = findOption(word)) {
            a.options[o->option] = o->value.empty() ? "1" : value();
            if (o->option == kDeviceOption) a.deviceOptions.push_back(a.options[o->option]);
        } else if (word.rfind("--", 0) == 0) {
            throw CtlError(kUsage, "unknown option " + word);
        } else {
            positional.push_back(word);
        }
    }
    if (a.help) return a;
    checkBusChoice(a, address, session);
    if (positional.empty()) throw CtlError(kUsage, "no command given");
    a.verb = findVerb(verbs, positional.front());
    if (!a.verb) throw CtlError(kUsage, "unknown command '" + positional.front() + "'");
    a.args.assign(positional.begin() + 1, positional.end());
    checkAgainstVerb(a);
    return a;
}

std::string verbUsage(const Verb& verb) {
    return "usage: corralctl " + synopsis(verb);
}

std::string usageText(std::span<const Verb> verbs) {
    std::string out =
        "usage: corralctl [-H [USER@]HOST | --address ADDR | --system | --session] [--json] "
        "COMMAND ...\n";
    for (const auto& verb : verbs) {
        std::string entry = "  " + synopsis(verb);
        if (entry.size() + 2 > kHelpColumn)
            entry += "\n" + std::string(kHelpColumn, ' ');
        else
            entry.resize(kHelpColumn, ' ');
        out += entry + std::string(verb.help) + "\n";
    }
    out +=
        "exit codes: 0 ok, 1 failed, 2 usage, 3 no such instance, 4 busy, 5 wrong state,\n"
        "            6 corrald not reachable\n"
        "-H/--host reaches HOST's system bus over ssh (systemd-stdio-bridge there) and gives\n"
        "up after " +
        std::to_string(kRemoteConnectSeconds) + " s; console and validate work on this host only\n";
    return out;
}

std::string completionText(std::span<const Verb> verbs, const std::vector<std::string>& request) {
    auto line = [](const OptionInfo& o) {
        return std::string(o.name) + (o.value.empty() ? "" : " " + std::string(o.value)) + "\n";
    };
    const std::string what = request.empty() ? "" : request[0];
    const Verb* verb = request.size() == 2 ? findVerb(verbs, request[1]) : nullptr;
    std::string out;
    if (what == "verbs" && request.size() == 1) {
        for (const auto& v : verbs) out += std::string(v.name) + "\n";
    } else if (what == "options" && (request.size() == 1 || verb)) {
        for (const auto& o : kGlobalOptions) out += line(o);
        for (const auto& o : kOptions)
            if (!verb || (verb->options & o.option)) out += line(o);
    } else if (what == "arguments" && verb) {
        std::string_view words = verb->arguments;
        while (!words.empty()) {
            auto space = words.find(' ');
            out += std::string(words.substr(0, space)) + "\n";
            words = space == std::string_view::npos ? "" : words.substr(space + 1);
        }
    } else {
        throw CtlError(kUsage, "__complete wants verbs, options [VERB] or arguments VERB");
    }
    return out;
}

}  // namespace corral::supervisor::ctl
