// The one mapping from the lower layers' errors to what D-Bus callers see.
#include "supervisor/op_error.hpp"

#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

TEST(OpErrorMapping, TimeoutStaysATimeoutOnBothChannels) {
    auto e = makeError(Errc::Timeout, "query-status", "no reply within 1 s");
    EXPECT_EQ(toOpError(e, Channel::Monitor).kind, ErrorKind::Timeout);
    EXPECT_EQ(toOpError(e, Channel::Agent).kind, ErrorKind::Timeout);
}

TEST(OpErrorMapping, RefusedArgumentsAreInvalidArgument) {
    for (auto kind :
         {Errc::InvalidArgument, Errc::DeviceExists, Errc::NoSuchDevice, Errc::OpenFailed}) {
        auto op = toOpError(makeError(kind, "disk1", "no"), Channel::Monitor);
        EXPECT_EQ(op.kind, ErrorKind::InvalidArgument) << toString(kind);
        EXPECT_EQ(op.message, "disk1: " + std::string(toString(kind)) + ": no");
    }
}

TEST(OpErrorMapping, UnreachableAgentIsAgentUnavailableWithAHint) {
    auto op = toOpError(makeError(Errc::Connect, "/run/x.sock", "refused"), Channel::Agent);
    EXPECT_EQ(op.kind, ErrorKind::AgentUnavailable);
    EXPECT_NE(op.message.find("negotiator-guest"), std::string::npos) << op.message;
}

TEST(OpErrorMapping, LostMonitorFailsAndSaysSo) {
    auto op = toOpError(makeError(Errc::Disconnected, "device_add", "EOF"), Channel::Monitor);
    EXPECT_EQ(op.kind, ErrorKind::Failed);
    EXPECT_NE(op.message.find("monitor closed"), std::string::npos) << op.message;
    auto remote = toOpError(makeRemoteError("GenericError", "cont", "no"), Channel::Monitor);
    EXPECT_EQ(remote.kind, ErrorKind::Failed);
    EXPECT_EQ(remote.message, "cont: GenericError: no");
}

}  // namespace
}  // namespace corral::supervisor
