// Errors that supervisor operations report to callers; each kind maps to one D-Bus error name
// `org.corral1.Error.<Kind>` and carries a sentence a person can act on.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "common/error.hpp"

namespace corral::supervisor {

enum class ErrorKind {
    Busy,             // another operation on the instance is in progress
    InvalidState,     // the instance is not in a state that allows the operation
    InvalidArgument,  // the caller passed something malformed
    NoSuchInstance,
    InvalidDefinition,  // the instance's TOML file is broken
    AgentUnavailable,
    MonitorUnavailable,  // corrald has no QMP connection to the qemu (it keeps reconnecting)
    Timeout,
    Failed,            // the operation was attempted and failed (QMP error, spawn failure, ...)
    Exists,            // Define: an instance or a file of that name exists already
    PermissionDenied,  // the caller may not call the method (corrald's own check)
    NotSupported,      // the peer lacks what the operation needs (e.g. the guest agent a method)
};

struct OpError {
    ErrorKind kind;
    std::string message;
};

// D-Bus error name for a kind, e.g. "org.corral1.Error.Busy".
const char* dbusErrorName(ErrorKind kind);

// Which of the VM's channels an error of the lower layers came through.
enum class Channel { Monitor, Agent, QemuGa };

// The one mapping from the lower layers' error model to what callers see: a timeout stays a
// timeout, a request refused for its arguments is InvalidArgument, an agent that cannot be
// reached is AgentUnavailable; the rest failed. The sentence says which channel broke.
OpError toOpError(const corral::Error& error, Channel channel);

// A value or an OpError.
template <typename T>
class Outcome {
  public:
    // Asio's co_spawn needs a default for results of coroutines that threw.
    Outcome() : v_(std::in_place_index<1>, OpError{ErrorKind::Failed, "no result"}) {}
    Outcome(T value) : v_(std::move(value)) {}
    Outcome(OpError error) : v_(std::move(error)) {}
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    const OpError& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, OpError> v_;
};

struct Unit {};
using Status = Outcome<Unit>;
using Done = std::function<void(Status)>;

inline Status okStatus() {
    return Unit{};
}

}  // namespace corral::supervisor
