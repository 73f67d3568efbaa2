// Live migration's pure parts: Migrate's and the incoming methods' option rules, the destination
// check, [migration] in corral.toml, query-migrate's parser, the device records sent to the
// destination and the Instance after a migration (stopped, "migrated to", nothing restarts it).
#include <gtest/gtest.h>

#include <fstream>

#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "monitor/qmp_message.hpp"
#include "supervisor/instance.hpp"
#include "supervisor/migration_config.hpp"
#include "supervisor/migration_options.hpp"
#include "supervisor/qmp_link.hpp"
#include "supervisor/snapshot_record.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

MigrationOption number(std::string key, std::uint64_t value) {
    return {std::move(key), "t", {}, false, value};
}
MigrationOption text(std::string key, std::string value) {
    return {std::move(key), "s", std::move(value), false, 0};
}
MigrationOption flag(std::string key, bool value) {
    return {std::move(key), "b", {}, value, 0};
}

std::string refusal(const MigrationOptionList& options) {
    auto result = validateMigrateOptions(options);
    return result ? std::string("accepted") : result.error().message;
}

TEST(MigrateRefusal, AVmWithSnapshotsIsRefusedUpFront) {
    corral::test::TempDir dir;
    EXPECT_FALSE(snapshotsRefusal(dir.path() / "none-yet", "web1"));
    SnapshotChain chain;
    ASSERT_FALSE(writeChain(dir.path(), chain));
    EXPECT_FALSE(snapshotsRefusal(dir.path(), "web1")) << "an empty chain is no snapshot";
    chain.snapshots.push_back({"before-upgrade", 1, 1, {{"d1", "/img/d1.raw", "raw", "/o.qcow2"}}});
    chain.snapshots.push_back({"later", 2, 2, {}});
    ASSERT_FALSE(writeChain(dir.path(), chain));
    auto refused = snapshotsRefusal(dir.path(), "web1");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->kind, ErrorKind::InvalidState);
    EXPECT_EQ(refused->message,
              "web1 has 2 snapshot(s), starting with 'before-upgrade', whose overlays a migration "
              "does not carry: DeleteSnapshot them first (it merges them into the images).");
    std::ofstream(chainFile(dir.path())) << "{not json";
    auto unreadable = snapshotsRefusal(dir.path(), "web1");
    ASSERT_TRUE(unreadable);
    EXPECT_NE(unreadable->message.find("web1: cannot read its snapshots ("), std::string::npos);
}

TEST(MigrateOptions, TakesEveryOptionWithItsValue) {
    auto result = validateMigrateOptions({number("bandwidth", 1000), number("downtime_ms", 50),
                                          flag("auto_converge", true), text("postcopy", "never"),
                                          text("storage", "shared"), flag("tls", false),
                                          number("timeout", 30)});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result.value().bandwidth, 1000u);
    EXPECT_EQ(result.value().downtimeMs, 50u);
    EXPECT_TRUE(result.value().autoConverge);
    EXPECT_EQ(result.value().timeout, 30s);
    auto defaults = validateMigrateOptions({});
    ASSERT_TRUE(defaults);
    EXPECT_FALSE(defaults.value().bandwidth);
    EXPECT_FALSE(defaults.value().downtimeMs);
    EXPECT_EQ(defaults.value().timeout, 0s);
}

