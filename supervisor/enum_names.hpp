// The one spelling of each supervisor enum, as a table (a value is a row, not a case): the D-Bus
// values of State and MonitorState, the QMP command of each VmCommand and the D-Bus error name of
// each ErrorKind. toString() and dbusErrorName() read them in corrald; corralctl parses what the
// bus gives back with the same tables, so a spelling exists once.
#pragma once

#include <optional>
#include <string_view>

#include "common/string_table.hpp"
#include "supervisor/instance.hpp"
#include "supervisor/op_error.hpp"
#include "supervisor/vm_control.hpp"

namespace corral::supervisor {

inline constexpr auto kStateNames = makeStringTable<State>({
    {State::Stopped, "stopped"},
    {State::Starting, "starting"},
    {State::Running, "running"},
    {State::Paused, "paused"},
    {State::ShuttingDown, "shutting-down"},
    {State::Crashed, "crashed"},
    {State::Invalid, "invalid"},
});

inline constexpr auto kMonitorStateNames = makeStringTable<MonitorState>({
    {MonitorState::None, "none"},
    {MonitorState::Connected, "connected"},
    {MonitorState::Unresponsive, "unresponsive"},
    {MonitorState::Disconnected, "disconnected"},
});

inline constexpr auto kVmCommandNames = makeStringTable<VmCommand>({
    {VmCommand::Powerdown, "system_powerdown"},
    {VmCommand::Quit, "quit"},
    {VmCommand::Reset, "system_reset"},
    {VmCommand::Stop, "stop"},
    {VmCommand::Cont, "cont"},
});

inline constexpr auto kErrorNames = makeStringTable<ErrorKind>({
    {ErrorKind::Busy, "org.corral1.Error.Busy"},
    {ErrorKind::InvalidState, "org.corral1.Error.InvalidState"},
    {ErrorKind::InvalidArgument, "org.corral1.Error.InvalidArgument"},
    {ErrorKind::NoSuchInstance, "org.corral1.Error.NoSuchInstance"},
    {ErrorKind::InvalidDefinition, "org.corral1.Error.InvalidDefinition"},
    {ErrorKind::AgentUnavailable, "org.corral1.Error.AgentUnavailable"},
    {ErrorKind::MonitorUnavailable, "org.corral1.Error.MonitorUnavailable"},
    {ErrorKind::Timeout, "org.corral1.Error.Timeout"},
    {ErrorKind::Failed, "org.corral1.Error.Failed"},
    {ErrorKind::Exists, "org.corral1.Error.Exists"},
    {ErrorKind::PermissionDenied, "org.corral1.Error.PermissionDenied"},
    {ErrorKind::NotSupported, "org.corral1.Error.NotSupported"},
});

// "running" -> State::Running; nullopt for anything else.
inline std::optional<State> parseState(std::string_view text) {
    return kStateNames.fromString(text);
}

// "org.corral1.Error.Busy" -> ErrorKind::Busy; nullopt for names that are not corral's.
inline std::optional<ErrorKind> parseErrorName(std::string_view name) {
    return kErrorNames.fromString(name);
}

}  // namespace corral::supervisor
