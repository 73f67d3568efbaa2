// /run/corral/<name>/: created 0750, state.json written atomically (temp file + rename) so a
// crash never leaves a half-written state for reattach to misread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

struct RuntimeState {
    std::vector<std::string> argv;
    pid_t pid = 0;
    std::uint64_t startedAtUsec = 0;  // CLOCK_REALTIME
    std::vector<Device> devices;      // boot-time and hotplugged, each with all its options
    // A Shutdown in progress ends by then (CLOCK_REALTIME); 0: none. A restarted corrald resumes
    // it.
    std::uint64_t shutdownDeadlineUsec = 0;
};

// Creates `paths.dir` (and the runtime root) with mode 0750. Throws std::system_error.
void createRuntimeDir(const RuntimePaths& paths);

// The group whose members may use a VM's serial console, as the D-Bus policy lets them call
// every method: the runtime dir (0750) and its console lock (0640) belong to it when it exists.
inline constexpr const char* kAdminGroup = "corral";

// `serialSocket` + ".lock": a console client holds flock(LOCK_EX) on it while attached, so that
// a second one is refused instead of queueing keystrokes that QEMU reads only once the first
// leaves (its socket takes one client; a second connection waits, unseen, in the backlog).
std::filesystem::path consoleLock(const RuntimePaths& paths);

// Lets group corral connect to the serial socket qemu created (0660, group corral; qemu makes it
// 0600 root). Returns a sentence when it could not, else nullopt.
std::optional<std::string> shareConsole(const RuntimePaths& paths);

// Whether a process still listens on the unix socket `path`: its pid (SO_PEERCRED), 0 when it
// listens but is too busy to take a connection, nullopt when nothing does (no file, a stale
// socket). Never blocks.
std::optional<pid_t> socketListener(const std::filesystem::path& path);

// Writes state.json (0600) via a temp file and rename; nullopt on success, else "cannot write
// <state.json>: <errno text>", with the previous state.json untouched and the temp file removed.
std::optional<std::string> writeState(const RuntimePaths& paths, const RuntimeState& state);

// Reads state.json, also as the first format wrote it (devices without "options"); on failure
// returns nullopt and sets `error` to a sentence naming the file.
std::optional<RuntimeState> readState(const RuntimePaths& paths, std::string& error);

// The pid in qemu.pid, if the file exists and holds one.
std::optional<pid_t> readPidFile(const RuntimePaths& paths);

// The "devices" array of state.json on its own (what a migration source sends its destination),
// and back; nullopt with `error` set if the text is not such an array.
std::string devicesToJson(const std::vector<Device>& devices);
std::optional<std::vector<Device>> devicesFromJson(std::string_view json, std::string& error);

// Removes the runtime dir and everything in it; missing is fine.
void removeRuntimeDir(const RuntimePaths& paths);

}  // namespace corral::hypervisor
