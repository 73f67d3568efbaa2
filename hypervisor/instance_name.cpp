#include "hypervisor/instance_name.hpp"

#include <cctype>

namespace corral::hypervisor {
namespace {

std::string describe(char c) {
    if (c > ' ' && c < 0x7f) return "'" + std::string(1, c) + "'";
    const char* hex = "0123456789abcdef";
    auto byte = static_cast<unsigned char>(c);
    return std::string("byte 0x") + hex[byte >> 4] + hex[byte & 0xf];
}

bool isAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::optional<std::string> checkInstanceName(std::string_view name) {
    if (name.empty()) return "an instance name must not be empty";
    if (name.size() > 63) {
        return "instance name is " + std::to_string(name.size()) +
               " characters long; at most 63 are allowed";
    }
    if (!isAlnum(name.front())) {
        return "instance name must start with a letter or digit, not " + describe(name.front());
    }
    for (char c : name) {
        if (!isAlnum(c) && c != '_' && c != '.' && c != '-') {
            return "instance name may contain only letters, digits, '_', '.' and '-'; "
                   "found " +
                   describe(c);
        }
    }
    return std::nullopt;
}

std::optional<std::string> checkDeviceId(std::string_view id) {
    auto valid = !id.empty() && id.size() <= 32 && std::isalpha(static_cast<unsigned char>(id[0]));
    for (char c : id) {
        valid = valid && (isAlnum(c) || c == '_' || c == '-');
    }
    if (!valid) {
        return "a device id is a letter followed by up to 31 letters, digits, '_' or '-', not " +
               quoteForMessage(id);
    }
    if (id.substr(0, 6) == "corral") {
        return "device ids starting with \"corral\" are reserved for corral's own devices";
    }
    return std::nullopt;
}

std::optional<std::string> checkInterfaceName(std::string_view name) {
    // The kernel's isspace() also counts 0xa0 (Latin-1 no-break space) as space.
    auto bad = [](char c) {
        return c == '/' || c == ':' || c == '\0' || c == ' ' || (c >= '\t' && c <= '\r') ||
               static_cast<unsigned char>(c) == 0xa0;
    };
    bool valid = !name.empty() && name.size() <= 15 && name != "." && name != "..";
    for (char c : name) valid = valid && !bad(c);
    if (!valid) {
        return "an interface name is 1 to 15 bytes without '/', ':', whitespace or NUL, and not "
               "\".\" or \"..\"; got " +
               quoteForMessage(name);
    }
    return std::nullopt;
}

std::string quoteForMessage(std::string_view text) {
    constexpr std::size_t kShown = 64;
    const char* hex = "0123456789abcdef";
    std::string out = "\"";
    for (char c : text.substr(0, kShown)) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte >= 0x20 && byte < 0x7f) {
            out += c;
        } else {
            out += std::string("\\x") + hex[byte >> 4] + hex[byte & 0xf];
        }
    }
    out += '"';
    if (text.size() > kShown) out += "... (" + std::to_string(text.size()) + " bytes)";
    return out;
}

}  // namespace corral::hypervisor
