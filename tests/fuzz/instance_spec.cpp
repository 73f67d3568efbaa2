// Fuzzes the TOML instance loader with arbitrary file contents, plus the size and duration
// parsers it uses. A bad file must give diagnostics that name the file and a position, never a
// crash, and a file that loads must carry a valid instance name.
#include "hypervisor/instance_spec.hpp"
#include "hypervisor/instance_name.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

// A directory that does not exist, so disk-path checks never find a file.
const std::filesystem::path kFile = "/nonexistent/corral-fuzz/fuzz1.toml";

void checkValues(std::string_view text) {
    auto size = corral::hypervisor::parseSize(text);
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
        // Plain digits are bytes: parsed exactly, refused only when they overflow.
        std::uint64_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        FUZZ_CHECK(size.has_value() == (ec == std::errc()));
        if (size) FUZZ_CHECK(*size == value);
    }
    auto duration = corral::hypervisor::parseDuration(text);
    if (duration) FUZZ_CHECK(duration->count() >= 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (size <= 32) checkValues(text);

    auto result = corral::hypervisor::parseInstanceSpec(text, kFile);
    FUZZ_CHECK(result.ok() == result.diagnostics.empty());
    for (const auto& diagnostic : result.diagnostics) {
        FUZZ_CHECK(diagnostic.file == kFile.string());
        FUZZ_CHECK(diagnostic.line >= 1 && diagnostic.column >= 1);
        FUZZ_CHECK(!diagnostic.message.empty());
    }
    if (result.ok()) {
        const auto& spec = *result.spec;
        FUZZ_CHECK(!corral::hypervisor::checkInstanceName(spec.name).has_value());
        FUZZ_CHECK(spec.machine.cpus >= 1);
        FUZZ_CHECK(spec.machine.memoryBytes > 0);
        // Every option of every device is filled in: given, defaulted or derived (a NIC's MAC).
        for (const auto& device : spec.devices) {
            for (const auto& option : device.kind->options)
                FUZZ_CHECK(device.options.count(option.key) || !option.fallback);
            if (device.kind->name == "nic") FUZZ_CHECK(!device.text("mac").empty());
        }
    }
    return 0;
}
