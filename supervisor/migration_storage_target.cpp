// Storage copy, the destination side: the empty images PrepareIncoming creates for the copied
// disks, removed again on any failure, and their record for a restarted corrald.
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "supervisor/migration_storage.hpp"
#include "supervisor/migration_tls.hpp"
#include "supervisor/qmp_link.hpp"

extern char** environ;

namespace corral::supervisor {

namespace fs = std::filesystem;

namespace {

constexpr const char* kRecord = "copied-images";

OpError failed(std::string text) {
    return {ErrorKind::Failed, std::move(text)};
}

// Whether `path`'s directory, resolved, is one of `dirs` or lies inside one (the image itself
// does not exist yet).
bool inStorage(const fs::path& path, const std::vector<fs::path>& dirs) {
    std::error_code ec;
    auto parent = fs::canonical(path.parent_path(), ec);
    if (ec) return false;
    for (const auto& dir : dirs) {
        auto root = fs::canonical(dir, ec);
        if (ec) continue;
        auto [r, p] = std::mismatch(root.begin(), root.end(), parent.begin(), parent.end());
        if (r == root.end()) return true;
    }
    return false;
}

std::string listed(const std::vector<fs::path>& dirs) {
    std::string out;
    for (const auto& d : dirs) out += (out.empty() ? "" : ", ") + d.string();
    return out;
}

// qemu-img create -f FORMAT PATH SIZE; its output (an error) goes to corrald's stderr.
std::optional<std::string> qemuImgCreate(const std::string& format, const fs::path& path,
                                         std::uint64_t size) {
    std::string size_text = std::to_string(size);
    std::string path_text = path.string();
    const char* argv[] = {"qemu-img",        "create",          "-q",   "-f", format.c_str(),
                          path_text.c_str(), size_text.c_str(), nullptr};
    pid_t pid = 0;
    int r = ::posix_spawnp(&pid, "qemu-img", nullptr, nullptr, const_cast<char**>(argv), environ);
    if (r != 0) return std::string("cannot run qemu-img: ") + std::strerror(r);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return "qemu-img create failed (exit " + std::to_string(WEXITSTATUS(status)) + ")";
    return std::nullopt;
}

}  // namespace

Outcome<CreatedImages> createTargetImages(const std::vector<hypervisor::Device>& devices,
                                          const DiskSizes& sizes,
                                          const std::vector<fs::path>& storageDirs) {
    auto disks = copiedDisks(devices);
    CreatedImages made;
    auto undo = [&made](OpError error) -> Outcome<CreatedImages> {
        removeImages(made);
        return error;
    };
    if (disks.size() != sizes.size())
        return OpError{ErrorKind::InvalidArgument,
                       "PrepareIncoming: copy_disks names " + std::to_string(sizes.size()) +
                           " disks, the device list has " + std::to_string(disks.size()) +
                           " writable ones"};
    for (const auto* disk : disks) {
        auto size = sizes.find(disk->id);
        if (size == sizes.end())
            return undo(OpError{ErrorKind::InvalidArgument,
                                "PrepareIncoming: copy_disks has no size for disk " + disk->id});
        fs::path path = disk->backend.empty() ? std::string(disk->text("path")) : disk->backend;
        std::error_code ec;
        if (fs::exists(fs::symlink_status(path, ec)))
            return undo(OpError{ErrorKind::Exists,
                                "disk " + disk->id + ": " + path.string() +
                                    " exists already on this host; storage copy creates it"});
        if (!inStorage(path, storageDirs))
            return undo(failed("disk " + disk->id + ": " + path.parent_path().string() +
                               " is not a directory under [storage] allowed_dirs (" +
                               listed(storageDirs) + ") on this host"));
        std::string format(disk->text("format"));
        if (format.empty()) format = "raw";
        if (auto error = qemuImgCreate(format, path, size->second)) {
            std::error_code ignored;
            fs::remove(path, ignored);
            return undo(
                failed("disk " + disk->id + ": cannot create " + path.string() + ": " + *error));
        }
        made.paths.push_back(path);
    }
    return made;
}

void removeImages(const CreatedImages& images) {
    for (const auto& path : images.paths) {
        std::error_code ignored;
        fs::remove(path, ignored);
    }
}

boost::asio::awaitable<Outcome<Unit>> exportDisks(std::shared_ptr<QmpLink> qmp, std::string host,
                                                  std::uint16_t port, DiskSizes disks,
                                                  std::string tlsCreds) {
    const auto start =
        nbdServerStartJson(host, port, tlsCreds.empty() ? nullptr : tlsCreds.c_str());
    auto started = co_await qmp->passthrough(start);
    if (!started) co_return failed("nbd-server-start: " + started.error().message);
    for (const auto& [id, size] : disks) {
        const auto add = exportAddJson(id);
        auto exported = co_await qmp->passthrough(add);
        if (!exported)
            co_return failed("block-export-add of disk " + id + ": " + exported.error().message);
    }
    co_return Unit{};
}

boost::asio::awaitable<Outcome<Unit>> unexportDisks(std::shared_ptr<QmpLink> qmp, DiskSizes disks) {
    for (const auto& [id, size] : disks) {
        const auto del = exportDelJson(id);
        auto removed = co_await qmp->passthrough(del);
        if (!removed)
            co_return failed("block-export-del of disk " + id + ": " + removed.error().message);
    }
    auto stopped = co_await qmp->passthrough(R"({"execute":"nbd-server-stop"})");
    if (!stopped) co_return failed("nbd-server-stop: " + stopped.error().message);
    co_return Unit{};
}

void recordImages(const fs::path& runtimeDir, const CreatedImages& images) {
    std::ofstream out(runtimeDir / kRecord, std::ios::trunc);
    for (const auto& path : images.paths) out << path.string() << '\n';
}

void forgetImages(const fs::path& runtimeDir) {
    std::error_code ignored;
    fs::remove(runtimeDir / kRecord, ignored);
}

void removeRecordedImages(const fs::path& runtimeDir) {
    std::ifstream in(runtimeDir / kRecord);
    CreatedImages images;
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line.front() == '/') images.paths.emplace_back(line);
    removeImages(images);
    forgetImages(runtimeDir);
}

}  // namespace corral::supervisor