TEST(MigrateOptions, RefusesBadTypesValuesAndCombinations) {
    EXPECT_EQ(refusal({text("bandwidth", "1")}),
              "Migrate: option 'bandwidth' must be of type 't', not 's'.");
    EXPECT_EQ(refusal({number("bandwidth", 0)}), "Migrate: bandwidth must be at least 1 byte/s.");
    EXPECT_EQ(refusal({number("downtime_ms", 0)}),
              "Migrate: downtime_ms must be 1 to 2000000, not 0.");
    EXPECT_EQ(refusal({number("timeout", 86401)}),
              "Migrate: timeout must be 1 to 86400 seconds, not 86401.");
    EXPECT_EQ(validateMigrateOptions({text("postcopy", "auto")}).value().postcopy,
              PostcopyMode::Auto);
    EXPECT_EQ(validateMigrateOptions({text("postcopy", "always")}).value().postcopy,
              PostcopyMode::Always);
    EXPECT_EQ(validateMigrateOptions({}).value().postcopy, PostcopyMode::Never);
    auto slow =
        validateMigrateOptions({text("postcopy", "always"), number("postcopy_bandwidth", 500000)});
    ASSERT_TRUE(slow) << slow.error().message;
    EXPECT_EQ(slow.value().postcopyBandwidth, 500000u);
    EXPECT_FALSE(validateMigrateOptions({}).value().postcopyBandwidth);
    EXPECT_EQ(refusal({text("postcopy", "auto"), number("postcopy_bandwidth", 0)}),
              "Migrate: postcopy_bandwidth must be at least 1 byte/s.");
    EXPECT_EQ(refusal({number("postcopy_bandwidth", 1000)}),
              "Migrate: postcopy_bandwidth needs postcopy auto or always.");
    EXPECT_EQ(refusal({text("postcopy", "always"), text("storage", "copy")}),
              "Migrate: postcopy cannot be combined with storage copy; use postcopy never.");
    EXPECT_EQ(refusal({text("postcopy", "Always")}),
              "Migrate: postcopy must be never, auto or always, not 'Always'.");
    EXPECT_EQ(refusal({text("postcopy", "")}),
              "Migrate: postcopy must be never, auto or always, not ''.");
    EXPECT_EQ(refusal({text("storage", "local")}),
              "Migrate: storage must be shared or copy, not 'local'.");
    EXPECT_TRUE(validateMigrateOptions({text("storage", "copy")}).value().copyStorage);
    EXPECT_FALSE(validateMigrateOptions({text("storage", "shared")}).value().copyStorage);
    EXPECT_EQ(refusal({text("tls", "yes")}), "Migrate: option 'tls' must be of type 'b', not 's'.");
    EXPECT_TRUE(validateMigrateOptions({flag("tls", true)}).value().tls);
    EXPECT_FALSE(validateMigrateOptions({}).value().tls);
    EXPECT_EQ(refusal({flag("auto_converge", true), flag("auto_converge", false)}),
              "Migrate: option 'auto_converge' is given twice.");
    EXPECT_NE(refusal({number("speed", 1)}).find("unknown option 'speed' (known: bandwidth,"),
              std::string::npos);
    MigrationOption array{"bandwidth", "at", {}, false, 0};
    EXPECT_EQ(refusal({array}), "Migrate: option 'bandwidth' must be of type 't', not 'at'.");
}

TEST(MigrateOptions, DestinationIsAnAddressOrAHost) {
    EXPECT_FALSE(checkDestination("unix:path=/run/dbus/system_bus_socket"));
    EXPECT_FALSE(checkDestination("host2.example.com"));
    EXPECT_FALSE(checkDestination("root@host2"));
    EXPECT_FALSE(checkDestination("host2:2222"));
    EXPECT_TRUE(checkDestination(""));
    EXPECT_TRUE(checkDestination("-oProxyCommand=touch /tmp/x"));
    EXPECT_TRUE(checkDestination("host two"));
    EXPECT_TRUE(checkDestination("host\n2"));
    EXPECT_TRUE(checkDestination(std::string(5000, 'a')));
}

TEST(MigrateOptions, IncomingAndFinishOptions) {
    auto defaults = validateIncomingOptions({});
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults.value().timeout, 3600s);
    EXPECT_FALSE(defaults.value().tls);
    EXPECT_EQ(validateIncomingOptions({number("timeout", 5)}).value().timeout, 5s);
    EXPECT_TRUE(validateIncomingOptions({flag("tls", true)}).value().tls);
    EXPECT_FALSE(defaults.value().postcopy);
    EXPECT_TRUE(validateIncomingOptions({flag("postcopy", true)}).value().postcopy);
    EXPECT_FALSE(validateIncomingOptions({text("postcopy", "always")}));
    EXPECT_FALSE(validateIncomingOptions({number("tls", 1)}));
    EXPECT_FALSE(validateIncomingOptions({number("timeout", 0)}));
    EXPECT_FALSE(validateIncomingOptions({flag("resume", true)}));
    EXPECT_TRUE(validateFinishOptions({}).value());
    EXPECT_FALSE(validateFinishOptions({flag("resume", false)}).value());
    EXPECT_FALSE(validateFinishOptions({text("resume", "yes")}));
    EXPECT_TRUE(validateRecoverOptions({}));
    auto unknown = validateRecoverOptions({flag("resume", true)});
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message.find("RecoverIncoming"), std::string::npos)
        << unknown.error().message;
}

