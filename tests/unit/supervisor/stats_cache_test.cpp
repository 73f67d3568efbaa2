// StatsCache: reads answer from the cache at once, a stale sample starts exactly one refresh,
// refreshes are bounded per second, and answers that land late (instance removed, cache gone)
// are dropped.
#include "supervisor/stats_cache.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/supervisor/stub_vm.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

class StatsCacheTest : public ::testing::Test {
  protected:
    void define(const std::string& name) {
        std::ofstream(dir / "vmlinuz") << "";
        std::ofstream(dir / (name + ".toml"))
            << "[boot]\nkernel = \"" << (dir / "vmlinuz").string() << "\"\n";
    }
    StubVm& vm(const std::string& name) { return *static_cast<StubVm*>(registry.find(name)); }
    static VmSample sampleWithCpu(const std::string& name, std::uint64_t cpu) {
        VmSample s;
        s.name = name;
        s.cpuUsec = cpu;
        s.sampledAtUsec = 1;
        return s;
    }

    corral::test::TempDir dir;
    FakeClock clock;
    Registry registry{dir.path(),
                      [this](const std::string& name, const hypervisor::LoadResult& def) {
                          return std::make_unique<StubVm>(name, clock, def.ok());
                      },
                      [](int, const std::string&) {}};
};

TEST_F(StatsCacheTest, StaleReadStartsOneRefreshAndReturnsTheCache) {
    define("web1");
    registry.reload();
    StatsCache cache(registry, clock, {1s, 100});
    std::vector<std::string> landed;
    auto c = cache.sampled().connect([&](const std::string& n) { landed.push_back(n); });

    auto first = cache.read(vm("web1"));
    EXPECT_EQ(first.cpuUsec, 0u);
    EXPECT_EQ(first.state, "stopped");
    cache.read(vm("web1"));
    ASSERT_EQ(vm("web1").samples.size(), 1u) << "a second read while one is in flight";

    vm("web1").samples[0](sampleWithCpu("web1", 42));
    EXPECT_EQ(landed, std::vector<std::string>{"web1"});
    EXPECT_EQ(cache.read(vm("web1")).cpuUsec, 42u);
    clock.advance(500ms);
    cache.read(vm("web1"));
    EXPECT_EQ(vm("web1").samples.size(), 1u) << "a fresh sample was refreshed";

    clock.advance(600ms);
    EXPECT_EQ(cache.read(vm("web1")).cpuUsec, 42u) << "a stale read still answers the cache";
    EXPECT_EQ(vm("web1").samples.size(), 2u);
}

TEST_F(StatsCacheTest, RefreshesPerSecondAreBounded) {
    for (auto name : {"a", "b", "c"}) define(name);
    registry.reload();
    StatsCache cache(registry, clock, {1s, 2});
    auto all = cache.readAll();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].name, "a");
    EXPECT_EQ(vm("a").samples.size() + vm("b").samples.size() + vm("c").samples.size(), 2u);
    clock.advance(1s);
    cache.readAll();
    EXPECT_EQ(vm("a").samples.size() + vm("b").samples.size() + vm("c").samples.size(), 3u);
}

TEST_F(StatsCacheTest, LateAnswersAreDropped) {
    define("web1");
    define("web2");
    registry.reload();
    auto cache = std::make_unique<StatsCache>(registry, clock, StatsCache::Limits{1s, 100});
    cache->read(vm("web1"));
    cache->read(vm("web2"));
    auto lateForRemoved = vm("web2").samples.at(0);
    auto lateForGone = vm("web1").samples.at(0);
    std::filesystem::remove(dir / "web2.toml");
    registry.reload();
    int landed = 0;
    auto c = cache->sampled().connect([&](const std::string&) { ++landed; });
    lateForRemoved(sampleWithCpu("web2", 1));
    EXPECT_EQ(landed, 0);
    cache.reset();
    lateForGone(sampleWithCpu("web1", 1));  // must not touch the destroyed cache
}

}  // namespace
}  // namespace corral::supervisor::test
