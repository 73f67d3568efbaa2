// The destination side of a live migration: incoming VMs that are not instances yet. Each is a
// qemu started with the source's definition and device records and `-incoming defer`, listening
// for the migration stream; nothing of it is on the bus and its definition is not written until
// FinishIncoming makes it an instance (docs/architecture.md "Migration").
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "supervisor/lifetime.hpp"
#include "supervisor/migration_config.hpp"
#include "supervisor/migration_control.hpp"
#include "supervisor/registry.hpp"
#include "supervisor/vm_context.hpp"

namespace corral::supervisor {

class MigrationTarget final : public IncomingControl {
  public:
    MigrationTarget(VmContext& context, Registry& registry, MigrationSettings settings);
    // Kills the qemu of every incoming migration not finished (it never ran the guest here).
    ~MigrationTarget();
    MigrationTarget(const MigrationTarget&) = delete;
    MigrationTarget& operator=(const MigrationTarget&) = delete;

    // Checks the definition and the device records, starts the incoming qemu and answers with
    // the URI the source's qemu is to send to ("tcp:HOST:PORT"). After the options' timeout
    // without a Finish or Abort, the incoming VM is aborted. With tls, the stream is only taken
    // over TLS from a source whose certificate [migration] tls_dir's CA signed.
    void prepare(std::string name, std::string definition, std::string devicesJson,
                 IncomingOptions options, Reply<std::string> reply) override;
    // The stream has arrived: `cont` (when `resume`), write the definition, hand the qemu to a
    // new instance. On any failure the incoming qemu is killed and the error returned.
    void finish(std::string name, bool resume, Done done) override;
    // Kills the incoming qemu and forgets it.
    void abort(std::string name, Done done) override;

    std::string incomingState(const std::string& name) const override;
    // migration_target_recover.cpp. Asked again while the listener waits, it answers the same URI.
    void recover(std::string name, Reply<std::string> reply) override;

    bool incoming(const std::string& name) const { return incoming_.count(name) != 0; }

  private:
    struct Incoming;

    boost::asio::awaitable<Outcome<std::string>> prepareSteps(std::shared_ptr<Incoming> in);
    boost::asio::awaitable<Outcome<Unit>> finishSteps(std::shared_ptr<Incoming> in, bool resume);
    // Kills and reaps the qemu, removes its runtime dir and forgets the entry.
    boost::asio::awaitable<void> discard(std::shared_ptr<Incoming> in, std::string why);
    boost::asio::awaitable<Outcome<std::string>> recoverSteps(std::string name);
    boost::asio::awaitable<Outcome<std::string>> vmQmp(std::string name, std::string json);
    std::optional<std::uint16_t> freePort() const;
    std::string uriFor(std::uint16_t port) const;
    void log(int priority, const std::string& text) const;

    VmContext& context_;
    Registry& registry_;
    MigrationSettings settings_;
    std::map<std::string, std::shared_ptr<Incoming>, std::less<>> incoming_;
    // Arrived and running, but their definition could not be written (not in the registry).
    std::set<std::string, std::less<>> unmanaged_;
    // Arrived by postcopy and listening for the rest of their stream again: the port.
    std::map<std::string, std::uint16_t, std::less<>> recovering_;
    Lifetime life_;
};

}  // namespace corral::supervisor
