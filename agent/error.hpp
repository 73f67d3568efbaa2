// Errors of the negotiator host side: the shared error model (common/error.hpp), with a sentence
// that says what failed and where (socket path, method, command). A method that answered
// success=false is kind Remote; a request refused before being sent is InvalidArgument.
#pragma once

#include "common/error.hpp"

namespace corral::agent {

using corral::Errc;
using corral::Error;
using corral::Result;

}  // namespace corral::agent
