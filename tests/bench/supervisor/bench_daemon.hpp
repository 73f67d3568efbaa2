// corrald on a private dbus-daemon for the benchmarks, driven through sd-bus the way a client
// would. Every process started here (dbus-daemon, corrald, its qemus) is killed by pid at the end.
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::bench {

using Clock = std::chrono::steady_clock;

// Microseconds elapsed since `start`.
double microsSince(Clock::time_point start);

// p-th percentile (0..100) of the samples by nearest rank; 0 for no samples.
double percentile(std::vector<double> samples, double p);

// Resident set size of a process in KiB (VmRSS), 0 if it is gone.
long rssKib(pid_t pid);

// utime + stime of a process in clock ticks.
long cpuTicks(pid_t pid);

// Instance TOML: q35 under TCG, no guest (blank read-only disk, SeaBIOS finds nothing to boot).
std::string idleInstanceToml(const std::filesystem::path& blankDisk, const std::string& onCrash);

// A 1 MiB file of zeros at dir/name: the idle instances' disk.
std::filesystem::path blankDisk(const std::filesystem::path& dir, const std::string& name);

// The bench's instance names: vm000, vm001, ...
std::string vmName(int i);

// The corrald every BenchDaemon starts from now on (supervisor-bench --corrald); this build's
// supervisor/corrald unless set.
void setCorraldBinary(const std::filesystem::path& binary);

class BenchDaemon {
  public:
    // Starts dbus-daemon and connects; corrald starts with startCorrald() once instances exist.
    BenchDaemon();
    ~BenchDaemon();
    BenchDaemon(const BenchDaemon&) = delete;
    BenchDaemon& operator=(const BenchDaemon&) = delete;

    void writeInstance(const std::string& name, const std::string& toml);
    // The corral.toml the next corrald start reads (empty unless set).
    void setConfig(std::string toml) { config_ = std::move(toml); }
    // Spawns corrald and waits (bounded) until it owns org.corral1.
    void startCorrald();
    // Spawns corrald and returns at once (a restart measured from the spawn).
    void spawnCorrald();
    // SIGTERM to corrald (its VMs keep running), bounded waits until it exited and the bus
    // released org.corral1; returns the milliseconds from the signal to corrald's exit.
    double stopCorrald();
    bool corraldRunning() { return corrald_.running(); }
    std::string corraldLog() const;
    pid_t corraldPid() const { return corrald_.pid(); }
    sd_bus* bus() const { return bus_; }
    const std::filesystem::path& dir() const { return dir_.path(); }
    std::filesystem::path runtimeDir(const std::string& name) const;
    std::string objectPath(const std::string& name) const;

    // Calls an Instance method with no or one string argument, waiting up to `timeout`; throws
    // on a D-Bus error.
    void callInstance(const std::string& name, const char* method,
                      std::chrono::seconds timeout = std::chrono::seconds(120),
                      const char* argument = nullptr);
    // Calls `method` (Start, Kill, ...) on every name at once and waits for all replies; throws
    // if any failed.
    void callAll(const std::vector<std::string>& names, const char* method);
    // An Instance property of type string.
    std::string stringProperty(const std::string& name, const char* property);
    // The State property.
    std::string state(const std::string& name) { return stringProperty(name, "State"); }
    // Pid property. The bench keeps a pidfd on that qemu, so the destructor kills it even if
    // corrald dropped its runtime dir (a reattach gone wrong).
    pid_t pid(const std::string& name);
    // AttachDisk with default options; throws on a D-Bus error.
    void attachDisk(const std::string& name, const std::string& id,
                    const std::filesystem::path& file);
    // Sends Detach without waiting; `*done` becomes true when its reply is processed.
    sd_bus_slot* detachAsync(const std::string& name, const std::string& id, bool* done);
    // ListInstances, reading every entry of the reply; returns how many there were (only those
    // whose state is `onlyState`, if given).
    unsigned listInstances(std::string_view onlyState = {});
    // Reads the Manager's Version property; false if nobody owns org.corral1 (yet), throws on
    // any other error.
    bool readVersion();

  private:
    corral::test::TempDir dir_;
    corral::test::Process dbus_;
    corral::test::Process corrald_;
    std::string address_;
    std::string config_;
    sd_bus* bus_ = nullptr;
    std::map<pid_t, int> qemuPidfds_;  // pid -> pidfd, one for every qemu pid the bus reported
};

}  // namespace corral::bench
