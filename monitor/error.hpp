// Errors of the QMP layer: the QMP error class (or one of ours) plus a sentence naming the command.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace corral::monitor {

// Kinds of our own; any other kind is a QMP error class ("GenericError", "DeviceNotFound", ...).
inline constexpr std::string_view kDisconnected = "Disconnected";
inline constexpr std::string_view kTimeout = "Timeout";
inline constexpr std::string_view kProtocol = "Protocol";
inline constexpr std::string_view kConnect = "Connect";

struct Error {
    // Not an aggregate on purpose: Result<std::string> must not mistake a string for an Error.
    Error() = default;
    Error(std::string k, std::string m) : kind(std::move(k)), message(std::move(m)) {}

    std::string kind;     // QMP error class or one of the k* kinds above
    std::string message;  // full sentence, e.g. "device_add: GenericError: Duplicate ID ..."
};

template <class T>
using Result = boost::system::result<T, Error>;

// Builds an Error whose message is "<where>: <kind>: <detail>".
Error makeError(std::string_view kind, std::string_view where, std::string_view detail);

// Lets Result<T>::value() throw: a std::runtime_error carrying the message.
[[noreturn]] void throw_exception_from_error(Error const& error, boost::source_location const& loc);

}  // namespace corral::monitor
