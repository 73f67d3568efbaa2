#include "tests/integration/supervisor/corrald_fixture.hpp"

#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace corral::test {

namespace {

using namespace std::chrono_literals;

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::filesystem::path& scratch) {
    static unsigned counter = 0;
    auto log = scratch / ("cmd" + std::to_string(++counter) + ".out");
    auto process = Process::spawn(argv, log);
    auto status = process.wait(timeout);
    CommandResult result;
    result.output = readFile(log);
    std::filesystem::remove(log);
    if (status && WIFEXITED(*status)) result.status = WEXITSTATUS(*status);
    return result;
}

CorraldFixture::CorraldFixture() {
    std::filesystem::create_directories(dir_ / "instances");
    std::filesystem::create_directories(dir_ / "run");
    address_ = startPrivateBus(dbus_, dir_ / "bus.address");
}

CorraldFixture::~CorraldFixture() {
    // SIGTERM first: corrald leaves through its normal exit, where the sanitizer build's leak
    // check runs; a finding makes the exit status non-zero (abort), and that fails the test.
    if (corrald_.running()) {
        corrald_.kill(SIGTERM);
        auto status = corrald_.wait(20s);
        if (!status) {
            ADD_FAILURE() << "corrald did not stop within 20 s of SIGTERM\n" << corraldLog();
        } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
            ADD_FAILURE() << "corrald stopped on SIGTERM with "
                          << (WIFEXITED(*status) ? "exit code " : "signal ")
                          << (WIFEXITED(*status) ? WEXITSTATUS(*status) : WTERMSIG(*status))
                          << " (a sanitizer report goes to its log or ASAN_OPTIONS log_path)\n"
                          << corraldLog();
        }
    }
    corrald_.kill(SIGKILL);
    corrald_.wait(5s);
    // VMs outlive corrald by design: kill them by the pids in their runtime dirs.
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "run", ec)) {
        auto text = readFile(entry.path() / "qemu.pid");
        if (text.empty()) continue;
        pid_t pid = std::atoi(text.c_str());
        if (pid > 0) ::kill(pid, SIGKILL);
    }
}

void CorraldFixture::writeFile(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / "instances" / name) << text;
}

void CorraldFixture::writeGuest(const std::string& name, const GuestOptions& o) {
    std::ostringstream s;
    s << "[machine]\ntype = \"" << o.machine << "\"\naccel = \"tcg\"\ncpus = 1\n"
      << "memory = \"256M\"\nhotplug_slots = 2\n\n[boot]\n"
      << "kernel = \"" << guestKernel().string() << "\"\n"
      << "initrd = \"" << guestInitrd().string() << "\"\n"
      << "cmdline = \"console=ttyS0 quiet panic=-1" << o.extraCmdline << "\"\n\n"
      << "[agent]\nnegotiator = true\n\n[lifecycle]\n"
      << "shutdown_timeout = \"" << o.shutdownTimeout << "\"\n"
      << "on_crash = \"" << o.onCrash << "\"\n"
      << "autostart = " << (o.autostart ? "true" : "false") << "\n";
    writeFile(name + ".toml", s.str());
}

void CorraldFixture::startCorrald() {
    std::filesystem::create_directories(dir_ / "commands");
    std::ofstream(dir_ / "corral.toml")
        << "[paths]\nguest_commands_dir = \"" << (dir_ / "commands").string() << "\"\n"
        << extraConfig_;
    auto log = dir_ / ("corrald" + std::to_string(++corraldStarts_) + ".log");
    corrald_ = Process::spawn(
        {std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald", "--bus-address", address_,
         "--instances-dir", (dir_ / "instances").string(), "--runtime-dir", (dir_ / "run").string(),
         "--state-dir", (dir_ / "state").string(), "--log-dir", (dir_ / "log").string(), "--config",
         (dir_ / "corral.toml").string()},
        log);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (busctl({"status", "org.corral1"}, 5s).status == 0) return;
        if (!corrald_.running()) break;
        std::this_thread::sleep_for(20ms);
    }
    throw std::runtime_error("corrald did not take org.corral1: " + readFile(log));
}

void CorraldFixture::killCorrald() {
    corrald_.kill(SIGKILL);
    corrald_.wait(5s);
}

std::string CorraldFixture::corraldLog() const {
    std::string all;
    for (unsigned i = 1; i <= corraldStarts_; ++i)
        all += readFile(dir_ / ("corrald" + std::to_string(i) + ".log"));
    return all;
}

CommandResult CorraldFixture::busctl(std::vector<std::string> args,
                                     std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {"busctl", "--address", address_,
                                     "--timeout=" + std::to_string(timeout.count() / 1000 + 1)};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, timeout + 5s, dir_.path());
}

std::string CorraldFixture::path(const std::string& name) const {
    return "/org/corral1/instance/" + name;  // test names need no escaping
}

CommandResult CorraldFixture::call(const std::string& name, const std::string& method,
                                   std::vector<std::string> args,
                                   std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {
        "--", "call", "org.corral1", path(name), "org.corral1.Instance", method};
    argv.insert(argv.end(), args.begin(), args.end());
    return busctl(argv, timeout);
}

std::string CorraldFixture::property(const std::string& name, const std::string& prop) {
    return trim(
        busctl({"get-property", "org.corral1", path(name), "org.corral1.Instance", prop}).output);
}

bool CorraldFixture::waitProperty(const std::string& name, const std::string& prop,
                                  const std::string& expected, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (property(name, prop) == expected) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

pid_t CorraldFixture::pid(const std::string& name) {
    auto text = property(name, "Pid");  // "u 1234"
    return text.size() > 2 ? std::atoi(text.c_str() + 2) : 0;
}

}  // namespace corral::test
