// corral-validate FILE...: checks instance definitions and prints every error in the
// file:line:col form editors understand. Exit 1 if any file has an error, 2 on bad usage.
#include <cstdio>
#include <string_view>

#include "hypervisor/instance_spec.hpp"

namespace {

const char* const kUsage =
    "usage: corral-validate FILE...\n"
    "Checks instance definitions (/etc/corral/instances/NAME.toml) without corrald and prints\n"
    "each error as FILE:LINE:COLUMN: error: ...\n"
    "Exit status: 0 all files valid, 1 an error in some file, 2 usage.\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    if (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    int status = 0;
    for (int i = 1; i < argc; ++i) {
        auto result = corral::hypervisor::loadInstanceSpec(argv[i]);
        for (const auto& diagnostic : result.diagnostics) {
            std::fprintf(stderr, "%s\n", diagnostic.format().c_str());
        }
        if (!result.ok()) status = 1;
    }
    return status;
}
