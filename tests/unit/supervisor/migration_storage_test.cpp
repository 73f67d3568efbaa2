// Storage copy's pure parts: which disks are copied, PrepareIncoming's copy_disks option and
// answer, the QMP commands (checked against QEMU 7.2's schema by the guest tests) and what
// query-named-block-nodes / query-block-jobs say; and the destination's images on a real
// directory with the real qemu-img.
#include <gtest/gtest.h>

#include <fstream>

#include "monitor/json.hpp"
#include "supervisor/migration_options.hpp"
#include "supervisor/migration_storage.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::supervisor::test {
namespace {

hypervisor::Device disk(std::string id, std::string path, bool readonly,
                        std::string format = "raw") {
    hypervisor::Device d;
    d.id = std::move(id);
    d.kind = hypervisor::findKind("disk");
    d.backend = path;
    d.options.emplace("path", path);
    d.options.emplace("readonly", readonly);
    d.options.emplace("format", std::move(format));
    return d;
}

TEST(StorageCopy, CopiesTheWritableDisksOnly) {
    std::vector<hypervisor::Device> devices = {disk("root", "/s/root.img", false),
                                               disk("iso", "/s/iso.img", true)};
    hypervisor::Device nic;
    nic.id = "net0";
    nic.kind = hypervisor::findKind("nic");
    devices.push_back(nic);
    auto copied = copiedDisks(devices);
    ASSERT_EQ(copied.size(), 1u);
    EXPECT_EQ(copied[0]->id, "root");
}

TEST(StorageCopy, DiskSizesRoundTripAndBadTextIsRefused) {
    DiskSizes sizes = {{"data", 1048576}, {"root", 4294967296}};
    EXPECT_EQ(diskSizesText(sizes), "data=1048576,root=4294967296");
    auto back = parseDiskSizes(diskSizesText(sizes));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back.value(), sizes);
    for (const char* bad : {"", "data", "data=", "=5", "data=0", "data=-1", "data=1x",
                            "data=1,data=2", "data=1,", "data=99999999999999999999"}) {
        auto refused = parseDiskSizes(bad);
        EXPECT_FALSE(refused) << bad;
        if (!refused) {
            EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument) << bad;
        }
    }
    MigrationOption option{"copy_disks", "s", "root=512", false, 0};
    auto incoming = validateIncomingOptions({option});
    ASSERT_TRUE(incoming);
    EXPECT_EQ(incoming.value().copyDisks.at("root"), 512u);
    EXPECT_TRUE(validateIncomingOptions({}).value().copyDisks.empty());
    option.text = "root";
    EXPECT_NE(validateIncomingOptions({option}).error().message.find("is not ID=BYTES"),
              std::string::npos);
}

TEST(StorageCopy, TheAnswerNamesTheStreamAndTheNbdServer) {
    auto uris = splitCopyUri("tcp:10.0.0.2:49152 nbd:10.0.0.2:49153");
    ASSERT_TRUE(uris);
    EXPECT_EQ(uris->stream, "tcp:10.0.0.2:49152");
    EXPECT_EQ(uris->nbdHost, "10.0.0.2");
    EXPECT_EQ(uris->nbdPort, 49153);
    auto v6 = splitCopyUri("tcp:[::1]:49152 nbd:[::1]:49153");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->nbdHost, "::1");
    for (const char* bad : {"tcp:h:1", "tcp:h:1 tcp:h:2", "tcp:h:1 nbd:h:", "tcp:h:1 nbd::5",
                            "tcp:h:1 nbd:h:0", "tcp:h:1 nbd:h:70000", "tcp:h:1 nbd:h:5x"})
        EXPECT_FALSE(splitCopyUri(bad)) << bad;
}

TEST(StorageCopy, QmpCommands) {
    CopyUris uris;
    uris.stream = "tcp:h:1";
    uris.nbdHost = "10.0.0.2";
    uris.nbdPort = 49153;
    EXPECT_EQ(nbdClientAddJson("data", uris, nullptr),
              R"({"execute":"blockdev-add","arguments":{"driver":"nbd","node-name":)"
              R"("corral-nbd-data","server":{"type":"inet","host":"10.0.0.2","port":"49153"},)"
              R"("export":"data"}})");
    EXPECT_NE(
        nbdClientAddJson("data", uris, kStorageTlsId).find(R"("tls-creds":"corral-storage-tls")"),
        std::string::npos);
    EXPECT_EQ(mirrorStartJson("data", 0),
              R"({"execute":"blockdev-mirror","arguments":{"job-id":"corral-mirror-data",)"
              R"("device":"data-format","target":"corral-nbd-data","sync":"full",)"
              R"("auto-dismiss":true}})");
    EXPECT_NE(mirrorStartJson("data", 1000).find(R"("speed":1000)"), std::string::npos);
    EXPECT_EQ(nbdServerStartJson("0.0.0.0", 49153, nullptr),
              R"({"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":)"
              R"({"host":"0.0.0.0","port":"49153"}}}})");
    EXPECT_NE(nbdServerStartJson("::", 1, "corral-migration-tls").find(R"("tls-creds")"),
              std::string::npos);
    EXPECT_EQ(exportAddJson("data"),
              R"({"execute":"block-export-add","arguments":{"type":"nbd","id":)"
              R"("corral-export-data","node-name":"data-format","name":"data","writable":true}})");
    EXPECT_EQ(exportDelJson("data"), R"({"execute":"block-export-del","arguments":{"id":)"
                                     R"("corral-export-data","mode":"hard"}})");
}

