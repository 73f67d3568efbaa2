// QemuVm and managed save: Save writes <state_dir>/NAME/saved.state.tmp (header, then QEMU's
// migration stream), renames it to saved.state once QEMU said it completed and the data is on
// disk, then stops qemu; the next launch restores from it and removes it once the VM runs.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Bounds of the stream's transfer; the guest's RAM at disk speed takes far less.
constexpr std::chrono::seconds kSaveTimeout{600};
constexpr std::chrono::seconds kRestoreTimeout{600};
// After `quit`, how long Save waits for qemu to be gone before it answers anyway.
constexpr auto kQuitWindow = 10s;

std::string errnoText(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

bool writeAll(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

void syncDir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

bool isIncoming(const std::vector<std::string>& argv) {
    return std::find(argv.begin(), argv.end(), "-incoming") != argv.end();
}

}  // namespace

bool QemuVm::hasSavedState() const {
    std::error_code ec;
    return fs::exists(savedStatePath(context_.stateRoot, name_), ec);
}

bool QemuVm::restoresAtBoot() const {
    std::string why;
    auto header = readSavedHeaderAt(savedStatePath(context_.stateRoot, name_), why);
    return header && header->reason == SaveReason::HostShutdown;
}

std::optional<std::string> QemuVm::discardSavedState() {
    auto path = savedStatePath(context_.stateRoot, name_);
    std::error_code ec;
    if (!fs::remove(path, ec)) return std::nullopt;
    log(5, "saved state discarded (" + path.string() + ")");
    instance_.changed().emit(kChangedSaved);
    return path.string();
}

void QemuVm::save(SaveReason reason, Done done) {
    if (auto error = checkUsable()) return done(*error);
    if (saving_) return done(OpError{ErrorKind::Busy, name_ + " is being saved already."});
    auto temporary = savingStatePath(context_.stateRoot, name_);
    std::error_code ec;
    fs::create_directories(temporary.parent_path(), ec);
    OwnedFd file(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!file)
        return done(OpError{ErrorKind::Failed,
                            "Cannot save " + name_ + ": " + errnoText(temporary.string())});
    SavedHeader header;
    header.reason = reason;
    header.running = instance_.state() == State::Running;
    header.devices = running_->state().devices;
    if (!writeAll(file.get(), savedHeaderText(header))) {
        auto why = errnoText("cannot write " + temporary.string());
        fs::remove(temporary, ec);
        return done(OpError{ErrorKind::Failed, "Cannot save " + name_ + ": " + why});
    }
    saving_ = true;
    log(5, std::string("saving its state (") + toString(reason) + ")");
    int fd = file.get();
    auto owned = std::make_shared<OwnedFd>(std::move(file));
    running_->save(
        fd, kSaveTimeout,
        [this, alive = std::weak_ptr<bool>(alive_), owned, reason, temporary,
         done = std::move(done)](Status status) mutable {
            std::error_code ec;
            if (!alive.lock()) {
                fs::remove(temporary, ec);
                return done(status ? Status(OpError{ErrorKind::Failed, "corrald is stopping"})
                                   : status);
            }
            saving_ = false;
            if (!status) {
                fs::remove(temporary, ec);
                log(4, status.error().message);
                return done(status);
            }
            commitSave(std::move(*owned), reason, std::move(done));
        });
}

void QemuVm::commitSave(OwnedFd file, SaveReason reason, Done done) {
    auto temporary = savingStatePath(context_.stateRoot, name_);
    auto final = savedStatePath(context_.stateRoot, name_);
    std::error_code ec;
    std::string why;
    if (::fsync(file.get()) != 0) why = errnoText("fsync " + temporary.string());
    file = OwnedFd();
    if (why.empty()) {
        fs::rename(temporary, final, ec);
        if (ec) why = "cannot rename " + temporary.string() + ": " + ec.message();
    }
    if (!why.empty()) {
        // The stream is not kept: the guest goes on (QEMU re-activates its disks at cont).
        fs::remove(temporary, ec);
        log(3, "save failed: " + why);
        command(VmCommand::Cont, [](Status) {});
        return done(OpError{ErrorKind::Failed, "Saving " + name_ + " failed: " + why});
    }
    syncDir(final.parent_path());
    auto size = fs::file_size(final, ec);
    log(5, "state saved to " + final.string() + " (" + std::to_string(ec ? 0 : size) +
               " bytes); stopping qemu");
    instance_.changed().emit(kChangedSaved);
    // Save answers once qemu is gone (bounded: quit is QEMU's fastest way out).
    auto answer = std::make_shared<Done>(std::move(done));
    auto finish = [answer](Status status) {
        if (*answer) std::exchange(*answer, {})(status);
    };
    auto watch = std::make_shared<Connection>();
    *watch = instance_.changed().connect([this, finish, watch](unsigned bits) {
        if ((bits & kChangedState) && instance_.state() == State::Stopped) {
            finish(okStatus());
            watch->disconnect();
        }
    });
    auto timer = std::shared_ptr<TimerHandle>(
        context_.clock.schedule(kQuitWindow, [finish] { finish(okStatus()); }));
    std::string lastExit = reason == SaveReason::HostShutdown ? "host-shutdown: saved" : "saved";
    instance_.savedAway(std::move(lastExit), [finish, timer, watch](Status status) {
        if (!status) {
            watch->disconnect();
            finish(status);
        }
    });
}

std::optional<QemuVm::Restore> QemuVm::openSavedState() const {
    auto path = savedStatePath(context_.stateRoot, name_);
    OwnedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw std::runtime_error("cannot restore " + name_ + ": " + errnoText(path.string()));
    }
    std::string why;
    auto header = readSavedHeader(fd.get(), why);
    if (!header)
        throw std::runtime_error("cannot restore " + name_ + " from " + path.string() + ": " + why +
                                 "; the file is kept (StartWithOptions discard_saved=true, or "
                                 "corralctl start --discard-saved, boots afresh)");
    return Restore{std::move(*header), std::move(fd)};
}

