// One QMP line at a time, without state: what a line from QEMU says (greeting, event or answer)
// and the execute line we send. Routing, ids and deadlines are QmpSession's.
#pragma once

#include "monitor/error.hpp"
#include "monitor/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corral::monitor {

struct QmpEvent {
    std::string name;  // "STOP", "DEVICE_DELETED", ...
    Json data;         // the event's "data" object, or null when it has none
    std::int64_t seconds = 0;
    std::int64_t micros = 0;
};

struct QmpGreeting {
    int major = 0;
    int minor = 0;
    int micro = 0;
    std::vector<std::string> capabilities;  // offered by the server ("oob", ...)
};

// A "return" or "error" line. QEMU echoes the id we sent; any other id is the peer's mistake.
struct QmpAnswer {
    std::optional<std::uint64_t> id;  // set when the id is an unsigned integer
    std::string idText;               // the id as JSON text, for notes about unknown ids
    bool ok = true;
    Json value;               // the "return" value when ok
    std::string errorClass;   // else the error's "class" ("GenericError", ...)
    std::string description;  // and its "desc"
};

using QmpMessage = std::variant<QmpGreeting, QmpEvent, QmpAnswer>;

// Parses one line (without its line end). An error (kind Protocol) carries only the detail,
// e.g. "reply without id: {...}": the caller says where.
Result<QmpMessage> parseQmpLine(std::string_view line);

// {"execute": command, "arguments": args, "id": id} and "\r\n"; `args` null means none.
Result<std::string> executeLine(std::string_view command, const rapidjson::Value& args,
                                std::uint64_t id);

}  // namespace corral::monitor
