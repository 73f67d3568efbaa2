#include "agent/codec.hpp"

#include <algorithm>
#include <charconv>

namespace corral::agent {

namespace {

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Python's int() accepts surrounding whitespace, so peers may send "12 \n" or "12\r\n".
std::string_view trim(std::string_view s) {
    while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
    while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
    return s;
}

// Slack for whitespace around the digits before a line counts as too long.
constexpr std::size_t kMaxLengthLine = kMaxLengthDigits + 8;

}  // namespace

std::string encodeFrame(std::string_view json) {
    std::string out = std::to_string(json.size());
    out.reserve(out.size() + 1 + json.size());
    out += '\n';
    out += json;
    return out;
}

void FrameDecoder::feed(std::string_view bytes) {
    if (broken_) return;
    if (skip_ > 0 && buffer_.empty()) {
        auto n = std::min(skip_, bytes.size());
        skip_ -= n;
        bytes.remove_prefix(n);
    }
    buffer_.append(bytes);
}

std::optional<FrameDecoder::Event> FrameDecoder::next() {
    using Kind = Event::Kind;
    if (broken_) return std::nullopt;
    if (skip_ > 0) {
        auto n = std::min(skip_, buffer_.size());
        buffer_.erase(0, n);
        skip_ -= n;
        if (skip_ > 0) return std::nullopt;
    }
    if (!length_) {
        auto newline = buffer_.find('\n');
        if (newline == std::string::npos) {
            if (buffer_.size() <= kMaxLengthLine) return std::nullopt;
            broken_ = true;
            buffer_.clear();
            return Event{Kind::Broken,
                         {},
                         "length line longer than " + std::to_string(kMaxLengthDigits) + " digits"};
        }
        auto line = trim(std::string_view(buffer_).substr(0, newline));
        std::size_t value = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
        bool digitsOnly = !line.empty() && std::all_of(line.begin(), line.end(),
                                                       [](char c) { return c >= '0' && c <= '9'; });
        if (!digitsOnly || line.size() > kMaxLengthDigits || ec != std::errc() ||
            end != line.data() + line.size()) {
            std::string shown(line.substr(0, 32));
            broken_ = true;
            buffer_.erase(0, newline + 1);  // kept for resync(); next() yields nothing until then
            return Event{Kind::Broken, {}, "invalid length line '" + shown + "'"};
        }
        buffer_.erase(0, newline + 1);
        if (value > maxMessage_) {
            skip_ = value;  // dropped lazily by next(), or given up by resync()
            return Event{Kind::Oversized,
                         {},
                         "message of " + std::to_string(value) + " bytes exceeds the limit of " +
                             std::to_string(maxMessage_) + " bytes"};
        }
        length_ = value;
    }
    if (buffer_.size() < *length_) return std::nullopt;
    Event event{Kind::Message, buffer_.substr(0, *length_), {}};
    buffer_.erase(0, *length_);
    length_.reset();
    return event;
}

void FrameDecoder::resync() {
    skip_ = 0;
    broken_ = false;
}

void FrameDecoder::reset() {
    buffer_.clear();
    length_.reset();
    skip_ = 0;
    broken_ = false;
}

}  // namespace corral::agent
