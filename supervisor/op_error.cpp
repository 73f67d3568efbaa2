#include "supervisor/op_error.hpp"

namespace corral::supervisor {

using corral::Errc;

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
            if (channel == Channel::QemuGa)
                return {ErrorKind::AgentUnavailable,
                        error.message + " (is qemu-guest-agent running in the guest?)"};
            if (error.kind == Errc::Connect)
                return {ErrorKind::Failed, "cannot connect to qemu's monitor: " + error.message};
            return {ErrorKind::Failed,
                    "qemu's monitor closed during the call (did qemu exit?): " + error.message};
        case Errc::NotSupported:
            return {ErrorKind::NotSupported, error.message};
        default:
            return {ErrorKind::Failed, error.message};
    }
}

}  // namespace corral::supervisor
