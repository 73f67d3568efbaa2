// Backups of a running qemu (RunningQemu): the target files made by qemu-img and passed with
// add-fd (a confined qemu opens no path), blockdev-add'ed without backing; one QMP transaction
// that adds each disk's new persistent dirty bitmap and starts its blockdev-backup at the same
// instant; the jobs polled until they conclude. The record marks the backup pending before the
// transaction, so a corrald killed meanwhile ends it at its next start (settleSteps).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "hypervisor/device_backend.hpp"
#include "supervisor/running_qemu.hpp"
#include "supervisor/snapshot_image.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using monitor::JsonObject;

namespace {

constexpr auto kJobPoll = std::chrono::milliseconds(200);
constexpr auto kCancelWait = std::chrono::seconds(60);

bool has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

const rapidjson::Value* jobIn(const rapidjson::Value& jobs, const std::string& id) {
    for (const auto& j : jobs.GetArray())
        if (j.IsObject() && j.HasMember("id") && j["id"] == id.c_str()) return &j;
    return nullptr;
}

std::uint64_t number(const rapidjson::Value& job, const char* key) {
    return job.HasMember(key) && job[key].IsUint64() ? job[key].GetUint64() : 0;
}

}  // namespace

asio::awaitable<void> RunningQemu::dropTargets(monitor::QmpClient& client,
                                               std::vector<std::string> disks) {
    for (const auto& disk : disks)
        for (const auto& node : {targetNode(disk), targetFileNode(disk)}) {
            auto del = JsonObject().set("node-name", node).take();
            co_await life_.guard(client.execute("blockdev-del", std::move(del)));
        }
}

