#include "supervisor/snapshot_plan.hpp"

#include <algorithm>

namespace corral::supervisor {

namespace {

// The index of snapshot `name`, or the chain's size.
std::size_t indexOf(const SnapshotChain& chain, const std::string& name) {
    auto it = std::find_if(chain.snapshots.begin(), chain.snapshots.end(),
                           [&](const auto& s) { return s.name == name; });
    return static_cast<std::size_t>(it - chain.snapshots.begin());
}

// The layer of disk `disk` in the first snapshot after index `k` that has it.
SnapshotLayer* nextLayer(SnapshotChain& chain, std::size_t k, const std::string& disk) {
    for (auto j = k + 1; j < chain.snapshots.size(); ++j)
        for (auto& layer : chain.snapshots[j].disks)
            if (layer.disk == disk) return &layer;
    return nullptr;
}

}  // namespace

SnapshotChain chainUpTo(const SnapshotChain& chain, const std::string& name) {
    SnapshotChain kept = chain;
    auto k = indexOf(chain, name);
    if (k < kept.snapshots.size())
        kept.snapshots.erase(kept.snapshots.begin() + static_cast<std::ptrdiff_t>(k) + 1,
                             kept.snapshots.end());
    return kept;
}

std::vector<std::string> overlaysAfter(const SnapshotChain& chain, const std::string& name) {
    std::vector<std::string> overlays;
    for (auto j = indexOf(chain, name) + 1; j < chain.snapshots.size(); ++j)
        for (const auto& layer : chain.snapshots[j].disks) overlays.push_back(layer.overlay);
    return overlays;
}

std::vector<MergeStep> mergeSteps(const SnapshotChain& chain, const std::string& name) {
    std::vector<MergeStep> steps;
    auto k = indexOf(chain, name);
    if (k == chain.snapshots.size()) return steps;
    SnapshotChain copy = chain;
    for (const auto& layer : chain.snapshots[k].disks) {
        auto* next = nextLayer(copy, k, layer.disk);
        steps.push_back({layer, next ? next->overlay : std::string()});
    }
    return steps;
}

SnapshotChain afterMerge(const SnapshotChain& chain, const std::string& name) {
    SnapshotChain merged = chain;
    auto k = indexOf(chain, name);
    if (k == chain.snapshots.size()) return merged;
    for (const auto& layer : chain.snapshots[k].disks) {
        if (auto* next = nextLayer(merged, k, layer.disk)) {
            next->base = layer.base;
            next->baseFormat = layer.baseFormat;
        }
    }
    merged.snapshots.erase(merged.snapshots.begin() + static_cast<std::ptrdiff_t>(k));
    return merged;
}

}  // namespace corral::supervisor
