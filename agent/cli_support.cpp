#include "agent/cli_support.hpp"

#include <algorithm>
#include <cmath>

#include "agent/methods.hpp"

namespace corral::agent {

namespace {

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

}  // namespace

std::optional<std::chrono::milliseconds> parseTimeout(std::string_view text) {
    auto s = stripWhitespace(text);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    // Digits with single underscores between them (Python 3's int()), then an optional fraction.
    long double seconds = 0;
    std::size_t i = 0, digits = 0;
    for (; i < s.size(); ++i) {
        if (isDigit(s[i])) {
            seconds = seconds * 10 + (s[i] - '0');
            ++digits;
        } else if (s[i] != '_' || i == 0 || i + 1 >= s.size() || !isDigit(s[i - 1]) ||
                   !isDigit(s[i + 1])) {
            break;
        }
        if (seconds > kMaxTimeoutSeconds + 1.0L) return std::nullopt;
    }
    if (digits == 0) return std::nullopt;
    if (i < s.size() && s[i] == '.') {
        long double scale = 0.1L;
        std::size_t fraction = 0;
        for (++i; i < s.size() && isDigit(s[i]); ++i, ++fraction, scale /= 10)
            seconds += (s[i] - '0') * scale;
        if (fraction == 0) return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    if (negative) return std::chrono::milliseconds(0);
    if (seconds > kMaxTimeoutSeconds) return std::nullopt;
    // A positive value never rounds down to 0, which would mean no limit.
    auto ms = std::max(std::llround(seconds * 1000), seconds > 0 ? 1LL : 0LL);
    return std::chrono::milliseconds(ms);
}

std::string printableOutput(std::string_view output) {
    std::string out(rstripWhitespace(output));
    out += '\n';
    return out;
}

std::string printableList(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += '\n';
        out += names[i];
    }
    out += '\n';
    return out;
}

}  // namespace corral::agent
