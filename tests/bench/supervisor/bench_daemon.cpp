#include "tests/bench/supervisor/bench_daemon.hpp"
#include "tests/support/temp_dir.hpp"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace corral::bench {
namespace {

using namespace std::chrono_literals;

void check(int r, const std::string& what, const sd_bus_error* error = nullptr) {
    if (r >= 0) return;
    std::string detail = error && error->message ? error->message : std::strerror(-r);
    throw std::runtime_error(what + ": " + detail);
}

// Owns an sd_bus_error so every early return frees it.
struct BusError {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    ~BusError() { sd_bus_error_free(&e); }
};

std::filesystem::path& corraldBinary() {
    static std::filesystem::path binary = std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald";
    return binary;
}

}  // namespace

void setCorraldBinary(const std::filesystem::path& binary) {
    corraldBinary() = binary;
}

double microsSince(Clock::time_point start) {
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

double percentile(std::vector<double> samples, double p) {
    if (samples.empty()) return 0;
    std::sort(samples.begin(), samples.end());
    auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
    return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

long rssKib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return 0;
}

long cpuTicks(pid_t pid) {
    auto text = corral::test::readFile("/proc/" + std::to_string(pid) + "/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {
        if (i == 14) utime = std::atol(field.c_str());
        if (i == 15) {
            stime = std::atol(field.c_str());
            break;
        }
    }
    return utime + stime;
}

std::string idleInstanceToml(const std::filesystem::path& blankDisk, const std::string& onCrash) {
    std::ostringstream s;
    s << "[machine]\ntype = \"q35\"\naccel = \"tcg\"\ncpus = 1\nmemory = \"32M\"\n"
      << "hotplug_slots = 1\n\n[[disk]]\nid = \"blank\"\npath = \"" << blankDisk.string()
      << "\"\nformat = \"raw\"\nreadonly = true\n\n[agent]\nnegotiator = false\n\n"
      << "[lifecycle]\nshutdown_timeout = \"2s\"\non_crash = \"" << onCrash << "\"\n";
    return s.str();
}

std::filesystem::path blankDisk(const std::filesystem::path& dir, const std::string& name) {
    auto path = dir / name;
    std::ofstream(path).close();
    std::filesystem::resize_file(path, 1 << 20);
    return path;
}

std::string vmName(int i) {
    char name[16];
    std::snprintf(name, sizeof(name), "vm%03d", i);
    return name;
}

BenchDaemon::BenchDaemon() {
    std::filesystem::create_directories(dir_ / "instances");
    std::filesystem::create_directories(dir_ / "run");
    address_ = corral::test::startPrivateBus(dbus_, dir_ / "bus.address");
    check(sd_bus_new(&bus_), "sd_bus_new");
    check(sd_bus_set_address(bus_, address_.c_str()), "sd_bus_set_address");
    check(sd_bus_set_bus_client(bus_, 1), "sd_bus_set_bus_client");
    check(sd_bus_start(bus_), "connect to " + address_);
}

BenchDaemon::~BenchDaemon() {
    sd_bus_flush_close_unref(bus_);
    corrald_.kill(SIGKILL);
    corrald_.wait(5s);
    // VMs outlive corrald by design: kill them by the pids in their runtime dirs.
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "run", ec)) {
        pid_t pid = std::atoi(corral::test::readFile(entry.path() / "qemu.pid").c_str());
        if (pid > 0) ::kill(pid, SIGKILL);
    }
    for (auto [pid, pidfd] : qemuPidfds_) {
        ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
        ::close(pidfd);
    }
}

void BenchDaemon::writeInstance(const std::string& name, const std::string& toml) {
    std::ofstream(dir_ / "instances" / (name + ".toml")) << toml;
}

void BenchDaemon::spawnCorrald() {
    std::ofstream(dir_ / "corral.toml") << config_;
    corrald_ = corral::test::Process::spawn(
        {corraldBinary().string(), "--bus-address", address_, "--instances-dir",
         (dir_ / "instances").string(), "--runtime-dir", (dir_ / "run").string(), "--config",
         (dir_ / "corral.toml").string()},
        dir_ / "corrald.log");
}

void BenchDaemon::startCorrald() {
    spawnCorrald();
    auto deadline = Clock::now() + 30s;
    while (Clock::now() < deadline && corrald_.running()) {
        if (sd_bus_get_name_creds(bus_, "org.corral1", 0, nullptr) >= 0) return;
        std::this_thread::sleep_for(10ms);
    }
    throw std::runtime_error("corrald did not take org.corral1: " + corraldLog());
}

std::string BenchDaemon::corraldLog() const {
    return corral::test::readFile(dir_ / "corrald.log");
}

double BenchDaemon::stopCorrald() {
    auto start = Clock::now();
    corrald_.kill(SIGTERM);
    if (!corrald_.wait(20s))
        throw std::runtime_error("corrald did not stop within 20 s of SIGTERM");
    double ms = microsSince(start) / 1000;
    auto deadline = Clock::now() + 5s;
    while (sd_bus_get_name_creds(bus_, "org.corral1", 0, nullptr) >= 0) {
        if (Clock::now() > deadline) throw std::runtime_error("org.corral1 outlived corrald");
        std::this_thread::sleep_for(1ms);
    }
    return ms;
}

std::filesystem::path BenchDaemon::runtimeDir(const std::string& name) const {
    return dir_ / "run" / name;
}

std::string BenchDaemon::objectPath(const std::string& name) const {
    char* path = nullptr;
    check(sd_bus_path_encode("/org/corral1/instance", name.c_str(), &path), "encode " + name);
    std::string result(path);
    free(path);
    return result;
}

