// The VM UUID: parsing the canonical form, and the derived (version 5) UUID of a name.
#include <gtest/gtest.h>

#include "hypervisor/machine_uuid.hpp"

namespace corral::hypervisor {
namespace {

TEST(MachineUuid, ParsesOnlyTheCanonicalForm) {
    auto bytes = parseUuid("0A1B2C3D-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    ASSERT_TRUE(bytes);
    EXPECT_EQ((*bytes)[0], 0x0a);
    EXPECT_EQ((*bytes)[15], 0x4d);
    EXPECT_EQ(formatUuid(*bytes), "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    for (const char* bad :
         {"", "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d", "{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}",
          "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4", "0a1b2c3d-4e5f-4a6b-8c7d_9e0f1a2b3c4d",
          "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4x", "0a1b2c3d-4e5f4-a6b-8c7d-9e0f1a2b3c4d"})
        EXPECT_FALSE(parseUuid(bad)) << bad;
}

TEST(MachineUuid, VersionFiveMatchesRfc4122) {
    // uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") in Python's standard library.
    auto dns = *parseUuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    EXPECT_EQ(formatUuid(uuidV5(dns, "python.org")), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    // A name longer than one SHA-1 block.
    EXPECT_EQ(formatUuid(uuidV5(dns, std::string(100, 'a'))),
              "56596f37-716c-57a9-a735-2561f8608390");
}

TEST(MachineUuid, DerivedFromTheNameOnly) {
    EXPECT_EQ(derivedUuid("vm1"), "8985fc12-7bd3-5da3-be5d-31a56e0d4b9c");
    EXPECT_EQ(derivedUuid("vm1"), derivedUuid("vm1"));
    EXPECT_NE(derivedUuid("vm1"), derivedUuid("vm2"));
}

}  // namespace
}  // namespace corral::hypervisor
