// The string tables of the supervisor enums: every value has exactly one spelling, the spellings
// are the ones the D-Bus API and QMP document, and parsing gives back the value.
#include "supervisor/enum_names.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace corral::supervisor {
namespace {

// Each value once, each spelling once, and as many rows as the enum has values.
template <typename E, std::size_t N>
void expectComplete(const StringTable<E, N>& table, const std::vector<E>& values) {
    EXPECT_EQ(N, values.size());
    std::set<std::string_view> spellings;
    for (E value : values) {
        auto name = table.toString(value);
        EXPECT_FALSE(name.empty()) << static_cast<int>(value) << " has no spelling";
        EXPECT_TRUE(spellings.insert(name).second) << name << " is spelt twice";
        EXPECT_EQ(table.fromString(name), value) << name;
    }
}

TEST(EnumNames, StateTableIsCompleteAndSpeltAsTheApiSays) {
    expectComplete(kStateNames, {State::Stopped, State::Starting, State::Running, State::Paused,
                                 State::ShuttingDown, State::Crashed, State::Invalid});
    EXPECT_STREQ(toString(State::ShuttingDown), "shutting-down");
    EXPECT_STREQ(toString(State::Invalid), "invalid");
    EXPECT_EQ(parseState("running"), State::Running);
    EXPECT_EQ(parseState("Running"), std::nullopt);
}

TEST(EnumNames, MonitorStateTableIsComplete) {
    expectComplete(kMonitorStateNames, {MonitorState::None, MonitorState::Connected,
                                        MonitorState::Unresponsive, MonitorState::Disconnected});
    EXPECT_STREQ(toString(MonitorState::Disconnected), "disconnected");
}

TEST(EnumNames, VmCommandsAreQmpCommandNames) {
    expectComplete(kVmCommandNames, {VmCommand::Powerdown, VmCommand::Quit, VmCommand::Reset,
                                     VmCommand::Stop, VmCommand::Cont});
    EXPECT_STREQ(toString(VmCommand::Powerdown), "system_powerdown");
    EXPECT_STREQ(toString(VmCommand::Cont), "cont");
}

TEST(EnumNames, EveryErrorKindHasItsOwnCorralErrorName) {
    std::vector<ErrorKind> kinds = {ErrorKind::Busy,
                                    ErrorKind::InvalidState,
                                    ErrorKind::InvalidArgument,
                                    ErrorKind::NoSuchInstance,
                                    ErrorKind::InvalidDefinition,
                                    ErrorKind::AgentUnavailable,
                                    ErrorKind::MonitorUnavailable,
                                    ErrorKind::Timeout,
                                    ErrorKind::Failed,
                                    ErrorKind::Exists,
                                    ErrorKind::PermissionDenied,
                                    ErrorKind::NotSupported};
    expectComplete(kErrorNames, kinds);
    for (ErrorKind kind : kinds)
        EXPECT_EQ(std::string(dbusErrorName(kind)).rfind("org.corral1.Error.", 0), 0u);
    EXPECT_STREQ(dbusErrorName(ErrorKind::MonitorUnavailable),
                 "org.corral1.Error.MonitorUnavailable");
    EXPECT_EQ(parseErrorName("org.corral1.Error.Busy"), ErrorKind::Busy);
    EXPECT_EQ(parseErrorName("org.freedesktop.DBus.Error.ServiceUnknown"), std::nullopt);
}

}  // namespace
}  // namespace corral::supervisor
