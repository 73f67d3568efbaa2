#include "tests/unit/monitor/fake_qmp_server.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <regex>
#include <stdexcept>

namespace corral::test {

namespace {

constexpr const char* kGreeting =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"},)"
    R"( "capabilities": []}})"
    "\r\n";

void writeAll(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

std::string field(const std::string& line, const std::string& pattern) {
    std::smatch match;
    return std::regex_search(line, match, std::regex(pattern)) ? match[1].str() : std::string();
}

}  // namespace

FakeQmpServer::FakeQmpServer(std::filesystem::path path, Script script)
    : path_(std::move(path)), script_(std::move(script)) {
    listenFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    if (listenFd_ < 0 || ::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listenFd_, 4) != 0) {
        throw std::runtime_error("fake QMP server cannot listen on " + path_.string());
    }
    thread_ = std::thread([this] { serve(); });
}

FakeQmpServer::~FakeQmpServer() {
    stopping_ = true;
    ::shutdown(listenFd_, SHUT_RDWR);
    if (int client = clientFd_.load(); client >= 0) ::shutdown(client, SHUT_RDWR);
    thread_.join();
    ::close(listenFd_);
    std::filesystem::remove(path_);
}

std::string FakeQmpServer::reply(const std::string& id, const std::string& value) {
    return R"({"return": )" + value + R"(, "id": )" + id + "}\r\n";
}

std::vector<std::string> FakeQmpServer::commands() {
    std::lock_guard lock(mutex_);
    return commands_;
}

void FakeQmpServer::serve() {
    while (!stopping_) {
        int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) return;
        clientFd_ = client;
        writeAll(client, kGreeting);
        std::string buffer;
        char chunk[4096];
        for (;;) {
            ssize_t n = ::recv(client, chunk, sizeof(chunk), 0);
            if (n <= 0) break;
            buffer.append(chunk, static_cast<std::size_t>(n));
            std::size_t newline;
            bool closed = false;
            while (!closed && (newline = buffer.find('\n')) != std::string::npos) {
                std::string line = buffer.substr(0, newline);
                buffer.erase(0, newline + 1);
                std::string command = field(line, R"re("execute":"([^"]+)")re");
                std::string id = field(line, R"re("id":([0-9]+))re");
                {
                    std::lock_guard lock(mutex_);
                    commands_.push_back(command);
                }
                Action action;
                if (command == "qmp_capabilities") {
                    action.bytes = reply(id);
                } else if (command == "query-commands") {
                    action.bytes = reply(id, R"([{"name": "query-status"}, {"name": "stop"}])");
                } else {
                    action = script_(command, id, line);
                }
                writeAll(client, action.bytes);
                if (action.closeAfter) closed = true;
            }
            if (closed) break;
        }
        clientFd_ = -1;
        ::close(client);
    }
}

}  // namespace corral::test
