// Fuzzes the validators of AttachDisk, AttachNic and AttachDevice arguments against an independent
// reading of their rules. Input: the device id on the first line, the disk path on the second, then
// one option per line as "key<TAB>signature<TAB>value" (value "1" is true for a "b"). Every input
// is given to both validators. A refusal goes back to the caller as a D-Bus error message,
// which sd-bus only sends if it is valid UTF-8, so it must be plain printable text.
#include "supervisor/dbus_args.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

using corral::supervisor::ErrorKind;
using corral::supervisor::OptionDict;
using corral::supervisor::OptionEntry;

struct Input {
    std::string id;
    std::string path;
    OptionDict options;
};

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    while (true) {
        auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + 1);
    }
}

Input parse(std::string_view bytes) {
    auto lines = split(bytes, '\n');
    Input input{std::string(lines[0]), lines.size() > 1 ? std::string(lines[1]) : "", {}};
    for (std::size_t i = 2; i < lines.size(); ++i) {
        auto fields = split(lines[i], '\t');
        OptionEntry entry;
        entry.key = fields[0];
        if (fields.size() > 1) entry.type = fields[1];
        std::string value = fields.size() > 2 ? std::string(fields[2]) : "";
        if (entry.type == "s") entry.text = value;
        if (entry.type == "b") entry.flag = value == "1";
        input.options.push_back(std::move(entry));
    }
    return input;
}

bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool isHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool referenceDeviceId(std::string_view id) {
    if (id.empty() || id.size() > 32 || !isAlpha(id[0]) || id.starts_with("corral")) return false;
    for (char c : id) {
        if (!isAlpha(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-') return false;
    }
    return true;
}

bool referenceDiskPath(std::string_view path) {
    if (path.empty() || path[0] != '/' || path.size() > 4095) return false;
    if (path.find('\0') != std::string_view::npos) return false;
    for (auto part : split(path, '/')) {
        if (part == "..") return false;
    }
    return true;
}

bool referenceInterfaceName(std::string_view name) {
    if (name.empty() || name.size() >= 16 || name == "." || name == "..") return false;
    for (char c : name) {
        if (std::string_view("/: \t\n\v\f\r\xa0\0", 10).find(c) != std::string_view::npos) {
            return false;
        }
    }
    return true;
}

bool referenceMac(std::string_view mac) {
    if (mac.size() != 17) return false;
    for (std::size_t i = 0; i < mac.size(); ++i) {
        if (i % 3 == 2 ? mac[i] != ':' : !isHex(mac[i])) return false;
    }
    auto second = mac[1] | 0x20;  // lower case; the digits 0-9 are unchanged
    int low = second <= '9' ? second - '0' : second - 'a' + 10;
    return low % 2 == 0;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// At most kMaxOptionEntries (24) entries, every key once, known, and of its type.
bool referenceKeys(const OptionDict& options, const std::set<std::string>& strings,
                   const std::set<std::string>& booleans) {
    if (options.size() > corral::supervisor::kMaxOptionEntries) return false;
    std::set<std::string> seen;
    for (const auto& entry : options) {
        if (!seen.insert(entry.key).second) return false;
        if (!(entry.type == "s" && strings.count(entry.key)) &&
            !(entry.type == "b" && booleans.count(entry.key))) {
            return false;
        }
    }
    return true;
}

const OptionEntry* find(const OptionDict& options, const std::string& key) {
    for (const auto& entry : options) {
        if (entry.key == key) return &entry;
    }
    return nullptr;
}

bool isPrintableAscii(std::string_view text) {
    for (char c : text) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

// Printable ASCII is also valid UTF-8, which is what sd-bus needs.
void checkRefusal(const corral::supervisor::OpError& error) {
    FUZZ_CHECK(error.kind == ErrorKind::InvalidArgument);
    FUZZ_CHECK(!error.message.empty());
    FUZZ_CHECK(isPrintableAscii(error.message));
}

void checkDisk(const Input& in) {
    auto result = corral::supervisor::validateAttachDisk(in.id, in.path, in.options);
    auto* format = find(in.options, "format");
    bool expected = referenceDeviceId(in.id) && referenceDiskPath(in.path) &&
                    referenceKeys(in.options, {"format"}, {"readonly"}) &&
                    (!format || format->text == "raw" || format->text == "qcow2");
    FUZZ_CHECK(result.ok() == expected);
    auto again = corral::supervisor::validateAttachDisk(in.id, in.path, in.options);
    FUZZ_CHECK(again.ok() == result.ok());
    if (!result) {
        checkRefusal(result.error());
        FUZZ_CHECK(again.error().message == result.error().message);
        return;
    }
    const auto& disk = result.value();
    auto* readonly = find(in.options, "readonly");
    bool qcow2Name = std::filesystem::path(in.path).extension() == ".qcow2";
    FUZZ_CHECK(disk.id == in.id && disk.text("path") == in.path);
    FUZZ_CHECK(disk.flag("readonly") == (readonly && readonly->flag));
    FUZZ_CHECK(disk.text("format") == (format ? format->text : qcow2Name ? "qcow2" : "raw"));
    FUZZ_CHECK(disk.text("cache") == "writeback");
    FUZZ_CHECK(again.value().flag("readonly") == disk.flag("readonly"));
}

void checkNic(const Input& in) {
    auto result = corral::supervisor::validateAttachNic(in.id, in.options);
    auto* mode = find(in.options, "mode");
    auto* bridge = find(in.options, "bridge");
    auto* mac = find(in.options, "mac");
    std::string modeText = mode ? mode->text : "user";
    bool keys = referenceKeys(in.options, {"mode", "bridge", "mac"}, {});
    bool expected = referenceDeviceId(in.id) && keys &&
                    (modeText == "user" || modeText == "tap" || modeText == "bridge") &&
                    (modeText == "bridge") == (bridge != nullptr) &&
                    (!bridge || referenceInterfaceName(bridge->text)) &&
                    (!mac || referenceMac(mac->text));
    FUZZ_CHECK(result.ok() == expected);
    auto again = corral::supervisor::validateAttachNic(in.id, in.options);
    FUZZ_CHECK(again.ok() == result.ok());
    if (!result) {
        checkRefusal(result.error());
        FUZZ_CHECK(again.error().message == result.error().message);
        return;
    }
    const auto& nic = result.value();
    FUZZ_CHECK(nic.text("mode") == modeText);
    FUZZ_CHECK(nic.text("bridge") == (bridge ? bridge->text : ""));
    FUZZ_CHECK(nic.text("mac") == (mac ? lower(mac->text) : ""));
    FUZZ_CHECK(again.value().text("mac") == nic.text("mac") &&
               again.value().text("bridge") == nic.text("bridge"));
}

// AttachDevice("nic", ...) takes exactly what AttachNic takes; the second line read as a kind
// is refused unless the kind table has a row of that name.
void checkDevice(const Input& in) {
    auto nic = corral::supervisor::validateAttachDevice("nic", in.id, in.options);
    FUZZ_CHECK(nic.ok() == corral::supervisor::validateAttachNic(in.id, in.options).ok());
    if (!nic) checkRefusal(nic.error());
    auto other = corral::supervisor::validateAttachDevice(in.path, in.id, in.options);
    if (!corral::hypervisor::findKind(in.path)) FUZZ_CHECK(!other);
    if (!other) checkRefusal(other.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto input = parse(std::string_view(reinterpret_cast<const char*>(data), size));
    checkDisk(input);
    checkNic(input);
    checkDevice(input);
    return 0;
}
