// A VM's UUID: QEMU's -uuid (the guest's SMBIOS system UUID), machined's machine id and the
// Instance's Uuid property. Given in [machine] uuid, or derived from the instance name.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corral::hypervisor {

using UuidBytes = std::array<std::uint8_t, 16>;

// The bytes of a canonical UUID ("8-4-4-4-12" hex digits, either case); nullopt otherwise.
std::optional<UuidBytes> parseUuid(std::string_view text);

// Lower-case canonical form.
std::string formatUuid(const UuidBytes& bytes);

// The UUID a VM gets without [machine] uuid: version 5 (RFC 4122, SHA-1, name-based) of the
// instance name in corral's namespace 2430af46-a0e4-48af-86b5-d6c00f20cbe7. It depends on the
// name only, so it is the same after a restart, on another host and after a migration.
std::string derivedUuid(std::string_view instanceName);

// RFC 4122 version 5 of `name` in `nameSpace`.
UuidBytes uuidV5(const UuidBytes& nameSpace, std::string_view name);

}  // namespace corral::hypervisor
