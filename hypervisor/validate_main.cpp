// corral-validate FILE...: checks instance definitions and prints every error in the
// file:line:col form editors understand. A directory is read as corrald reads its instances
// directory: each file corrald would ignore is an error too. Exit 1 if any file has an error,
// 2 on bad usage.
#include <cstdio>
#include <filesystem>
#include <string_view>

#include "hypervisor/cpu_models.hpp"
#include "hypervisor/definition_dir.hpp"
#include "hypervisor/instance_spec.hpp"
#include "hypervisor/qemu_argv.hpp"

namespace {

const char* const kUsage =
    "usage: corral-validate FILE...\n"
    "Checks instance definitions (/etc/corral/instances/NAME.toml) without corrald and prints\n"
    "each error as FILE:LINE:COLUMN: error: ...\n"
    "A FILE that is a directory is checked as corrald reads it: every *.toml file in it, and each "
    "file corrald\n"
    "would ignore (a directory, a symlink loop, unreadable, a bad or duplicate name) is an\n"
    "error.\n"
    "A [machine] cpu model is checked against the models qemu-system-x86_64 (in PATH) offers,\n"
    "when it can be run.\n"
    "Exit status: 0 all files valid, 1 an error in some file, 2 usage.\n";

bool report(const corral::hypervisor::LoadResult& result) {
    for (const auto& diagnostic : result.diagnostics)
        std::fprintf(stderr, "%s\n", diagnostic.format().c_str());
    return result.ok();
}

bool validateDirectory(const std::filesystem::path& dir) {
    auto scan = corral::hypervisor::scanDefinitions(dir);
    bool ok = scan.problem.empty() && scan.ignored.empty();
    if (!scan.problem.empty())
        std::fprintf(stderr, "%s: error: %s\n", dir.c_str(), scan.problem.c_str());
    for (const auto& definition : scan.definitions) ok = report(definition.result) && ok;
    for (const auto& ignored : scan.ignored) {
        std::fprintf(stderr, "%s: error: ignored by corrald: %s\n", ignored.file.c_str(),
                     ignored.reason.c_str());
    }
    return ok;
}

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
    corral::hypervisor::setCpuModelCheck([](std::string_view model) {
        return corral::hypervisor::checkCpuModel(model, corral::hypervisor::kDefaultQemuBinary);
    });
    int status = 0;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        bool ok = std::filesystem::is_directory(argv[i], ec)
                      ? validateDirectory(argv[i])
                      : report(corral::hypervisor::loadInstanceSpec(argv[i]));
        if (!ok) status = 1;
    }
    return status;
}
