#include "supervisor/ctl_backup.hpp"

#include <filesystem>

#include "hypervisor/instance_name.hpp"
#include "supervisor/ctl_client.hpp"
#include "supervisor/ctl_output.hpp"

namespace corral::supervisor::ctl {

namespace {

// A backup copies whole disks; a day bounds the wait for the reply.
constexpr std::uint64_t kBackupCallTimeoutUsec = 86'400'000'000;

// Prints the checkpoints (all, or the last only), one line each or as JSON.
int listBackups(Client& client, const std::string& name, bool json, bool lastOnly) {
    auto reply = client.callInstance(name, "ListBackups", 30'000'000);
    sd_bus_message* m = reply.get();
    check(sd_bus_message_enter_container(m, 'a', "(sstsa(ss))"), "bad reply");
    std::vector<std::string> rows;
    int r = 0;
    while ((r = sd_bus_message_enter_container(m, 'r', "sstsa(ss)")) > 0) {
        const char* checkpoint = "";
        const char* mode = "";
        const char* target = "";
        std::uint64_t created = 0;
        check(sd_bus_message_read(m, "ssts", &checkpoint, &mode, &created, &target), "bad reply");
        check(sd_bus_message_enter_container(m, 'a', "(ss)"), "bad reply");
        std::string files;
        const char* disk = "";
        const char* file = "";
        while ((r = sd_bus_message_read(m, "(ss)", &disk, &file)) > 0) {
            if (json)
                files += std::string(files.empty() ? "" : ",") + "{\"disk\":" + jsonQuote(disk) +
                         ",\"file\":" + jsonQuote(file) + "}";
            else
                files += std::string(" ") + disk + ":" + file;
        }
        check(r, "bad reply");
        check(sd_bus_message_exit_container(m), "bad reply");
        check(sd_bus_message_exit_container(m), "bad reply");
        if (json)
            rows.push_back("{\"checkpoint\":" + jsonQuote(checkpoint) + ",\"mode\":" +
                           jsonQuote(mode) + ",\"created_usec\":" + std::to_string(created) +
                           ",\"target\":" + jsonQuote(target) + ",\"files\":[" + files + "]}");
        else
            rows.push_back(std::string(checkpoint) + " " + mode + " " + localTimeText(created) +
                           files);
    }
    check(r, "bad reply");
    if (lastOnly && rows.size() > 1) rows.erase(rows.begin(), rows.end() - 1);
    std::string out;
    for (std::size_t i = 0; i < rows.size(); ++i)
        out += json ? (i ? "," : "") + rows[i] : rows[i] + "\n";
    std::fputs((json ? (lastOnly ? out : "[" + out + "]") + "\n" : out).c_str(), stdout);
    return kOk;
}

// --disk a,b,c as a list.
std::vector<std::string> diskList(const std::string& text) {
    std::vector<std::string> disks;
    std::size_t at = 0;
    while (at <= text.size()) {
        auto comma = text.find(',', at);
        auto word = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        if (word.empty()) throw CtlError(kUsage, "--disk takes ID[,ID...], not '" + text + "'");
        disks.push_back(word);
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return disks;
}

}  // namespace

int backupVerb(const Args& a) {
    const std::string& action = a.args[0];
    if (action != "create" && action != "list" && action != "cancel")
        throw CtlError(kUsage, "backup takes create, list or cancel, not '" + action + "'");
    if (auto problem = hypervisor::checkInstanceName(a.args[1]))
        throw CtlError(kUsage, *problem, false);
    if ((action == "create") != (a.args.size() == 3))
        throw CtlError(kUsage, action == "create" ? "backup create takes NAME and DIR"
                                                  : "backup " + action + " takes NAME only");
    if (action != "create" && (a.has(kIncremental) || a.has(kDisk)))
        throw CtlError(kUsage, "--incremental and --disk go with backup create only");
    std::vector<std::string> disks;
    if (const auto* text = a.option(kDisk)) disks = diskList(*text);
    Client client(a.bus, a.address);
    if (action == "list") return listBackups(client, a.args[1], a.json, false);
    if (action == "cancel") {
        client.callInstance(a.args[1], "CancelBackup", 30'000'000);
        return kOk;
    }
    std::error_code ec;
    auto target = std::filesystem::absolute(a.args[2], ec).lexically_normal().string();
    if (ec) throw CtlError(kUsage, "backup create: bad DIR '" + a.args[2] + "'");
    client.callInstance(a.args[1], "Backup", kBackupCallTimeoutUsec, [&](sd_bus_message* m) {
        int r = sd_bus_message_append(m, "s", target.c_str());
        if (r < 0) return r;
        if ((r = sd_bus_message_open_container(m, 'a', "{sv}")) < 0) return r;
        const char* mode = a.has(kIncremental) ? "incremental" : "full";
        if ((r = sd_bus_message_append(m, "{sv}", "mode", "s", mode)) < 0) return r;
        if (!disks.empty()) {
            if ((r = sd_bus_message_open_container(m, 'e', "sv")) < 0) return r;
            if ((r = sd_bus_message_append(m, "s", "disks")) < 0) return r;
            if ((r = sd_bus_message_open_container(m, 'v', "as")) < 0) return r;
            if ((r = sd_bus_message_open_container(m, 'a', "s")) < 0) return r;
            for (const auto& d : disks)
                if ((r = sd_bus_message_append(m, "s", d.c_str())) < 0) return r;
            if ((r = sd_bus_message_close_container(m)) < 0) return r;
            if ((r = sd_bus_message_close_container(m)) < 0) return r;
            if ((r = sd_bus_message_close_container(m)) < 0) return r;
        }
        return sd_bus_message_close_container(m);
    });
    return listBackups(client, a.args[1], a.json, true);
}

}  // namespace corral::supervisor::ctl