asio::awaitable<Outcome<BackupRecord>> RunningQemu::backupSteps(
    fs::path dir, BackupRecord record, BackupPlan plan, std::shared_ptr<BackupWatch> watch) {
    auto client = qmpClientOf(*qmp_);
    if (!client) co_return OpError{ErrorKind::NotSupported, name_ + ": no QMP for backups."};
    if (auto busy = co_await migrationRefusal(*client)) co_return *busy;
    auto blocks = co_await life_.guard(client->execute("query-block"));
    if (!blocks) co_return toOpError(blocks.error(), Channel::Monitor);
    std::vector<std::string> nodes;
    std::vector<std::uint64_t> sizes;
    for (auto& step : plan.steps) {
        auto active = activeNodeOf(*blocks, step.disk);
        if (!active)
            co_return OpError{ErrorKind::Failed,
                              name_ + ": QEMU has no disk " + step.disk + "; nothing was changed."};
        // A bitmap of a backup a killed corrald left: it belongs to no checkpoint.
        for (const auto& bitmap : active->bitmaps)
            if (isCorralBitmap(bitmap) && bitmap != step.oldBitmap) {
                auto args = bitmapRemoveArgs(active->node, bitmap);
                co_await life_.guard(client->execute("block-dirty-bitmap-remove", std::move(args)));
                log(5, "disk " + step.disk + ": stray dirty bitmap " + bitmap + " removed");
            }
        bool tracked = has(active->bitmaps, step.oldBitmap);
        if (!step.backing.empty() && !tracked)
            co_return OpError{ErrorKind::InvalidState,
                              name_ + ": disk " + step.disk + "'s image has no dirty bitmap " +
                                  step.oldBitmap +
                                  " (it was replaced or converted); take a full backup; nothing "
                                  "was changed."};
        if (!tracked) step.oldBitmap.clear();
        nodes.push_back(active->node);
        sizes.push_back(active->size);
    }
    std::vector<std::string> added;  // disks whose target nodes exist in QEMU
    auto undo = [&](OpError error) -> asio::awaitable<Outcome<BackupRecord>> {
        co_await dropTargets(*client, added);
        for (const auto& step : plan.steps) {
            std::error_code ignored;
            fs::remove(step.file, ignored);
        }
        error.message = name_ + ": " + error.message + "; nothing was changed.";
        co_return error;
    };
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
        const auto& step = plan.steps[i];
        std::vector<std::string> args = {"create", "-q", "-f", "qcow2"};
        if (!step.backing.empty()) args.insert(args.end(), {"-b", step.backing, "-F", "qcow2"});
        args.insert(args.end(), {step.file, std::to_string(sizes[i])});
        auto made = co_await life_.guard(runQemuImg(context_.executor, dir, std::move(args)));
        if (made) {
            auto failed =
                co_await undo(OpError{ErrorKind::Failed, "disk " + step.disk + ": " + *made});
            co_return failed;
        }
        ::chmod(step.file.c_str(), 0600);
        int fd = ::open(step.file.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            OpError error{ErrorKind::Failed,
                          "cannot open " + step.file + ": " + std::strerror(errno)};
            auto failed = co_await undo(std::move(error));
            co_return failed;
        }
        auto fdset = co_await life_.guard(hypervisor::addTaggedFd(*client, fd, step.disk));
        ::close(fd);
        if (!fdset) {
            auto failed = co_await undo(toOpError(fdset.error(), Channel::Monitor));
            co_return failed;
        }
        added.push_back(step.disk);
        auto fileArgs = targetFileArgs(step.disk, *fdset);
        auto opened = co_await life_.guard(client->execute("blockdev-add", std::move(fileArgs)));
        if (opened) {
            auto formatArgs = targetFormatArgs(step.disk);
            opened = co_await life_.guard(client->execute("blockdev-add", std::move(formatArgs)));
        }
        // QEMU holds its own descriptor once the node is open.
        co_await life_.guard(client->removeFd(*fdset));
        if (!opened) {
            auto failed = co_await undo(toOpError(opened.error(), Channel::Monitor));
            co_return failed;
        }
    }
    record.pending = plan.checkpoint;
    if (auto unwritten = writeBackups(dir, record)) {
        auto failed = co_await undo(OpError{ErrorKind::Failed, *unwritten});
        co_return failed;
    }
    record.pending.reset();
    auto actions = backupTransaction(plan, nodes);
    auto started = co_await life_.guard(client->execute("transaction", std::move(actions)));
    if (!started) {
        writeBackups(dir, record);
        auto failed = co_await undo(toOpError(started.error(), Channel::Monitor));
        co_return failed;
    }
    log(5, "backup " + plan.checkpoint.name + " (" + plan.checkpoint.mode + ") of " +
               std::to_string(plan.steps.size()) + " disk(s) into " + plan.checkpoint.target);
    auto failure = co_await waitBackupJobs(*client, plan, watch);
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
        const auto& step = plan.steps[i];
        // Success: the old checkpoint's bitmap goes. Failure: the new one, so the old one still
        // holds every write since its checkpoint.
        const auto& gone = failure ? step.newBitmap : step.oldBitmap;
        if (gone.empty()) continue;
        auto args = bitmapRemoveArgs(nodes[i], gone);
        auto removed =
            co_await life_.guard(client->execute("block-dirty-bitmap-remove", std::move(args)));
        if (!removed)
            log(4, "disk " + step.disk + ": bitmap " + gone + " stays: " + removed.error().message);
    }
    co_await dropTargets(*client, added);
    if (failure) {
        for (const auto& step : plan.steps) {
            std::error_code ignored;
            fs::remove(step.file, ignored);
        }
        writeBackups(dir, record);
        failure->message = name_ + ": backup " + plan.checkpoint.name + ": " + failure->message +
                           "; its files were removed, the next incremental backup covers its "
                           "changes.";
        co_return *failure;
    }
    auto after = afterBackup(record, plan);
    if (auto unwritten = writeBackups(dir, after))
        co_return OpError{ErrorKind::Failed, name_ + ": backup " + plan.checkpoint.name +
                                                 " copied, but " + *unwritten};
    co_return after;
}

