// The methods as the original reads them and python-executor's capture rules for their result.
#include <gtest/gtest.h>

#include "agent/methods.hpp"

namespace corral::agent {
namespace {

TEST(CapturedOutput, OneLineLosesSurroundingWhitespace) {
    EXPECT_EQ(capturedOutput("hello\n"), "hello");
    EXPECT_EQ(capturedOutput("  padded  \n"), "padded");
    EXPECT_EQ(capturedOutput("\n\n  x\n\n"), "x");
    EXPECT_EQ(capturedOutput("x\r\n"), "x");
    EXPECT_EQ(capturedOutput("no-newline"), "no-newline");
    EXPECT_EQ(capturedOutput(""), "");
    EXPECT_EQ(capturedOutput(" \n\t\n"), "");
}

TEST(CapturedOutput, SeveralLinesStayAsTheyAre) {
    EXPECT_EQ(capturedOutput("a\nb\n\n"), "a\nb\n\n");
    EXPECT_EQ(capturedOutput("  a\n b  \n"), "  a\n b  \n");
    EXPECT_EQ(capturedOutput("args: \n\xC3\xA9"), "args: \n\xC3\xA9");
}

TEST(CapturedOutput, UnicodeWhitespaceCountsAsPythonSays) {
    // NBSP, U+2028, U+3000 and the ASCII separators U+001C..U+001F are whitespace to Python.
    EXPECT_EQ(capturedOutput("\xC2\xA0"
                             "caf\xC3\xA9\xC2\xA0\n"),
              "caf\xC3\xA9");
    EXPECT_EQ(capturedOutput("\xE2\x80\xA8x\x1F\n"), "x");
    EXPECT_EQ(capturedOutput("\xE3\x80\x80x"), "x");
    // U+200B (zero width space) is not; U+2028 inside is no newline either.
    EXPECT_EQ(capturedOutput("\xE2\x80\x8Bx"), "\xE2\x80\x8Bx");
    EXPECT_EQ(capturedOutput("a\xE2\x80\xA8"
                             "b\n"),
              "a\xE2\x80\xA8"
              "b");
}

TEST(Strip, RstripKeepsLeadingWhitespace) {
    EXPECT_EQ(rstripWhitespace("  a b \n\n\xC2\xA0"), "  a b");
    EXPECT_EQ(rstripWhitespace("a\nb\n"), "a\nb");
    EXPECT_EQ(stripWhitespace("\xE2\x80\x83 a \xE2\x80\x83"), "a");
    EXPECT_EQ(rstripWhitespace("\xC3\xA9"), "\xC3\xA9");
}

TEST(CommandName, IsTheBasename) {
    EXPECT_EQ(commandName("ls"), "ls");
    EXPECT_EQ(commandName("/x/y/pad"), "pad");
    EXPECT_EQ(commandName("../cmds/who"), "who");
    EXPECT_EQ(commandName("dir/"), "");
    EXPECT_EQ(commandName(".."), "..");
}

TEST(ReadExecute, IgnoresKeywordsTheOriginalIgnores) {
    Call call{"execute", {"greet", "a b"}, {{"capture", KwArg::json("true")}, {"foo", KwArg()}}};
    auto read = readExecute(call);
    auto* request = std::get_if<ExecuteRequest>(&read);
    ASSERT_TRUE(request);
    EXPECT_EQ(request->argv, (std::vector<std::string>{"greet", "a b"}));
    EXPECT_FALSE(request->input);
}

TEST(ReadExecute, TakesInputAsTextOrNull) {
    auto text = readExecute(Call{"execute", {"cat"}, {{"input", "x\n"}}});
    ASSERT_TRUE(std::holds_alternative<ExecuteRequest>(text));
    EXPECT_EQ(std::get<ExecuteRequest>(text).input, std::optional<std::string>("x\n"));
    auto null = readExecute(Call{"execute", {"cat"}, {{"input", KwArg()}}});
    ASSERT_TRUE(std::holds_alternative<ExecuteRequest>(null));
    EXPECT_FALSE(std::get<ExecuteRequest>(null).input);
}

TEST(ReadExecute, RefusesWhatTheOriginalCannotRun) {
    auto none = readExecute(Call{"execute", {}, {{"command", "pad"}}});
    ASSERT_TRUE(std::holds_alternative<Reply>(none));
    EXPECT_NE(std::get<Reply>(none).error.find("needs a command name"), std::string::npos);
    auto number = readExecute(Call{"execute", {"cat"}, {{"input", KwArg::json("5")}}});
    ASSERT_TRUE(std::holds_alternative<Reply>(number));
    EXPECT_NE(std::get<Reply>(number).error.find("input must be text"), std::string::npos);
}

TEST(CheckListCommands, TakesNoArguments) {
    EXPECT_FALSE(checkListCommands(Call{"list_commands", {}, {}}));
    EXPECT_TRUE(checkListCommands(Call{"list_commands", {"1"}, {}}));
    EXPECT_TRUE(checkListCommands(Call{"list_commands", {}, {{"capture", KwArg::json("true")}}}));
}

}  // namespace
}  // namespace corral::agent
