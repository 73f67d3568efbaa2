// Snapshots on a running qemu (RunningQemu): the overlays made by corrald (qemu-img, then opened
// here and passed with add-fd: a confined qemu opens no path), blockdev-add'ed without backing,
// and one QMP transaction of blockdev-snapshot actions that switches every disk at the same
// instant; DeleteSnapshot's block-commit jobs. The chain record and state.json are written here,
// the record of a new snapshot before the switch (a SIGKILL between leaves an empty overlay the
// next start runs on: no write is lost), the record of a merge only once the merge is done.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "hypervisor/block_nodes.hpp"
#include "hypervisor/device_backend.hpp"
#include "supervisor/running_qemu.hpp"
#include "supervisor/snapshot_image.hpp"
#include "supervisor/snapshot_plan.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using monitor::JsonObject;

namespace {

constexpr auto kJobPoll = std::chrono::milliseconds(100);
constexpr auto kMergeTimeout = std::chrono::minutes(30);

// The seq of the snapshot whose overlay of `disk` is `image`, 0 if none.
std::uint64_t seqOfOverlay(const SnapshotChain& chain, const std::string& disk,
                           const std::string& image) {
    for (const auto& s : chain.snapshots)
        for (const auto& layer : s.disks)
            if (layer.disk == disk && layer.overlay == image) return s.seq;
    return 0;
}

// The node of image `image` of `disk` in this qemu: an overlay this qemu added has its own
// name, anything opened at launch is found by its file name.
std::string nodeOfImage(const rapidjson::Value& nodes, const SnapshotChain& chain,
                        const std::string& disk, const std::string& image) {
    auto seq = seqOfOverlay(chain, disk, image);
    return findNode(nodes, seq ? overlayNode(disk, seq) : hypervisor::formatNodeOf(disk), image);
}

std::optional<std::uint64_t> virtualSizeOf(const rapidjson::Value& nodes, const std::string& node) {
    for (const auto& n : nodes.GetArray()) {
        if (!n.IsObject() || !n.HasMember("node-name") || n["node-name"] != node.c_str()) continue;
        if (n.HasMember("image") && n["image"].IsObject() && n["image"].HasMember("virtual-size") &&
            n["image"]["virtual-size"].IsUint64())
            return n["image"]["virtual-size"].GetUint64();
    }
    return std::nullopt;
}

}  // namespace

