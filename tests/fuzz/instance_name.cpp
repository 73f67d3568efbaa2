// Fuzzes the name checks that guard every boundary (D-Bus, CLI, file names, QEMU ids) against an
// independent reading of their rules: instance names [A-Za-z0-9][A-Za-z0-9_.-]{0,62}, device ids
// [A-Za-z][A-Za-z0-9_-]{0,31} minus the reserved "corral" prefix. A refused instance name is
// sent back as a D-Bus error message, which sd-bus only accepts as valid UTF-8, so the message
// must be plain text whatever the bytes were.
#include "hypervisor/instance_name.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool isAlnum(char c) {
    return isAlpha(c) || (c >= '0' && c <= '9');
}

bool referenceAccepts(std::string_view name) {
    if (name.empty() || name.size() > 63 || !isAlnum(name.front())) return false;
    for (char c : name) {
        if (!isAlnum(c) && c != '_' && c != '.' && c != '-') return false;
    }
    return true;
}

bool referenceAcceptsDeviceId(std::string_view id) {
    if (id.empty() || id.size() > 32 || !isAlpha(id.front()) || id.starts_with("corral")) {
        return false;
    }
    for (char c : id) {
        if (!isAlnum(c) && c != '_' && c != '-') return false;
    }
    return true;
}

bool isPrintableAscii(std::string_view text) {
    for (char c : text) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view name(reinterpret_cast<const char*>(data), size);
    auto problem = corral::hypervisor::checkInstanceName(name);
    FUZZ_CHECK(problem.has_value() != referenceAccepts(name));
    if (problem) {
        FUZZ_CHECK(!problem->empty());
        FUZZ_CHECK(isPrintableAscii(*problem));
    }
    auto idProblem = corral::hypervisor::checkDeviceId(name);
    FUZZ_CHECK(idProblem.has_value() != referenceAcceptsDeviceId(name));
    if (idProblem) {
        FUZZ_CHECK(!idProblem->empty());
        FUZZ_CHECK(isPrintableAscii(*idProblem));
    }
    return 0;
}
