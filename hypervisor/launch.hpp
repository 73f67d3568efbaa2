// Starting and re-finding a qemu the way corrald does it: runtime dir, slot plan, argv, taps,
// spawn (paused, -S) and state.json.
#pragma once

#include <string>
#include <vector>

#include "hypervisor/confinement.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/runtime_dir.hpp"

namespace corral::hypervisor {

struct LaunchedInstance {
    SlotPlan plan;
    RuntimePaths paths;
    RuntimeState state;  // as written to state.json
    QemuProcess process;
};

// How an incoming migration's qemu differs from a fresh start: the source's device records
// (boot-time and hotplugged, with their slots) instead of a new slot plan, and `-incoming defer`.
struct IncomingLayout {
    std::vector<Device> devices;
    bool deferIncoming = true;  // false: a reboot's qemu from the same records (relaunch_layout)
};

// Creates the runtime dir, opens the fds the devices' backends take (taps), spawns qemu paused and
// writes state.json. Throws (std::system_error / std::runtime_error) with a sentence on failure; a
// qemu that was started is killed again before throwing. `binary` replaces argv[0]. With a
// `logRoot`, qemu.log and the serial console's log are kept in <logRoot>/<name>/ (log_paths.hpp);
// without, qemu.log is in the runtime dir and the console is not logged. With `confine.on` and
// the spec's [security] confine (the default), qemu runs as a uid of the pool, sandboxed, in an
// empty root (confinement.hpp); otherwise `confine.unconfined` is told before the spawn.
LaunchedInstance launchInstance(const boost::asio::any_io_executor& executor,
                                const InstanceSpec& spec, const std::filesystem::path& runtimeRoot,
                                const std::string& binary = kDefaultQemuBinary,
                                const IncomingLayout* incoming = nullptr,
                                const std::filesystem::path& logRoot = {},
                                const ConfinePolicy& confine = {});

}  // namespace corral::hypervisor
