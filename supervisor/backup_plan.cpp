// The plan of a backup and its QMP arguments (backup_record.hpp), pure.
#include <algorithm>
#include <set>

#include "supervisor/backup_record.hpp"
#include "supervisor/snapshot_record.hpp"

namespace corral::supervisor {

namespace fs = std::filesystem;
using monitor::JsonArray;
using monitor::JsonObject;

namespace {

OpError refusal(ErrorKind kind, const std::string& why) {
    return OpError{kind, why + "; nothing was changed."};
}

const hypervisor::Device* deviceOf(const std::vector<hypervisor::Device>& devices,
                                   const std::string& id) {
    for (const auto& d : devices)
        if (d.id == id) return &d;
    return nullptr;
}

// The file of disk `id` in checkpoint `c`.
std::string fileOf(const Checkpoint& c, const std::string& id) {
    for (const auto& f : c.files)
        if (f.disk == id) return f.file;
    return {};
}

// An incremental's backing file as its header names it: relative when beside it, so a backup
// directory can be moved whole.
std::string backingName(const fs::path& file, const fs::path& previous) {
    if (file.parent_path() == previous.parent_path()) return previous.filename().string();
    return previous.string();
}

std::string qdevOf(const rapidjson::Value& block) {
    if (!block.HasMember("qdev") || !block["qdev"].IsString()) return {};
    return block["qdev"].GetString();
}

// query-block names a -device by its QOM path, /machine/peripheral/ID/virtio-backend, or ID.
bool isDisk(const std::string& qdev, std::string_view id) {
    std::string peripheral = "/machine/peripheral/" + std::string(id);
    return qdev == id || qdev == peripheral || qdev.rfind(peripheral + "/", 0) == 0;
}

}  // namespace

Outcome<BackupPlan> planBackup(const BackupRecord& record, const BackupRequest& request,
                               const std::vector<hypervisor::Device>& devices,
                               std::uint64_t nowUsec) {
    BackupPlan plan;
    plan.speed = request.speed;
    plan.checkpoint = {"c" + std::to_string(record.nextSeq),
                       nowUsec,
                       request.incremental ? "incremental" : "full",
                       request.target,
                       {}};
    std::vector<std::string> disks = request.disks;
    std::set<std::string> seen;
    for (const auto& id : disks) {
        if (!seen.insert(id).second)
            return refusal(ErrorKind::InvalidArgument, "disk " + id + " is named twice");
        const auto* device = deviceOf(devices, id);
        if (!device || !device->kind || device->kind->backend != hypervisor::Backend::Block)
            return refusal(ErrorKind::InvalidArgument, "there is no disk " + id);
        if (!snapshottable(*device))
            return refusal(ErrorKind::InvalidArgument,
                           "disk " + id +
                               " is read-only or a CD-ROM; only writable disks are "
                               "backed up");
    }
    if (disks.empty())
        for (const auto& d : devices)
            if (snapshottable(d)) disks.push_back(d.id);
    if (disks.empty())
        return refusal(ErrorKind::InvalidState,
                       "there is no writable disk to back up (read-only disks and CD-ROMs are "
                       "not backed up)");
    for (const auto& id : disks) {
        const auto* device = deviceOf(devices, id);
        if (device->text("format") != "qcow2")
            return refusal(
                ErrorKind::InvalidArgument,
                "disk " + id + " is " +
                    (device->text("format").empty() ? std::string("raw")
                                                    : std::string(device->text("format"))) +
                    "; the dirty bitmap a backup starts lives in a qcow2 image "
                    "(convert it, or leave it out with disks)");
        BackupStep step;
        step.disk = id;
        step.file = (fs::path(request.target) / (id + "." + plan.checkpoint.name + ".qcow2"))
                        .lexically_normal()
                        .string();
        step.newBitmap = bitmapOf(plan.checkpoint.name);
        if (const auto* previous = record.latestOf(id)) step.oldBitmap = bitmapOf(previous->name);
        if (request.incremental) {
            const auto* previous = record.latestOf(id);
            if (!previous)
                return refusal(ErrorKind::InvalidState,
                               "disk " + id +
                                   " has no backup yet; an incremental one needs a full one "
                                   "before it");
            step.backing = backingName(step.file, fileOf(*previous, id));
        }
        std::error_code ec;
        if (fs::exists(step.file, ec))
            return refusal(ErrorKind::Exists, step.file + " exists already");
        plan.checkpoint.files.push_back({id, step.file});
        plan.steps.push_back(std::move(step));
    }
    return plan;
}

BackupRecord afterBackup(const BackupRecord& record, const BackupPlan& plan) {
    BackupRecord after = record;
    after.pending.reset();
    after.checkpoints.push_back(plan.checkpoint);
    after.nextSeq = std::max(after.nextSeq, record.nextSeq + 1);
    return after;
}

std::string targetNode(std::string_view id) {
    return "corral-backup-" + std::string(id);
}

std::string targetFileNode(std::string_view id) {
    return "corral-backup-" + std::string(id) + "-file";
}

std::string backupJob(std::string_view id) {
    return "corral-backup-" + std::string(id);
}

monitor::Json targetFileArgs(std::string_view id, int fdset) {
    return JsonObject()
        .set("driver", "file")
        .set("node-name", targetFileNode(id))
        .set("filename", "/dev/fdset/" + std::to_string(fdset))
        .take();
}

monitor::Json targetFormatArgs(std::string_view id) {
    rapidjson::Value none;
    return JsonObject()
        .set("driver", "qcow2")
        .set("node-name", targetNode(id))
        .set("file", targetFileNode(id))
        .set("backing", none)
        .take();
}

monitor::Json backupTransaction(const BackupPlan& plan, const std::vector<std::string>& nodes) {
    JsonArray actions;
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
        const auto& step = plan.steps[i];
        actions.add(JsonObject()
                        .set("type", "block-dirty-bitmap-add")
                        .set("data", JsonObject()
                                         .set("node", nodes[i])
                                         .set("name", step.newBitmap)
                                         .set("persistent", true)));
        JsonObject backup;
        backup.set("job-id", backupJob(step.disk))
            .set("device", nodes[i])
            .set("target", targetNode(step.disk))
            .set("auto-dismiss", false);
        if (plan.speed) backup.set("speed", plan.speed);
        if (step.backing.empty()) {
            backup.set("sync", "full");
        } else {
            backup.set("sync", "bitmap").set("bitmap", step.oldBitmap).set("bitmap-mode", "never");
        }
        actions.add(JsonObject().set("type", "blockdev-backup").set("data", backup));
    }
    return JsonObject().set("actions", actions).take();
}

