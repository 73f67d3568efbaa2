#include "tests/integration/migration/migration_host.hpp"

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

MigrationHost::MigrationHost(std::string label, std::string netns)
    : label_(std::move(label)), netns_(std::move(netns)) {
    for (const char* sub : {"instances", "run", "state", "commands"})
        std::filesystem::create_directories(dir_ / sub);
    auto socket = dir_ / "bus.sock";
    dbus_ = Process::spawn({"dbus-daemon", "--session", "--nofork", "--nopidfile",
                            "--address=unix:path=" + socket.string(), "--print-address=1"},
                           dir_ / "bus.address");
    address_ = "unix:path=" + socket.string();
    if (!waitForPath(socket, 10s)) throw std::runtime_error("dbus-daemon made no socket");
}

MigrationHost::~MigrationHost() {
    corrald_.kill(SIGKILL);
    corrald_.wait(5s);
    for (pid_t pid : qemuPids()) ::kill(pid, SIGKILL);
}

std::vector<pid_t> MigrationHost::qemuPids() const {
    std::vector<pid_t> pids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "run", ec)) {
        auto text = readFile(entry.path() / "qemu.pid");
        pid_t pid = text.empty() ? 0 : std::atoi(text.c_str());
        if (pid > 0 && ::kill(pid, 0) == 0) pids.push_back(pid);
    }
    return pids;
}

void MigrationHost::start(const std::string& config) {
    std::ofstream(dir_ / "corral.toml")
        << "[paths]\nguest_commands_dir = \"" << (dir_ / "commands").string() << "\"\n"
        << config;
    auto log = dir_ / ("corrald" + std::to_string(++starts_) + ".log");
    std::vector<std::string> argv;
    if (!netns_.empty()) argv = {"ip", "netns", "exec", netns_};
    if (!bindFrom_.empty())
        for (const auto& arg : {std::string("sh"), std::string("-c"),
                                std::string("mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\""),
                                std::string("sh"), bindFrom_.string(), bindOnto_.string()})
            argv.push_back(arg);
    for (const auto& arg :
         {std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald", std::string("--bus-address"),
          address_, std::string("--instances-dir"), (dir_ / "instances").string(),
          std::string("--runtime-dir"), (dir_ / "run").string(), std::string("--state-dir"),
          (dir_ / "state").string(), std::string("--log-dir"), (dir_ / "log").string(),
          std::string("--config"), (dir_ / "corral.toml").string()})
        argv.push_back(arg);
    corrald_ = Process::spawn(argv, log);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (busctl({"status", "org.corral1"}, 5s).status == 0) return;
        if (!corrald_.running()) break;
        std::this_thread::sleep_for(20ms);
    }
    throw std::runtime_error(label_ + ": corrald did not take org.corral1: " + readFile(log));
}

void MigrationHost::bindMount(std::filesystem::path from, std::filesystem::path onto) {
    bindFrom_ = std::move(from);
    bindOnto_ = std::move(onto);
}

void MigrationHost::killCorrald() {
    corrald_.kill(SIGKILL);
    corrald_.wait(5s);
}

void MigrationHost::writeDefinition(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / "instances" / (name + ".toml")) << text;
}

std::string MigrationHost::log() const {
    std::string all;
    for (unsigned i = 1; i <= starts_; ++i)
        all += readFile(dir_ / ("corrald" + std::to_string(i) + ".log"));
    return label_ + " corrald:\n" + all;
}

CommandResult MigrationHost::busctl(std::vector<std::string> args,
                                    std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {"busctl", "--address", address_,
                                     "--timeout=" + std::to_string(timeout.count() / 1000 + 1)};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, timeout + 5s, dir_.path());
}

CommandResult MigrationHost::call(const std::string& name, const std::string& method,
                                  std::vector<std::string> args,
                                  std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {
        "--",  "call", "org.corral1", "/org/corral1/instance/" + name, "org.corral1.Instance",
        method};
    argv.insert(argv.end(), args.begin(), args.end());
    return busctl(argv, timeout);
}

