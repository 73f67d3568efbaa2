// corral_run's wire form: base64 both ways, the request's checks and the reply's shape.
#include <gtest/gtest.h>

#include "agent/base64.hpp"
#include "agent/methods.hpp"

namespace corral::agent {
namespace {

TEST(Base64, RoundTripsEveryLengthAndByte) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
    for (std::size_t n = 0; n <= 7; ++n) {
        auto part = bytes.substr(250 - n, n);
        EXPECT_EQ(decodeBase64(encodeBase64(part)), part) << n;
    }
    EXPECT_EQ(decodeBase64(encodeBase64(bytes)), bytes);
    EXPECT_EQ(encodeBase64("foobar"), "Zm9vYmFy");
    EXPECT_EQ(encodeBase64("fo"), "Zm8=");
    EXPECT_EQ(encodeBase64("f"), "Zg==");
}

TEST(Base64, MalformedTextIsRefused) {
    for (const char* bad : {"Zm9", "Zm9v!mFy", "Z===", "Zm=v", "Zm9v\n", "=Zm9"})
        EXPECT_FALSE(decodeBase64(bad)) << bad;
}

TEST(RunMethod, RequestCarriesBytesAndRefusesWhatItDoesNotKnow) {
    auto call = makeRunCall({{"cat"}, std::string("a\0\xff", 3)});
    EXPECT_EQ(call.method, "corral_run");
    auto read = readRun(call);
    ASSERT_TRUE(std::holds_alternative<RunRequest>(read));
    EXPECT_EQ(std::get<RunRequest>(read).input, std::string("a\0\xff", 3));

    EXPECT_TRUE(std::holds_alternative<Reply>(readRun(Call{"corral_run", {}, {}})));
    Call unknown{"corral_run", {"cat"}, {{"capture", KwArg::json("true")}}};
    EXPECT_EQ(std::get<Reply>(readRun(unknown)).error, "corral_run(): unknown keyword 'capture'");
    Call notBase64{"corral_run", {"cat"}, {{"input_base64", "%%%%"}}};
    EXPECT_FALSE(std::get<Reply>(readRun(notBase64)).success);
}

TEST(RunMethod, ReplyRoundTripsAndMalformedOnesAreNamed) {
    auto reply = runReply({3, std::string("o\0", 2), "e"});
    std::string problem;
    auto outcome = readRunReply(reply.result, problem);
    ASSERT_TRUE(outcome) << problem;
    EXPECT_EQ(outcome->exitStatus, 3);
    EXPECT_EQ(outcome->out, std::string("o\0", 2));
    EXPECT_EQ(outcome->err, "e");
    for (const Value& bad : {Value(std::string("x")), Value(std::vector<std::string>{"0", ""}),
                             Value(std::vector<std::string>{"256", "", ""}),
                             Value(std::vector<std::string>{"1x", "", ""}),
                             Value(std::vector<std::string>{"0", "!", ""})}) {
        EXPECT_FALSE(readRunReply(bad, problem));
        EXPECT_FALSE(problem.empty());
    }
}

TEST(RunMethod, AnAgentWithoutItIsRecognisedByItsRefusal) {
    EXPECT_TRUE(lacksRunMethod("unknown method 'corral_run'"));
    EXPECT_TRUE(lacksRunMethod("'GuestAgent' object has no attribute 'corral_run'"));
    EXPECT_FALSE(lacksRunMethod("cannot execute 'corral_run': No such file or directory"));
    EXPECT_FALSE(lacksRunMethod("unknown method 'execute'"));
}

}  // namespace
}  // namespace corral::agent
