// QemuVm and its log files: before each launch qemu.log and console.log are rotated if they reached
// their bound and qemu.log gets corrald's reason for the start; every LastExit is written there
// too, so the file tells the whole story of the VM's runs in order, with qemu's own lines between.
#include "supervisor/qemu_vm.hpp"

#include "hypervisor/log_paths.hpp"

namespace corral::supervisor {

hypervisor::RuntimePaths instancePaths(const VmContext& context, const std::string& name) {
    auto paths = hypervisor::RuntimePaths::forInstance(context.runtimeRoot, name);
    if (!context.logRoot.empty()) hypervisor::placeLogs(paths, context.logRoot, name);
    return paths;
}

// Only into a log that a launch made: a start refused before that (an invalid definition) has
// no qemu to tell about.
void QemuVm::logEvent(const std::string& text) const {
    std::error_code ec;
    if (context_.logRoot.empty() || !std::filesystem::exists(paths_.logFile, ec)) return;
    if (auto error = appendCorraldLine(paths_.logFile, text)) log(4, *error);
}

void QemuVm::logLaunch(const std::string& why) {
    if (context_.logRoot.empty()) return;
    try {
        hypervisor::createLogFiles(paths_);
    } catch (const std::exception& e) {
        log(4, e.what());  // the launch reports it again, as its own failure
        return;
    }
    for (const auto& file : {paths_.logFile, paths_.consoleLog}) {
        Rotation done;
        if (auto error = rotateLog(file, context_.logBound, done)) log(4, *error);
    }
    logEvent("starting qemu (" + why + ")");
}

void QemuVm::watchForLog() {
    if (context_.logRoot.empty()) return;
    logWatch_ = instance_.changed().connect([this](unsigned bits) {
        if ((bits & kChangedPid) && instance_.state() == State::Running && instance_.pid() > 0)
            logEvent("qemu (pid " + std::to_string(instance_.pid()) + ") is running");
        if ((bits & kChangedLastExit) && instance_.state() != State::Invalid &&
            !instance_.lastExit().empty())
            logEvent("LastExit: " + instance_.lastExit());
    });
}

}  // namespace corral::supervisor