TEST(MigrationConfig, ListenAddressAndPortRange) {
    MigrationSettings settings;
    EXPECT_EQ(settings.listenAddress, "0.0.0.0");
    EXPECT_EQ(settings.portFirst, 49152);
    EXPECT_EQ(settings.portLast, 49215);
    EXPECT_EQ(settings.tlsDir, "/etc/corral/pki");
    applyMigrationConfig("c.toml", std::string("10.0.0.2"), std::string("50000-50010"),
                         std::string("/srv/pki"), settings);
    EXPECT_EQ(settings.tlsDir, "/srv/pki");
    EXPECT_EQ(settings.listenAddress, "10.0.0.2");
    EXPECT_EQ(settings.portFirst, 50000);
    EXPECT_EQ(settings.portLast, 50010);
    applyMigrationConfig("c.toml", std::string("::1"), std::nullopt, std::nullopt, settings);
    EXPECT_EQ(settings.listenAddress, "::1");
    auto refuse = [](std::optional<std::string> address, std::optional<std::string> range) {
        MigrationSettings s;
        try {
            applyMigrationConfig("c.toml", address, range, std::nullopt, s);
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_EQ(refuse(std::string("host"), std::nullopt),
              "c.toml: migration.listen_address 'host' is not an IPv4 or IPv6 address");
    for (const char* bad : {"50000", "50010-50000", "80-90", "50000-70000", "a-b", "5-", ""})
        EXPECT_EQ(refuse(std::nullopt, std::string(bad)),
                  std::string("c.toml: migration.port_range '") + bad +
                      "' is not FIRST-LAST with 1024 <= FIRST <= LAST <= 65535");
    MigrationSettings s;
    EXPECT_THROW(applyMigrationConfig("c.toml", std::nullopt, std::nullopt, std::string("pki"), s),
                 std::runtime_error);
}

TEST(MigrationQuery, ParsesStatusAndProgress) {
    auto active = parseMigrationQuery(
        R"({"status":"active","expected-downtime":120,"total-time":900,)"
        R"("ram":{"transferred":1000,"remaining":2000,"total":4000,"dirty-pages-rate":10,)"
        R"("page-size":4096}})");
    ASSERT_TRUE(active);
    EXPECT_EQ(active.value().status, "active");
    EXPECT_EQ(active.value().progress.transferred, 1000u);
    EXPECT_EQ(active.value().progress.remaining, 2000u);
    EXPECT_EQ(active.value().progress.total, 4000u);
    EXPECT_EQ(active.value().progress.dirtyRate, 40960u);
    EXPECT_EQ(active.value().progress.expectedDowntimeMs, 120u);
    EXPECT_EQ(active.value().progress.totalTimeMs, 900u);
    auto failed = parseMigrationQuery(R"({"status":"failed","error-desc":"Connection refused"})");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed.value().error, "Connection refused");
    EXPECT_EQ(parseMigrationQuery("{}").value().status, "none");
    EXPECT_FALSE(parseMigrationQuery("[]"));
    EXPECT_FALSE(parseMigrationQuery("not json"));
}

// The source's transfer loop wakes on these instead of waiting for its next query-migrate.
TEST(MigrationQuery, MigrationEventsBecomeNoticesWithTheirStatus) {
    auto event = [](std::string_view line) {
        auto parsed = monitor::parseQmpLine(line);
        EXPECT_TRUE(parsed) << line;
        return std::get<monitor::QmpEvent>(std::move(parsed).value());
    };
    auto completed = qmpNoticeOf(event(
        R"({"event":"MIGRATION","data":{"status":"completed"},"timestamp":{"seconds":1,"microseconds":2}})"));
    ASSERT_TRUE(completed);
    EXPECT_EQ(completed->kind, QmpNotice::Kind::Migration);
    EXPECT_EQ(completed->status, "completed");
    EXPECT_FALSE(qmpNoticeOf(
        event(R"({"event":"MIGRATION","data":{},"timestamp":{"seconds":1,"microseconds":2}})")));
    EXPECT_FALSE(qmpNoticeOf(event(
        R"({"event":"MIGRATION_PASS","data":{"pass":2},"timestamp":{"seconds":1,"microseconds":2}})")));
    // The storage copy's mirrors wake the same way.
    for (const char* name :
         {"BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED", "BLOCK_JOB_ERROR"}) {
        auto job = qmpNoticeOf(event(std::string(R"({"event":")") + name +
                                     R"(","data":{"device":"corral-mirror-root","type":"mirror"},)"
                                     R"("timestamp":{"seconds":1,"microseconds":2}})"));
        ASSERT_TRUE(job) << name;
        EXPECT_EQ(job->kind, QmpNotice::Kind::BlockJob);
        EXPECT_EQ(job->status, name);
    }
    EXPECT_FALSE(qmpNoticeOf(event(
        R"({"event":"JOB_STATUS_CHANGE","data":{"id":"x","status":"ready"},"timestamp":{"seconds":1,"microseconds":2}})")));
}

