// A scripted QMP server on a UNIX socket, in its own thread, for what real QEMU cannot produce
// on demand (silence, malformed or oversize lines, EOF mid-line).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace corral::test {

class FakeQmpServer {
  public:
    struct Action {
        std::string bytes;        // written back verbatim (empty = stay silent)
        bool closeAfter = false;  // then close the connection
    };
    // Called with each command name, its id (raw JSON text) and its whole line. The server
    // answers qmp_capabilities and query-commands itself.
    using Script = std::function<Action(const std::string& command, const std::string& id,
                                        const std::string& line)>;

    FakeQmpServer(std::filesystem::path path, Script script);
    ~FakeQmpServer();
    FakeQmpServer(const FakeQmpServer&) = delete;
    FakeQmpServer& operator=(const FakeQmpServer&) = delete;

    // A successful reply line for `id` carrying `value` (JSON text).
    static std::string reply(const std::string& id, const std::string& value = "{}");

    // Commands received so far, in order.
    std::vector<std::string> commands();

  private:
    void serve();

    std::filesystem::path path_;
    Script script_;
    int listenFd_ = -1;
    std::atomic<int> clientFd_{-1};
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::vector<std::string> commands_;
    std::thread thread_;
};

}  // namespace corral::test
