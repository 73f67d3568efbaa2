// Live migration with `storage = "copy"`: no shared storage. The destination creates an empty
// image per copied disk (same virtual size and format), exports it writable over NBD from its
// incoming qemu; the source mirrors each disk into it (blockdev-mirror, sync full) until every
// mirror is in sync, then the RAM migration runs with the mirrors still following the guest's
// writes, and at QEMU's pre-switchover pause (vCPUs stopped) the mirrors are ended in sync
// before the switchover (docs/architecture.md "Migration", "Storage copy").
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/signal.hpp"
#include "hypervisor/device.hpp"
#include "supervisor/lifetime.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

class QmpLink;

// The disks a copy migration copies: every writable disk. Read-only disks and media are opened
// at the same path on the destination, as with shared storage.
std::vector<const hypervisor::Device*> copiedDisks(const std::vector<hypervisor::Device>& devices);

// PrepareIncoming's `copy_disks` option: "ID=BYTES,ID=BYTES" (virtual sizes), and back. A
// parse error says what is wrong.
using DiskSizes = std::map<std::string, std::uint64_t, std::less<>>;
std::string diskSizesText(const DiskSizes& sizes);
Outcome<DiskSizes> parseDiskSizes(const std::string& text);

// PrepareIncoming's answer with storage copy: "tcp:HOST:PORT nbd:HOST:PORT" (the migration
// stream, then the NBD server); split into its parts, or nullopt when it is not that.
struct CopyUris {
    std::string stream;  // tcp:HOST:PORT
    std::string nbdHost;
    std::uint16_t nbdPort = 0;
};
std::optional<CopyUris> splitCopyUri(const std::string& uri);

// query-named-block-nodes (flat): the virtual size of each disk's format node.
Outcome<DiskSizes> parseVirtualSizes(const std::string& reply,
                                     const std::vector<const hypervisor::Device*>& disks);

// query-block-jobs, summed over corral's mirror jobs.
struct MirrorJobs {
    std::size_t count = 0;
    std::size_t ready = 0;
    std::uint64_t offset = 0;  // bytes copied
    std::uint64_t length = 0;  // bytes to copy (grows as the guest writes)
    std::string error;         // a job that stopped with an error: its text
};
Outcome<MirrorJobs> parseMirrorJobs(const std::string& reply);

// The source's TLS client credentials for the NBD connections (kMigrationTlsId is the
// stream's; both read [migration] tls_dir).
inline constexpr const char* kStorageTlsId = "corral-storage-tls";

// Of a reply that is a list of objects, the string members `key` that start with `prefix`
// (corral's mirror jobs, its NBD nodes).
std::vector<std::string> namesWithPrefix(const std::string& reply, const char* key,
                                         std::string_view prefix);

// The QMP commands, as JSON text.
std::string mirrorJobId(const std::string& disk);
std::string mirrorTargetNode(const std::string& disk);
std::string nbdClientAddJson(const std::string& disk, const CopyUris& uris, const char* tlsCreds);
// `speed`: bytes/s for this mirror (Migrate's bandwidth), 0 unlimited.
std::string mirrorStartJson(const std::string& disk, std::uint64_t speed);
std::string nbdServerStartJson(const std::string& host, std::uint16_t port, const char* tlsCreds);
std::string exportAddJson(const std::string& disk);
std::string exportDelJson(const std::string& disk);

// The source side: one per migration run with storage copy. `qmp` sends to the VM's qemu.
class StorageCopy {
  public:
    using Qmp = std::function<boost::asio::awaitable<Outcome<std::string>>(std::string)>;
    StorageCopy(std::vector<hypervisor::Device> disks, Qmp qmp, const Lifetime& life);

    // The virtual sizes, for PrepareIncoming.
    boost::asio::awaitable<Outcome<DiskSizes>> measure();
    // Attaches the destination's exports (over TLS with the client certificate of `tlsDir`
    // when it is set, or with the credentials object `preloadedCreds` a confined qemu got on
    // its command line) and starts one mirror per disk, each at most `speed` bytes/s (0: no
    // limit).
    boost::asio::awaitable<Outcome<Unit>> start(CopyUris uris,
                                                std::optional<std::filesystem::path> tlsDir,
                                                std::uint64_t speed,
                                                std::string preloadedCreds = {});
    // Until every mirror is ready (in sync), `stop()` says a reason, or a job fails; `progress`
    // after each poll (bytes copied, bytes to copy).
    boost::asio::awaitable<Outcome<Unit>> waitReady(
        corral::Signal<>& wake, std::function<std::string()> stop,
        std::function<void(std::uint64_t, std::uint64_t)> progress);
    // At the switchover (the vCPUs stopped): ends each mirror in sync (block-job-cancel on a
    // ready job keeps the source and leaves the target a copy of it) and detaches the targets.
    boost::asio::awaitable<Outcome<Unit>> complete();
    // Before the switchover, on any failure: cancels the mirrors and detaches the targets; the
    // source's disks are untouched. Safe to call more than once and after complete(); it finds
    // the jobs and nodes in QEMU, so it also ends those a previous corrald left.
    boost::asio::awaitable<void> abandon();

  private:
    boost::asio::awaitable<Outcome<Unit>> endJobs(bool force);

    std::vector<hypervisor::Device> disks_;
    Qmp qmp_;
    const Lifetime& life_;
    std::vector<std::string> nodes_;  // NBD client nodes added
    std::vector<std::string> jobs_;   // mirror jobs started
    bool tls_ = false;
};

// The destination side: the images PrepareIncoming creates, and their record in the incoming
// VM's runtime dir so that a restarted corrald removes them with the unfinished incoming qemu.
struct CreatedImages {
    std::vector<std::filesystem::path> paths;
};

// Creates each copied disk's image (qemu-img create, its format and size) at its path, which
// must lie in one of `storageDirs` and must not exist yet. On any failure the images made so far
// are removed again and the error names the disk.
Outcome<CreatedImages> createTargetImages(const std::vector<hypervisor::Device>& devices,
                                          const DiskSizes& sizes,
                                          const std::vector<std::filesystem::path>& storageDirs);
void removeImages(const CreatedImages& images);
// The NBD server on HOST:PORT (TLS with the stream's server credentials object `tlsCreds` when
// it is not empty) and one writable export per disk, named by the disk's id; and their end
// before the guest runs here.
boost::asio::awaitable<Outcome<Unit>> exportDisks(std::shared_ptr<QmpLink> qmp, std::string host,
                                                  std::uint16_t port, DiskSizes disks,
                                                  std::string tlsCreds);
boost::asio::awaitable<Outcome<Unit>> unexportDisks(std::shared_ptr<QmpLink> qmp, DiskSizes disks);
// <runtime dir>/copied-images: one path a line.
void recordImages(const std::filesystem::path& runtimeDir, const CreatedImages& images);
void forgetImages(const std::filesystem::path& runtimeDir);
// A restarted corrald with an unfinished incoming migration: removes the images it recorded.
void removeRecordedImages(const std::filesystem::path& runtimeDir);

}  // namespace corral::supervisor
