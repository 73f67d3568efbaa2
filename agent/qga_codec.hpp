// The qemu-guest-agent wire protocol without I/O: QMP-style JSON commands, one reply a line,
// and the guest-sync-delimited handshake (a 0xFF byte from the host resets the agent's parser,
// the agent's 0xFF before its reply marks where the bytes belong to this conversation). Every
// limit a hostile guest could push against is here: the line length and the JSON nesting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/error.hpp"

namespace corral::agent {

// Longest reply line accepted (guest-network-get-interfaces of a guest with many addresses fits
// many times over); a longer one is a protocol error, not an allocation.
inline constexpr std::size_t kQgaMaxLine = 1 << 20;

// "\xff" + guest-sync-delimited with `id`, and a command with its arguments (a JSON object text,
// empty for none), each ending in a newline.
std::string qgaSyncFrame(std::uint64_t id);
std::string qgaCommandFrame(std::string_view command, std::string_view argumentsJson = {});

// Splits what the guest sends into reply lines. After expectDelimiter() everything up to and
// including the next 0xFF is dropped (stale replies, garbage); outside that, a 0xFF is dropped
// too. Blank lines are skipped.
class QgaLineReader {
  public:
    void expectDelimiter() { seekingDelimiter_ = true; }
    void reset();
    void feed(std::string_view bytes);
    // The next complete line; nullopt until one is there; a Protocol error when a line grew past
    // kQgaMaxLine (the reader is reset: the conversation is over).
    std::optional<Result<std::string>> next();

  private:
    std::string pending_;
    bool seekingDelimiter_ = false;
    bool overflow_ = false;
    std::size_t lineLength_ = 0;  // of the line being read
};

// One reply: the text of "return" (any JSON), or the agent's error (Errc::Remote with its class
// and description). Anything else, or not JSON, is Errc::Protocol.
Result<std::string> parseQgaReply(std::string_view line);

// What the typed commands return, read from a "return" text.
struct QgaOsInfo {
    std::string id;             // "debian"
    std::string name;           // "Debian GNU/Linux"
    std::string prettyName;     // "Debian GNU/Linux 12 (bookworm)"
    std::string version;        // "12 (bookworm)"
    std::string versionId;      // "12"
    std::string kernelRelease;  // "6.1.0-57-amd64"
};
struct QgaInterface {
    std::string name;
    std::vector<std::string> addresses;  // "10.0.2.15/24", "fe80::1/64"
};

Result<std::uint64_t> parseQgaSyncId(std::string_view returnJson);
Result<QgaOsInfo> parseQgaOsInfo(std::string_view returnJson);
Result<std::vector<QgaInterface>> parseQgaInterfaces(std::string_view returnJson);
Result<std::string> parseQgaHostName(std::string_view returnJson);
// guest-fsfreeze-freeze / -thaw: how many file systems; guest-fsfreeze-status: "frozen"/"thawed".
Result<std::int64_t> parseQgaCount(std::string_view returnJson);
Result<std::string> parseQgaString(std::string_view returnJson);

}  // namespace corral::agent
