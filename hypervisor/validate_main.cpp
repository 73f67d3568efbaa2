// corral-validate FILE...: checks instance definitions and prints every error in the
// file:line:col form editors understand. Exit 1 if any file has an error, 2 on bad usage.
#include <cstdio>

#include "hypervisor/instance_spec.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: corral-validate FILE...\n");
        return 2;
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