CommandResult MigrationHost::manager(const std::string& method, std::vector<std::string> args,
                                     std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {
        "--", "call", "org.corral1", "/org/corral1", "org.corral1.Manager", method};
    argv.insert(argv.end(), args.begin(), args.end());
    return busctl(argv, timeout);
}

std::string MigrationHost::property(const std::string& name, const std::string& prop) {
    return trim(busctl({"get-property", "org.corral1", "/org/corral1/instance/" + name,
                        "org.corral1.Instance", prop})
                    .output);
}

bool MigrationHost::waitProperty(const std::string& name, const std::string& prop,
                                 const std::string& expected, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (property(name, prop) == expected) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

pid_t MigrationHost::pid(const std::string& name) {
    auto text = property(name, "Pid");
    return text.size() > 2 ? std::atoi(text.c_str() + 2) : 0;
}

bool MigrationHost::listed(const std::string& name) {
    auto out = manager("ListInstances").output;
    return out.find("\"" + name + "\"") != std::string::npos;
}

CommandResult finishCommand(Process& process, const std::filesystem::path& out,
                            std::chrono::milliseconds timeout) {
    auto status = process.wait(timeout);
    CommandResult result;
    result.output = readFile(out);
    if (status && WIFEXITED(*status)) result.status = WEXITSTATUS(*status);
    return result;
}

// Each host's TLS files are in its scratch dir (written by the test that needs them).
std::string tlsDirLine(MigrationHost& host) {
    return "tls_dir = \"" + (host.scratch() / "pki").string() + "\"\n";
}

// A CA, and a certificate it signs for `role` (server: naming `ip`; client) into `dir` as
// QEMU's tls-creds-x509 wants them; `ca` is the CA's directory (made when missing).
void writeCertificates(const std::filesystem::path& ca, const std::filesystem::path& dir,
                       const std::string& role, const std::string& ip) {
    std::filesystem::create_directories(ca);
    std::filesystem::create_directories(dir);
    std::string script =
        "set -e; cd \"$0\"; "
        "[ -f ca-cert.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem "
        "-out ca-cert.pem -days 2 -subj /CN=corral-test-ca-$$ 2>/dev/null; "
        "openssl req -newkey rsa:2048 -nodes -keyout \"$1/$2-key.pem\" -out \"$1/$2.csr\" "
        "-subj /CN=corral-$2 2>/dev/null; "
        "if [ \"$2\" = server ]; then printf "
        "'subjectAltName=IP:%s\\nextendedKeyUsage=serverAuth\\n' "
        "\"$3\" >\"$1/ext\"; else printf 'extendedKeyUsage=clientAuth\\n' >\"$1/ext\"; fi; "
        "openssl x509 -req -in \"$1/$2.csr\" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial "
        "-out \"$1/$2-cert.pem\" -days 2 -extfile \"$1/ext\" 2>/dev/null; "
        "cp ca-cert.pem \"$1/ca-cert.pem\"";
    auto made = runCommand({"sh", "-c", script, ca.string(), dir.string(), role, ip}, 60s, ca);
    if (made.status != 0) throw std::runtime_error("openssl: " + made.output);
}

std::string guestDefinition(const std::string& extra) {
    std::ostringstream s;
    s << "[machine]\ntype = \"q35\"\naccel = \"tcg\"\ncpus = 1\nmemory = \"256M\"\n"
      << "hotplug_slots = 2\n\n[boot]\nkernel = \"" << guestKernel().string() << "\"\n"
      << "initrd = \"" << guestInitrd().string() << "\"\n"
      << "cmdline = \"console=ttyS0 quiet panic=-1\"\n\n[agent]\nnegotiator = true\n\n"
      << "[lifecycle]\nshutdown_timeout = \"3s\"\non_crash = \"restart\"\n"
      << extra;
    return s.str();
}

}  // namespace corral::test