asio::awaitable<std::optional<OpError>> RunningQemu::waitBackupJobs(
    monitor::QmpClient& client, const BackupPlan& plan, std::shared_ptr<BackupWatch> watch) {
    bool cancelSent = false;
    std::optional<OpError> error;
    while (true) {
        auto none = JsonObject().take();
        auto jobs = co_await life_.guard(client.execute("query-jobs", std::move(none)));
        if (!jobs) co_return toOpError(jobs.error(), Channel::Monitor);
        std::uint64_t done = 0, total = 0;
        std::size_t concluded = 0;
        for (const auto& step : plan.steps) {
            const auto* job = jobIn(*jobs, backupJob(step.disk));
            if (!job)
                co_return OpError{ErrorKind::Failed,
                                  "block job " + backupJob(step.disk) + " vanished"};
            done += number(*job, "current-progress");
            total += number(*job, "total-progress");
            if ((*job)["status"] != "concluded") continue;
            ++concluded;
            if (!error && job->HasMember("error") && (*job)["error"].IsString())
                error = OpError{ErrorKind::Failed, cancelSent ? std::string("cancelled")
                                                              : "disk " + step.disk + ": " +
                                                                    (*job)["error"].GetString()};
        }
        if (watch->progress) watch->progress(done, total);
        if (concluded == plan.steps.size()) break;
        if ((watch->cancel || error) && !cancelSent) {
            cancelSent = true;
            for (const auto& step : plan.steps) {
                auto cancel = JsonObject().set("id", backupJob(step.disk)).take();
                co_await life_.guard(client.execute("job-cancel", std::move(cancel)));
            }
        }
        co_await life_.sleep(kJobPoll);
    }
    for (const auto& step : plan.steps) {
        auto dismiss = JsonObject().set("id", backupJob(step.disk)).take();
        co_await life_.guard(client.execute("job-dismiss", std::move(dismiss)));
    }
    if (cancelSent && !error) error = OpError{ErrorKind::Failed, "cancelled"};
    co_return error;
}

asio::awaitable<Outcome<BackupRecord>> RunningQemu::settleSteps(fs::path dir, BackupRecord record) {
    auto client = qmpClientOf(*qmp_);
    if (!client || !record.pending) co_return record;
    const auto pending = *record.pending;
    std::vector<std::string> disks;
    for (const auto& f : pending.files) disks.push_back(f.disk);
    auto deadline = std::chrono::steady_clock::now() + kCancelWait;
    for (bool first = true; std::chrono::steady_clock::now() < deadline; first = false) {
        auto none = JsonObject().take();
        auto jobs = co_await life_.guard(client->execute("query-jobs", std::move(none)));
        if (!jobs) co_return toOpError(jobs.error(), Channel::Monitor);
        bool left = false;
        for (const auto& disk : disks) {
            const auto* job = jobIn(*jobs, backupJob(disk));
            if (!job) continue;
            auto id = JsonObject().set("id", backupJob(disk)).take();
            if ((*job)["status"] == "concluded") {
                co_await life_.guard(client->execute("job-dismiss", std::move(id)));
                continue;
            }
            left = true;
            if (first) co_await life_.guard(client->execute("job-cancel", std::move(id)));
        }
        if (!left) break;
        co_await life_.sleep(kJobPoll);
    }
    auto blocks = co_await life_.guard(client->execute("query-block"));
    for (const auto& disk : disks) {
        auto active = blocks ? activeNodeOf(*blocks, disk) : std::nullopt;
        if (!active || !has(active->bitmaps, bitmapOf(pending.name))) continue;
        auto args = bitmapRemoveArgs(active->node, bitmapOf(pending.name));
        co_await life_.guard(client->execute("block-dirty-bitmap-remove", std::move(args)));
    }
    co_await dropTargets(*client, disks);
    for (const auto& f : pending.files) {
        std::error_code ignored;
        fs::remove(f.file, ignored);
    }
    record.pending.reset();
    if (auto unwritten = writeBackups(dir, record))
        co_return OpError{ErrorKind::Failed, *unwritten};
    log(5, "backup " + pending.name +
               " cut short by a corrald restart: its jobs ended, its files removed");
    co_return record;
}

void RunningQemu::backup(fs::path dir, BackupRecord record, BackupPlan plan,
                         std::shared_ptr<BackupWatch> watch, Reply<BackupRecord> reply) {
    if (!qmp_)
        return reply(OpError{ErrorKind::MonitorUnavailable, name_ + " has no QMP connection yet."});
    if (auto error = checkMonitor()) return reply(*error);
    life_.run<BackupRecord>(
        backupSteps(std::move(dir), std::move(record), std::move(plan), std::move(watch)),
        std::move(reply), exitedDuring("the backup"));
}

void RunningQemu::settleBackup(fs::path dir, BackupRecord record, Reply<BackupRecord> reply) {
    if (!qmp_)
        return reply(OpError{ErrorKind::MonitorUnavailable, name_ + " has no QMP connection yet."});
    if (auto error = checkMonitor()) return reply(*error);
    life_.run<BackupRecord>(settleSteps(std::move(dir), std::move(record)), std::move(reply),
                            exitedDuring("the end of a cut-short backup"));
}

}  // namespace corral::supervisor