void BenchDaemon::callInstance(const std::string& name, const char* method,
                               std::chrono::seconds timeout, const char* argument) {
    sd_bus_message* call = nullptr;
    sd_bus_message* reply = nullptr;
    BusError error;
    check(sd_bus_message_new_method_call(bus_, &call, "org.corral1", objectPath(name).c_str(),
                                         "org.corral1.Instance", method),
          "new call");
    if (argument) check(sd_bus_message_append(call, "s", argument), "append");
    int r = sd_bus_call(bus_, call, std::chrono::microseconds(timeout).count(), &error.e, &reply);
    sd_bus_message_unref(call);
    sd_bus_message_unref(reply);
    check(r, std::string(method) + " " + name, &error.e);
}

void BenchDaemon::callAll(const std::vector<std::string>& names, const char* method) {
    struct Pending {
        size_t left;
        std::string firstError;
    } pending{names.size(), {}};
    auto onReply = [](sd_bus_message* m, void* data, sd_bus_error*) -> int {
        auto* p = static_cast<Pending*>(data);
        if (sd_bus_message_is_method_error(m, nullptr) && p->firstError.empty())
            p->firstError = sd_bus_message_get_error(m)->message;
        --p->left;
        return 0;
    };
    std::vector<sd_bus_slot*> slots;
    for (const auto& name : names) {
        sd_bus_message* call = nullptr;
        sd_bus_slot* slot = nullptr;
        check(sd_bus_message_new_method_call(bus_, &call, "org.corral1", objectPath(name).c_str(),
                                             "org.corral1.Instance", method),
              "new call");
        int r = sd_bus_call_async(bus_, &slot, call, onReply, &pending, 300'000'000);
        sd_bus_message_unref(call);
        check(r, method + (" " + name));
        slots.push_back(slot);
    }
    while (pending.left > 0) {
        int r = sd_bus_process(bus_, nullptr);
        check(r, "sd_bus_process");
        if (r == 0) check(sd_bus_wait(bus_, 1'000'000), "sd_bus_wait");
    }
    for (auto* slot : slots) sd_bus_slot_unref(slot);
    if (!pending.firstError.empty()) throw std::runtime_error(method + (": " + pending.firstError));
}

std::string BenchDaemon::stringProperty(const std::string& name, const char* property) {
    BusError error;
    char* value = nullptr;
    check(sd_bus_get_property_string(bus_, "org.corral1", objectPath(name).c_str(),
                                     "org.corral1.Instance", property, &error.e, &value),
          property + (" of " + name), &error.e);
    std::string result(value);
    free(value);
    return result;
}

pid_t BenchDaemon::pid(const std::string& name) {
    BusError error;
    uint32_t value = 0;
    check(sd_bus_get_property_trivial(bus_, "org.corral1", objectPath(name).c_str(),
                                      "org.corral1.Instance", "Pid", &error.e, 'u', &value),
          "Pid of " + name, &error.e);
    auto pid = static_cast<pid_t>(value);
    if (!qemuPidfds_.contains(pid)) {
        int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (pidfd >= 0) qemuPidfds_.emplace(pid, pidfd);
    }
    return pid;
}

void BenchDaemon::attachDisk(const std::string& name, const std::string& id,
                             const std::filesystem::path& file) {
    BusError error;
    sd_bus_message* reply = nullptr;
    int r =
        sd_bus_call_method(bus_, "org.corral1", objectPath(name).c_str(), "org.corral1.Instance",
                           "AttachDisk", &error.e, &reply, "ssa{sv}", id.c_str(), file.c_str(), 0);
    sd_bus_message_unref(reply);
    check(r, "AttachDisk " + id + " to " + name, &error.e);
}

sd_bus_slot* BenchDaemon::detachAsync(const std::string& name, const std::string& id, bool* done) {
    sd_bus_message* call = nullptr;
    sd_bus_slot* slot = nullptr;
    check(sd_bus_message_new_method_call(bus_, &call, "org.corral1", objectPath(name).c_str(),
                                         "org.corral1.Instance", "Detach"),
          "new call");
    check(sd_bus_message_append(call, "s", id.c_str()), "append");
    auto onReply = [](sd_bus_message*, void* data, sd_bus_error*) -> int {
        *static_cast<bool*>(data) = true;
        return 0;
    };
    int r = sd_bus_call_async(bus_, &slot, call, onReply, done, 600'000'000);
    sd_bus_message_unref(call);
    check(r, "Detach " + id);
    check(sd_bus_flush(bus_), "flush");
    return slot;
}

unsigned BenchDaemon::listInstances(std::string_view onlyState) {
    BusError error;
    sd_bus_message* reply = nullptr;
    check(sd_bus_call_method(bus_, "org.corral1", "/org/corral1", "org.corral1.Manager",
                             "ListInstances", &error.e, &reply, ""),
          "ListInstances", &error.e);
    unsigned count = 0;
    const char *name, *state, *path;
    uint32_t pid;
    check(sd_bus_message_enter_container(reply, 'a', "(ssuo)"), "ListInstances reply");
    while (sd_bus_message_read(reply, "(ssuo)", &name, &state, &pid, &path) > 0)
        if (onlyState.empty() || onlyState == state) ++count;
    sd_bus_message_unref(reply);
    return count;
}

bool BenchDaemon::readVersion() {
    BusError error;
    char* value = nullptr;
    int r = sd_bus_get_property_string(bus_, "org.corral1", "/org/corral1", "org.corral1.Manager",
                                       "Version", &error.e, &value);
    free(value);
    if (r < 0 && (sd_bus_error_has_name(&error.e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                  sd_bus_error_has_name(&error.e, SD_BUS_ERROR_NAME_HAS_NO_OWNER)))
        return false;
    check(r, "Version", &error.e);
    return true;
}

}  // namespace corral::bench
