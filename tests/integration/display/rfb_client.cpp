#include "tests/integration/display/rfb_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>

namespace corral::test {

namespace {

using Clock = std::chrono::steady_clock;

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Socket {
  public:
    Socket(const RfbTarget& target, Clock::time_point deadline) : deadline_(deadline) {
        if (!target.unixPath.empty()) {
            fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::strncpy(addr.sun_path, target.unixPath.c_str(), sizeof addr.sun_path - 1);
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
                throw Failure("connect " + target.unixPath + ": " + std::strerror(errno));
            return;
        }
        bool v6 = target.host.find(':') != std::string::npos;
        fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r = -1;
        if (v6) {
            sockaddr_in6 addr{};
            addr.sin6_family = AF_INET6;
            addr.sin6_port = htons(static_cast<std::uint16_t>(target.port));
            inet_pton(AF_INET6, target.host.c_str(), &addr.sin6_addr);
            r = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        } else {
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(static_cast<std::uint16_t>(target.port));
            inet_pton(AF_INET, target.host.c_str(), &addr.sin_addr);
            r = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        }
        if (r != 0)
            throw Failure("connect " + target.host + ":" + std::to_string(target.port) + ": " +
                          std::strerror(errno));
    }
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }

    std::vector<std::uint8_t> read(std::size_t n) {
        std::vector<std::uint8_t> out(n);
        std::size_t got = 0;
        while (got < n) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                throw Failure("timed out reading from the VNC server");
            auto r = ::read(fd_, out.data() + got, n - got);
            if (r <= 0) throw Failure("the VNC server closed the connection");
            got += static_cast<std::size_t>(r);
        }
        return out;
    }
    // Whether a byte arrives within `wait`.
    bool readable(std::chrono::milliseconds wait) {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
    }
    std::uint8_t u8() { return read(1)[0]; }
    std::uint16_t u16() {
        auto b = read(2);
        return static_cast<std::uint16_t>(b[0] << 8 | b[1]);
    }
    std::uint32_t u32() {
        auto b = read(4);
        return std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 |
               b[3];
    }
    std::string text() {
        auto b = read(u32());
        return std::string(b.begin(), b.end());
    }
    void write(const std::vector<std::uint8_t>& bytes) {
        if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(bytes.size()))
            throw Failure(std::string("write to the VNC server: ") + std::strerror(errno));
    }

  private:
    int fd_ = -1;
    Clock::time_point deadline_;
};

void put16(std::vector<std::uint8_t>& out, unsigned v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void handshake(Socket& s, const std::optional<std::string>& password, RfbCapture& c) {
    auto version = s.read(12);
    if (std::string(version.begin(), version.end()).rfind("RFB 003.", 0) != 0)
        throw Failure("not an RFB server");
    std::string mine = "RFB 003.008\n";
    s.write({mine.begin(), mine.end()});
    auto count = s.u8();
    if (count == 0) throw Failure("the server refused the connection: " + s.text());
    c.securityTypes = s.read(count);
    auto offered = [&](std::uint8_t t) {
        return std::find(c.securityTypes.begin(), c.securityTypes.end(), t) !=
               c.securityTypes.end();
    };
    std::uint8_t type = password && offered(2) ? 2 : offered(1) ? 1 : 0;
    if (type == 0) {
        std::string list;
        for (auto t : c.securityTypes) list += (list.empty() ? "" : ",") + std::to_string(t);
        throw Failure("no security type this client speaks (offered: " + list + ")");
    }
    s.write({type});
    if (type == 2) s.write(vncAuthResponse(s.read(16), *password));
    if (s.u32() != 0) throw Failure("security result: failed: " + s.text());
    c.authenticated = true;
}

void readFramebuffer(Socket& s, RfbCapture& c) {
    s.write({1});  // ClientInit: shared
    c.width = s.u16();
    c.height = s.u16();
    s.read(16);  // the server's pixel format: we set ours
    c.desktopName = s.text();
    std::vector<std::uint8_t> format = {0, 0, 0, 0, 32, 24, 0, 1};
    put16(format, 255);
    put16(format, 255);
    put16(format, 255);
    format.insert(format.end(), {16, 8, 0, 0, 0, 0});
    s.write(format);
    s.write({2, 0, 0, 1, 0, 0, 0, 0});  // SetEncodings: Raw only
    std::vector<std::uint8_t> request = {3, 0, 0, 0, 0, 0};
    put16(request, c.width);
    put16(request, c.height);
    s.write(request);
    c.pixels.assign(std::size_t(c.width) * c.height, 0);
    std::size_t covered = 0;
    while (covered < c.pixels.size()) {
        // An update the server dropped (the guest switched video modes meanwhile) is asked for
        // again; read() still ends it all at the deadline.
        if (!s.readable(std::chrono::seconds(1))) {
            s.write(request);
            continue;
        }
        auto type = s.u8();
        if (type == 2) continue;  // Bell
        if (type == 3) {          // ServerCutText
            s.read(3);
            s.text();
            continue;
        }
        if (type != 0) throw Failure("unexpected server message " + std::to_string(type));
        s.read(1);
        unsigned rects = s.u16();
        for (unsigned i = 0; i < rects; ++i) {
            unsigned x = s.u16(), y = s.u16(), w = s.u16(), h = s.u16();
            auto encoding = static_cast<std::int32_t>(s.u32());
            if (encoding != 0) throw Failure("unexpected encoding " + std::to_string(encoding));
            auto raw = s.read(std::size_t(w) * h * 4);
            for (unsigned row = 0; row < h; ++row)
                for (unsigned col = 0; col < w; ++col) {
                    const auto* p = &raw[(std::size_t(row) * w + col) * 4];
                    if (y + row < c.height && x + col < c.width)
                        c.pixels[std::size_t(y + row) * c.width + x + col] =
                            std::uint32_t(p[2]) << 16 | std::uint32_t(p[1]) << 8 | p[0];
                }
            covered += std::size_t(w) * h;
        }
    }
}

std::uint8_t reversed(std::uint8_t b) {
    std::uint8_t out = 0;
    for (int i = 0; i < 8; ++i)
        if (b & (1 << i)) out |= static_cast<std::uint8_t>(0x80 >> i);
    return out;
}

}  // namespace

