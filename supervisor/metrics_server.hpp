// corrald's Prometheus endpoint: a listener on [metrics] listen that answers GET /metrics with
// what `render` returns (the cached samples, so a scrape never waits for a VM) and refuses
// anything else with a status. Every connection has one deadline for reading its request and
// writing the answer; connections beyond a limit get 503 at once. Destroying the server closes
// the listener and every connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "supervisor/log.hpp"
#include "supervisor/metrics_http.hpp"

namespace corral::supervisor {

class MetricsServer {
  public:
    struct Limits {
        std::chrono::milliseconds deadline = std::chrono::seconds(5);
        unsigned maxConnections = 16;
        std::size_t maxRequestHead = kMaxRequestHead;
    };

    // Binds and listens at once (a stale unix socket file is replaced); throws
    // std::runtime_error naming the address when it cannot.
    MetricsServer(boost::asio::any_io_executor executor, const ListenAddress& address,
                  std::function<std::string()> render, Limits limits, LogSink log);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // The TCP port bound (useful with port 0 in tests); 0 for a unix socket.
    unsigned short port() const;

    struct State;

  private:
    std::shared_ptr<State> state_;
};

}  // namespace corral::supervisor