TEST(MigrationDevices, RecordsRoundTripAndHotpluggedOnesComeAfterTheirPorts) {
    // Field by field: g++ 12 -O3 sees the braced PciSlot temporary as maybe-uninitialized.
    hypervisor::Device disk;
    disk.id = "data";
    disk.kind = hypervisor::findKind("disk");
    disk.slot.bus = "corral-rp0";
    disk.slot.slot = 0;
    disk.hotplugged = true;
    disk.backend = "/var/lib/corral/data.img";
    disk.options.emplace("path", std::string("/var/lib/corral/data.img"));
    disk.options.emplace("readonly", false);
    std::string error;
    auto back = hypervisor::devicesFromJson(hypervisor::devicesToJson({disk}), error);
    ASSERT_TRUE(back) << error;
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ((*back)[0].id, "data");
    EXPECT_TRUE((*back)[0].hotplugged);
    EXPECT_EQ((*back)[0].slot, disk.slot);
    EXPECT_EQ((*back)[0].options, disk.options);
    EXPECT_FALSE(hypervisor::devicesFromJson("{}", error));
    EXPECT_EQ(error, "the device list is not a JSON array");
    EXPECT_FALSE(hypervisor::devicesFromJson(R"([{"id":"x"}])", error));
    EXPECT_EQ(error, "a device entry is incomplete");
}

class MigratedInstance : public ::testing::Test {
  protected:
    MigratedInstance() { vm.autoLaunchPid = 4242; }
    Status startNow() {
        std::optional<Status> result;
        instance.start([&](Status s) { result = std::move(s); });
        return result ? *result : Status(OpError{ErrorKind::Failed, "no answer"});
    }
    FakeClock clock;
    FakeVm vm;
    Instance instance{"web1", vm, clock, LifecyclePolicy{30s, true}, {}};
};

TEST_F(MigratedInstance, StopsWithMigratedToAndRefusesToStartUntilCleared) {
    ASSERT_TRUE(startNow());
    std::optional<Status> quit;
    instance.migratedAway("host2", [&](Status s) { quit = std::move(s); });
    ASSERT_TRUE(quit && *quit);
    ASSERT_FALSE(vm.commands.empty());
    EXPECT_EQ(vm.commands.back(), VmCommand::Quit);
    vm.monitorQuit();  // QEMU's SHUTDOWN for the quit
    vm.exit({false, 0});
    EXPECT_EQ(instance.state(), State::Stopped);
    EXPECT_EQ(instance.lastExit(), "migrated to host2");
    clock.advance(120s);  // on_crash = restart: nothing restarts it
    EXPECT_EQ(instance.state(), State::Stopped);
    auto refused = startNow();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message,
              "web1 was migrated to host2 and runs there; StartWithOptions with force=true "
              "starts it here anyway (make sure it no longer runs there).");
    instance.setMigratedTo({});
    EXPECT_TRUE(startNow());
}

TEST_F(MigratedInstance, AMarkFromAnEarlierRunRefusesTheFirstStart) {
    instance.setMigratedTo("host3");
    auto refused = startNow();
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("was migrated to host3"), std::string::npos);
    EXPECT_EQ(instance.state(), State::Stopped);
}

}  // namespace
}  // namespace corral::supervisor::test