monitor::Json bitmapRemoveArgs(const std::string& node, const std::string& bitmap) {
    return JsonObject().set("node", node).set("name", bitmap).take();
}

std::optional<ActiveNode> activeNodeOf(const rapidjson::Value& blocks, std::string_view id) {
    if (!blocks.IsArray()) return std::nullopt;
    for (const auto& b : blocks.GetArray()) {
        if (!b.IsObject() || !isDisk(qdevOf(b), id) || !b.HasMember("inserted") ||
            !b["inserted"].IsObject())
            continue;
        const auto& inserted = b["inserted"];
        if (!inserted.HasMember("node-name") || !inserted["node-name"].IsString())
            return std::nullopt;
        ActiveNode active;
        active.node = inserted["node-name"].GetString();
        if (inserted.HasMember("image") && inserted["image"].IsObject() &&
            inserted["image"].HasMember("virtual-size") &&
            inserted["image"]["virtual-size"].IsUint64())
            active.size = inserted["image"]["virtual-size"].GetUint64();
        if (inserted.HasMember("dirty-bitmaps") && inserted["dirty-bitmaps"].IsArray())
            for (const auto& bm : inserted["dirty-bitmaps"].GetArray())
                if (bm.IsObject() && bm.HasMember("name") && bm["name"].IsString())
                    active.bitmaps.push_back(bm["name"].GetString());
        return active;
    }
    return std::nullopt;
}

}  // namespace corral::supervisor
