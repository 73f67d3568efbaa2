#include "supervisor/swtpm_process.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "hypervisor/tpm.hpp"

namespace corral::supervisor {

namespace {

using namespace std::chrono_literals;

constexpr auto kSocketWait = 5s;

// swtpm on PATH, or "" when it is not installed.
std::string findSwtpm() {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::size_t at = 0;
    while (at <= dirs.size()) {
        auto colon = dirs.find(':', at);
        auto dir = dirs.substr(at, colon == std::string::npos ? std::string::npos : colon - at);
        auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / hypervisor::kSwtpmBinary;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        if (colon == std::string::npos) break;
        at = colon + 1;
    }
    return "";
}

std::string lastLogLine(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last.empty() ? "nothing in " + file.string() : last;
}

// Gives `dir` and everything under it (symlinks themselves, never their targets) to id:id; the
// first that fails, as "PATH: REASON".
std::optional<std::string> giveTree(const std::filesystem::path& dir, std::uint32_t id) {
    auto give = [id](const std::filesystem::path& path) -> std::optional<std::string> {
        if (::lchown(path.c_str(), id, id) == 0) return std::nullopt;
        return path.string() + ": " + std::strerror(errno);
    };
    if (auto why = give(dir)) return why;
    std::error_code ec;
    for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec))
        if (auto why = give(it->path())) return why;
    if (ec) return dir.string() + ": " + ec.message();
    return std::nullopt;
}

struct Listener {
    int fd = -1;
    ~Listener() {
        if (fd >= 0) ::close(fd);
    }
};

// A unix socket listening on `path`, 0600 from its creation on (the umask; corrald is
// single-threaded).
void listenOn(Listener& listener, const std::filesystem::path& path, const std::string& name) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.native().size() >= sizeof address.sun_path)
        throw std::runtime_error(name + ": swtpm's socket path " + path.string() + " is too long");
    std::memcpy(address.sun_path, path.c_str(), path.native().size() + 1);
    listener.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t previousUmask = ::umask(0177);
    bool bound =
        listener.fd >= 0 &&
        ::bind(listener.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    int error = errno;
    ::umask(previousUmask);
    if (bound && ::listen(listener.fd, 1) != 0) error = errno, bound = false;
    if (!bound)
        throw std::runtime_error(name + ": cannot listen on " + path.string() +
                                 " for swtpm: " + std::strerror(error));
}

// The confined form: swtpm starts in `state` as `uid`, on the socket corrald bound (fd 3);
// corrald writes swtpm.pid, which swtpm cannot.
hypervisor::QemuProcess spawnConfined(const boost::asio::any_io_executor& executor,
                                      const std::string& name, const std::vector<std::string>& argv,
                                      const hypervisor::RuntimePaths& paths,
                                      const std::filesystem::path& state) {
    Listener listener;
    listenOn(listener, hypervisor::swtpmSocketPath(paths.dir), name);
    auto process = hypervisor::QemuProcess::spawn(
        executor, argv, hypervisor::swtpmLogPath(paths.dir), {listener.fd}, state);
    std::ofstream(hypervisor::swtpmPidPath(paths.dir)) << process.pid() << "\n";
    return process;
}

bool sameDirectory(const std::filesystem::path& a, const std::filesystem::path& b) {
    std::error_code ec;
    return std::filesystem::equivalent(a, b, ec) && !ec;
}

}  // namespace

