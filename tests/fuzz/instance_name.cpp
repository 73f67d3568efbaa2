// Fuzzes the instance-name check that guards every boundary (D-Bus, CLI, file names) against an
// independent reading of the rule [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. The refusal is sent back
// as a D-Bus error message, which sd-bus only accepts as valid UTF-8, so it must be plain text.
#include "hypervisor/instance_name.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

bool isAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool referenceAccepts(std::string_view name) {
    if (name.empty() || name.size() > 63 || !isAlnum(name.front())) return false;
    for (char c : name) {
        if (!isAlnum(c) && c != '_' && c != '.' && c != '-') return false;
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
    return 0;
}
