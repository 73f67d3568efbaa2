// DbusService on a real sd-bus connection without a bus daemon: the two ends of a socketpair,
// corrald's as the server, the test's as a peer that calls methods and records signals, both
// driven by one io_context. DbusService is one subscriber among others: what it publishes must
// reach the bus while another listener (metrics, an event log) hears the same changes.
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_service.hpp"
#include "supervisor/stats_cache.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/supervisor/stub_vm.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

// A signal as the peer received it: for PropertiesChanged the names of the changed properties,
// for InterfacesAdded the string properties of org.corral1.Instance, else the string arguments.
struct Received {
    std::string member;
    std::string path;
    std::vector<std::string> names;
    std::map<std::string, std::string> strings;
};

int readChangedNames(sd_bus_message* m, std::vector<std::string>& names) {
    const char* interface = nullptr;
    int r = sd_bus_message_read(m, "s", &interface);
    if (r < 0 || (r = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* name = nullptr;
        if ((r = sd_bus_message_read(m, "s", &name)) < 0) return r;
        names.emplace_back(name);
        if ((r = sd_bus_message_skip(m, "v")) < 0) return r;
        if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    return r;
}

// Reads an a{sv}, keeping the string values.
int readStringProperties(sd_bus_message* m, std::map<std::string, std::string>& out) {
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* name = nullptr;
        const char* type = nullptr;
        if ((r = sd_bus_message_read(m, "s", &name)) < 0) return r;
        if ((r = sd_bus_message_peek_type(m, nullptr, &type)) < 0) return r;
        if (std::string_view(type) == "s") {
            const char* value = nullptr;
            if ((r = sd_bus_message_read(m, "v", "s", &value)) < 0) return r;
            out[name] = value;
        } else if ((r = sd_bus_message_skip(m, "v")) < 0) {
            return r;
        }
        if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    return r < 0 ? r : sd_bus_message_exit_container(m);
}

int readInterfacesAdded(sd_bus_message* m, Received& out) {
    const char* path = nullptr;
    int r = sd_bus_message_read(m, "o", &path);
    if (r < 0 || (r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}")) < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
        const char* interface = nullptr;
        if ((r = sd_bus_message_read(m, "s", &interface)) < 0) return r;
        out.names.emplace_back(interface);
        if (std::string_view(interface) == kInstanceInterface)
            r = readStringProperties(m, out.strings);
        else
            r = sd_bus_message_skip(m, "a{sv}");
        if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    return r;
}

class DbusServiceTest : public ::testing::Test {
  protected:
    DbusServiceTest() {
        int fds[2];
        EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        server_ = BusLoop::attach(io_, startPeer(fds[0], true).get());
        client_ = BusLoop::attach(io_, startPeer(fds[1], false).get());
        EXPECT_GE(sd_bus_add_match(client_->bus(), match_.put(), "type='signal'", onSignal, this),
                  0);
    }

    ~DbusServiceTest() override {
        service_.reset();
        match_.reset();
        client_->detach();
        server_->detach();
    }

    // Only the reference: the BusLoop keeps the connection open.
    struct BusUnref {
        void operator()(sd_bus* bus) const { sd_bus_unref(bus); }
    };
    using BusPtr = std::unique_ptr<sd_bus, BusUnref>;

    // One end of a direct connection; the BusLoop takes its own reference, this one goes.
    static BusPtr startPeer(int fd, bool server) {
        sd_bus* raw = nullptr;
        EXPECT_GE(sd_bus_new(&raw), 0);
        BusPtr bus(raw);
        EXPECT_GE(sd_bus_set_fd(raw, fd, fd), 0);
        if (server) {
            sd_id128_t id;
            EXPECT_GE(sd_id128_randomize(&id), 0);
            EXPECT_GE(sd_bus_set_server(raw, 1, id), 0);
        }
        EXPECT_GE(sd_bus_start(raw), 0);
        return bus;
    }

    static int onSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto& self = *static_cast<DbusServiceTest*>(userdata);
        Received got{sd_bus_message_get_member(m), sd_bus_message_get_path(m), {}, {}};
        int r = 0;
        if (got.member == "PropertiesChanged") {
            r = readChangedNames(m, got.names);
        } else if (got.member == "InterfacesAdded") {
            r = readInterfacesAdded(m, got);
        } else if (got.member == "InstanceNew" || got.member == "InstanceRemoved") {
            const char *name = nullptr, *path = nullptr;
            r = sd_bus_message_read(m, "so", &name, &path);
            if (r >= 0) got.names = {name, path};
        }
        EXPECT_GE(r, 0) << "cannot read " << got.member;
        self.signals_.push_back(std::move(got));
        return 0;
    }

    // Runs the io_context until `done` holds, for at most 5 s of handlers.
    bool runUntil(const std::function<bool()>& done) {
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!done() && std::chrono::steady_clock::now() < deadline) io_.run_one_for(100ms);
        return done();
    }

    // The first signal `member` on `path` received so far, if any.
    const Received* signal(const std::string& member, const std::string& path) const {
        for (const auto& s : signals_)
            if (s.member == member && s.path == path) return &s;
        return nullptr;
    }
    const Received* waitSignal(const std::string& member, const std::string& path) {
        runUntil([&] { return signal(member, path) != nullptr; });
        return signal(member, path);
    }

    // Calls a method from the peer and waits for its reply (an error reply included).
    MessageRef call(const std::string& path, const char* interface, const char* member,
                    const std::function<int(sd_bus_message*)>& append = {}) {
        MessageRef m;
        EXPECT_GE(sd_bus_message_new_method_call(client_->bus(), m.put(), nullptr, path.c_str(),
                                                 interface, member),
                  0);
        if (append) {
            EXPECT_GE(append(m.get()), 0);
        }
        MessageRef reply;
        EXPECT_GE(sd_bus_call_async(client_->bus(), nullptr, m.get(), onReply, &reply, 0), 0);
        client_->kick();
        EXPECT_TRUE(runUntil([&] { return static_cast<bool>(reply); })) << member;
        return reply;
    }

    static int onReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
        static_cast<MessageRef*>(userdata)->reset(sd_bus_message_ref(m));
        return 0;
    }

    void writeValid(const std::string& name) {
        std::ofstream(dir_ / "vmlinuz") << "";
        std::ofstream(dir_ / (name + ".toml"))
            << "[boot]\nkernel = \"" << (dir_ / "vmlinuz").string() << "\"\n";
    }

    // The registry loaded, then the service on it, as corrald starts.
    void startService() {
        registry_.reload();
        service_ = std::make_unique<DbusService>(
            server_, registry_, "/run/test",
            [this](int, const std::string& line) { logs_.push_back(line); });
    }

    StubVm& vm(const std::string& name) { return static_cast<StubVm&>(*registry_.find(name)); }

    boost::asio::io_context io_;
    corral::test::TempDir dir_;
    FakeClock clock_;
    Registry registry_{dir_.path(),
                       [this](const std::string& name, const hypervisor::LoadResult& def) {
                           return std::make_unique<StubVm>(name, clock_, def.ok());
                       },
                       [](int, const std::string&) {}};
    std::shared_ptr<BusLoop> server_;
    std::shared_ptr<BusLoop> client_;
    SlotRef match_;
    std::unique_ptr<DbusService> service_;
    std::vector<Received> signals_;
    std::vector<std::string> logs_;
};