asio::awaitable<Outcome<SnapshotChain>> RunningQemu::snapshotSteps(fs::path dir,
                                                                   SnapshotChain chain,
                                                                   SnapshotRecord record) {
    auto client = qmpClientOf(*qmp_);
    if (!client) co_return OpError{ErrorKind::NotSupported, name_ + ": no QMP for snapshots."};
    if (auto busy = co_await migrationRefusal(*client)) co_return *busy;
    auto args = JsonObject().set("flat", true).take();
    auto nodes = co_await life_.guard(client->execute("query-named-block-nodes", std::move(args)));
    if (!nodes) co_return toOpError(nodes.error(), Channel::Monitor);
    // Everything added so far, undone on a failure: fdsets, block nodes (last first), files.
    std::vector<int> fdsets;
    std::vector<std::string> added;
    std::vector<std::string> files;
    std::vector<std::pair<std::string, std::string>> pairs;
    auto undo = [&](OpError error) -> asio::awaitable<Outcome<SnapshotChain>> {
        for (auto it = added.rbegin(); it != added.rend(); ++it) {
            auto del = JsonObject().set("node-name", *it).take();
            co_await life_.guard(client->execute("blockdev-del", std::move(del)));
        }
        for (int fdset : fdsets) co_await life_.guard(client->removeFd(fdset));
        for (const auto& file : files) {
            std::error_code ignored;
            fs::remove(file, ignored);
        }
        error.message = name_ + ": " + error.message + "; nothing was changed.";
        co_return error;
    };
    for (const auto& layer : record.disks) {
        auto top = nodeOfImage(*nodes, chain, layer.disk, layer.base);
        auto size = virtualSizeOf(*nodes, top);
        if (top.empty() || !size) {
            OpError error{ErrorKind::Failed,
                          "QEMU has no block node for " + layer.base + " of disk " + layer.disk};
            auto failed = co_await undo(std::move(error));
            co_return failed;
        }
        files.push_back(layer.overlay);
        auto made = co_await life_.guard(createOverlay(context_.executor, dir, layer, *size));
        if (made) {
            OpError error{ErrorKind::Failed, "disk " + layer.disk + ": " + *made};
            auto failed = co_await undo(std::move(error));
            co_return failed;
        }
        int fd = ::open(layer.overlay.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            OpError error{ErrorKind::Failed,
                          "cannot open " + layer.overlay + ": " + std::strerror(errno)};
            auto failed = co_await undo(std::move(error));
            co_return failed;
        }
        auto fdset = co_await life_.guard(hypervisor::addTaggedFd(*client, fd, layer.disk));
        ::close(fd);
        if (!fdset) {
            auto error = toOpError(fdset.error(), Channel::Monitor);
            auto failed = co_await undo(std::move(error));
            co_return failed;
        }
        fdsets.push_back(*fdset);
        auto fileArgs = overlayFileArgs(layer.disk, record.seq, *fdset);
        auto format = co_await life_.guard(client->execute("blockdev-add", std::move(fileArgs)));
        if (format) {
            added.push_back(overlayFileNode(layer.disk, record.seq));
            auto formatArgs = overlayFormatArgs(layer.disk, record.seq);
            format = co_await life_.guard(client->execute("blockdev-add", std::move(formatArgs)));
        }
        if (!format) {
            auto error = toOpError(format.error(), Channel::Monitor);
            auto failed = co_await undo(std::move(error));
            co_return failed;
        }
        added.push_back(overlayNode(layer.disk, record.seq));
        pairs.emplace_back(top, overlayNode(layer.disk, record.seq));
    }
    auto before = chain;
    chain.nextSeq = std::max(chain.nextSeq, record.seq + 1);
    chain.snapshots.push_back(record);
    if (auto unwritten = writeChain(dir, chain)) {
        OpError error{ErrorKind::Failed, *unwritten};
        auto failed = co_await undo(std::move(error));
        co_return failed;
    }
    auto actions = snapshotTransaction(pairs);
    auto switched = co_await life_.guard(client->execute("transaction", std::move(actions)));
    if (!switched) {
        writeChain(dir, before);
        auto error = toOpError(switched.error(), Channel::Monitor);
        auto failed = co_await undo(std::move(error));
        co_return failed;
    }
    // QEMU holds its own descriptors of the overlays now.
    for (int fdset : fdsets) co_await life_.guard(client->removeFd(fdset));
    for (const auto& layer : record.disks)
        for (auto& device : state_.devices)
            if (device.id == layer.disk) pointDiskAt(device, layer.overlay, "qcow2");
    if (auto unwritten = persist())
        log(4, "snapshot " + record.name + " taken but state.json is behind: " + *unwritten);
    log(5, "snapshot " + record.name + " taken of " + std::to_string(record.disks.size()) +
               " disk(s)");
    co_return chain;
}

asio::awaitable<std::optional<OpError>> RunningQemu::commitJob(monitor::QmpClient& client,
                                                               std::string job,
                                                               monitor::Json args) {
    // A job of this id is one a killed corrald started: it is waited for, not started again.
    auto listed = JsonObject().take();
    auto existing = co_await life_.guard(client.execute("query-jobs", std::move(listed)));
    if (!existing) co_return toOpError(existing.error(), Channel::Monitor);
    bool running = false;
    for (const auto& j : existing->GetArray())
        if (j.IsObject() && j.HasMember("id") && j["id"] == job.c_str()) running = true;
    if (running) {
        log(5, "block job " + job + " found in QEMU; waiting for its end");
    } else {
        auto started = co_await life_.guard(client.execute("block-commit", std::move(args)));
        if (!started) co_return toOpError(started.error(), Channel::Monitor);
    }
    auto deadline = std::chrono::steady_clock::now() + kMergeTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto none = JsonObject().take();
        auto jobs = co_await life_.guard(client.execute("query-jobs", std::move(none)));
        if (!jobs) co_return toOpError(jobs.error(), Channel::Monitor);
        const rapidjson::Value* mine = nullptr;
        for (const auto& j : jobs->GetArray())
            if (j.IsObject() && j.HasMember("id") && j["id"] == job.c_str()) mine = &j;
        if (!mine) co_return OpError{ErrorKind::Failed, "block job " + job + " vanished"};
        std::string status = (*mine)["status"].GetString();
        if (status == "ready") {
            auto complete = JsonObject().set("id", job).take();
            co_await life_.guard(client.execute("job-complete", std::move(complete)));
        } else if (status == "concluded") {
            std::optional<OpError> error;
            if (mine->HasMember("error") && (*mine)["error"].IsString())
                error = OpError{ErrorKind::Failed, std::string("block job ") + job + ": " +
                                                       (*mine)["error"].GetString()};
            auto dismiss = JsonObject().set("id", job).take();
            co_await life_.guard(client.execute("job-dismiss", std::move(dismiss)));
            co_return error;
        }
        co_await life_.sleep(kJobPoll);
    }
    auto cancel = JsonObject().set("id", job).take();
    co_await life_.guard(client.execute("job-cancel", std::move(cancel)));
    co_return OpError{ErrorKind::Timeout, "block job " + job + " took longer than 30 minutes"};
}

