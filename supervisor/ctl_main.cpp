// corralctl: a thin org.corral1 client. Tables for people, --json for scripts, one-line errors
// and the exit codes of ctl_client.hpp.
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "hypervisor/instance_name.hpp"
#include "hypervisor/instance_spec.hpp"
#include "supervisor/ctl_client.hpp"
#include "supervisor/ctl_console.hpp"
#include "supervisor/ctl_guest_info.hpp"
#include "supervisor/ctl_output.hpp"
#include "supervisor/ctl_run.hpp"

using namespace corral::supervisor::ctl;

namespace {

const char* const kUsageText =
    "usage: corralctl [--address ADDR | --system | --session] [--json] COMMAND ...\n"
    "  list                              instances and their state\n"
    "  status NAME                       all properties of an instance\n"
    "  start|kill|reboot|reset|pause|resume NAME\n"
    "  shutdown NAME [--timeout S]       ACPI powerdown, escalating after S seconds\n"
    "  attach-disk NAME ID PATH [--readonly] [--format raw|qcow2]\n"
    "  attach-nic NAME ID [--mode user|tap|bridge] [--bridge BR] [--mac MAC]\n"
    "  detach NAME ID\n"
    "  exec NAME [--timeout S] -- ARGV...  run a command in the guest (negotiator agent)\n"
    "  commands NAME                     commands the guest agent offers\n"
    "  console NAME                      attach to the serial console (Ctrl-] leaves)\n"
    "  run NAME                          start and follow a VM until it ends (corral@.service)\n"
    "  monitor NAME JSON                 raw QMP command, e.g. '{\"execute\":\"query-status\"}'\n"
    "  validate FILE...                  check instance definitions without corrald\n"
    "  reload                            rescan the instance definitions\n"
    "exit codes: 0 ok, 1 failed, 2 usage, 3 no such instance, 4 busy, 5 wrong state,\n"
    "            6 corrald not reachable\n";

constexpr std::uint64_t kSecond = 1'000'000;

struct Args {
    Client::Bus bus = Client::Bus::System;
    std::string address;
    bool json = false;
    bool help = false;
    std::vector<std::string> words;  // command and its positional arguments
    std::vector<std::string> rest;   // after "--"
    std::map<std::string, std::string> options;
};

Args parse(int argc, char** argv) {
    Args a;
    static const std::set<std::string> withValue = {"--timeout", "--mode",    "--bridge",
                                                    "--mac",     "--address", "--format"};
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--") {
            for (++i; i < argc; ++i) a.rest.emplace_back(argv[i]);
            break;
        }
        if (arg == "--system") {
            a.bus = Client::Bus::System;
        } else if (arg == "--session") {
            a.bus = Client::Bus::Session;
        } else if (arg == "--json") {
            a.json = true;
        } else if (arg == "--readonly") {
            a.options[arg] = "1";
        } else if (withValue.count(arg)) {
            if (i + 1 >= argc) throw CtlError(kUsage, arg + " needs a value");
            a.options[arg] = argv[++i];
            if (arg == "--address") {
                a.bus = Client::Bus::Address;
                a.address = a.options[arg];
            }
        } else if (arg == "--help" || arg == "-h") {
            a.help = true;
        } else if (arg.rfind("--", 0) == 0) {
            throw CtlError(kUsage, "unknown option " + arg);
        } else {
            a.words.push_back(arg);
        }
    }
    if (a.help) return a;
    if (a.words.empty()) throw CtlError(kUsage, "");
    return a;
}

void need(const Args& a, std::size_t count, const char* what) {
    if (a.words.size() != count + 1)
        throw CtlError(kUsage, "usage: corralctl " + a.words[0] + " " + what);
}

std::uint64_t seconds(const Args& a, std::uint64_t fallback) {
    auto it = a.options.find("--timeout");
    if (it == a.options.end()) return fallback;
    double value = -1;
    try {
        value = std::stod(it->second);
    } catch (const std::exception&) {
    }
    // Up to a year: beyond that, and negative or not-a-number values, are typing mistakes.
    if (!(value >= 0 && value <= 365.0 * 24 * 3600))
        throw CtlError(kUsage, "--timeout wants seconds (0 to 31536000), got '" + it->second + "'");
    return static_cast<std::uint64_t>(value * kSecond);
}

