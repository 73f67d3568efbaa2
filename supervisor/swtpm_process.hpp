// The swtpm of one VM ([tpm] type = "tpm2"): started before its qemu, which connects to its
// control socket, and ended after it. swtpm runs with --terminate, so it ends by itself when qemu
// closes the connection; stop() makes sure. A restarted corrald adopts it by swtpm.pid, as it
// adopts qemu: the qemu keeps its connection, corrald only watches the process.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/qemu_process.hpp"

namespace corral::supervisor {

class SwtpmProcess {
  public:
    // Starts swtpm with its state in <stateRoot>/<name>/tpm (made 0700 at the first start) and its
    // socket in the runtime dir (which must exist), and waits until the socket is there. Throws
    // std::runtime_error with a sentence: swtpm missing (naming the package), or what its log
    // said when it did not come up.
    static std::unique_ptr<SwtpmProcess> start(const boost::asio::any_io_executor& executor,
                                               const std::string& name,
                                               const hypervisor::RuntimePaths& paths,
                                               const std::filesystem::path& stateRoot);
    // The swtpm that swtpm.pid names, if it runs with the command line start() gives it; else
    // nullptr and `why` says why.
    static std::unique_ptr<SwtpmProcess> adopt(const boost::asio::any_io_executor& executor,
                                               const std::string& name,
                                               const hypervisor::RuntimePaths& paths,
                                               const std::filesystem::path& stateRoot,
                                               std::string& why);

    pid_t pid() const { return process_.pid(); }
    boost::asio::awaitable<hypervisor::ExitStatus> waitExit() { return process_.waitExit(); }
    // Ends it (SIGTERM, reaped when it is our child) if it still runs, and removes its socket and
    // pid file.
    void stop();

  private:
    SwtpmProcess(hypervisor::QemuProcess process, hypervisor::RuntimePaths paths)
        : process_(std::move(process)), paths_(std::move(paths)) {}

    hypervisor::QemuProcess process_;
    hypervisor::RuntimePaths paths_;
};

}  // namespace corral::supervisor
