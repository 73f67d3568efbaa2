#include "supervisor/unit_follow.hpp"

namespace corral::supervisor {

namespace {

// corral@.service asserts its definition at this path; any other VM has no unit to follow it.
constexpr const char* kUnitInstancesDir = "/etc/corral/instances";

}  // namespace

UnitFollower::UnitFollower(Registry& registry, ScopeManager& scopes)
    : registry_(registry), scopes_(scopes) {
    for (Vm* vm : registry_.all()) {
        watch(*vm);
        // Adopted at start-up: a VM that runs has its unit active too.
        if (watches_.count(vm->name()) && vm->lifecycle().state() == State::Running)
            scopes_.startServiceUnit(vm->name());
    }
    added_ = registry_.added().connect([this](Vm& vm) { watch(vm); });
    removing_ = registry_.removing().connect([this](Vm& vm) { watches_.erase(vm.name()); });
}

void UnitFollower::watch(Vm& vm) {
    auto name = vm.name();
    if (registry_.fileOf(name) != std::filesystem::path(kUnitInstancesDir) / (name + ".toml"))
        return;
    auto& instance = vm.lifecycle();
    watches_[name] = instance.changed().connect([this, &instance, name](unsigned bits) {
        if ((bits & kChangedState) && instance.state() == State::Running)
            scopes_.startServiceUnit(name);
    });
}

}  // namespace corral::supervisor
