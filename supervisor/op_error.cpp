#include "supervisor/op_error.hpp"

namespace corral::supervisor {

using corral::Errc;

const char* dbusErrorName(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::Busy:
            return "org.corral1.Error.Busy";
        case ErrorKind::InvalidState:
            return "org.corral1.Error.InvalidState";
        case ErrorKind::InvalidArgument:
            return "org.corral1.Error.InvalidArgument";
        case ErrorKind::NoSuchInstance:
            return "org.corral1.Error.NoSuchInstance";
        case ErrorKind::InvalidDefinition:
            return "org.corral1.Error.InvalidDefinition";
        case ErrorKind::AgentUnavailable:
            return "org.corral1.Error.AgentUnavailable";
        case ErrorKind::MonitorUnavailable:
            return "org.corral1.Error.MonitorUnavailable";
        case ErrorKind::Timeout:
            return "org.corral1.Error.Timeout";
        case ErrorKind::Failed:
            break;
    }
    return "org.corral1.Error.Failed";
}

OpError toOpError(const corral::Error& error, Channel channel) {
    switch (error.kind) {
        case Errc::Timeout:
            return {ErrorKind::Timeout, error.message};
        case Errc::InvalidArgument:
        case Errc::DeviceExists:
        case Errc::NoSuchDevice:
        case Errc::OpenFailed:
            return {ErrorKind::InvalidArgument, error.message};
        case Errc::Connect:
        case Errc::Disconnected:
            if (channel == Channel::Agent)
                return {ErrorKind::AgentUnavailable,
                        error.message + " (is negotiator-guest running in the guest?)"};
            if (error.kind == Errc::Connect)
                return {ErrorKind::Failed, "cannot connect to qemu's monitor: " + error.message};
            return {ErrorKind::Failed,
                    "qemu's monitor closed during the call (did qemu exit?): " + error.message};
        default:
            return {ErrorKind::Failed, error.message};
    }
}

}  // namespace corral::supervisor
