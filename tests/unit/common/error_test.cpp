#include "common/error.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace corral {
namespace {

TEST(Error, MakeErrorNamesWhereKindAndDetail) {
    auto e = makeError(Errc::NoFreeSlot, "disk2", "all 8 hotplug slots are taken");
    EXPECT_EQ(e.kind, Errc::NoFreeSlot);
    EXPECT_EQ(e.message, "disk2: NoFreeSlot: all 8 hotplug slots are taken");
    EXPECT_TRUE(e.remoteClass.empty());
}

TEST(Error, RemoteErrorKeepsTheQmpClass) {
    auto e = makeRemoteError("DeviceNotFound", "device_del", "Device 'x' not found");
    EXPECT_EQ(e.kind, Errc::Remote);
    EXPECT_EQ(e.remoteClass, "DeviceNotFound");
    EXPECT_EQ(e.message, "device_del: DeviceNotFound: Device 'x' not found");
}

TEST(Error, PrefixedKeepsKindAndClass) {
    auto e = prefixed(makeRemoteError("GenericError", "cont", "no"), "vm1");
    EXPECT_EQ(e.kind, Errc::Remote);
    EXPECT_EQ(e.remoteClass, "GenericError");
    EXPECT_EQ(e.message, "vm1: cont: GenericError: no");
}

TEST(Error, EveryKindHasAName) {
    for (auto kind : {Errc::Connect, Errc::Disconnected, Errc::Timeout, Errc::Protocol,
                      Errc::Remote, Errc::InvalidArgument, Errc::DeviceExists, Errc::NoSuchDevice,
                      Errc::NoFreeSlot, Errc::OpenFailed, Errc::UnplugFailed, Errc::NotSupported})
        EXPECT_FALSE(toString(kind).empty()) << static_cast<int>(kind);
}

TEST(Error, ResultValueThrowsWithTheSentence) {
    Result<int> failed = makeError(Errc::Timeout, "query-status", "no reply within 1 s");
    EXPECT_THROW((void)failed.value(), std::runtime_error);
}

}  // namespace
}  // namespace corral