std::function<void(Outcome<pid_t>)> QemuVm::afterRestore(Restore restore,
                                                         std::function<void(Outcome<pid_t>)> done) {
    log(5, "restoring its saved state");
    running_->restoreFrom(std::move(restore.fd), kRestoreTimeout);
    auto path = savedStatePath(context_.stateRoot, name_);
    return [this, alive = std::weak_ptr<bool>(alive_), path,
            done = std::move(done)](Outcome<pid_t> result) {
        if (!result) {
            return done(OpError{result.error().kind,
                                "Restoring " + name_ + " from its saved state failed: " +
                                    result.error().message + "; " + path.string() +
                                    " is kept (StartWithOptions discard_saved=true boots afresh)"});
        }
        if (alive.lock()) {
            // It runs again: the state in the file is the past now.
            std::error_code ec;
            fs::remove(path, ec);
            syncDir(path.parent_path());
            log(5, "restored from its saved state");
            instance_.changed().emit(kChangedSaved);
        }
        done(std::move(result));
    };
}

void QemuVm::settleSave() {
    std::error_code ec;
    auto temporary = savingStatePath(context_.stateRoot, name_);
    std::string why;
    auto interrupted = readSavedHeaderAt(temporary, why);
    if (fs::remove(temporary, ec)) {
        log(4, "a save that a corrald restart interrupted was abandoned");
        if (running_ && interrupted && interrupted->running && instance_.state() == State::Paused)
            instance_.resume([this](Status s) {
                if (!s) log(3, "resuming after the abandoned save: " + s.error().message);
            });
    }
    if (!running_ || !hasSavedState()) return;
    bool restoring = isIncoming(running_->state().argv);
    bool paused = instance_.state() == State::Paused;
    if (restoring && paused) {
        // The stream may not have loaded: this qemu never ran the guest; the file stays.
        log(4, "a restore that a corrald restart interrupted is ended; the saved state is kept");
        instance_.kill([](Status) {});
    } else if (!paused) {
        // The guest has run since the state was saved (or restored): the file is stale.
        discardSavedState();
    } else {
        log(5, "the save completed before a corrald restart; stopping qemu");
        instance_.savedAway("saved", [](Status) {});
    }
}

}  // namespace corral::supervisor