const std::string kWeb1 = "/org/corral1/instance/web1";

// A disk as the Devices property lists it.
hypervisor::Device diskAt(const std::string& id, const std::string& bus, unsigned slot) {
    hypervisor::Device d;
    d.id = id;
    d.kind = hypervisor::findKind("disk");
    d.slot.bus = bus;
    d.slot.slot = slot;
    return d;
}

TEST_F(DbusServiceTest, StateChangesReachTheBusAndEveryOtherListener) {
    writeValid("web1");
    startService();
    // Subscribed after the service: with a single observer slot it would have displaced it.
    unsigned heard = 0;
    auto metrics = vm("web1").lifecycle().changed().connect([&](unsigned c) { heard |= c; });
    vm("web1").lifecycle().start([](Status) {});
    ASSERT_EQ(vm("web1").lifecycle().state(), State::Running);
    const auto* changed = waitSignal("PropertiesChanged", kWeb1);
    ASSERT_NE(changed, nullptr);
    EXPECT_NE(std::find(changed->names.begin(), changed->names.end(), "State"),
              changed->names.end());
    EXPECT_TRUE(heard & kChangedState);
    EXPECT_TRUE(heard & kChangedPid);
}

TEST_F(DbusServiceTest, DeviceChangesReachTheBusAndEveryOtherListener) {
    writeValid("web1");
    startService();
    int heard = 0;
    auto eventLog = vm("web1").devicesChanged().connect([&] { ++heard; });
    vm("web1").setDevices({diskAt("d1", "pcie.0", 5)});
    const auto* changed = waitSignal("PropertiesChanged", kWeb1);
    ASSERT_NE(changed, nullptr);
    EXPECT_EQ(changed->names, (std::vector<std::string>{"Devices", "Media"}));
    EXPECT_EQ(heard, 1);
}

