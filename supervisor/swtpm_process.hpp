// The swtpm of one VM ([tpm] type = "tpm2"): started before its qemu, which connects to its
// control socket, and ended after it. swtpm runs with --terminate, so it ends by itself when qemu
// closes the connection; stop() makes sure. A restarted corrald adopts it by swtpm.pid, as it
// adopts qemu: the qemu keeps its connection, corrald only watches the process.
// A confined VM's swtpm runs as the uid its qemu gets, without capabilities, under its own
// seccomp filter, in its state directory (owned by that uid while it runs, by root again once it
// has ended) and with no access to the runtime dir: corrald binds its socket (hypervisor/tpm.hpp).
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/qemu_process.hpp"

namespace corral::supervisor {

class SwtpmProcess {
  public:
    // Starts swtpm with its state in <stateRoot>/<name>/tpm (made 0700 at the first start) and its
    // socket in the runtime dir (which must exist), and waits until the socket is there. With a
    // `uid` (the one the VM's qemu will run as) the state directory and everything in it are
    // given to uid:uid first (a directory an older corrald made as root, or one a previous run
    // under another uid left) and swtpm runs as that uid. Throws std::runtime_error with a
    // sentence: swtpm missing (naming the package), the state directory not usable, or what its
    // log said when it did not come up.
    static std::unique_ptr<SwtpmProcess> start(const boost::asio::any_io_executor& executor,
                                               const std::string& name,
                                               const hypervisor::RuntimePaths& paths,
                                               const std::filesystem::path& stateRoot,
                                               std::optional<std::uint32_t> uid);
    // The swtpm that swtpm.pid names, if it runs with the command line start() gives it for `uid`
    // (the VM's qemu's, nullopt for an unconfined one) or, kept from an older corrald, as root;
    // else nullptr and `why` says why.
    static std::unique_ptr<SwtpmProcess> adopt(const boost::asio::any_io_executor& executor,
                                               const std::string& name,
                                               const hypervisor::RuntimePaths& paths,
                                               const std::filesystem::path& stateRoot,
                                               std::optional<std::uint32_t> uid, std::string& why);

    pid_t pid() const { return process_.pid(); }
    boost::asio::awaitable<hypervisor::ExitStatus> waitExit() { return process_.waitExit(); }
    // Ends it (SIGTERM, reaped when it is our child) if it still runs, removes its socket and
    // pid file, and gives a confined one's state directory back to root (the uid may go to
    // another VM next).
    void stop();

  private:
    SwtpmProcess(hypervisor::QemuProcess process, hypervisor::RuntimePaths paths,
                 std::filesystem::path stateDir, std::optional<std::uint32_t> uid)
        : process_(std::move(process)),
          paths_(std::move(paths)),
          stateDir_(std::move(stateDir)),
          uid_(uid) {}

    hypervisor::QemuProcess process_;
    hypervisor::RuntimePaths paths_;
    std::filesystem::path stateDir_;
    std::optional<std::uint32_t> uid_;
};

}  // namespace corral::supervisor
