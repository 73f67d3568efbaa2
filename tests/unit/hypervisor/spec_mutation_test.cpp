// Bad input never crashes the loader: thousands of byte-level mutations of the documented
// example either load or produce diagnostics, and diagnostics always carry a position.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {
namespace {

TEST(SpecLoaderRobustness, MutatedExampleNeverCrashes) {
    std::ifstream in(CORRAL_SOURCE_DIR "/etc/instances/example.toml");
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string original = buffer.str();
    ASSERT_FALSE(original.empty());
    std::mt19937 random(20261122);
    const std::string alphabet = "[]=\"'#.,{}\n 0123456789abcxyzGMs-_:\\\x80\xff";
    for (int round = 0; round < 3000; ++round) {
        std::string text = original;
        int edits = 1 + static_cast<int>(random() % 4);
        for (int e = 0; e < edits; ++e) {
            std::size_t at = random() % text.size();
            switch (random() % 3) {
                case 0:
                    text[at] = alphabet[random() % alphabet.size()];
                    break;
                case 1:
                    text.erase(at, 1 + random() % 8);
                    break;
                default:
                    text.insert(at, 1, alphabet[random() % alphabet.size()]);
                    break;
            }
        }
        auto result = parseInstanceSpec(text, "fuzz.toml");
        EXPECT_EQ(result.ok(), result.diagnostics.empty());
        for (const auto& d : result.diagnostics) {
            ASSERT_GE(d.line, 1) << d.format();
            ASSERT_GE(d.column, 1) << d.format();
        }
    }
}

}  // namespace
}  // namespace corral::hypervisor
