#include "agent/error.hpp"

#include <stdexcept>

namespace corral::agent {

void throw_exception_from_error(Error const& error, boost::source_location const&) {
    throw std::runtime_error(error.message);
}

}  // namespace corral::agent
