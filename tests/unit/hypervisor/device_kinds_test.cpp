// The kind table and the schema rules every front end applies. The table checks run over every
// row, so a new kind is held to them without a new test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "hypervisor/device_backend.hpp"
#include "hypervisor/device_options.hpp"
#include "hypervisor/ide_ports.hpp"
#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

const DeviceKind& kind(std::string_view name) {
    const auto* found = findKind(name);
    EXPECT_NE(found, nullptr) << name;
    return *found;
}

// A value each option type accepts, for the required options of a row.
OptionValue sample(const OptionSpec& option) {
    if (option.type == OptionType::Bool) return true;
    if (option.type == OptionType::Path) return std::string("/nonexistent/sample");
    if (!option.choices.empty()) return std::string(option.choices.front());
    return std::string("x");
}

TEST(DeviceKinds, EveryRowIsConsistent) {
    std::set<std::string_view> names;
    for (const auto* row : deviceKinds()) {
        SCOPED_TRACE(std::string(row->name));
        EXPECT_TRUE(names.insert(row->name).second) << "two rows share a name";
        EXPECT_EQ(findKind(row->name), row);
        EXPECT_FALSE(row->driver.empty());
        if (row->hotpluggable || row->bootable) {
            EXPECT_TRUE(row->definable);
        }
        if (row->definable) {
            EXPECT_FALSE(row->idPrefix.empty());
        }
        std::set<std::string_view> keys;
        for (const auto& option : row->options) {
            SCOPED_TRACE(std::string(option.key));
            EXPECT_TRUE(keys.insert(option.key).second) << "a key twice";
            EXPECT_NE(option.key, "id") << "\"id\" is every table's own key";
            if (option.fallback) {
                EXPECT_EQ(std::holds_alternative<bool>(*option.fallback),
                          option.type == OptionType::Bool);
                OptionValue value = *option.fallback;
                EXPECT_FALSE(checkOptionValue(option, value)) << "the default breaks its rule";
            }
            if (option.required) {
                EXPECT_FALSE(option.fallback) << "required with a default";
            }
            if (option.check || option.onlyWith || option.unique || option.required) {
                EXPECT_FALSE(option.noun.empty()) << "messages need a noun";
            }
            if (option.check) {
                EXPECT_FALSE(option.expected.empty());
            }
            if (option.onlyWith) {
                const auto* other = row->option(option.onlyWith->key);
                ASSERT_NE(other, nullptr);
                EXPECT_THAT(other->choices, Contains(option.onlyWith->value));
            }
        }
    }
    EXPECT_FALSE(agentPortKind().definable);
    EXPECT_FALSE(rootPortKind().definable);
    EXPECT_EQ(findKind("floppy"), nullptr);
}

// Each definable kind with only its required options: the defaults complete it and the argv
// builder gives it its backend arguments and a -device of its driver at its slot.
TEST(DeviceKinds, EveryDefinableKindBuildsFromItsDefaults) {
    for (const auto* row : deviceKinds()) {
        if (!row->definable) continue;
        SCOPED_TRACE(std::string(row->name));
        Options options;
        for (const auto& option : row->options)
            if (option.required) options.emplace(option.key, sample(option));
        ASSERT_TRUE(completeOptions(*row, options).empty());
        for (const auto& option : row->options)
            if (option.fallback) {
                EXPECT_EQ(options.at(std::string(option.key)), *option.fallback);
            }
        InstanceSpec spec;
        spec.name = "vm1";
        spec.agent.negotiator = false;
        spec.boot = BootSpec{"/k", "", ""};
        spec.devices = {makeDevice(*row, "dev0", options, spec.name)};
        auto argv = buildQemuArgv(spec, planSlots(spec), RuntimePaths::forInstance("/run", "vm1"));
        auto device = std::find(argv.begin(), argv.end(), "-device");
        ASSERT_NE(device, argv.end());
        EXPECT_THAT(*(device + 1), ::testing::StartsWith(std::string(row->driver) + ",id=dev0,"));
        EXPECT_THAT(*(device + 1), HasSubstr(usesIdePort(spec.devices[0]) ? "bus=ide.0,unit=0"
                                                                          : "bus=pcie.0,addr=0x1"));
    }
}

TEST(DeviceOptions, CompleteFillsDefaultsAndChecksRules) {
    const auto& nic = kind("nic");
    Options plain;
    EXPECT_TRUE(completeOptions(nic, plain).empty());
    EXPECT_EQ(plain, (Options{{"mode", "user"}, {"model", "virtio"}}));

    Options bridgeless{{"mode", "bridge"}};
    auto needs = completeOptions(nic, bridgeless);
    ASSERT_EQ(needs.size(), 1u);
    EXPECT_EQ(needs[0].what, OptionProblem::What::Needs);
    EXPECT_EQ(needs[0].option->key, "bridge");

    Options stray{{"bridge", "br0"}};
    auto onlyWith = completeOptions(nic, stray);
    ASSERT_EQ(onlyWith.size(), 1u);
    EXPECT_EQ(onlyWith[0].what, OptionProblem::What::OnlyWith);
    EXPECT_EQ(onlyWith[0].value, "user");  // the mode it has: the default

    Options pathless;
    auto missing = completeOptions(kind("disk"), pathless);
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_EQ(missing[0].what, OptionProblem::What::Missing);
    EXPECT_EQ(missing[0].option->key, "path");
}

