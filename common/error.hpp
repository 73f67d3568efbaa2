// One error model for monitor/, agent/ and hypervisor/: a kind that code branches on and a
// sentence that says what failed and where. The supervisor maps a kind to its D-Bus error in one
// place (supervisor/op_error.hpp).
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace corral {

enum class Errc {
    Connect,          // the socket or the peer could not be reached
    Disconnected,     // the connection closed while the call was pending
    Timeout,          // a deadline passed
    Protocol,         // the peer's bytes broke the protocol
    Remote,           // the peer answered with an error (QMP: its class is in Error::remoteClass;
                      // negotiator: success=false)
    InvalidArgument,  // refused before anything was sent
    DeviceExists,
    NoSuchDevice,
    NoFreeSlot,
    OpenFailed,    // a file or tap device the operation needs could not be opened
    UnplugFailed,  // the guest did not let the device go
    NotSupported,  // the peer lacks what the operation needs (a QEMU command, an agent method)
};

// "Timeout", "NoFreeSlot", ...
std::string_view toString(Errc kind);

struct Error {
    // Not an aggregate on purpose: Result<std::string> must not mistake a string for an Error.
    Error() = default;
    Error(Errc k, std::string m) : kind(k), message(std::move(m)) {}

    Errc kind = Errc::Protocol;
    std::string remoteClass;  // Remote errors from QMP: "GenericError", "DeviceNotFound", ...
    std::string message;      // full sentence, e.g. "device_add: GenericError: Duplicate ID ..."
};

template <class T>
using Result = boost::system::result<T, Error>;

// "<where>: <kind>: <detail>".
Error makeError(Errc kind, std::string_view where, std::string_view detail);

// A QMP error reply: kind Remote, remoteClass = `qmpClass`, "<where>: <qmpClass>: <detail>".
Error makeRemoteError(std::string_view qmpClass, std::string_view where, std::string_view detail);

// The same error with "<context>: " in front of its sentence.
Error prefixed(Error error, std::string_view context);

// Lets Result<T>::value() throw: a std::runtime_error carrying the message.
[[noreturn]] void throw_exception_from_error(Error const& error, boost::source_location const& loc);

}  // namespace corral
