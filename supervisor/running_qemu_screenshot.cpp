// RunningQemu::screenshot's steps. A confined qemu sees an empty root, so it cannot create the
// file: corrald creates it (as qemu did, 0600) and lends qemu the descriptor through an fdset
// (add-fd), which screendump opens as /dev/fdset/N; remove-fd drops the fdset again.
#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "monitor/json.hpp"
#include "supervisor/managed_save.hpp"
#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

asio::awaitable<Status> RunningQemu::screenshotSteps(std::string path) {
    auto client = qmpClientOf(*qmp_);
    if (!client)
        co_return OpError{ErrorKind::Failed,
                          name_ + ": this monitor link cannot pass file descriptors"};
    OwnedFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600));
    if (!file)
        co_return OpError{ErrorKind::Failed, "cannot create " + path + ": " + std::strerror(errno)};
    std::vector<int> fds(1, file.get());
    auto args = monitor::JsonObject().set("opaque", "corral-screendump").take();
    auto added = co_await life_.guard(client->execute(
        "add-fd", std::move(args), monitor::kDefaultCommandTimeout, std::move(fds)));
    if (!added) co_return toOpError(added.error(), Channel::Monitor);
    if (!added->IsObject() || !added->HasMember("fdset-id") || !(*added)["fdset-id"].IsInt())
        co_return OpError{ErrorKind::Failed, name_ + ": add-fd: reply lacks fdset-id"};
    int fdset = (*added)["fdset-id"].GetInt();
    auto dump = monitor::JsonObject()
                    .set("filename", "/dev/fdset/" + std::to_string(fdset))
                    .set("format", "png")
                    .take();
    auto dumped = co_await life_.guard(client->execute("screendump", std::move(dump)));
    auto drop = monitor::JsonObject().set("fdset-id", fdset).take();
    co_await life_.guard(client->execute("remove-fd", std::move(drop)));
    if (!dumped) co_return toOpError(dumped.error(), Channel::Monitor);
    co_return okStatus();
}

}  // namespace corral::supervisor