asio::awaitable<Outcome<SnapshotChain>> RunningQemu::mergeSnapshot(fs::path dir,
                                                                   SnapshotChain chain,
                                                                   std::string name) {
    auto client = qmpClientOf(*qmp_);
    if (!client) co_return OpError{ErrorKind::NotSupported, name_ + ": no QMP for block-commit."};
    if (auto busy = co_await migrationRefusal(*client)) co_return *busy;
    const auto* snapshot = chain.find(name);
    bool mergedAny = false;
    for (const auto& step : mergeSteps(chain, name)) {
        const auto& layer = step.layer;
        auto args = JsonObject().set("flat", true).take();
        auto nodes =
            co_await life_.guard(client->execute("query-named-block-nodes", std::move(args)));
        if (!nodes) co_return toOpError(nodes.error(), Channel::Monitor);
        auto top = findNode(*nodes, overlayNode(layer.disk, snapshot->seq), layer.overlay);
        auto base = nodeOfImage(*nodes, chain, layer.disk, layer.base);
        auto root = step.above.empty()
                        ? top
                        : nodeOfImage(*nodes, chain, layer.disk, chain.topOf(layer.disk));
        if (top.empty() || base.empty() || root.empty())
            co_return OpError{ErrorKind::Failed, name_ + ": QEMU lacks a block node of disk " +
                                                     layer.disk + "'s chain; nothing was merged."};
        std::string job = "corral-commit-" + layer.disk;
        auto commit = commitArgs(job, root, top, base, layer.base);
        auto failed = co_await commitJob(*client, job, std::move(commit));
        if (failed) {
            failed->message = name_ + ": disk " + layer.disk + ": " + failed->message +
                              (mergedAny ? "; the snapshot stays, DeleteSnapshot again"
                                         : "; nothing was changed") +
                              ".";
            co_return *failed;
        }
        mergedAny = true;
        // The overlay has left the chain; a node this qemu added is still the monitor's.
        if (top == overlayNode(layer.disk, snapshot->seq)) {
            std::vector<std::string> gone = {top, overlayFileNode(layer.disk, snapshot->seq)};
            for (const auto& node : gone) {
                auto del = JsonObject().set("node-name", node).take();
                co_await life_.guard(client->execute("blockdev-del", std::move(del)));
            }
        }
        if (step.above.empty())
            for (auto& device : state_.devices)
                if (device.id == layer.disk) pointDiskAt(device, layer.base, layer.baseFormat);
    }
    auto after = afterMerge(chain, name);
    if (auto unwritten = persist()) log(4, "state.json is behind the merge: " + *unwritten);
    if (auto unwritten = writeChain(dir, after))
        co_return OpError{ErrorKind::Failed,
                          name_ + ": merged, but " + *unwritten + "; DeleteSnapshot again."};
    for (const auto& layer : snapshot->disks) {
        std::error_code ignored;
        fs::remove(layer.overlay, ignored);
    }
    log(5, "snapshot " + name + " merged away");
    co_return after;
}

void RunningQemu::snapshot(fs::path dir, SnapshotChain chain, SnapshotRecord record,
                           Reply<SnapshotChain> reply) {
    if (!qmp_)
        return reply(OpError{ErrorKind::MonitorUnavailable, name_ + " has no QMP connection yet."});
    if (auto error = checkMonitor()) return reply(*error);
    life_.run<SnapshotChain>(snapshotSteps(std::move(dir), std::move(chain), std::move(record)),
                             std::move(reply), exitedDuring("the snapshot"));
}

void RunningQemu::deleteSnapshot(fs::path dir, SnapshotChain chain, std::string name,
                                 Reply<SnapshotChain> reply) {
    if (!qmp_)
        return reply(OpError{ErrorKind::MonitorUnavailable, name_ + " has no QMP connection yet."});
    if (auto error = checkMonitor()) return reply(*error);
    life_.run<SnapshotChain>(mergeSnapshot(std::move(dir), std::move(chain), std::move(name)),
                             std::move(reply), exitedDuring("the snapshot's merge"));
}

}  // namespace corral::supervisor
