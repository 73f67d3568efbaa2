// The baseline corrald's starts are compared with: the qemu command line corrald launched for an
// instance, read back from /proc and started by the bench itself, ready once QMP answers.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/bench/supervisor/bench_daemon.hpp"
#include "tests/support/process.hpp"

namespace corral::bench {

struct DirectLaunch {
    std::vector<std::string> argv;
    std::filesystem::path dir;  // the launch's runtime files; emptied before each launch
    std::filesystem::path qmpSocket;
};

// The argv of `name`'s running qemu (/proc/PID/cmdline, PID from the bus) and its QmpSocket, with
// the instance's runtime dir swapped for `dir` so the copy can run beside corrald's.
DirectLaunch directLaunchOf(BenchDaemon& d, const std::string& name,
                            const std::filesystem::path& dir);

// Starts the launch's qemu and waits, bounded, until its QMP answers: greeting, qmp_capabilities,
// query-status. No cont: the guest stays paused as -S leaves it (corrald's Start goes on to cont;
// a baseline whose guests run as each becomes ready measures the scheduler instead, see
// docs/performance.md). The qemu is killed when the returned Process goes.
corral::test::Process startDirect(const DirectLaunch& launch);

// Starts every launch at once, one thread each, until each one's QMP answered as in startDirect;
// returns the seconds until the last was ready. All of them are killed before it returns.
double startAllDirect(const std::vector<DirectLaunch>& launches);

}  // namespace corral::bench
