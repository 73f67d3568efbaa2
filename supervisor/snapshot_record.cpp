#include "supervisor/snapshot_record.hpp"

#include "supervisor/definition_store.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace corral::supervisor {

namespace fs = std::filesystem;
using monitor::JsonArray;
using monitor::JsonObject;

namespace {

constexpr std::size_t kMaxNameLength = 32;

bool nameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

void key(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

std::optional<std::string> stringAt(const rapidjson::Value& object, const char* k) {
    if (!object.IsObject() || !object.HasMember(k) || !object[k].IsString()) return std::nullopt;
    return std::string(object[k].GetString(), object[k].GetStringLength());
}

std::optional<SnapshotLayer> readLayer(const rapidjson::Value& v) {
    SnapshotLayer layer;
    auto disk = stringAt(v, "disk");
    auto base = stringAt(v, "base");
    auto format = stringAt(v, "base_format");
    auto overlay = stringAt(v, "overlay");
    if (!disk || !base || !format || !overlay) return std::nullopt;
    return SnapshotLayer{*disk, *base, *format, *overlay};
}

std::optional<SnapshotRecord> readRecord(const rapidjson::Value& v, std::string& error) {
    auto name = stringAt(v, "name");
    if (!name || snapshotNameProblem(*name)) {
        error = "a snapshot without a valid name";
        return std::nullopt;
    }
    SnapshotRecord record;
    record.name = *name;
    if (!v.HasMember("created_usec") || !v["created_usec"].IsUint64() || !v.HasMember("seq") ||
        !v["seq"].IsUint64() || !v.HasMember("disks") || !v["disks"].IsArray()) {
        error = "snapshot " + *name + " lacks created_usec, seq or disks";
        return std::nullopt;
    }
    record.createdUsec = v["created_usec"].GetUint64();
    record.seq = v["seq"].GetUint64();
    for (const auto& d : v["disks"].GetArray()) {
        auto layer = readLayer(d);
        if (!layer) {
            error = "snapshot " + *name + " has a disk without disk, base, base_format or overlay";
            return std::nullopt;
        }
        record.disks.push_back(std::move(*layer));
    }
    return record;
}

}  // namespace

const SnapshotRecord* SnapshotChain::find(std::string_view name) const {
    auto it = std::find_if(snapshots.begin(), snapshots.end(),
                           [&](const auto& s) { return s.name == name; });
    return it == snapshots.end() ? nullptr : &*it;
}

std::string SnapshotChain::topOf(std::string_view id) const {
    for (auto s = snapshots.rbegin(); s != snapshots.rend(); ++s)
        for (const auto& layer : s->disks)
            if (layer.disk == id) return layer.overlay;
    return {};
}

std::optional<std::string> snapshotNameProblem(std::string_view name) {
    if (name.empty()) return "a snapshot name is not empty";
    if (name.size() > kMaxNameLength)
        return "snapshot name \"" + std::string(name.substr(0, kMaxNameLength)) +
               "...\" is longer than 32 characters";
    if (!std::all_of(name.begin(), name.end(), nameChar) || name.front() == '.' ||
        name.front() == '-')
        return "snapshot name \"" + std::string(name) +
               "\" may have only A-Z a-z 0-9 _ - . and not start with . or -";
    return std::nullopt;
}

bool snapshottable(const hypervisor::Device& device) {
    return device.kind && device.kind->backend == hypervisor::Backend::Block &&
           !device.flag("readonly");
}

fs::path chainFile(const fs::path& vmStateDir) {
    return vmStateDir / "snapshots.json";
}

fs::path overlayPath(const fs::path& vmStateDir, std::string_view snap, std::string_view disk) {
    return vmStateDir / "snapshots" / (std::string(snap) + "." + std::string(disk) + ".qcow2");
}

std::string chainToJson(const SnapshotChain& chain) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("next_seq");
    w.Uint64(chain.nextSeq);
    w.Key("snapshots");
    w.StartArray();
    for (const auto& s : chain.snapshots) {
        w.StartObject();
        key(w, "name", s.name);
        w.Key("created_usec");
        w.Uint64(s.createdUsec);
        w.Key("seq");
        w.Uint64(s.seq);
        w.Key("disks");
        w.StartArray();
        for (const auto& layer : s.disks) {
            w.StartObject();
            key(w, "disk", layer.disk);
            key(w, "base", layer.base);
            key(w, "base_format", layer.baseFormat);
            key(w, "overlay", layer.overlay);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::optional<SnapshotChain> chainFromJson(std::string_view text, std::string& error) {
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("snapshots") ||
        !doc["snapshots"].IsArray() || !doc.HasMember("next_seq") || !doc["next_seq"].IsUint64()) {
        error = "not a snapshot record (an object with next_seq and snapshots)";
        return std::nullopt;
    }
    SnapshotChain chain;
    chain.nextSeq = doc["next_seq"].GetUint64();
    for (const auto& v : doc["snapshots"].GetArray()) {
        auto record = readRecord(v, error);
        if (!record) return std::nullopt;
        if (chain.find(record->name)) {
            error = "snapshot " + record->name + " is there twice";
            return std::nullopt;
        }
        chain.snapshots.push_back(std::move(*record));
    }
    return chain;
}

std::optional<SnapshotChain> readChain(const fs::path& vmStateDir, std::string& error) {
    auto file = chainFile(vmStateDir);
    std::error_code ec;
    if (!fs::exists(file, ec)) return SnapshotChain{};
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
        error = "cannot read " + file.string();
        return std::nullopt;
    }
    auto chain = chainFromJson(text.str(), error);
    if (!chain) error = file.string() + ": " + error;
    return chain;
}

std::optional<std::string> writeChain(const fs::path& vmStateDir, const SnapshotChain& chain) {
    std::error_code ec;
    fs::create_directories(vmStateDir / "snapshots", ec);
    if (ec) return "cannot create " + (vmStateDir / "snapshots").string() + ": " + ec.message();
    // Temp file, fsync, rename, directory fsync: as a definition is written.
    if (auto error =
            writeDefinitionFile(chainFile(vmStateDir), chainToJson(chain), Replace::Yes, 0600))
        return error->message;
    return std::nullopt;
}

SnapshotRecord newSnapshot(const SnapshotChain& chain, const std::string& name,
                           const std::vector<hypervisor::Device>& devices,
                           const fs::path& vmStateDir, std::uint64_t nowUsec) {
    SnapshotRecord record{name, nowUsec, chain.nextSeq, {}};
    for (const auto& device : devices) {
        if (!snapshottable(device)) continue;
        std::string format(device.text("format"));
        record.disks.push_back({device.id, std::string(device.text("path")),
                                format.empty() ? "raw" : format,
                                overlayPath(vmStateDir, name, device.id).string()});
    }
    return record;
}

void pointDiskAt(hypervisor::Device& device, const std::string& image, const std::string& format) {
    device.options.insert_or_assign("path", image);
    device.options.insert_or_assign("format", format);
    device.backend = image;
}

int useChain(std::vector<hypervisor::Device>& devices, const SnapshotChain& chain) {
    int changed = 0;
    for (auto& device : devices) {
        if (!snapshottable(device)) continue;
        auto top = chain.topOf(device.id);
        if (top.empty() || device.text("path") == top) continue;
        bool inChain = false;
        for (const auto& s : chain.snapshots)
            for (const auto& layer : s.disks)
                if (layer.disk == device.id &&
                    (layer.base == device.text("path") || layer.overlay == device.text("path")))
                    inChain = true;
        if (!inChain) continue;
        pointDiskAt(device, top, "qcow2");
        ++changed;
    }
    return changed;
}

std::string overlayNode(std::string_view id, std::uint64_t seq) {
    return std::string(id) + ".s" + std::to_string(seq);
}

std::string overlayFileNode(std::string_view id, std::uint64_t seq) {
    return overlayNode(id, seq) + "f";
}

monitor::Json overlayFileArgs(std::string_view id, std::uint64_t seq, int fdset) {
    return JsonObject()
        .set("driver", "file")
        .set("node-name", overlayFileNode(id, seq))
        .set("filename", "/dev/fdset/" + std::to_string(fdset))
        .take();
}

monitor::Json overlayFormatArgs(std::string_view id, std::uint64_t seq) {
    rapidjson::Value none;
    return JsonObject()
        .set("driver", "qcow2")
        .set("node-name", overlayNode(id, seq))
        .set("file", overlayFileNode(id, seq))
        .set("backing", none)
        .take();
}

monitor::Json snapshotTransaction(const std::vector<std::pair<std::string, std::string>>& pairs) {
    JsonArray actions;
    for (const auto& [node, overlay] : pairs)
        actions.add(JsonObject()
                        .set("type", "blockdev-snapshot")
                        .set("data", JsonObject().set("node", node).set("overlay", overlay)));
    return JsonObject().set("actions", actions).take();
}

monitor::Json commitArgs(const std::string& jobId, const std::string& rootNode,
                         const std::string& topNode, const std::string& baseNode,
                         const std::string& backingFile) {
    JsonObject args;
    args.set("job-id", jobId)
        .set("device", rootNode)
        .set("base-node", baseNode)
        .set("auto-dismiss", false);
    if (topNode != rootNode) args.set("top-node", topNode).set("backing-file", backingFile);
    return args.take();
}

std::string findNode(const rapidjson::Value& nodes, const std::string& name,
                     const std::string& path) {
    if (!nodes.IsArray()) return {};
    std::string byPath;
    for (const auto& node : nodes.GetArray()) {
        auto nodeName = stringAt(node, "node-name");
        if (!nodeName) continue;
        if (*nodeName == name) return name;
        auto drv = stringAt(node, "drv");
        if (byPath.empty() && stringAt(node, "file") == path && drv && *drv != "file" &&
            *drv != "host_device")
            byPath = *nodeName;
    }
    return byPath;
}

}  // namespace corral::supervisor
