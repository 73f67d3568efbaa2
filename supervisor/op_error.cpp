#include "supervisor/op_error.hpp"

namespace corral::supervisor {

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

}  // namespace corral::supervisor
