// corralctl's command line as data: one row per verb (its arguments, how many, the options it
// allows, a line of help, the function that runs it) and one row per option, with the parser and
// the usage text made from those rows, so a verb is added in one place. No bus here.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/ctl_client.hpp"

namespace corral::supervisor::ctl {

// Options of single verbs. The global ones (-H/--host, --address, --system, --session, --json,
// --help) go with any verb.
enum Option : unsigned {
    kTimeout = 1u << 0,
    kReadonly = 1u << 1,
    kFormat = 1u << 2,
    kMode = 1u << 3,
    kBridge = 1u << 4,
    kMac = 1u << 5,
    kDeviceOption = 1u << 6,  // --option KEY=VALUE, repeatable
    kRemoveStorage = 1u << 7,
    kDelay = 1u << 8,
    kIterations = 1u << 9,
    kEject = 1u << 10,
    kBandwidth = 1u << 11,
    kDowntime = 1u << 12,
    kCancel = 1u << 13,
    kDiscardSaved = 1u << 14,
    kPersist = 1u << 15,  // attach / detach: also in the definition file
    kTls = 1u << 18,
    kCopyStorage = 1u << 20,  // migrate: storage "copy"
    kForce = 1u << 24,        // snapshot revert of a running VM: kill it and start it again
    kPostcopy = 1u << 25,     // migrate: --postcopy never|auto|always
    kIncremental = 1u << 26,  // backup create: only what changed since the last backup
    kDisk = 1u << 27,         // backup create: --disk ID[,ID...]
};

struct OptionInfo {
    Option option;
    std::string_view name;   // "--timeout"
    std::string_view value;  // what the usage shows for its value ("S"); empty for a flag
};

// Every verb option, in the order the usage lists them.
std::span<const OptionInfo> verbOptions();

struct Args;

inline constexpr unsigned kAnyCount = ~0u;

struct Verb {
    std::string_view name;
    std::string_view arguments;  // "NAME ID PATH", as the usage shows them
    unsigned minArgs;            // positional arguments after the verb
    unsigned maxArgs;            // kAnyCount: no limit
    unsigned options;            // the Option bits it allows
    bool takesArgv;              // "-- ARGV..." follows (exec)
    bool firstIsName;            // the first argument is an instance name, checked before any bus
    std::string_view help;       // one line
    int (*run)(const Args&);
};

// A command line that passed every rule of its verb.
struct Args {
    Client::Bus bus = Client::Bus::System;
    std::string address;  // --address ADDR, or -H's [user@]host (bus Remote)
    bool json = false;
    bool help = false;  // --help: nothing else was checked, verb may be null
    const Verb* verb = nullptr;
    std::vector<std::string> args;           // after the verb
    std::vector<std::string> argv;           // after "--"
    std::map<Option, std::string> options;   // a flag's value is "1"
    std::vector<std::string> deviceOptions;  // every --option KEY=VALUE, in command-line order

    bool has(Option option) const { return options.count(option) > 0; }
    // nullptr when the option was not given.
    const std::string* option(Option option) const;
};

// Parses the arguments after the program name against `verbs`. Throws CtlError(kUsage) with a
// sentence naming what is wrong: an unknown option or verb, an option the verb does not take,
// too few or too many arguments, an instance name that breaks the naming rule.
Args parseCommandLine(std::span<const Verb> verbs, const std::vector<std::string>& words);

// "usage: corralctl attach-disk NAME ID PATH [--readonly] [--format raw|qcow2]".
std::string verbUsage(const Verb& verb);

// The whole usage text: the global synopsis, one entry per verb with its help, the exit codes.
std::string usageText(std::span<const Verb> verbs);

// What the bash completion (etc/bash-completion/corralctl) asks with the hidden
// `corralctl __complete WHAT [VERB]`, so that it is made from the table and cannot drift, one
// item per line: "verbs"; "options [VERB]": the global options and VERB's (without VERB, every
// verb's), each "NAME" or "NAME VALUE" ("--format raw|qcow2"); "arguments VERB": its argument
// words ("NAME", "ID", "FILE..."). Anything else is a CtlError(kUsage).
std::string completionText(std::span<const Verb> verbs, const std::vector<std::string>& request);

}  // namespace corral::supervisor::ctl
