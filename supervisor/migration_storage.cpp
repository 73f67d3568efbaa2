// Storage copy, the pure parts: which disks, the option and URI texts, the QMP commands and
// what query-block-jobs says.
#include "supervisor/migration_storage.hpp"

#include <charconv>

#include "hypervisor/block_nodes.hpp"
#include "monitor/json.hpp"

namespace corral::supervisor {

using monitor::JsonObject;

namespace {

OpError failed(std::string text) {
    return {ErrorKind::Failed, std::move(text)};
}

std::string command(const char* name, const JsonObject& arguments) {
    return monitor::toJsonString(
        JsonObject().set("execute", name).set("arguments", arguments).json());
}

std::uint64_t number(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

std::string text(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

constexpr std::string_view kJobPrefix = "corral-mirror-";

}  // namespace

std::vector<const hypervisor::Device*> copiedDisks(const std::vector<hypervisor::Device>& devices) {
    std::vector<const hypervisor::Device*> out;
    for (const auto& d : devices)
        if (d.kindName() == "disk" && !d.flag("readonly")) out.push_back(&d);
    return out;
}

std::string diskSizesText(const DiskSizes& sizes) {
    std::string out;
    for (const auto& [id, size] : sizes)
        out += (out.empty() ? "" : ",") + id + "=" + std::to_string(size);
    return out;
}

Outcome<DiskSizes> parseDiskSizes(const std::string& text) {
    DiskSizes out;
    std::string_view rest = text;
    if (!text.empty() && text.back() == ',')
        return OpError{ErrorKind::InvalidArgument,
                       "PrepareIncoming: copy_disks '" + text + "' ends with a comma"};
    while (!rest.empty()) {
        auto comma = rest.find(',');
        auto item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        auto eq = item.find('=');
        std::uint64_t size = 0;
        auto digits = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
        if (eq == 0 || eq == std::string_view::npos || digits.empty() || ec != std::errc() ||
            end != digits.data() + digits.size() || size == 0)
            return OpError{ErrorKind::InvalidArgument,
                           "PrepareIncoming: copy_disks '" + text +
                               "' is not ID=BYTES,... (each size above zero)"};
        if (!out.emplace(std::string(item.substr(0, eq)), size).second)
            return OpError{ErrorKind::InvalidArgument, "PrepareIncoming: copy_disks names disk " +
                                                           std::string(item.substr(0, eq)) +
                                                           " twice"};
    }
    if (out.empty())
        return OpError{ErrorKind::InvalidArgument, "PrepareIncoming: copy_disks is empty"};
    return out;
}

std::optional<CopyUris> splitCopyUri(const std::string& uri) {
    auto space = uri.find(' ');
    if (space == std::string::npos) return std::nullopt;
    CopyUris out;
    out.stream = uri.substr(0, space);
    std::string nbd = uri.substr(space + 1);
    auto colon = nbd.rfind(':');
    if (nbd.rfind("nbd:", 0) != 0 || colon <= 4) return std::nullopt;
    out.nbdHost = nbd.substr(4, colon - 4);
    if (out.nbdHost.size() > 2 && out.nbdHost.front() == '[' && out.nbdHost.back() == ']')
        out.nbdHost = out.nbdHost.substr(1, out.nbdHost.size() - 2);
    unsigned port = 0;
    auto digits = std::string_view(nbd).substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535 ||
        out.nbdHost.empty())
        return std::nullopt;
    out.nbdPort = static_cast<std::uint16_t>(port);
    return out;
}

Outcome<DiskSizes> parseVirtualSizes(const std::string& reply,
                                     const std::vector<const hypervisor::Device*>& disks) {
    auto parsed = monitor::parseJson(reply);
    if (!parsed || !parsed->IsArray())
        return failed("query-named-block-nodes: the reply is not a list");
    DiskSizes out;
    for (const auto* disk : disks) {
        auto node = hypervisor::formatNodeOf(disk->id);
        for (const auto& entry : parsed->GetArray()) {
            if (!entry.IsObject() || text(entry, "node-name") != node) continue;
            auto image = entry.FindMember("image");
            if (image != entry.MemberEnd() && image->value.IsObject())
                out[disk->id] = number(image->value, "virtual-size");
        }
        if (out[disk->id] == 0)
            return failed("cannot tell the size of disk " + disk->id + " (block node " + node +
                          ")");
    }
    return out;
}

Outcome<MirrorJobs> parseMirrorJobs(const std::string& reply) {
    auto parsed = monitor::parseJson(reply);
    if (!parsed || !parsed->IsArray()) return failed("query-block-jobs: the reply is not a list");
    MirrorJobs out;
    for (const auto& job : parsed->GetArray()) {
        if (!job.IsObject() || text(job, "device").rfind(kJobPrefix, 0) != 0) continue;
        ++out.count;
        auto ready = job.FindMember("ready");
        if (ready != job.MemberEnd() && ready->value.IsBool() && ready->value.GetBool())
            ++out.ready;
        out.offset += number(job, "offset");
        out.length += number(job, "len");
        auto error = text(job, "error");
        auto status = text(job, "status");
        if (out.error.empty() && (!error.empty() || status == "concluded" || status == "aborting"))
            out.error = text(job, "device") + ": " + (error.empty() ? status : error);
    }
    return out;
}

std::vector<std::string> namesWithPrefix(const std::string& reply, const char* key,
                                         std::string_view prefix) {
    std::vector<std::string> out;
    auto parsed = monitor::parseJson(reply);
    if (!parsed || !parsed->IsArray()) return out;
    for (const auto& entry : parsed->GetArray()) {
        auto name = entry.IsObject() ? text(entry, key) : std::string();
        if (!name.empty() && name.rfind(prefix, 0) == 0) out.push_back(name);
    }
    return out;
}

std::string mirrorJobId(const std::string& disk) {
    return std::string(kJobPrefix) + disk;
}

std::string mirrorTargetNode(const std::string& disk) {
    return "corral-nbd-" + disk;
}

std::string nbdClientAddJson(const std::string& disk, const CopyUris& uris, const char* tlsCreds) {
    JsonObject server;
    server.set("type", "inet").set("host", uris.nbdHost).set("port", std::to_string(uris.nbdPort));
    JsonObject args;
    args.set("driver", "nbd")
        .set("node-name", mirrorTargetNode(disk))
        .set("server", server)
        .set("export", disk);
    if (tlsCreds) args.set("tls-creds", tlsCreds);
    return command("blockdev-add", args);
}

std::string mirrorStartJson(const std::string& disk, std::uint64_t speed) {
    JsonObject args;
    args.set("job-id", mirrorJobId(disk))
        .set("device", hypervisor::formatNodeOf(disk))
        .set("target", mirrorTargetNode(disk))
        .set("sync", "full")
        .set("auto-dismiss", true);
    if (speed) args.set("speed", speed);
    return command("blockdev-mirror", args);
}

std::string nbdServerStartJson(const std::string& host, std::uint16_t port, const char* tlsCreds) {
    JsonObject data;
    data.set("host", host).set("port", std::to_string(port));
    JsonObject args;
    args.set("addr", JsonObject().set("type", "inet").set("data", data));
    if (tlsCreds) args.set("tls-creds", tlsCreds);
    return command("nbd-server-start", args);
}

std::string exportAddJson(const std::string& disk) {
    JsonObject args;
    args.set("type", "nbd")
        .set("id", "corral-export-" + disk)
        .set("node-name", hypervisor::formatNodeOf(disk))
        .set("name", disk)
        .set("writable", true);
    return command("block-export-add", args);
}

std::string exportDelJson(const std::string& disk) {
    return command("block-export-del",
                   JsonObject().set("id", "corral-export-" + disk).set("mode", "hard"));
}

}  // namespace corral::supervisor
