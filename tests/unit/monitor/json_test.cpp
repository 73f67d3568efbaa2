#include "monitor/json.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace corral::monitor {
namespace {

TEST(JsonBuilder, BuildsNestedObjectsAndArrays) {
    Json doc = JsonObject()
                   .set("driver", "virtio-blk-pci")
                   .set("addr", std::string("0x5"))
                   .set("readonly", true)
                   .set("n", 3)
                   .set("big", std::uint64_t{1} << 40)
                   .set("ratio", 0.5)
                   .set("opts", JsonObject().set("x", -1))
                   .set("list", JsonArray().add("a").add(2).add(JsonObject().set("k", "v")))
                   .take();
    EXPECT_EQ(toJsonString(doc),
              R"({"driver":"virtio-blk-pci","addr":"0x5","readonly":true,"n":3,)"
              R"("big":1099511627776,"ratio":0.5,"opts":{"x":-1},"list":["a",2,{"k":"v"}]})");
}

TEST(JsonBuilder, SetReplacesExistingKey) {
    Json doc = JsonObject().set("a", 1).set("a", "two").take();
    EXPECT_EQ(toJsonString(doc), R"({"a":"two"})");
}

TEST(JsonBuilder, CopiesForeignValues) {
    Json source = JsonObject().set("inner", JsonArray().add(1)).take();
    Json doc = JsonObject().set("copy", source["inner"]).take();
    source.SetNull();
    EXPECT_EQ(toJsonString(doc), R"({"copy":[1]})");
}

TEST(Json, ParseReportsOffset) {
    auto bad = parseJson("{\"a\": }");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, corral::Errc::Protocol);
    EXPECT_NE(bad.error().message.find("offset 6"), std::string::npos);
    auto good = parseJson("[1,2]");
    ASSERT_TRUE(good);
    EXPECT_EQ(copyJson(*good).Size(), 2u);
}

TEST(Json, RefusesDeepNestingWithoutRecursing) {
    auto deep = parseJson(std::string(200 * 1024, '['));
    ASSERT_FALSE(deep);
    EXPECT_NE(deep.error().message.find("nested deeper than"), std::string::npos);
    std::string limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
    EXPECT_TRUE(parseJson(limit));
    EXPECT_FALSE(parseJson("[" + limit + "]"));
    // Brackets inside strings do not count, escaped quotes do not end the string.
    EXPECT_TRUE(parseJson(R"({"a": "[[[[\"[[[[", "b": [1]})"));
}

TEST(Error, ValueThrowsWithMessage) {
    Result<int> failed = makeRemoteError("DeviceNotFound", "device_del", "Device 'x' not found");
    EXPECT_EQ(failed.error().message, "device_del: DeviceNotFound: Device 'x' not found");
    EXPECT_THROW((void)failed.value(), std::runtime_error);
}

}  // namespace
}  // namespace corral::monitor
