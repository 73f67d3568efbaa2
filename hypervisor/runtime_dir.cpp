#include "hypervisor/runtime_dir.hpp"

#include <fcntl.h>
#include <grp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <variant>

namespace corral::hypervisor {
namespace {

void writeDevices(rapidjson::Writer<rapidjson::StringBuffer>& w,
                  const std::vector<Device>& devices) {
    w.StartArray();
    for (const auto& d : devices) {
        w.StartObject();
        w.Key("id");
        w.String(d.id);
        w.Key("kind");
        w.String(d.kindName().data(), static_cast<rapidjson::SizeType>(d.kindName().size()));
        w.Key("bus");
        w.String(d.slot.bus);
        w.Key("slot");
        w.Uint(d.slot.slot);
        w.Key("hotplugged");
        w.Bool(d.hotplugged);
        // The key the first format had for it, so an older corrald still reads the file.
        w.Key("path");
        w.String(d.backend);
        w.Key("options");
        w.StartObject();
        for (const auto& [key, value] : d.options) {
            w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
            if (auto* text = std::get_if<std::string>(&value))
                w.String(*text);
            else
                w.Bool(std::get<bool>(value));
        }
        w.EndObject();
        w.EndObject();
    }
    w.EndArray();
}

std::string serialize(const RuntimeState& state) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("argv");
    w.StartArray();
    for (const auto& arg : state.argv) w.String(arg);
    w.EndArray();
    w.Key("pid");
    w.Int(state.pid);
    w.Key("started_at_usec");
    w.Uint64(state.startedAtUsec);
    if (state.shutdownDeadlineUsec != 0) {
        w.Key("shutdown_deadline_usec");
        w.Uint64(state.shutdownDeadlineUsec);
    }
    w.Key("devices");
    writeDevices(w, state.devices);
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> stringAt(const rapidjson::Value& object, const char* key) {
    if (!object.HasMember(key) || !object[key].IsString()) return std::nullopt;
    return std::string(object[key].GetString(), object[key].GetStringLength());
}

// One entry of "devices"; "options" is absent in the first format. nullopt and `error` set if
// the entry is unusable.
std::optional<Device> readDevice(const rapidjson::Value& d, std::string& error) {
    auto fail = [&](std::string why) {
        error = std::move(why);
        return std::nullopt;
    };
    if (!d.IsObject()) return fail("a device entry is not an object");
    auto id = stringAt(d, "id"), kind = stringAt(d, "kind"), bus = stringAt(d, "bus"),
         path = stringAt(d, "path");
    if (!id || !kind || !bus || !path || !d.HasMember("slot") || !d["slot"].IsUint() ||
        !d.HasMember("hotplugged") || !d["hotplugged"].IsBool()) {
        return fail("a device entry is incomplete");
    }
    const DeviceKind* known = findKind(*kind);
    if (!known) return fail("device " + *id + " has the unknown kind \"" + *kind + "\"");
    Device device{*id, known, {*bus, d["slot"].GetUint()}, d["hotplugged"].GetBool(), *path, {}};
    if (!d.HasMember("options")) return std::optional<Device>(std::move(device));
    if (!d["options"].IsObject()) return fail("device " + *id + ": \"options\" is not an object");
    for (const auto& [key, value] : d["options"].GetObject()) {
        std::string name(key.GetString(), key.GetStringLength());
        if (value.IsString()) {
            device.options.emplace(name, std::string(value.GetString(), value.GetStringLength()));
        } else if (value.IsBool()) {
            device.options.emplace(name, value.GetBool());
        } else {
            return fail("device " + *id + ": option \"" + name + "\" is not a string or a boolean");
        }
    }
    return std::optional<Device>(std::move(device));
}

// One wording for every step: the caller cares which file could not be written and why, not
// which syscall of the temp-file dance failed.
std::string cannotWrite(const std::filesystem::path& path, int error) {
    return "cannot write " + path.string() + ": " + std::strerror(error);
}

// Gives `path` to group corral (when the host has it) with `mode`; errno on failure, else 0.
int shareWithAdmins(const std::filesystem::path& path, mode_t mode) {
    struct group entry {};
    struct group* found = nullptr;
    char buffer[4096];
    if (getgrnam_r(kAdminGroup, &entry, buffer, sizeof buffer, &found) == 0 && found &&
        ::chown(path.c_str(), static_cast<uid_t>(-1), found->gr_gid) != 0)
        return errno;
    return ::chmod(path.c_str(), mode) == 0 ? 0 : errno;
}

}  // namespace

void createRuntimeDir(const RuntimePaths& paths) {
    std::filesystem::create_directories(paths.dir.parent_path());
    if (::mkdir(paths.dir.c_str(), 0750) != 0 && errno != EEXIST) {
        throw std::system_error(errno, std::generic_category(), "mkdir " + paths.dir.string());
    }
    // mkdir honours the umask and an existing dir may have any mode: set it explicitly.
    if (int error = shareWithAdmins(paths.dir, 0750)) {
        throw std::system_error(error, std::generic_category(), "chmod " + paths.dir.string());
    }
    auto lock = consoleLock(paths);
    int fd = ::open(lock.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "create " + lock.string());
    ::close(fd);
    if (int error = shareWithAdmins(lock, 0640))
        throw std::system_error(error, std::generic_category(), "chmod " + lock.string());
}

std::filesystem::path consoleLock(const RuntimePaths& paths) {
    auto lock = paths.serialSocket;
    lock += ".lock";
    return lock;
}

std::optional<std::string> shareConsole(const RuntimePaths& paths) {
    if (int error = shareWithAdmins(paths.serialSocket, 0660))
        return "cannot give " + paths.serialSocket.string() + " to group " + kAdminGroup + ": " +
               std::strerror(error);
    return std::nullopt;
}

std::optional<pid_t> socketListener(const std::filesystem::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const auto& text = path.native();
    if (text.size() >= sizeof address.sun_path) return std::nullopt;
    std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return std::nullopt;
    std::optional<pid_t> listener;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
        ucred peer{};
        socklen_t size = sizeof peer;
        listener = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 ? peer.pid : 0;
    } else if (errno == EAGAIN) {
        listener = 0;  // a full backlog: someone listens
    }
    ::close(fd);
    return listener;
}

