#include "hypervisor/tpm.hpp"

#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

std::filesystem::path swtpmSocketPath(const std::filesystem::path& runtimeDir) {
    return runtimeDir / "swtpm.sock";
}

std::filesystem::path swtpmPidPath(const std::filesystem::path& runtimeDir) {
    return runtimeDir / "swtpm.pid";
}

std::filesystem::path swtpmLogPath(const std::filesystem::path& runtimeDir) {
    return runtimeDir / "swtpm.log";
}

std::filesystem::path tpmStateDir(const std::filesystem::path& stateRoot, const std::string& name) {
    return stateRoot / name / "tpm";
}

std::vector<std::string> swtpmArgv(const std::string& binary, const std::filesystem::path& stateDir,
                                   const std::filesystem::path& runtimeDir,
                                   std::optional<std::uint32_t> uid) {
    if (uid)
        return {binary,
                "socket",
                "--tpm2",
                "--tpmstate",
                "dir=.,mode=0600",
                "--ctrl",
                "type=unixio,fd=3",
                "--log",
                "fd=1",
                "--terminate",
                "--runas",
                std::to_string(*uid),
                "--seccomp",
                "action=kill"};
    return {binary,
            "socket",
            "--tpm2",
            "--tpmstate",
            "dir=" + stateDir.string() + ",mode=0600",
            "--ctrl",
            "type=unixio,path=" + swtpmSocketPath(runtimeDir).string() + ",mode=0600",
            "--pid",
            "file=" + swtpmPidPath(runtimeDir).string(),
            "--log",
            "file=" + swtpmLogPath(runtimeDir).string(),
            "--terminate"};
}

void addTpmArgs(std::vector<std::string>& argv, const TpmSpec& tpm, const RuntimePaths& paths) {
    if (tpm.type == TpmType::None) return;
    argv.insert(argv.end(),
                {"-chardev",
                 "socket,id=corral-tpm,path=" + escapeOption(swtpmSocketPath(paths.dir).string()),
                 "-tpmdev", "emulator,id=corral-tpm0,chardev=corral-tpm", "-device",
                 "tpm-crb,tpmdev=corral-tpm0"});
}

}  // namespace corral::hypervisor
