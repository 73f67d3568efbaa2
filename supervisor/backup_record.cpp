#include "supervisor/backup_record.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "supervisor/definition_store.hpp"

namespace corral::supervisor {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kBitmapPrefix = "corral-";

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key(Writer& w, const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

void writeCheckpoint(Writer& w, const Checkpoint& c) {
    w.StartObject();
    key(w, "name", c.name);
    w.Key("created_usec");
    w.Uint64(c.createdUsec);
    key(w, "mode", c.mode);
    key(w, "target", c.target);
    w.Key("files");
    w.StartArray();
    for (const auto& f : c.files) {
        w.StartObject();
        key(w, "disk", f.disk);
        key(w, "file", f.file);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
}

std::optional<std::string> stringAt(const rapidjson::Value& object, const char* k) {
    if (!object.IsObject() || !object.HasMember(k) || !object[k].IsString()) return std::nullopt;
    return std::string(object[k].GetString(), object[k].GetStringLength());
}

std::optional<Checkpoint> readCheckpoint(const rapidjson::Value& v, std::string& error) {
    Checkpoint c;
    auto name = stringAt(v, "name");
    auto mode = stringAt(v, "mode");
    auto target = stringAt(v, "target");
    if (!name || !mode || !target || !v.HasMember("created_usec") ||
        !v["created_usec"].IsUint64() || !v.HasMember("files") || !v["files"].IsArray() ||
        (*mode != "full" && *mode != "incremental")) {
        error = "a checkpoint lacks name, created_usec, mode, target or files";
        return std::nullopt;
    }
    c.name = *name;
    c.mode = *mode;
    c.target = *target;
    c.createdUsec = v["created_usec"].GetUint64();
    for (const auto& f : v["files"].GetArray()) {
        auto disk = stringAt(f, "disk");
        auto file = stringAt(f, "file");
        if (!disk || !file) {
            error = "checkpoint " + c.name + ": a file lacks disk or file";
            return std::nullopt;
        }
        c.files.push_back({*disk, *file});
    }
    return c;
}

}  // namespace

const Checkpoint* BackupRecord::latestOf(std::string_view id) const {
    for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it)
        for (const auto& f : it->files)
            if (f.disk == id) return &*it;
    return nullptr;
}

std::string bitmapOf(std::string_view checkpoint) {
    return std::string(kBitmapPrefix) + std::string(checkpoint);
}

bool isCorralBitmap(std::string_view name) {
    return name.substr(0, kBitmapPrefix.size()) == kBitmapPrefix;
}

fs::path backupFile(const fs::path& vmStateDir) {
    return vmStateDir / "backups.json";
}

std::string backupsToJson(const BackupRecord& record) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("next_seq");
    w.Uint64(record.nextSeq);
    w.Key("checkpoints");
    w.StartArray();
    for (const auto& c : record.checkpoints) writeCheckpoint(w, c);
    w.EndArray();
    if (record.pending) {
        w.Key("pending");
        writeCheckpoint(w, *record.pending);
    }
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::optional<BackupRecord> backupsFromJson(std::string_view text, std::string& error) {
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("next_seq") ||
        !doc["next_seq"].IsUint64() || !doc.HasMember("checkpoints") ||
        !doc["checkpoints"].IsArray()) {
        error = "not a backup record (next_seq, checkpoints)";
        return std::nullopt;
    }
    BackupRecord record;
    record.nextSeq = doc["next_seq"].GetUint64();
    for (const auto& v : doc["checkpoints"].GetArray()) {
        auto c = readCheckpoint(v, error);
        if (!c) return std::nullopt;
        record.checkpoints.push_back(std::move(*c));
    }
    if (doc.HasMember("pending")) {
        auto c = readCheckpoint(doc["pending"], error);
        if (!c) return std::nullopt;
        record.pending = std::move(*c);
    }
    return record;
}

std::optional<BackupRecord> readBackups(const fs::path& vmStateDir, std::string& error) {
    auto file = backupFile(vmStateDir);
    std::error_code ec;
    if (!fs::exists(file, ec)) return BackupRecord{};
    auto text = readDefinitionFile(file, error);
    if (!text) return std::nullopt;
    auto record = backupsFromJson(*text, error);
    if (!record) error = file.string() + ": " + error;
    return record;
}

std::optional<std::string> writeBackups(const fs::path& vmStateDir, const BackupRecord& record) {
    std::error_code ec;
    fs::create_directories(vmStateDir, ec);
    if (ec) return "cannot create " + vmStateDir.string() + ": " + ec.message();
    if (auto error =
            writeDefinitionFile(backupFile(vmStateDir), backupsToJson(record), Replace::Yes, 0600))
        return error->message;
    return std::nullopt;
}

}  // namespace corral::supervisor
