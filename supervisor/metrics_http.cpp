#include "supervisor/metrics_http.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace corral::supervisor {

namespace {

HttpDecision reject(int status, std::string reason) {
    return {HttpDecision::Kind::Reject, false, status, std::move(reason)};
}

}  // namespace

ListenParse parseListenAddress(std::string_view text) {
    ListenParse out;
    if (text.starts_with("unix:")) {
        auto path = text.substr(5);
        if (path.empty() || path.front() != '/') {
            out.error = "a unix socket needs an absolute path (unix:/run/corral/metrics.sock)";
            return out;
        }
        if (path.size() >= 108) {  // sun_path
            out.error = "the unix socket path is longer than 107 bytes";
            return out;
        }
        out.address = ListenAddress{ListenAddress::Kind::Unix, {}, 0, std::string(path)};
        return out;
    }
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        out.error = "expected HOST:PORT (\"127.0.0.1:9477\", \"[::1]:9477\") or unix:PATH";
        return out;
    }
    auto host = text.substr(0, colon);
    auto port = text.substr(colon + 1);
    bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(std::string(host), ec);
    if (ec || (ip.is_v6() && !bracketed) || (ip.is_v4() && bracketed)) {
        out.error = "'" + std::string(host) +
                    "' is not a numeric IP address (IPv6 goes in brackets: \"[::1]:9477\")";
        return out;
    }
    unsigned value = 0;
    auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (perr != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
        out.error = "port '" + std::string(port) + "' is not a number from 1 to 65535";
        return out;
    }
    out.address = ListenAddress{
        ListenAddress::Kind::Tcp, std::string(host), static_cast<std::uint16_t>(value), {}};
    return out;
}

std::string toString(const ListenAddress& address) {
    if (address.kind == ListenAddress::Kind::Unix) return "unix:" + address.path;
    bool v6 = address.host.find(':') != std::string::npos;
    return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

HttpDecision examineRequest(std::string_view received, std::size_t maxHead) {
    // A method is upper-case letters: anything else (a TLS handshake, binary noise) is refused
    // at once rather than after the deadline.
    auto methodEnd = received.find(' ');
    for (char c : received.substr(0, methodEnd))
        if (c < 'A' || c > 'Z') return reject(400, "malformed request line");
    auto lineEnd = received.find('\n');
    if (lineEnd == std::string_view::npos) {
        if (received.size() > maxHead) return reject(414, "request line too long");
        return {};
    }
    auto end = received.find("\r\n\r\n");
    auto bareEnd = received.find("\n\n");
    if (end == std::string_view::npos && bareEnd == std::string_view::npos) {
        if (received.size() > maxHead) return reject(431, "request head too long");
        return {};
    }
    auto headSize = std::min(end == std::string_view::npos ? received.size() : end + 4,
                             bareEnd == std::string_view::npos ? received.size() : bareEnd + 2);
    if (headSize > maxHead) return reject(431, "request head too long");
    auto line = received.substr(0, lineEnd);
    if (line.ends_with('\r')) line.remove_suffix(1);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != line.npos)
        return reject(400, "malformed request line");
    auto method = line.substr(0, sp1);
    auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    auto version = line.substr(sp2 + 1);
    if (!version.starts_with("HTTP/")) return reject(400, "malformed request line");
    if (version != "HTTP/1.0" && version != "HTTP/1.1")
        return reject(505, "only HTTP/1.0 and HTTP/1.1 are served");
    if (method != "GET" && method != "HEAD") return reject(405, "only GET and HEAD are allowed");
    if (target.substr(0, target.find('?')) != "/metrics")
        return reject(404, "only /metrics is served");
    return {HttpDecision::Kind::Serve, method == "HEAD", 200, {}};
}

std::string_view statusText(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 414:
            return "URI Too Long";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Error";
    }
}

std::string httpResponse(int status, std::string_view contentType, std::string_view body,
                         bool withBody) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(statusText(status)) +
                      "\r\nContent-Type: " + std::string(contentType) +
                      "\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n";
    if (status == 405) out += "Allow: GET, HEAD\r\n";
    out += "\r\n";
    if (withBody) out.append(body);
    return out;
}

}  // namespace corral::supervisor