std::string readString(sd_bus_message* reply) {
    const char* text = "";
    sd_bus_message_read(reply, "s", &text);
    std::string out = text;
    sd_bus_message_unref(reply);
    return out;
}

int validate(const Args& a) {
    if (a.words.size() < 2) throw CtlError(kUsage, "usage: corralctl validate FILE...");
    int rc = kOk;
    for (std::size_t i = 1; i < a.words.size(); ++i) {
        auto result = corral::hypervisor::loadInstanceSpec(a.words[i]);
        for (const auto& d : result.diagnostics) std::printf("%s\n", d.format().c_str());
        if (result.ok())
            std::printf("%s: ok (instance %s)\n", a.words[i].c_str(), result.spec->name.c_str());
        else
            rc = kFailed;
    }
    return rc;
}

void appendOptions(sd_bus_message* m, const std::map<std::string, std::string>& strings,
                   const std::map<std::string, bool>& bools) {
    sd_bus_message_open_container(m, 'a', "{sv}");
    for (const auto& [k, v] : strings) sd_bus_message_append(m, "{sv}", k.c_str(), "s", v.c_str());
    for (const auto& [k, v] : bools) sd_bus_message_append(m, "{sv}", k.c_str(), "b", int(v));
    sd_bus_message_close_container(m);
}

int lifecycle(Client& c, const Args& a, const char* method, const char* done) {
    need(a, 1, "NAME");
    sd_bus_message_unref(c.callInstance(a.words[1], method, 120 * kSecond));
    if (!a.json) std::printf("%s: %s\n", a.words[1].c_str(), done);
    return kOk;
}