TEST_F(DbusServiceTest, StatsReadAnswersFromTheCacheAndAnnouncesTheRefresh) {
    writeValid("web1");
    startService();
    StatsCache cache(registry_, clock_, {1s, 100});
    service_->serveStats(cache);
    auto cpu = [&] {
        auto reply = call(kWeb1, "org.freedesktop.DBus.Properties", "Get", [](sd_bus_message* m) {
            return sd_bus_message_append(m, "ss", kStatsInterface, "CpuUsec");
        });
        std::uint64_t value = 0;
        EXPECT_GE(sd_bus_message_read(reply.get(), "v", "t", &value), 0);
        return value;
    };
    EXPECT_EQ(cpu(), 0u);
    ASSERT_EQ(vm("web1").samples.size(), 1u) << "the read started a refresh";
    VmSample sample;
    sample.name = "web1";
    sample.cpuUsec = 42;
    sample.sampledAtUsec = 7;
    vm("web1").samples[0](sample);
    auto announced = [&] {
        for (const auto& s : signals_)
            if (s.member == "PropertiesChanged" &&
                std::find(s.names.begin(), s.names.end(), "CpuUsec") != s.names.end())
                return true;
        return false;
    };
    EXPECT_TRUE(runUntil(announced));
    EXPECT_EQ(cpu(), 42u);
    EXPECT_EQ(vm("web1").samples.size(), 1u) << "a fresh sample was refreshed again";
    service_.reset();  // before the cache it reads
}

TEST_F(DbusServiceTest, ReloadAnnouncesCompleteObjectsToTheBusAndEveryOtherListener) {
    writeValid("web1");
    startService();
    std::vector<std::string> heard;
    auto added = registry_.added().connect([&](Vm& v) { heard.push_back("added " + v.name()); });
    auto removing =
        registry_.removing().connect([&](Vm& v) { heard.push_back("removing " + v.name()); });
    std::ofstream(dir_ / "web2.toml") << "[machine]\ncpus = 0\n";
    call(kManagerPath, kManagerInterface, "Reload");
    const std::string web2 = "/org/corral1/instance/web2";
    const auto* announced = waitSignal("InterfacesAdded", kManagerPath);
    ASSERT_NE(announced, nullptr);
    auto interfaces = announced->names;
    auto properties = announced->strings;
    EXPECT_NE(std::find(interfaces.begin(), interfaces.end(), kInstanceInterface),
              interfaces.end());
    // The object is announced with its real state, not a default that changes a moment later.
    EXPECT_EQ(properties["Name"], "web2");
    EXPECT_EQ(properties["State"], "invalid");
    const auto* instanceNew = waitSignal("InstanceNew", kManagerPath);
    ASSERT_NE(instanceNew, nullptr);
    EXPECT_EQ(instanceNew->names, (std::vector<std::string>{"web2", web2}));

    std::filesystem::remove(dir_ / "web2.toml");
    call(kManagerPath, kManagerInterface, "Reload");
    const auto* removed = waitSignal("InstanceRemoved", kManagerPath);
    ASSERT_NE(removed, nullptr);
    EXPECT_EQ(removed->names, (std::vector<std::string>{"web2", web2}));
    EXPECT_NE(waitSignal("InterfacesRemoved", kManagerPath), nullptr);
    EXPECT_EQ(heard, (std::vector<std::string>{"added web2", "removing web2"}));
    auto gone = call(kManagerPath, kManagerInterface, "GetInstance",
                     [](sd_bus_message* m) { return sd_bus_message_append(m, "s", "web2"); });
    EXPECT_TRUE(sd_bus_message_is_method_error(gone.get(), "org.corral1.Error.NoSuchInstance"));
}

