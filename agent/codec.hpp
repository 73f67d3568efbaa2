// Negotiator framing, no I/O: a message is its byte length in ASCII decimal, "\n", then exactly
// that many bytes of JSON with no trailing newline. The decoder is bounded: it never buffers more
// than one capped message and never waits for a length line longer than kMaxLengthDigits.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace corral::agent {

inline constexpr std::size_t kDefaultMaxMessage = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxLengthDigits = 20;

// Frames one JSON body for the wire.
std::string encodeFrame(std::string_view json);

class FrameDecoder {
  public:
    struct Event {
        enum class Kind {
            Message,    // `body` holds one complete message
            Oversized,  // a length above the cap: the body is skipped, the stream stays in sync
            Broken,     // the length line is garbage: the stream cannot be resynchronised
        };
        Kind kind;
        std::string body;   // Message only
        std::string error;  // Oversized/Broken: what was wrong, for the error reply and logs
    };

    explicit FrameDecoder(std::size_t maxMessage = kDefaultMaxMessage) : maxMessage_(maxMessage) {}

    // Appends received bytes (an oversized body is dropped as it arrives, never stored).
    void feed(std::string_view bytes);
    // The next event, or nullopt when more bytes are needed. After Broken every call returns
    // nullopt until reset().
    std::optional<Event> next();
    // Forgets everything buffered (the peer reconnected).
    void reset();
    // Gives up on the refused message after Oversized or Broken: no body is skipped and the bytes
    // after the offending length line are parsed as a new message. For a peer whose reconnects
    // cannot be seen (a virtio port), where waiting for a body could swallow the next request.
    void resync();
    // True while a message has been started but not completed.
    bool midMessage() const { return !buffer_.empty() || length_ || skip_ > 0; }

  private:
    std::size_t maxMessage_;
    std::string buffer_;
    std::optional<std::size_t> length_;  // parsed length of the message being read
    std::size_t skip_ = 0;               // bytes of an oversized body still to drop
    bool broken_ = false;
};

}  // namespace corral::agent
