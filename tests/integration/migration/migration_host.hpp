// One "host" of a migration test: a private dbus-daemon on a path socket (reachable from every
// network namespace), a corrald with its own instances, runtime and state dirs, optionally run
// inside a network namespace (`ip netns exec`) so that the qemu it starts listens there. Driven
// by the real busctl. Every process it started is killed by pid when it ends, qemu included.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {

class MigrationHost {
  public:
    // `netns` empty: the caller's namespace.
    explicit MigrationHost(std::string label, std::string netns = {});
    ~MigrationHost();
    MigrationHost(const MigrationHost&) = delete;
    MigrationHost& operator=(const MigrationHost&) = delete;

    // corrald with `config` appended to its corral.toml.
    void start(const std::string& config = {});
    // The next start()s: corrald (and its qemu) see directory `from` at `onto` (a bind mount in
    // the mount namespace of `ip netns exec`), so that two "hosts" have the same path on their
    // own storage. Needs a netns.
    void bindMount(std::filesystem::path from, std::filesystem::path onto);
    // SIGKILL, reaped.
    void killCorrald();
    bool corraldRunning() { return corrald_.running(); }
    pid_t corraldPid() const { return corrald_.pid(); }

    void writeDefinition(const std::string& name, const std::string& text);
    CommandResult busctl(std::vector<std::string> args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));
    CommandResult call(const std::string& name, const std::string& method,
                       std::vector<std::string> args = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));
    CommandResult manager(const std::string& method, std::vector<std::string> args = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));
    std::string property(const std::string& name, const std::string& property);
    bool waitProperty(const std::string& name, const std::string& prop, const std::string& expected,
                      std::chrono::milliseconds timeout);
    pid_t pid(const std::string& name);
    // Whether ListInstances names it.
    bool listed(const std::string& name);

    const std::string& address() const { return address_; }
    const std::string& label() const { return label_; }
    std::filesystem::path instancesDir() const { return dir_ / "instances"; }
    std::filesystem::path runtimeDir() const { return dir_ / "run"; }
    std::filesystem::path stateDir() const { return dir_ / "state"; }
    std::filesystem::path scratch() const { return dir_.path(); }
    std::string log() const;
    // The pids of the qemu processes whose runtime dirs are under runtimeDir().
    std::vector<pid_t> qemuPids() const;

  private:
    std::string label_;
    std::string netns_;
    TempDir dir_;
    std::string address_;
    Process dbus_;
    Process corrald_;
    unsigned starts_ = 0;
    std::filesystem::path bindFrom_, bindOnto_;
};

// Waits for `process`, whose output goes to `out`: its exit code (-1: it did not end within
// `timeout`) and that output.
CommandResult finishCommand(Process& process, const std::filesystem::path& out,
                            std::chrono::milliseconds timeout);

// `tls_dir = "..."` for [migration]: each host's TLS files are in its scratch dir (pki/).
std::string tlsDirLine(MigrationHost& host);
// A CA, and a certificate it signs for `role` (server: naming `ip`; client) into `dir` as
// QEMU's tls-creds-x509 wants them; `ca` is the CA's directory (made when missing). Throws when
// openssl fails.
void writeCertificates(const std::filesystem::path& ca, const std::filesystem::path& dir,
                       const std::string& role, const std::string& ip);

// A definition of the test guest (TCG, agent on) with `extra` appended.
std::string guestDefinition(const std::string& extra = {});

}  // namespace corral::test
