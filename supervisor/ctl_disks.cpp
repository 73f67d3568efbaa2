#include "supervisor/ctl_disks.hpp"

#include "hypervisor/instance_spec.hpp"
#include "supervisor/ctl_client.hpp"
#include "supervisor/ctl_output.hpp"

namespace corral::supervisor::ctl {

namespace {

constexpr std::uint64_t kDiskCallTimeoutUsec = 60'000'000;

}  // namespace

int resizeVerb(const Args& a) {
    const std::string& text = a.args[2];
    auto bytes = hypervisor::parseSize(text);
    if (!bytes || *bytes == 0)
        throw CtlError(
            kUsage,
            "SIZE wants a size such as 10G, 512M or 20GiB (binary units), got '" + text + "'");
    Client(a.bus, a.address)
        .callInstance(a.args[0], "ResizeDisk", kDiskCallTimeoutUsec, [&](sd_bus_message* m) {
            return sd_bus_message_append(m, "st", a.args[1].c_str(), *bytes);
        });
    return kOk;
}

int limitsVerb(const Args& a) {
    Client client(a.bus, a.address);
    if (a.args.size() == 2) {
        auto reply = client.callInstance(
            a.args[0], "GetDiskLimits", kDiskCallTimeoutUsec,
            [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", a.args[1].c_str()); });
        std::vector<std::string> lines;
        sd_bus_message* m = reply.get();
        check(sd_bus_message_enter_container(m, 'a', "{sv}"), "bad reply");
        int r = 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
            const char* key = "";
            check(sd_bus_message_read(m, "s", &key), "bad reply");
            const char* contents = nullptr;
            check(sd_bus_message_peek_type(m, nullptr, &contents), "bad reply");
            std::string value;
            if (contents && std::string_view(contents) == "t") {
                std::uint64_t number = 0;
                check(sd_bus_message_read(m, "v", "t", &number), "bad reply");
                value = std::to_string(number);
            } else {
                const char* text = "";
                check(sd_bus_message_read(m, "v", "s", &text), "bad reply");
                value = text;
            }
            lines.push_back(std::string(key) + " " + value);
            check(sd_bus_message_exit_container(m), "bad reply");
        }
        check(r, "bad reply");
        check(sd_bus_message_exit_container(m), "bad reply");
        printLines(lines, a.json);
        return kOk;
    }
    std::vector<std::pair<std::string, std::uint64_t>> pairs;
    for (std::size_t i = 2; i < a.args.size(); ++i) {
        const auto& word = a.args[i];
        auto equals = word.find('=');
        auto value = equals == std::string::npos ? std::nullopt
                                                 : hypervisor::parseSize(word.substr(equals + 1));
        if (equals == 0 || !value)
            throw CtlError(kUsage,
                           "limits wants KEY=VALUE with VALUE a number such as 500 or "
                           "1M (0 removes the limit), got '" +
                               word + "'");
        pairs.emplace_back(word.substr(0, equals), *value);
    }
    client.callInstance(a.args[0], "SetDiskLimits", kDiskCallTimeoutUsec, [&](sd_bus_message* m) {
        int r = sd_bus_message_append(m, "s", a.args[1].c_str());
        if (r >= 0) r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (auto it = pairs.begin(); r >= 0 && it != pairs.end(); ++it)
            r = sd_bus_message_append(m, "{sv}", it->first.c_str(), "t", it->second);
        return r < 0 ? r : sd_bus_message_close_container(m);
    });
    return kOk;
}

}  // namespace corral::supervisor::ctl