std::unique_ptr<SwtpmProcess> SwtpmProcess::start(const boost::asio::any_io_executor& executor,
                                                  const std::string& name,
                                                  const hypervisor::RuntimePaths& paths,
                                                  const std::filesystem::path& stateRoot,
                                                  std::optional<std::uint32_t> uid) {
    auto binary = findSwtpm();
    if (binary.empty())
        throw std::runtime_error(name + ": [tpm] type = \"tpm2\" needs swtpm, which is not on " +
                                 "PATH; install the Debian package swtpm");
    auto state = hypervisor::tpmStateDir(stateRoot, name);
    std::error_code ec;
    std::filesystem::create_directories(state, ec);
    if (ec || ::chmod(state.c_str(), 0700) != 0)
        throw std::runtime_error(name + ": cannot create the TPM state directory " +
                                 state.string() + ": " + (ec ? ec.message() : "chmod failed"));
    if (uid)
        if (auto why = giveTree(state, *uid))
            throw std::runtime_error(name + ": cannot give the TPM state directory to uid " +
                                     std::to_string(*uid) + ": " + *why);
    auto socket = hypervisor::swtpmSocketPath(paths.dir);
    std::filesystem::remove(socket, ec);
    auto argv = hypervisor::swtpmArgv(binary, state, paths.dir, uid);
    if (uid)
        return std::unique_ptr<SwtpmProcess>(
            new SwtpmProcess(spawnConfined(executor, name, argv, paths, state), paths, state, uid));
    auto process =
        hypervisor::QemuProcess::spawn(executor, argv, hypervisor::swtpmLogPath(paths.dir));
    std::unique_ptr<SwtpmProcess> swtpm(
        new SwtpmProcess(std::move(process), paths, state, std::nullopt));
    // swtpm makes its socket within milliseconds; qemu fails at once without it.
    auto deadline = std::chrono::steady_clock::now() + kSocketWait;
    while (!std::filesystem::exists(socket, ec)) {
        int status = 0;
        bool gone = ::waitpid(swtpm->pid(), &status, WNOHANG) == swtpm->pid();
        if (gone || std::chrono::steady_clock::now() > deadline) {
            if (!gone) swtpm->stop();
            throw std::runtime_error(name + ": swtpm did not start (" +
                                     lastLogLine(hypervisor::swtpmLogPath(paths.dir)) + ")");
        }
        std::this_thread::sleep_for(10ms);
    }
    return swtpm;
}

std::unique_ptr<SwtpmProcess> SwtpmProcess::adopt(const boost::asio::any_io_executor& executor,
                                                  const std::string& name,
                                                  const hypervisor::RuntimePaths& paths,
                                                  const std::filesystem::path& stateRoot,
                                                  std::optional<std::uint32_t> uid,
                                                  std::string& why) {
    std::ifstream in(hypervisor::swtpmPidPath(paths.dir));
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0) {
        why = "no pid in " + hypervisor::swtpmPidPath(paths.dir).string();
        return nullptr;
    }
    auto running = hypervisor::processCmdline(pid);
    auto binary = running && !running->empty() ? running->front() : std::string();
    auto state = hypervisor::tpmStateDir(stateRoot, name);
    // Its command line names no path: that it works in this VM's state directory makes it ours.
    auto confined = hypervisor::swtpmArgv(binary, state, paths.dir, uid);
    if (uid && running == confined &&
        !sameDirectory("/proc/" + std::to_string(pid) + "/cwd", state)) {
        why = "swtpm (pid " + std::to_string(pid) + ") does not work in " + state.string();
        return nullptr;
    }
    // An older corrald ran every swtpm as root: one of those is kept as it is.
    if (running != confined) uid.reset();
    auto expected = uid ? confined : hypervisor::swtpmArgv(binary, state, paths.dir);
    auto process = hypervisor::QemuProcess::adopt(executor, pid, expected, why);
    if (!process) return nullptr;
    return std::unique_ptr<SwtpmProcess>(
        new SwtpmProcess(std::move(*process), paths, std::move(state), uid));
}

void SwtpmProcess::stop() {
    if (process_.kill(SIGTERM) && process_.isChild()) {
        // Reaped here: the watch that would have reaped it ends with its RunningQemu.
        auto deadline = std::chrono::steady_clock::now() + 2s;
        while (::waitpid(pid(), nullptr, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                process_.kill(SIGKILL);
                ::waitpid(pid(), nullptr, 0);
                break;
            }
            std::this_thread::sleep_for(5ms);
        }
    }
    std::error_code ec;
    std::filesystem::remove(hypervisor::swtpmSocketPath(paths_.dir), ec);
    std::filesystem::remove(hypervisor::swtpmPidPath(paths_.dir), ec);
    if (uid_) giveTree(stateDir_, 0);  // a failure leaves it to the next start's chown
}

}  // namespace corral::supervisor
