// A small VNC client for tests (RFC 6143, protocol 3.8): the handshake with security type None
// (1) or VNC authentication (2, DES of the server's challenge), then one full framebuffer in Raw
// encoding at 32 bits per pixel. Blocking, every read bounded by the timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corral::test {

struct RfbTarget {
    std::string unixPath;  // set: a unix socket
    std::string host;      // else TCP host (numeric) and port
    unsigned port = 0;

    static RfbTarget unixSocket(std::string path) {
        RfbTarget target;
        target.unixPath = std::move(path);
        return target;
    }
};

struct RfbCapture {
    // Empty when the picture came; else why not ("security result: failed: ...", ...).
    std::string error;
    std::vector<std::uint8_t> securityTypes;  // what the server offered
    bool authenticated = false;               // the security result was OK
    unsigned width = 0, height = 0;           // ServerInit
    std::string desktopName;
    std::vector<std::uint32_t> pixels;  // 0x00RRGGBB, row by row

    bool ok() const { return error.empty(); }
    // How many distinct colours the picture has (1: blank).
    std::size_t colours() const;
};

// Connects, authenticates (type 2 with `password`, else type 1) and reads one framebuffer.
RfbCapture rfbCapture(const RfbTarget& target, const std::optional<std::string>& password,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The VNC authentication response: `challenge` (16 bytes) DES-encrypted (ECB) with the password,
// padded or cut to 8 bytes, each key byte bit-reversed as VNC does.
std::vector<std::uint8_t> vncAuthResponse(const std::vector<std::uint8_t>& challenge,
                                          const std::string& password);

// Width and height from a PNG's IHDR; nullopt if `file` is no PNG.
std::optional<std::pair<unsigned, unsigned>> pngSize(const std::string& file);

}  // namespace corral::test
