// A raw HTTP client for the metrics endpoint tests: sends exactly the bytes given (hostile ones
// included) and reads the answer, every step bounded.
#pragma once

#include <chrono>
#include <string>

namespace corral::test {

// An unused TCP port on 127.0.0.1 (bound and released; good enough for one test's servers).
unsigned short freeTcpPort();

class HttpConnection {
  public:
    // Connects to 127.0.0.1:port; connected() is false if it could not.
    explicit HttpConnection(unsigned short port);
    ~HttpConnection();
    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;

    bool connected() const { return fd_ >= 0; }
    // Sends all of `bytes`; false if the peer closed.
    bool send(const std::string& bytes);
    // Reads until the peer closes or `timeout` passes; what arrived.
    std::string readAll(std::chrono::milliseconds timeout);
    // Whether the peer closed within `timeout` (reads and drops what arrives meanwhile).
    bool closedWithin(std::chrono::milliseconds timeout);

  private:
    int fd_ = -1;
    bool eof_ = false;
};

// One request on a new connection, the whole response ("" on failure).
std::string httpExchange(unsigned short port, const std::string& request,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The body of a response.
std::string httpBody(const std::string& response);

}  // namespace corral::test
