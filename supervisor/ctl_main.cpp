// corralctl: a thin org.corral1 client. Tables for people, --json for scripts, one-line errors
// and the exit codes of ctl_client.hpp. What each verb takes is in ctl_commands.cpp's table.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "supervisor/ctl_commands.hpp"

using namespace corral::supervisor::ctl;

int main(int argc, char** argv) {
    auto verbs = corralctlVerbs();
    try {
        // Hidden: what etc/bash-completion/corralctl asks, made from the verb table.
        if (argc >= 2 && std::string(argv[1]) == "__complete") {
            std::fputs(
                completionText(verbs, std::vector<std::string>(argv + 2, argv + argc)).c_str(),
                stdout);
            return kOk;
        }
        auto args = parseCommandLine(verbs, std::vector<std::string>(argv + 1, argv + argc));
        if (args.help) {
            std::fputs(usageText(verbs).c_str(), stdout);
            return kOk;
        }
        return args.verb->run(args);
    } catch (const CtlError& e) {
        std::fprintf(stderr, "corralctl: %s\n", e.what());
        if (e.hint) std::fputs("Try 'corralctl --help'.\n", stderr);
        return e.exit;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corralctl: %s\n", e.what());
        return kFailed;
    }
}