std::optional<std::string> writeState(const RuntimePaths& paths, const RuntimeState& state) {
    std::string text = serialize(state);
    auto temp = paths.stateFile;
    temp += ".tmp";
    // Any failure leaves the previous state.json as it was and removes the temp file.
    auto fail = [&](int error, int fd) {
        if (fd >= 0) ::close(fd);
        ::unlink(temp.c_str());
        return cannotWrite(paths.stateFile, error);
    };
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail(errno, -1);
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(errno, fd);
        done += static_cast<std::size_t>(n);
    }
    // Filesystems with delayed allocation report ENOSPC only here.
    if (::fsync(fd) != 0) return fail(errno, fd);
    if (::close(fd) != 0) return fail(errno, -1);
    if (::rename(temp.c_str(), paths.stateFile.c_str()) != 0) return fail(errno, -1);
    return std::nullopt;
}

std::optional<RuntimeState> readState(const RuntimePaths& paths, std::string& error) {
    std::ifstream in(paths.stateFile);
    if (!in) {
        error = "cannot open " + paths.stateFile.string();
        return std::nullopt;
    }
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document doc;
    doc.Parse(text.str());
    auto bad = [&](const char* what) {
        error = paths.stateFile.string() + ": " + what;
        return std::nullopt;
    };
    if (doc.HasParseError() || !doc.IsObject()) return bad("not a JSON object");
    RuntimeState state;
    if (!doc.HasMember("argv") || !doc["argv"].IsArray()) return bad("\"argv\" missing");
    for (const auto& arg : doc["argv"].GetArray()) {
        if (!arg.IsString()) return bad("\"argv\" holds a non-string");
        state.argv.emplace_back(arg.GetString(), arg.GetStringLength());
    }
    if (!doc.HasMember("pid") || !doc["pid"].IsInt()) return bad("\"pid\" missing");
    state.pid = doc["pid"].GetInt();
    if (!doc.HasMember("started_at_usec") || !doc["started_at_usec"].IsUint64()) {
        return bad("\"started_at_usec\" missing");
    }
    state.startedAtUsec = doc["started_at_usec"].GetUint64();
    if (doc.HasMember("shutdown_deadline_usec")) {
        if (!doc["shutdown_deadline_usec"].IsUint64())
            return bad("\"shutdown_deadline_usec\" is not a number");
        state.shutdownDeadlineUsec = doc["shutdown_deadline_usec"].GetUint64();
    }
    if (!doc.HasMember("devices") || !doc["devices"].IsArray()) return bad("\"devices\" missing");
    for (const auto& d : doc["devices"].GetArray()) {
        std::string why;
        auto device = readDevice(d, why);
        if (!device) return bad(why.c_str());
        state.devices.push_back(std::move(*device));
    }
    return state;
}

std::optional<pid_t> readPidFile(const RuntimePaths& paths) {
    std::ifstream in(paths.pidFile);
    long pid = 0;
    if (!(in >> pid) || pid <= 0) return std::nullopt;
    return static_cast<pid_t>(pid);
}

void removeRuntimeDir(const RuntimePaths& paths) {
    std::error_code ignored;
    std::filesystem::remove_all(paths.dir, ignored);
}

std::string devicesToJson(const std::vector<Device>& devices) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    writeDevices(w, devices);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::vector<Device>> devicesFromJson(std::string_view json, std::string& error) {
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsArray()) {
        error = "the device list is not a JSON array";
        return std::nullopt;
    }
    std::vector<Device> devices;
    for (const auto& d : doc.GetArray()) {
        auto device = readDevice(d, error);
        if (!device) return std::nullopt;
        devices.push_back(std::move(*device));
    }
    return devices;
}

}  // namespace corral::hypervisor
