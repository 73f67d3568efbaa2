#include "supervisor/snapshot_image.hpp"

#include <fstream>
#include <system_error>

#include "hypervisor/qemu_process.hpp"
#include "supervisor/snapshot_plan.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

std::string lastLine(const fs::path& log) {
    std::ifstream in(log);
    std::string line;
    std::string last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

void removeFiles(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
        std::error_code ignored;
        fs::remove(path, ignored);
    }
}

OpError failed(const std::string& text) {
    return OpError{ErrorKind::Failed, text};
}

}  // namespace

asio::awaitable<std::optional<std::string>> runQemuImg(asio::any_io_executor executor,
                                                       fs::path vmStateDir,
                                                       std::vector<std::string> args) {
    auto dir = vmStateDir / "snapshots";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) co_return "cannot create " + dir.string() + ": " + ec.message();
    auto log = dir / "qemu-img.log";
    fs::remove(log, ec);
    std::vector<std::string> argv = {"qemu-img"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::optional<hypervisor::QemuProcess> child;
    try {
        child.emplace(hypervisor::QemuProcess::spawn(executor, argv, log));
    } catch (const std::exception& e) {
        co_return std::string("cannot run qemu-img: ") + e.what();
    }
    auto status = co_await child->waitExit();
    if (status.kind == hypervisor::ExitStatus::Kind::Exited && status.code == 0)
        co_return std::nullopt;
    auto why = lastLine(log);
    co_return "qemu-img " + args.front() + " " + status.describe() +
        (why.empty() ? std::string() : ": " + why);
}

asio::awaitable<std::optional<std::string>> createOverlay(
    asio::any_io_executor executor, fs::path vmStateDir, SnapshotLayer layer,
    std::optional<std::uint64_t> virtualSize) {
    std::vector<std::string> args = {"create",         "-q", "-f",      "qcow2", "-F",
                                     layer.baseFormat, "-b", layer.base};
    if (virtualSize) args.push_back("-u");
    args.push_back(layer.overlay);
    if (virtualSize) args.push_back(std::to_string(*virtualSize));
    auto made = co_await runQemuImg(executor, vmStateDir, std::move(args));
    co_return made;
}

asio::awaitable<Outcome<SnapshotChain>> snapshotOffline(asio::any_io_executor executor,
                                                        fs::path vmStateDir, SnapshotChain chain,
                                                        SnapshotRecord record) {
    std::vector<std::string> made;
    for (const auto& layer : record.disks) {
        auto problem = co_await createOverlay(executor, vmStateDir, layer);
        if (problem) {
            removeFiles(made);
            removeFiles({layer.overlay});
            co_return failed("disk " + layer.disk + ": " + *problem + "; nothing was changed");
        }
        made.push_back(layer.overlay);
    }
    chain.nextSeq = std::max(chain.nextSeq, record.seq + 1);
    chain.snapshots.push_back(std::move(record));
    if (auto unwritten = writeChain(vmStateDir, chain)) {
        removeFiles(made);
        co_return failed(*unwritten + "; nothing was changed");
    }
    co_return chain;
}

asio::awaitable<Outcome<SnapshotChain>> revertOffline(asio::any_io_executor executor,
                                                      fs::path vmStateDir, SnapshotChain chain,
                                                      std::string name) {
    const auto* snapshot = chain.find(name);
    if (!snapshot) co_return OpError{ErrorKind::InvalidArgument, "there is no snapshot " + name};
    // New empty overlays first, beside the old ones: until they replace them nothing changed.
    std::vector<std::string> fresh;
    for (auto layer : snapshot->disks) {
        layer.overlay += ".new";
        auto problem = co_await createOverlay(executor, vmStateDir, layer);
        fresh.push_back(layer.overlay);
        if (problem) {
            removeFiles(fresh);
            co_return failed("disk " + layer.disk + ": " + *problem + "; nothing was changed");
        }
    }
    // The later snapshots leave the record before the overlay they stand on is emptied.
    auto kept = chainUpTo(chain, name);
    if (auto unwritten = writeChain(vmStateDir, kept)) {
        removeFiles(fresh);
        co_return failed(*unwritten + "; nothing was changed");
    }
    for (const auto& layer : snapshot->disks) {
        std::error_code ec;
        fs::rename(layer.overlay + ".new", layer.overlay, ec);
        if (ec)
            co_return failed("disk " + layer.disk + ": cannot replace " + layer.overlay + ": " +
                             ec.message() + "; the snapshots after " + name + " are gone");
    }
    removeFiles(overlaysAfter(chain, name));
    co_return kept;
}

asio::awaitable<Outcome<SnapshotChain>> deleteOffline(asio::any_io_executor executor,
                                                      fs::path vmStateDir, SnapshotChain chain,
                                                      std::string name) {
    if (!chain.find(name))
        co_return OpError{ErrorKind::InvalidArgument, "there is no snapshot " + name};
    auto steps = mergeSteps(chain, name);
    std::vector<std::string> merged;
    for (const auto& step : steps) {
        // Committing twice writes the same data, so a delete cut short can simply run again.
        std::vector<std::string> commit = {"commit", "-q", "-f", "qcow2", step.layer.overlay};
        auto problem = co_await runQemuImg(executor, vmStateDir, std::move(commit));
        if (!problem && !step.above.empty()) {
            std::vector<std::string> rebase = {
                "rebase",        "-u",      "-f", "qcow2", "-F", step.layer.baseFormat, "-b",
                step.layer.base, step.above};
            problem = co_await runQemuImg(executor, vmStateDir, std::move(rebase));
        }
        if (problem)
            co_return failed("disk " + step.layer.disk + ": " + *problem +
                             (merged.empty() ? "; nothing was changed"
                                             : "; the snapshot stays, run DeleteSnapshot again"));
        merged.push_back(step.layer.overlay);
    }
    auto after = afterMerge(chain, name);
    if (auto unwritten = writeChain(vmStateDir, after))
        co_return failed(*unwritten + "; the data is merged, run DeleteSnapshot again");
    removeFiles(merged);
    co_return after;
}

}  // namespace corral::supervisor