TEST_F(DbusServiceTest, EveryPropertyAnswersWithItsOwnValue) {
    writeValid("web1");
    startService();
    auto& v = vm("web1");
    v.vmInfo = {"q35",
                2,
                1ull << 30,
                "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "/run/test/web1/qmp.sock",
                "/run/test/web1/serial.sock"};
    v.setDevices({diskAt("d1", "pcie.0", 5)});
    auto reply = call(kWeb1, "org.freedesktop.DBus.Properties", "GetAll", [](sd_bus_message* m) {
        return sd_bus_message_append(m, "s", kInstanceInterface);
    });
    ASSERT_FALSE(sd_bus_message_is_method_error(reply.get(), nullptr));
    std::map<std::string, std::string> strings;
    ASSERT_GE(readStringProperties(reply.get(), strings), 0);
    EXPECT_EQ(strings, (std::map<std::string, std::string>{
                           {"Name", "web1"},
                           {"State", "stopped"},
                           {"Machine", "q35"},
                           {"Uuid", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
                           {"QmpSocket", "/run/test/web1/qmp.sock"},
                           {"SerialSocket", "/run/test/web1/serial.sock"},
                           {"MonitorState", "none"},
                           {"LastExit", ""},
                           {"MigrationState", "none"},
                           {"BackupState", "none"},
                       }));
    auto get = [&](const char* property) {
        return call(kWeb1, "org.freedesktop.DBus.Properties", "Get", [=](sd_bus_message* m) {
            return sd_bus_message_append(m, "ss", kInstanceInterface, property);
        });
    };
    std::uint32_t vcpus = 0;
    ASSERT_GE(sd_bus_message_read(get("Vcpus").get(), "v", "u", &vcpus), 0);
    EXPECT_EQ(vcpus, 2u);
    std::uint64_t memory = 0;
    ASSERT_GE(sd_bus_message_read(get("MemoryBytes").get(), "v", "t", &memory), 0);
    EXPECT_EQ(memory, 1ull << 30);
    auto devices = get("Devices");
    ASSERT_GE(sd_bus_message_enter_container(devices.get(), 'v', "a(ssss)"), 0);
    ASSERT_GE(sd_bus_message_enter_container(devices.get(), 'a', "(ssss)"), 0);
    const char *id, *kind, *bus, *addr;
    ASSERT_GT(sd_bus_message_read(devices.get(), "(ssss)", &id, &kind, &bus, &addr), 0);
    EXPECT_EQ(std::string(id) + " " + kind + " " + bus + " " + addr, "d1 disk pcie.0 0x5");
    // An unknown name is an error, not the value of some other property.
    auto unknown = get("Nonsense");
    EXPECT_TRUE(sd_bus_message_is_method_error(unknown.get(),
                                               "org.freedesktop.DBus.Error.UnknownProperty"));
}

TEST_F(DbusServiceTest, ListInstancesListsThePublishedObjects) {
    writeValid("web1");
    std::ofstream(dir_ / "broken.toml") << "[machine]\ncpus = 0\n";
    startService();
    auto reply = call(kManagerPath, kManagerInterface, "ListInstances");
    ASSERT_GE(sd_bus_message_enter_container(reply.get(), 'a', "(ssuo)"), 0);
    std::vector<std::string> rows;
    const char *name, *state, *path;
    std::uint32_t pid;
    while (sd_bus_message_read(reply.get(), "(ssuo)", &name, &state, &pid, &path) > 0)
        rows.push_back(std::string(name) + " " + state + " " + std::to_string(pid) + " " + path);
    EXPECT_EQ(rows, (std::vector<std::string>{"broken invalid 0 /org/corral1/instance/broken",
                                              "web1 stopped 0 /org/corral1/instance/web1"}));
}

TEST_F(DbusServiceTest, ManagerPropertiesAnswerEachWithItsOwnValue) {
    startService();
    auto get = [&](const char* property) {
        auto reply =
            call(kManagerPath, "org.freedesktop.DBus.Properties", "Get", [=](sd_bus_message* m) {
                return sd_bus_message_append(m, "ss", kManagerInterface, property);
            });
        const char* value = "";
        EXPECT_GE(sd_bus_message_read(reply.get(), "v", "s", &value), 0) << property;
        return std::string(value);
    };
    EXPECT_EQ(get("Version"), CORRAL_VERSION);
    EXPECT_EQ(get("RuntimeDirectory"), "/run/test");
}

// The vtable's flags against the table of changed bits: a property that says it emits
// PropertiesChanged must be named by some bit, or a client would never hear that it changed.
TEST(ChangedProperties, EveryEmittingPropertyIsNamedByABitAndEveryBitNamesOne) {
    std::set<std::string> emitting, named;
    for (const sd_bus_vtable* v = kInstanceVtable; v->type != _SD_BUS_VTABLE_END; ++v)
        if (v->type == _SD_BUS_VTABLE_PROPERTY && (v->flags & SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE))
            emitting.insert(v->x.property.member);
    for (const auto& row : changedNames()) named.insert(row.property);
    EXPECT_EQ(named, emitting);
    for (unsigned bit = kChangedState; bit <= kChangedDevices; bit <<= 1)
        EXPECT_FALSE(changedProperties(bit).empty()) << "bit " << bit;
}

TEST(ChangedProperties, ADefinitionChangeNamesEachPropertyOnce) {
    auto names = changedProperties(kChangedDefinition | kChangedDevices | kChangedState);
    std::vector<std::string> got(names.begin(), names.end());
    EXPECT_EQ(got, (std::vector<std::string>{"State", "Machine", "Vcpus", "MemoryBytes", "Uuid",
                                             "Devices", "Media", "Display"}));
    EXPECT_TRUE(changedProperties(0).empty());
}

}  // namespace
}  // namespace corral::supervisor::test
