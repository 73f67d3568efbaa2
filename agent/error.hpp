// Errors of the negotiator host side: a short machine-readable kind plus a sentence that says
// what failed and where (socket path, method, command).
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace corral::agent {

// Kinds: the peer or the socket is unusable, a deadline passed, the bytes broke the protocol,
// the remote method answered success=false, or the request was refused before being sent.
inline constexpr std::string_view kConnect = "Connect";
inline constexpr std::string_view kDisconnected = "Disconnected";
inline constexpr std::string_view kTimeout = "Timeout";
inline constexpr std::string_view kProtocol = "Protocol";
inline constexpr std::string_view kRemote = "Remote";
inline constexpr std::string_view kInvalid = "Invalid";

struct Error {
    std::string kind;     // one of the k* kinds above
    std::string message;  // full sentence, e.g. "execute 'uptime' on /run/...sock: timed out ..."
};

template <class T>
using Result = boost::system::result<T, Error>;

// Lets Result<T>::value() throw: a std::runtime_error carrying the message.
[[noreturn]] void throw_exception_from_error(Error const& error, boost::source_location const& loc);

}  // namespace corral::agent
