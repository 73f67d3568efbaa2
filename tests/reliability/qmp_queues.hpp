// The queues of qemu's end of its QMP connection, read with ss -x: how tests make "mid-hotplug"
// deterministic (a command queued for a SIGSTOPped qemu, a reply waiting for a stopped client).
#pragma once

#include <filesystem>
#include <functional>

namespace corral::test {

struct SocketQueues {
    int unread = -1;   // bytes qemu has not read yet (Recv-Q)
    int unacked = -1;  // bytes qemu wrote that its peer has not read yet (Send-Q)
};

// The queues of the server's end of the connection on `socket`; -1s if there is none.
SocketQueues queuesOf(const std::filesystem::path& socket, const std::filesystem::path& scratch);

// Polls `ready` on the queues of `socket` for up to 10 s; `step` runs between polls (an
// in-process client's event loop).
bool waitQueues(
    const std::filesystem::path& socket, const std::filesystem::path& scratch,
    const std::function<bool(const SocketQueues&)>& ready,
    const std::function<void()>& step = [] {});

// waitQueues until qemu has unread input: our command is queued.
bool waitQueued(
    const std::filesystem::path& socket, const std::filesystem::path& scratch,
    const std::function<void()>& step = [] {});

// waitQueues until qemu's reply waits unread: qemu ran the command.
bool waitReplied(const std::filesystem::path& socket, const std::filesystem::path& scratch);

}  // namespace corral::test