std::size_t RfbCapture::colours() const {
    return std::set<std::uint32_t>(pixels.begin(), pixels.end()).size();
}

std::vector<std::uint8_t> vncAuthResponse(const std::vector<std::uint8_t>& challenge,
                                          const std::string& password) {
    // DES lives in OpenSSL's legacy provider.
    static OSSL_PROVIDER* legacy = OSSL_PROVIDER_load(nullptr, "legacy");
    static OSSL_PROVIDER* fallback = OSSL_PROVIDER_load(nullptr, "default");
    if (!legacy || !fallback) throw Failure("OpenSSL's legacy provider (DES) is not available");
    std::uint8_t key[8] = {};
    for (std::size_t i = 0; i < 8 && i < password.size(); ++i)
        key[i] = reversed(static_cast<std::uint8_t>(password[i]));
    EVP_CIPHER* des = EVP_CIPHER_fetch(nullptr, "DES-ECB", nullptr);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    std::vector<std::uint8_t> out(challenge.size() + 8);
    int n = 0, tail = 0;
    bool ok = des && ctx && EVP_EncryptInit_ex2(ctx, des, key, nullptr, nullptr) == 1 &&
              EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
              EVP_EncryptUpdate(ctx, out.data(), &n, challenge.data(),
                                static_cast<int>(challenge.size())) == 1 &&
              EVP_EncryptFinal_ex(ctx, out.data() + n, &tail) == 1;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(des);
    if (!ok) throw Failure("DES encryption failed");
    out.resize(static_cast<std::size_t>(n + tail));
    return out;
}

RfbCapture rfbCapture(const RfbTarget& target, const std::optional<std::string>& password,
                      std::chrono::milliseconds timeout) {
    RfbCapture capture;
    try {
        Socket socket(target, Clock::now() + timeout);
        handshake(socket, password, capture);
        readFramebuffer(socket, capture);
    } catch (const Failure& e) {
        capture.error = e.what();
    }
    return capture;
}

std::optional<std::pair<unsigned, unsigned>> pngSize(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    unsigned char head[24] = {};
    if (!in.read(reinterpret_cast<char*>(head), sizeof head)) return std::nullopt;
    static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (std::memcmp(head, kSignature, 8) != 0 || std::memcmp(head + 12, "IHDR", 4) != 0)
        return std::nullopt;
    auto be32 = [&](int at) {
        return unsigned(head[at]) << 24 | unsigned(head[at + 1]) << 16 |
               unsigned(head[at + 2]) << 8 | head[at + 3];
    };
    return std::pair(be32(16), be32(20));
}

}  // namespace corral::test