int run(const Args& a) {
    const std::string& cmd = a.words[0];
    if (cmd == "validate") return validate(a);
    // Every other command takes NAME first: refused with the daemon's own rule before any bus.
    if (cmd != "list" && cmd != "reload" && a.words.size() > 1)
        if (auto problem = corral::hypervisor::checkInstanceName(a.words[1]))
            throw CtlError(kUsage, *problem, false);
    seconds(a, 0);  // a bad --timeout, too
    Client c(a.bus, a.address);
    if (cmd == "list") {
        need(a, 0, "");
        printList(c.list(), a.json);
        return kOk;
    }
    if (cmd == "status") {
        need(a, 1, "NAME");
        auto properties = c.properties(a.words[1]);
        addGuestInfo(c, a.words[1], properties);
        printStatus(properties, a.json);
        return kOk;
    }
    if (cmd == "reload") {
        c.reload();
        return kOk;
    }
    if (cmd == "start") return lifecycle(c, a, "Start", "running");
    if (cmd == "kill") return lifecycle(c, a, "Kill", "killed");
    if (cmd == "reboot") return lifecycle(c, a, "Reboot", "rebooted");
    if (cmd == "reset") return lifecycle(c, a, "Reset", "reset");
    if (cmd == "pause") return lifecycle(c, a, "Pause", "paused");
    if (cmd == "resume") return lifecycle(c, a, "Resume", "running");
    if (cmd == "shutdown") {
        need(a, 1, "NAME [--timeout S]");
        auto timeout = seconds(a, 0);
        // The instance's own default may be long: wait for the reply as long as it can take.
        auto wait = (timeout ? timeout : 600 * kSecond) + 30 * kSecond;
        sd_bus_message_unref(c.callInstance(a.words[1], "Shutdown", wait, [&](sd_bus_message* m) {
            sd_bus_message_append(m, "t", timeout);
        }));
        if (!a.json) std::printf("%s: stopped\n", a.words[1].c_str());
        return kOk;
    }
    if (cmd == "attach-disk") {
        need(a, 3, "NAME ID PATH [--readonly] [--format raw|qcow2]");
        // corrald refuses ".." components: resolve them here as the kernel would (symlinks
        // in the existing part first), so that "../images/d.img" keeps working.
        auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(a.words[3]));
        auto* reply =
            c.callInstance(a.words[1], "AttachDisk", 60 * kSecond, [&](sd_bus_message* m) {
                sd_bus_message_append(m, "ss", a.words[2].c_str(), path.c_str());
                std::map<std::string, std::string> strings;
                if (a.options.count("--format")) strings["format"] = a.options.at("--format");
                appendOptions(m, strings, {{"readonly", a.options.count("--readonly") > 0}});
            });
        printValue("pci_address", readString(reply), a.json);
        return kOk;
    }
    if (cmd == "attach-nic") {
        need(a, 2, "NAME ID [--mode M] [--bridge BR] [--mac MAC]");
        std::map<std::string, std::string> opts;
        for (const char* k : {"mode", "bridge", "mac"})
            if (a.options.count(std::string("--") + k))
                opts[k] = a.options.at(std::string("--") + k);
        auto* reply = c.callInstance(a.words[1], "AttachNic", 60 * kSecond, [&](sd_bus_message* m) {
            sd_bus_message_append(m, "s", a.words[2].c_str());
            appendOptions(m, opts, {});
        });
        printValue("pci_address", readString(reply), a.json);
        return kOk;
    }
    if (cmd == "detach") {
        need(a, 2, "NAME ID");
        sd_bus_message_unref(c.callInstance(
            a.words[1], "Detach", 60 * kSecond,
            [&](sd_bus_message* m) { sd_bus_message_append(m, "s", a.words[2].c_str()); }));
        return kOk;
    }
    if (cmd == "exec") {
        need(a, 1, "NAME [--timeout S] -- ARGV...");
        if (a.rest.empty()) throw CtlError(kUsage, "usage: corralctl exec NAME -- ARGV...");
        auto timeout = seconds(a, 60 * kSecond);
        auto* reply = c.callInstance(a.words[1], "GuestExecute", timeout + 10 * kSecond,
                                     [&](sd_bus_message* m) {
                                         sd_bus_message_open_container(m, 'a', "s");
                                         for (const auto& s : a.rest)
                                             sd_bus_message_append(m, "s", s.c_str());
                                         sd_bus_message_close_container(m);
                                         sd_bus_message_append(m, "st", "", timeout);
                                     });
        auto output = readString(reply);
        // The agent strips a one-line output, as python-negotiator's does: the line ends here.
        if (!a.json && !output.empty() && output.back() != '\n') output += '\n';
        if (a.json)
            printValue("output", output, true);
        else
            std::fwrite(output.data(), 1, output.size(), stdout);
        return kOk;
    }
    if (cmd == "commands") {
        need(a, 1, "NAME");
        auto* reply = c.callInstance(a.words[1], "GuestListCommands", 30 * kSecond);
        char** names = nullptr;
        sd_bus_message_read_strv(reply, &names);
        std::vector<std::string> list;
        for (char** n = names; n && *n; ++n) {
            list.emplace_back(*n);
            free(*n);
        }
        free(names);
        sd_bus_message_unref(reply);
        printLines(list, a.json);
        return kOk;
    }
    if (cmd == "monitor") {
        need(a, 2, "NAME JSON");
        auto* reply = c.callInstance(a.words[1], "Monitor", 60 * kSecond, [&](sd_bus_message* m) {
            sd_bus_message_append(m, "s", a.words[2].c_str());
        });
        std::printf("%s\n", readString(reply).c_str());
        return kOk;
    }
    if (cmd == "run") {
        need(a, 1, "NAME");
        return runInstance(c, a.words[1]);
    }
    if (cmd == "console") {
        need(a, 1, "NAME");
        auto props = c.properties(a.words[1]);
        return runConsole(std::get<std::string>(props["SerialSocket"]), a.words[1]);
    }
    throw CtlError(kUsage, "unknown command '" + cmd + "'");
}

}  // namespace

int main(int argc, char** argv) {
    try {
        auto args = parse(argc, argv);
        if (args.help) {
            std::fputs(kUsageText, stdout);
            return kOk;
        }
        return run(args);
    } catch (const CtlError& e) {
        if (e.showUsage) {
            if (*e.what()) std::fprintf(stderr, "corralctl: %s\n", e.what());
            std::fputs(kUsageText, stderr);
        } else {
            std::fprintf(stderr, "corralctl: %s\n", e.what());
        }
        return e.exit;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corralctl: %s\n", e.what());
        return kFailed;
    }
}
