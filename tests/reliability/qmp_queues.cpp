#include "tests/reliability/qmp_queues.hpp"

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {

using namespace std::chrono_literals;

SocketQueues queuesOf(const std::filesystem::path& socket, const std::filesystem::path& scratch) {
    auto out = runCommand({"ss", "-x", "-n", "-H"}, 5s, scratch).output;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        // u_str ESTAB <Recv-Q> <Send-Q> <local path> <inode> <peer> <peer inode>
        std::istringstream fields(line);
        std::string netid, state, local;
        SocketQueues queues;
        fields >> netid >> state >> queues.unread >> queues.unacked >> local;
        if (state == "ESTAB" && local == socket.string()) return queues;
    }
    return {};
}

bool waitQueues(const std::filesystem::path& socket, const std::filesystem::path& scratch,
                const std::function<bool(const SocketQueues&)>& ready,
                const std::function<void()>& step) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        step();
        if (ready(queuesOf(socket, scratch))) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

bool waitQueued(const std::filesystem::path& socket, const std::filesystem::path& scratch,
                const std::function<void()>& step) {
    return waitQueues(
        socket, scratch, [](const SocketQueues& q) { return q.unread > 0; }, step);
}

bool waitReplied(const std::filesystem::path& socket, const std::filesystem::path& scratch) {
    return waitQueues(socket, scratch, [](const SocketQueues& q) { return q.unacked > 0; });
}

}  // namespace corral::test
