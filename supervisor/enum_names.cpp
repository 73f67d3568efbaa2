// toString() of the supervisor enums, all read from enum_names.hpp. Every value is in its table
// (tests/unit/supervisor/enum_names_test.cpp), so the returned text is never empty.
#include "supervisor/enum_names.hpp"

namespace corral::supervisor {

namespace {

// The table's literal, which is NUL-terminated; "" rather than a null pointer for a value the
// tests would have caught missing.
const char* text(std::string_view name) {
    return name.empty() ? "" : name.data();
}

}  // namespace

const char* toString(State state) {
    return text(kStateNames.toString(state));
}

const char* toString(MonitorState state) {
    return text(kMonitorStateNames.toString(state));
}

const char* toString(VmCommand command) {
    return text(kVmCommandNames.toString(command));
}

const char* dbusErrorName(ErrorKind kind) {
    return text(kErrorNames.toString(kind));
}

}  // namespace corral::supervisor
