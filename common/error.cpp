#include "common/error.hpp"

#include <stdexcept>

#include "common/string_table.hpp"

namespace corral {

namespace {

constexpr auto kErrcNames = makeStringTable<Errc>({
    {Errc::Connect, "Connect"},
    {Errc::Disconnected, "Disconnected"},
    {Errc::Timeout, "Timeout"},
    {Errc::Protocol, "Protocol"},
    {Errc::Remote, "Remote"},
    {Errc::InvalidArgument, "InvalidArgument"},
    {Errc::DeviceExists, "DeviceExists"},
    {Errc::NoSuchDevice, "NoSuchDevice"},
    {Errc::NoFreeSlot, "NoFreeSlot"},
    {Errc::OpenFailed, "OpenFailed"},
    {Errc::UnplugFailed, "UnplugFailed"},
    {Errc::NotSupported, "NotSupported"},
});

std::string sentence(std::string_view where, std::string_view kind, std::string_view detail) {
    std::string message;
    message.reserve(where.size() + kind.size() + detail.size() + 4);
    message.append(where).append(": ").append(kind).append(": ").append(detail);
    return message;
}

}  // namespace

std::string_view toString(Errc kind) {
    return kErrcNames.toString(kind);
}

Error makeError(Errc kind, std::string_view where, std::string_view detail) {
    return Error{kind, sentence(where, toString(kind), detail)};
}

Error makeRemoteError(std::string_view qmpClass, std::string_view where, std::string_view detail) {
    Error error{Errc::Remote, sentence(where, qmpClass, detail)};
    error.remoteClass = qmpClass;
    return error;
}

Error prefixed(Error error, std::string_view context) {
    error.message.insert(0, std::string(context) + ": ");
    return error;
}

void throw_exception_from_error(Error const& error, boost::source_location const&) {
    throw std::runtime_error(error.message);
}

}  // namespace corral
