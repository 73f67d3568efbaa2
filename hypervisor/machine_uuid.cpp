#include "hypervisor/machine_uuid.hpp"

#include <cstdio>
#include <vector>

namespace corral::hypervisor {

namespace {

constexpr UuidBytes kCorralNamespace = {0x24, 0x30, 0xaf, 0x46, 0xa0, 0xe4, 0x48, 0xaf,
                                        0x86, 0xb5, 0xd6, 0xc0, 0x0f, 0x20, 0xcb, 0xe7};

std::uint32_t rotl(std::uint32_t v, int n) {
    return (v << n) | (v >> (32 - n));
}

// SHA-1 (FIPS 180-4) of a short message, all at once: only UUID names are hashed here.
std::array<std::uint8_t, 20> sha1(const std::vector<std::uint8_t>& message) {
    std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    std::vector<std::uint8_t> data = message;
    std::uint64_t bits = std::uint64_t{message.size()} * 8;
    data.push_back(0x80);
    while (data.size() % 64 != 56) data.push_back(0);
    for (int i = 7; i >= 0; --i) data.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
    for (std::size_t block = 0; block < data.size(); block += 64) {
        std::uint32_t w[80];
        for (int i = 0; i < 16; ++i) {
            const std::uint8_t* p = &data[block + 4 * static_cast<std::size_t>(i)];
            w[i] = std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 |
                   std::uint32_t{p[2]} << 8 | p[3];
        }
        for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; ++i) {
            std::uint32_t f = 0, k = 0;
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = rotl(b, 30);
            b = a;
            a = t;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
    }
    std::array<std::uint8_t, 20> digest{};
    for (int i = 0; i < 20; ++i)
        digest[static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
    return digest;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<UuidBytes> parseUuid(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    UuidBytes out{};
    std::size_t byte = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i++] != '-') return std::nullopt;
            continue;
        }
        int high = hexValue(text[i]), low = hexValue(text[i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        out[byte++] = static_cast<std::uint8_t>(high << 4 | low);
        i += 2;
    }
    return out;
}

std::string formatUuid(const UuidBytes& b) {
    char text[37];
    std::snprintf(text, sizeof text,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return text;
}

UuidBytes uuidV5(const UuidBytes& nameSpace, std::string_view name) {
    std::vector<std::uint8_t> message(nameSpace.begin(), nameSpace.end());
    message.insert(message.end(), name.begin(), name.end());
    auto digest = sha1(message);
    UuidBytes out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = digest[i];
    out[6] = static_cast<std::uint8_t>((out[6] & 0x0f) | 0x50);  // version 5
    out[8] = static_cast<std::uint8_t>((out[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return out;
}

std::string derivedUuid(std::string_view instanceName) {
    return formatUuid(uuidV5(kCorralNamespace, instanceName));
}

}  // namespace corral::hypervisor
