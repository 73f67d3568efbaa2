// The little HTTP corrald speaks for Prometheus, without I/O: where it listens ([metrics] listen
// in corral.toml), what to do with the bytes of a request head received so far, and the response
// bytes. One request per connection (Connection: close); only GET and HEAD of /metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corral::supervisor {

struct ListenAddress {
    enum class Kind { Tcp, Unix } kind = Kind::Tcp;
    std::string host;  // a numeric IPv4 or IPv6 address, without brackets
    std::uint16_t port = 0;
    std::string path;  // Unix
};

// "127.0.0.1:9477", "[::1]:9477" or "unix:/run/corral/metrics.sock"; the error says what is
// wrong with `text`.
struct ListenParse {
    std::optional<ListenAddress> address;
    std::string error;
};
ListenParse parseListenAddress(std::string_view text);
// The address as an administrator wrote it (for logs).
std::string toString(const ListenAddress& address);

inline constexpr std::size_t kMaxRequestHead = 8192;

struct HttpDecision {
    enum class Kind { NeedMore, Serve, Reject } kind = Kind::NeedMore;
    bool head = false;  // Serve: HEAD, no body
    int status = 0;     // Reject: 400, 404, 405, 414, 431, 505
    std::string reason;
};

// What the bytes received so far call for. A head longer than `maxHead` is refused before it
// completes, so a client cannot make corrald buffer without bound.
HttpDecision examineRequest(std::string_view received, std::size_t maxHead = kMaxRequestHead);

// A complete HTTP/1.1 response that closes the connection; 405 carries Allow.
std::string httpResponse(int status, std::string_view contentType, std::string_view body,
                         bool withBody = true);
std::string_view statusText(int status);

}  // namespace corral::supervisor
