// QemuVm: the definition, launch, and the operations that the RunningQemu carries out.
#include "supervisor/qemu_vm.hpp"

#include "supervisor/migration_marker.hpp"
#include "supervisor/persist_reboot.hpp"

namespace corral::supervisor {

namespace {

LifecyclePolicy policyOf(const std::optional<hypervisor::InstanceSpec>& spec) {
    if (!spec) return {};
    return {std::chrono::duration_cast<Duration>(spec->lifecycle.shutdownTimeout),
            spec->lifecycle.onCrash == hypervisor::OnCrash::Restart};
}

std::string describeProblems(const hypervisor::LoadResult& definition) {
    std::string text;
    for (const auto& d : definition.diagnostics) text += (text.empty() ? "" : "; ") + d.format();
    return text.empty() ? "invalid definition" : text;
}

}  // namespace

QemuVm::QemuVm(VmContext& context, std::string name, const hypervisor::LoadResult& definition)
    : context_(context),
      name_(std::move(name)),
      paths_(instancePaths(context, name_)),
      instance_(name_, *this, context.clock, policyOf(definition.spec), context.log) {
    apply(definition);
    watchForLog();
    if (auto destination = readMigratedMarker(context.stateRoot, name_))
        instance_.setMigratedTo(*destination);
}

// Never kills qemu: a daemon restart must leave VMs running. ~RunningQemu closes our side only.
QemuVm::~QemuVm() = default;

// A definition whose file was removed is dropped by the next Reload; until then it may not
// start again (what the file said is no longer what the administrator wants).
std::optional<OpError> QemuVm::definitionGone() const {
    if (!context_.definitionFile) return std::nullopt;
    auto file = context_.definitionFile(name_);
    std::error_code ec;
    if (std::filesystem::exists(file, ec) || ec) return std::nullopt;
    return OpError{ErrorKind::InvalidState, name_ + "'s definition file " + file.string() +
                                                " was removed; Reload to drop it"};
}

void QemuVm::log(int priority, const std::string& text) const {
    if (context_.log) context_.log(priority, name_ + ": " + text);
}

void QemuVm::apply(hypervisor::LoadResult definition) {
    pending_.reset();
    spec_ = std::move(definition.spec);
    instance_.setPolicy(policyOf(spec_));
    if (spec_) {
        invalidWhy_.clear();
        instance_.markValid();
    } else {
        invalidWhy_ = describeProblems(definition);
        instance_.markInvalid(invalidWhy_);
    }
}

void QemuVm::redefine(const hypervisor::LoadResult& definition) {
    if (running_) {
        pending_ = definition;
        return;
    }
    apply(definition);
}

bool QemuVm::applyResources(const hypervisor::ResourcesSpec& resources) {
    if (!running_ || !context_.scopes || !spec_) return false;
    spec_->resources = resources;  // what the running qemu now has
    context_.scopes->setResources(name_, resources);
    return true;
}

VmInfo QemuVm::info() const {
    VmInfo info;
    info.qmpSocket = paths_.qmpSocket.string();
    info.serialSocket = paths_.serialSocket.string();
    if (!spec_) return info;
    info.machine = hypervisor::toString(spec_->machine.type);
    info.vcpus = spec_->machine.cpus;
    info.memoryBytes = spec_->machine.memoryBytes;
    info.uuid = spec_->machine.uuid;
    return info;
}

std::vector<hypervisor::Device> QemuVm::devices() const {
    return running_ ? running_->state().devices : lastDevices_;
}

void QemuVm::track(std::unique_ptr<ProcessHandle> process, hypervisor::RuntimeState state,
                   std::unique_ptr<SwtpmProcess> tpm) {
    RunningQemu::Setup setup{name_, paths_, std::move(state), spec_ ? &*spec_ : nullptr,
                             std::move(tpm)};
    runningNotices_.clear();
    running_ = std::make_unique<RunningQemu>(context_, std::move(setup), std::move(process));
    // Instance set events_ once, in its constructor.
    auto& notices = running_->notices();
    runningNotices_.push_back(notices.exited.connect([this](ExitInfo exit) { ended(exit); }));
    runningNotices_.push_back(notices.shutdown.connect(events_.shutdown));
    runningNotices_.push_back(notices.runStateChanged.connect(events_.runStateChanged));
    runningNotices_.push_back(notices.agentChanged.connect(events_.agentChanged));
    runningNotices_.push_back(
        notices.qemuGaChanged.connect([this](bool) { instance_.changed().emit(kChangedQemuGa); }));
    runningNotices_.push_back(notices.monitorChanged.connect(events_.monitorChanged));
    runningNotices_.push_back(notices.devicesChanged.connect([this] { devicesChanged().emit(); }));
    runningNotices_.push_back(notices.migration.connect(
        [this](const std::string& status) { migrationEvents().emit(status); }));
}

void QemuVm::ended(ExitInfo exit) {
    lastDevices_ = running_->state().devices;
    bool qemuGaWasUp = running_->qemuGaAnswers();
    runningNotices_.clear();
    running_.reset();
    if (context_.scopes) context_.scopes->release(name_);
    bool redefined = pending_.has_value();
    if (pending_) apply(*pending_);
    events_.exited(exit);
    // Machine, Vcpus, MemoryBytes now tell what the next start uses (an Update or Reload
    // meanwhile).
    if (redefined) instance_.changed().emit(kChangedDefinition);
    if (qemuGaWasUp) instance_.changed().emit(kChangedQemuGa);
}

void QemuVm::launch(std::function<void(Outcome<pid_t>)> done) {
    if (pending_) apply(*pending_);
    if (!spec_) return done(OpError{ErrorKind::InvalidDefinition, invalidWhy_});
    if (auto gone = definitionGone()) return done(*gone);
    if (snapshotting_)
        return done(OpError{ErrorKind::Busy, name_ + " is in the middle of a snapshot operation; "
                                                     "start it when that is done."});
    LaunchedQemu launched;
    std::unique_ptr<SwtpmProcess> tpm;
    std::optional<Restore> restore;
    try {
        restore = openSavedState();
        tpm = startTpm();
        auto spec = *spec_;
        useSnapshots(spec.devices);
        logLaunch(restore                 ? "restoring its saved state"
                  : instance_.rebooting() ? "reboot, keeping its devices"
                                          : "start");
        hypervisor::prepareFirmware(spec.firmware, context_.firmware, context_.stateRoot / name_);
        // A restore starts the saved devices; a Reboot keeps what the last qemu had, hotplugged
        // devices included (persist_reboot).
        if (restore)
            launched = context_.parts.launchIncoming(spec, restore->header.devices,
                                                     context_.runtimeRoot, context_.qemuBinary);
        else if (instance_.rebooting())
            launched = launchForReboot(
                context_.parts, spec, lastDevices_, context_.runtimeRoot, context_.qemuBinary,
                [this](int priority, const std::string& text) { log(priority, text); });
        else
            launched = context_.parts.launch(spec, context_.runtimeRoot, context_.qemuBinary);
    } catch (const std::exception& e) {
        if (tpm) tpm->stop();
        return done(OpError{ErrorKind::Failed, e.what()});
    }
    if (context_.scopes)
        context_.scopes->place(identifyMachine(name_, launched.process->pid(), launched.state.argv,
                                               launched.state.devices),
                               spec_->resources);
    track(std::move(launched.process), std::move(launched.state), std::move(tpm));
    devicesChanged().emit();
    if (!restore) return running_->start(std::move(done));
    running_->start(afterRestore(std::move(*restore), std::move(done)));
}

void QemuVm::command(VmCommand command, Done done) {
    if (!running_) return done(OpError{ErrorKind::InvalidState, name_ + " has no qemu."});
    running_->command(command, std::move(done));
}

void QemuVm::signal(int signo) {
    if (running_) running_->signal(signo);
}

void QemuVm::shutdownBegan(std::uint64_t deadlineUsec) {
    if (running_) running_->shutdownBegan(deadlineUsec);
}

std::optional<OpError> QemuVm::checkUsable() const {
    if (auto error = instance_.checkUsable()) return error;
    if (!running_) return OpError{ErrorKind::InvalidState, name_ + " has no qemu."};
    return std::nullopt;
}

void QemuVm::attachDevice(hypervisor::Device device, Reply<std::string> reply) {
    if (auto error = checkUsable()) return reply(*error);
    running_->attachDevice(std::move(device), std::move(reply));
}

void QemuVm::changeMedia(std::string id, std::string path, Done done) {
    if (auto error = checkUsable()) return done(*error);
    running_->changeMedia(std::move(id), std::move(path), std::move(done));
}

void QemuVm::detach(std::string id, Done done) {
    if (auto error = checkUsable()) return done(*error);
    running_->detach(std::move(id), std::move(done));
}

void QemuVm::guestExecute(std::vector<std::string> argv, std::string input,
                          std::chrono::milliseconds timeout, Reply<std::string> reply) {
    if (auto error = checkUsable()) return reply(*error);
    running_->guestExecute(std::move(argv), std::move(input), timeout, std::move(reply));
}

void QemuVm::guestRun(std::vector<std::string> argv, std::string input,
                      std::chrono::milliseconds timeout, Reply<agent::RunOutcome> reply) {
    if (auto error = checkUsable()) return reply(*error);
    running_->guestRun(std::move(argv), std::move(input), timeout, std::move(reply));
}

void QemuVm::guestListCommands(Reply<std::vector<std::string>> reply) {
    if (auto error = checkUsable()) return reply(*error);
    running_->guestListCommands(std::move(reply));
}

void QemuVm::qemuGaGuestInfo(Reply<GuestInfo> reply) {
    if (auto error = checkUsable()) return reply(*error);
    running_->qemuGaGuestInfo(std::move(reply));
}

void QemuVm::screenshot(std::string path, Done done) {
    if (!running_)
        return done(OpError{ErrorKind::InvalidState, name_ + " is not running; start it first."});
    running_->screenshot(std::move(path), std::move(done));
}

void QemuVm::monitor(std::string json, Reply<std::string> reply) {
    if (!running_)
        return reply(OpError{ErrorKind::InvalidState, name_ + " is not running; start it first."});
    running_->monitor(std::move(json), std::move(reply));
}

}  // namespace corral::supervisor
