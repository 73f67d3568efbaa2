#include "monitor/error.hpp"

#include <stdexcept>

namespace corral::monitor {

Error makeError(std::string_view kind, std::string_view where, std::string_view detail) {
    std::string message;
    message.reserve(where.size() + kind.size() + detail.size() + 4);
    message.append(where).append(": ").append(kind).append(": ").append(detail);
    return Error{std::string(kind), std::move(message)};
}

void throw_exception_from_error(Error const& error, boost::source_location const&) {
    throw std::runtime_error(error.message);
}

}  // namespace corral::monitor
