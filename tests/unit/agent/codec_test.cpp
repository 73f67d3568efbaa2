// Framing: byte strings in, events out, including every malformed length the protocol allows.
#include <gtest/gtest.h>

#include "agent/codec.hpp"

namespace corral::agent {
namespace {

using Kind = FrameDecoder::Event::Kind;

TEST(FrameCodec, EncodesLengthNewlineBodyWithoutTrailingNewline) {
    EXPECT_EQ(encodeFrame(R"({"a": 1})"), "8\n{\"a\": 1}");
    EXPECT_EQ(encodeFrame(""), "0\n");
}

TEST(FrameDecoder, DecodesOneMessage) {
    FrameDecoder d;
    d.feed("7\n{\"a\":1}");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Message);
    EXPECT_EQ(e->body, "{\"a\":1}");
    EXPECT_FALSE(d.next());
}

TEST(FrameDecoder, WaitsForSplitInputByteByByte) {
    FrameDecoder d;
    std::string wire = encodeFrame("{\"method\":\"list_commands\"}") + encodeFrame("{}");
    std::vector<std::string> bodies;
    for (char c : wire) {
        d.feed(std::string_view(&c, 1));
        while (auto e = d.next()) bodies.push_back(e->body);
    }
    ASSERT_EQ(bodies.size(), 2u);
    EXPECT_EQ(bodies[0], "{\"method\":\"list_commands\"}");
    EXPECT_EQ(bodies[1], "{}");
}

TEST(FrameDecoder, AcceptsWhitespaceAroundTheLengthLikePython) {
    FrameDecoder d;
    d.feed(" 2\r\n{}");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Message);
    EXPECT_EQ(e->body, "{}");
}

TEST(FrameDecoder, OversizedLengthIsSkippedAndStreamStaysInSync) {
    FrameDecoder d(10);
    d.feed("11\n{\"x\":");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Oversized);
    EXPECT_NE(e->error.find("11 bytes exceeds the limit of 10"), std::string::npos);
    EXPECT_FALSE(d.next());
    d.feed("\"abc\"}2\n{}");  // the rest of the oversized body, then a good message
    e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Message);
    EXPECT_EQ(e->body, "{}");
}

TEST(FrameDecoder, HugeLengthDoesNotAllocate) {
    FrameDecoder d;
    d.feed("99999999999999999\n");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Oversized);
    d.feed(std::string(1 << 20, 'x'));
    EXPECT_FALSE(d.next());
    EXPECT_TRUE(d.midMessage());
}

TEST(FrameDecoder, LengthLineLongerThanTwentyDigitsIsBrokenWithoutWaitingForNewline) {
    FrameDecoder d;
    d.feed(std::string(40, '1'));
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Broken);
    EXPECT_NE(e->error.find("20 digits"), std::string::npos);
    d.feed("2\n{}");
    EXPECT_FALSE(d.next()) << "a broken stream yields nothing until reset";
    d.reset();
    d.feed("2\n{}");
    ASSERT_TRUE(d.next());
}

TEST(FrameDecoder, TwentyOneDigitsWithNewlineIsBroken) {
    FrameDecoder d;
    d.feed("000000000000000000002\n{}");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Broken);
}

TEST(FrameDecoder, LengthOverflowingSizeTIsBroken) {
    FrameDecoder d;
    d.feed("99999999999999999999\n");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Broken);
}

TEST(FrameDecoder, NonNumericLengthIsBroken) {
    for (std::string bad : {"abc\n", "-5\n", "+5\n", "1 2\n", "\n", "0x10\n", "{\"method\":1}\n"}) {
        FrameDecoder d;
        d.feed(bad);
        auto e = d.next();
        ASSERT_TRUE(e) << bad;
        EXPECT_EQ(e->kind, Kind::Broken) << bad;
        EXPECT_NE(e->error.find("invalid length line"), std::string::npos);
    }
}

TEST(FrameDecoder, ResyncParsesTheBytesAfterABadLengthLine) {
    FrameDecoder d;
    d.feed("garbage\n2\n{}");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Broken);
    EXPECT_FALSE(d.next());
    d.resync();
    e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Message);
    EXPECT_EQ(e->body, "{}");
}

TEST(FrameDecoder, ResyncGivesUpAnOversizedBody) {
    FrameDecoder d(10);
    d.feed("99999\n2\n{}");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Oversized);
    d.resync();
    e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::Message);
    EXPECT_EQ(e->body, "{}");
}

TEST(FrameDecoder, ResetDropsAPartialMessage) {
    FrameDecoder d;
    d.feed("10\n{\"a\"");
    EXPECT_FALSE(d.next());
    EXPECT_TRUE(d.midMessage());
    d.reset();
    EXPECT_FALSE(d.midMessage());
    d.feed("2\n{}");
    auto e = d.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->body, "{}");
}

}  // namespace
}  // namespace corral::agent
