// Errors of the QMP layer: the shared error model (common/error.hpp). A QMP error reply is kind
// Remote with its class in remoteClass; the sentence names the command.
#pragma once

#include "common/error.hpp"

namespace corral::monitor {

using corral::Errc;
using corral::Error;
using corral::makeError;
using corral::makeRemoteError;
using corral::Result;

}  // namespace corral::monitor
