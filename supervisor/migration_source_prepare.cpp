// MigrationSource's prepare phase: the definition and the device records to the destination
// corrald (PrepareIncoming), which answers with the address its incoming qemu listens on.
#include <cctype>

#include "supervisor/migration_source.hpp"
#include "supervisor/migration_source_run.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace migration_run;

namespace {

// The destination's answer goes into QMP JSON: only what a tcp: URI contains.
bool plainUri(const std::string& uri) {
    if (uri.rfind("tcp:", 0) != 0 || uri.size() > 300) return false;
    for (char c : uri)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '-' ||
              c == '[' || c == ']' || c == '_'))
            return false;
    return true;
}

// With storage copy: "tcp:HOST:PORT nbd:HOST:PORT".
bool answerUri(const std::string& uri, bool copy) {
    if (!copy) return plainUri(uri);
    auto parts = splitCopyUri(uri);
    return parts && plainUri(parts->stream) && plainUri("tcp:" + parts->nbdHost);
}

}  // namespace

asio::awaitable<Outcome<std::string>> MigrationSource::prepare(std::shared_ptr<Run> run) {
    auto text = registry_.definitionText(*run->vm);
    if (!text) co_return text.error();
    auto devices = hypervisor::devicesToJson(run->vm->devices());
    auto remote = RemoteCorrald::open(io_, run->destination);
    if (!remote) co_return remote.error();
    run->remote = remote.value();
    std::weak_ptr<Run> weak = run;
    run->gone = run->remote->gone().connect([weak] {
        auto run = weak.lock();
        if (!run) return;
        if (run->stopWhy.empty()) run->stopWhy = "the destination corrald went away";
        run->wake.emit();
    });
    std::uint64_t keep =
        run->options.timeout.count() > 0
            ? static_cast<std::uint64_t>(run->options.timeout.count()) + kIncomingMarginSeconds
            : kIncomingDefaultSeconds;
    const std::string copyDisks = diskSizesText(run->sizes);
    auto reply = co_await life_.guard(run->remote->call(
        "PrepareIncoming",
        [&](sd_bus_message* m) {
            int postcopy = run->options.postcopy != PostcopyMode::Never;
            if (!run->storage)
                return sd_bus_message_append(m, "sssa{sv}", run->name.c_str(), text.value().c_str(),
                                             devices.c_str(), 3, "timeout", "t", keep, "tls", "b",
                                             static_cast<int>(run->options.tls), "postcopy", "b",
                                             postcopy);
            return sd_bus_message_append(m, "sssa{sv}", run->name.c_str(), text.value().c_str(),
                                         devices.c_str(), 3, "timeout", "t", keep, "tls", "b",
                                         static_cast<int>(run->options.tls), "copy_disks", "s",
                                         copyDisks.c_str());
        },
        kPrepareTimeout));
    if (!reply.ok()) {
        if (!reply.definite()) {
            // It may have started a qemu before the answer was lost.
            co_await life_.guard(run->remote->call(
                "AbortIncoming",
                [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", run->name.c_str()); },
                kAbortTimeout));
        }
        co_return failed("The destination " + run->destination + " did not take " + run->name +
                         ": " +
                         (reply.errorMessage.empty() ? reply.errorName : reply.errorMessage));
    }
    const char* uri = nullptr;
    if (sd_bus_message_read(reply.message.get(), "s", &uri) < 0 || !uri ||
        !answerUri(uri, run->storage != nullptr))
        co_return failed("The destination " + run->destination + " answered PrepareIncoming with " +
                         "no usable migration address");
    co_return std::string(uri);
}

}  // namespace corral::supervisor