TEST(StorageCopy, SizesAndJobsFromQemusReplies) {
    auto root = disk("root", "/s/root.img", false);
    auto sizes =
        parseVirtualSizes(R"([{"node-name":"root-file","image":{"virtual-size":1}},)"
                          R"({"node-name":"root-format","image":{"virtual-size":67108864}}])",
                          {&root});
    ASSERT_TRUE(sizes) << sizes.error().message;
    EXPECT_EQ(sizes.value().at("root"), 67108864u);
    EXPECT_FALSE(parseVirtualSizes(R"([{"node-name":"other-format"}])", {&root}));
    EXPECT_FALSE(parseVirtualSizes("{}", {&root}));

    auto jobs = parseMirrorJobs(
        R"([{"device":"corral-mirror-a","len":100,"offset":40,"ready":false,"status":"running"},)"
        R"({"device":"corral-mirror-b","len":10,"offset":10,"ready":true,"status":"ready"},)"
        R"({"device":"backup1","len":5,"offset":1,"ready":false,"status":"running"}])");
    ASSERT_TRUE(jobs);
    EXPECT_EQ(jobs.value().count, 2u);
    EXPECT_EQ(jobs.value().ready, 1u);
    EXPECT_EQ(jobs.value().offset, 50u);
    EXPECT_EQ(jobs.value().length, 110u);
    EXPECT_TRUE(jobs.value().error.empty());
    auto broken =
        parseMirrorJobs(R"([{"device":"corral-mirror-a","len":1,"offset":0,"status":"concluded",)"
                        R"("error":"Input/output error"}])");
    ASSERT_TRUE(broken);
    EXPECT_EQ(broken.value().error, "corral-mirror-a: Input/output error");
    EXPECT_FALSE(parseMirrorJobs("nonsense"));
    EXPECT_EQ(namesWithPrefix(R"([{"node-name":"corral-nbd-a"},{"node-name":"a-format"},7])",
                              "node-name", "corral-nbd-"),
              std::vector<std::string>{"corral-nbd-a"});
    EXPECT_TRUE(namesWithPrefix("{}", "device", "corral-mirror-").empty());
}

TEST(StorageCopy, TargetImagesAreMadeInStorageOnlyAndRemovedOnFailure) {
    corral::test::TempDir dir;
    auto store = dir / "store";
    std::filesystem::create_directories(store);
    std::filesystem::create_directories(dir / "elsewhere");
    std::vector<hypervisor::Device> devices = {
        disk("root", (store / "root.qcow2").string(), false, "qcow2"),
        disk("data", (store / "data.img").string(), false)};
    DiskSizes sizes = {{"root", 1 << 20}, {"data", 2 << 20}};
    auto made = createTargetImages(devices, sizes, {store});
    ASSERT_TRUE(made) << made.error().message;
    ASSERT_EQ(made.value().paths.size(), 2u);
    EXPECT_EQ(std::filesystem::file_size(store / "data.img"), 2u << 20);
    std::ifstream qcow(store / "root.qcow2", std::ios::binary);
    char magic[4] = {};
    qcow.read(magic, 4);
    EXPECT_EQ(std::string(magic, 3), "QFI");

    // The record a restarted corrald reads.
    recordImages(dir.path(), made.value());
    removeRecordedImages(dir.path());
    EXPECT_FALSE(std::filesystem::exists(store / "data.img"));
    EXPECT_FALSE(std::filesystem::exists(store / "root.qcow2"));
    EXPECT_FALSE(std::filesystem::exists(dir / "copied-images"));

    // The second disk's path exists: refused, and the first one's new image is gone again.
    std::ofstream(store / "data.img") << "theirs";
    auto exists = createTargetImages(devices, sizes, {store});
    ASSERT_FALSE(exists);
    EXPECT_EQ(exists.error().kind, ErrorKind::Exists);
    EXPECT_NE(exists.error().message.find("exists already on this host"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(store / "root.qcow2"));
    EXPECT_EQ(corral::test::readFile(store / "data.img"), "theirs");
    std::filesystem::remove(store / "data.img");

    // Outside [storage] allowed_dirs, and a size missing.
    devices[1] = disk("data", (dir / "elsewhere" / "data.img").string(), false);
    auto outside = createTargetImages(devices, sizes, {store});
    ASSERT_FALSE(outside);
    EXPECT_NE(outside.error().message.find("is not a directory under [storage] allowed_dirs"),
              std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(store / "root.qcow2"));
    EXPECT_FALSE(std::filesystem::exists(dir / "elsewhere" / "data.img"));
    EXPECT_FALSE(createTargetImages(devices, {{"root", 1 << 20}}, {store}));
}

}  // namespace
}  // namespace corral::supervisor::test