TEST(DeviceOptions, ValuesAreCheckedAndNormalised) {
    const auto& nic = kind("nic");
    OptionValue mac = std::string("52:54:00:AB:CD:EF");
    EXPECT_FALSE(checkOptionValue(*nic.option("mac"), mac));
    EXPECT_EQ(std::get<std::string>(mac), "52:54:00:ab:cd:ef");
    OptionValue multicast = std::string("01:00:5e:00:00:01");
    auto bad = checkOptionValue(*nic.option("mac"), multicast);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->what, OptionProblem::What::BadValue);
    OptionValue bridge = std::string("br/0");
    auto badBridge = checkOptionValue(*nic.option("bridge"), bridge);
    ASSERT_TRUE(badBridge);
    EXPECT_THAT(badBridge->reason, HasSubstr("'/'"));
    OptionValue mode = std::string("vhost");
    auto badMode = checkOptionValue(*nic.option("mode"), mode);
    ASSERT_TRUE(badMode);
    EXPECT_EQ(badMode->what, OptionProblem::What::NotAChoice);
}

TEST(DeviceOptions, MakeDeviceDerivesAndNamesTheBackend) {
    Options options{{"mode", "user"}};
    auto nic = makeDevice(kind("nic"), "lan", options, "web1");
    EXPECT_EQ(nic.text("mac"), derivedMac("web1", "lan"));
    Options given{{"mode", "user"}, {"mac", "52:54:00:00:00:09"}};
    EXPECT_EQ(makeDevice(kind("nic"), "lan", given, "web1").text("mac"), "52:54:00:00:00:09");
    Options disk{{"path", "/d/x.img"}};
    EXPECT_EQ(makeDevice(kind("disk"), "x", disk, "web1").backend, "/d/x.img");
}

TEST(DeviceOptions, CommandLineTextFollowsTheType) {
    const auto& disk = kind("disk");
    std::string why;
    EXPECT_EQ(parseOptionText(*disk.option("readonly"), "true", why), OptionValue(true));
    EXPECT_EQ(parseOptionText(*disk.option("readonly"), "false", why), OptionValue(false));
    EXPECT_FALSE(parseOptionText(*disk.option("readonly"), "yes", why));
    EXPECT_THAT(why, HasSubstr("true or false"));
    EXPECT_EQ(parseOptionText(*disk.option("format"), "qcow2", why),
              OptionValue(std::string("qcow2")));
    EXPECT_EQ(optionList(disk),
              "path (s), format (s), readonly (b), cache (s), bus (s), "
              "discard (s), aio (s), iothread (b), bps_total (s), bps_rd (s), bps_wr (s), "
              "iops_total (s), iops_rd (s), iops_wr (s), bps_total_max (s), bps_rd_max (s), "
              "bps_wr_max (s), iops_total_max (s), iops_rd_max (s), iops_wr_max (s), "
              "throttle_group (s)");
    EXPECT_EQ(optionList(disk, {"readonly", "format"}), "format (s), readonly (b)");
}

// Every value of every table has one spelling that parses back to it.
template <typename E, std::size_t N>
void expectRoundTrips(const StringTable<E, N>& table, std::initializer_list<E> values) {
    for (auto value : values) {
        EXPECT_FALSE(table.toString(value).empty());
        EXPECT_EQ(table.fromString(table.toString(value)), value) << table.toString(value);
    }
}

TEST(StringTables, EverySpellingRoundTrips) {
    expectRoundTrips(kMachineTypes, {MachineType::Pc, MachineType::Q35});
    expectRoundTrips(kAccels, {Accel::Kvm, Accel::Tcg, Accel::KvmOrTcg});
    expectRoundTrips(kNicModes, {NicMode::User, NicMode::Tap, NicMode::Bridge});
    expectRoundTrips(kDiskCaches, {DiskCache::None, DiskCache::Writeback, DiskCache::Unsafe});
    expectRoundTrips(kDiskFormats, {DiskFormat::Raw, DiskFormat::Qcow2});
    expectRoundTrips(kOnCrash, {OnCrash::Restart, OnCrash::Stop});
    EXPECT_EQ(toString(Accel::KvmOrTcg), "kvm:tcg");
    EXPECT_EQ(toString(MachineType::Q35), "q35");
    EXPECT_EQ(kMachineTypes.fromString("q36"), std::nullopt);
}

}  // namespace
}  // namespace corral::hypervisor
