// qemu-img on a VM's snapshot chain, each run a child process watched on the io_context (no
// blocking wait): an overlay's creation, and the revert and delete of a snapshot while no qemu
// holds the images. Each returns the chain record as it is afterwards (written to
// <vmStateDir>/snapshots.json) or the error; on an error nothing was changed unless it says so.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/op_error.hpp"
#include "supervisor/snapshot_record.hpp"

namespace corral::supervisor {

// qemu-img ARGS (after "qemu-img"); nullopt, or "qemu-img <verb> failed: <its last line>".
// Its output goes to <vmStateDir>/snapshots/qemu-img.log.
boost::asio::awaitable<std::optional<std::string>> runQemuImg(boost::asio::any_io_executor executor,
                                                              std::filesystem::path vmStateDir,
                                                              std::vector<std::string> args);

// A qcow2 overlay at `layer.overlay` on layer.base. With `virtualSize` the base is not opened
// (a running qemu holds it locked) and the overlay gets that size.
boost::asio::awaitable<std::optional<std::string>> createOverlay(
    boost::asio::any_io_executor executor, std::filesystem::path vmStateDir, SnapshotLayer layer,
    std::optional<std::uint64_t> virtualSize = std::nullopt);

// A stopped VM: snapshot `record` (its overlays created, then the record written).
boost::asio::awaitable<Outcome<SnapshotChain>> snapshotOffline(
    boost::asio::any_io_executor executor, std::filesystem::path vmStateDir, SnapshotChain chain,
    SnapshotRecord record);
// A stopped VM: the disks as they were at snapshot `name`; later snapshots are discarded and
// `name` gets new empty overlays, so it can be reverted to again.
boost::asio::awaitable<Outcome<SnapshotChain>> revertOffline(boost::asio::any_io_executor executor,
                                                             std::filesystem::path vmStateDir,
                                                             SnapshotChain chain, std::string name);
// A stopped VM: snapshot `name` merged away (qemu-img commit into the image below each overlay,
// the overlay above rebased onto it), then the record, then the overlay files.
boost::asio::awaitable<Outcome<SnapshotChain>> deleteOffline(boost::asio::any_io_executor executor,
                                                             std::filesystem::path vmStateDir,
                                                             SnapshotChain chain, std::string name);

}  // namespace corral::supervisor
