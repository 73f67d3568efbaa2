// supervisor-bench: corrald measured through D-Bus (sd-bus, as a client would) against baselines
// in the same run: start overhead (confine = true and false) vs bare qemu launched directly,
// scale to N VMs (time next to the same N argvs launched directly at once, RSS, latency with a
// stuck unplug, idle CPU), a corrald restart with N running VMs (time until all are reported,
// reads answered meanwhile), crash events.
// --quick proves the benches work; figures are printed, never judged. --json FILE writes the
// figures; --curve FILE the RSS/latency points for a plot. A guest (GuestExecute and hotplug
// through D-Bus) runs when --guest-image DIR has an image. --corrald BINARY measures another
// corrald build with the same bench (before/after a change).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "tests/bench/supervisor/bench_daemon.hpp"
#include "tests/bench/supervisor/guest_scenarios.hpp"
#include "tests/bench/supervisor/scenarios.hpp"

namespace {

using namespace corral::bench;

struct Options {
    bool quick = false;
    std::string json;
    std::string curve;
    std::filesystem::path guestImage = CORRAL_GUEST_IMAGE_DIR;
    std::filesystem::path corrald;
};

std::string guestJson(const std::optional<GuestFigures>& g) {
    if (!g) return "null";
    char text[256];
    std::snprintf(text, sizeof(text),
                  R"({"execute_calls":%d,"execute_per_s":%.1f,"hotplug_runs":%d,)"
                  R"("attach_p50_ms":%.1f,"detach_p50_ms":%.1f,"cycle_p50_ms":%.1f})",
                  g->executeCalls, g->executePerSecond, g->hotplugRuns, g->attachP50Ms,
                  g->detachP50Ms, g->cycleP50Ms);
    return text;
}

void printGuest(const std::optional<GuestFigures>& g) {
    if (!g) {
        std::printf("guest: skipped (no guest image)\n");
        return;
    }
    std::printf(
        "guest: GuestExecute(true) through D-Bus %.1f calls/s (%d calls); disk hotplug "
        "(%d runs) attach p50 %.1f ms, detach p50 %.1f ms, attach+detach p50 %.1f ms\n",
        g->executePerSecond, g->executeCalls, g->hotplugRuns, g->attachP50Ms, g->detachP50Ms,
        g->cycleP50Ms);
}

std::string latencyJson(const Latency& l) {
    char text[96];
    std::snprintf(text, sizeof(text), R"({"p50_us":%.1f,"p99_us":%.1f})", l.p50Us, l.p99Us);
    return text;
}

void writeCurve(const std::string& file, const std::vector<ScalePoint>& points) {
    std::ofstream out(file);
    out << "# vms rss_mib list_p50_us list_p99_us property_p50_us\n";
    for (const auto& p : points)
        out << p.vms << ' ' << static_cast<double>(p.rssKib) / 1024 << ' ' << p.list.p50Us << ' '
            << p.list.p99Us << ' ' << p.property.p50Us << '\n';
}

std::string restartJson(const ScaleRun& s, const RestartRun& r) {
    char text[768];
    std::snprintf(text, sizeof(text),
                  R"(,"parallel_start":{"vms":%d,"dbus_all_running_s":%.3f,)"
                  R"("direct_all_ready_s":%.3f,"ratio":%.3f},)"
                  R"("restart":{"vms":%d,"runs":%d,"cold_start_ms":%.1f,"stop_p50_ms":%.1f,)"
                  R"("all_reported_p50_ms":%.1f,"all_reported_max_ms":%.1f,"per_vm_ms":%.3f,)"
                  R"("first_answer_p50_ms":%.1f,"corrald_cpu_p50_ms":%.0f,"reads":%d,"refused":%d,)"
                  R"("answered_p50_us":%.1f,"answered_p99_us":%.1f,"answered_max_us":%.1f})",
                  s.vms, s.allRunningS, s.directAllReadyS, s.allRunningS / s.directAllReadyS, r.vms,
                  r.runs, r.coldStartMs, r.stopP50Ms, r.allReportedP50Ms, r.allReportedMaxMs,
                  r.allReportedP50Ms / r.vms, r.firstAnswerP50Ms, r.cpuP50Ms, r.reads, r.refused,
                  r.answered.p50Us, r.answered.p99Us, r.answeredMaxUs);
    return text;
}

void printRestart(const ScaleRun& s, const RestartRun& r) {
    std::printf(
        "parallel start: %d Starts over D-Bus at once %.2f s | the same argvs launched directly "
        "at once ->QMP answers (paused) %.2f s | ratio %.2fx\n",
        s.vms, s.allRunningS, s.directAllReadyS, s.allRunningS / s.directAllReadyS);
    std::printf(
        "restart (%d runs): %d running VMs, corrald stopped in p50 %.0f ms; started again, all "
        "reported running after p50 %.1f ms, max %.1f ms (%.2f ms per VM), corrald CPU by "
        "then p50 %.0f ms; with the %d stopped (nothing to reattach) corrald answered after "
        "%.1f ms\n",
        r.runs, r.vms, r.stopP50Ms, r.allReportedP50Ms, r.allReportedMaxMs,
        r.allReportedP50Ms / r.vms, r.cpuP50Ms, r.vms, r.coldStartMs);
    std::printf(
        "         Version reads meanwhile: %d sent, %d refused (name not owned yet), first "
        "answered after p50 %.1f ms; answered p50 %.0f us p99 %.0f us max %.0f us\n",
        r.reads, r.refused, r.firstAnswerP50Ms, r.answered.p50Us, r.answered.p99Us,
        r.answeredMaxUs);
}

std::string toJson(const StartOverhead& o, const std::vector<ScalePoint>& curve, const ScaleRun& s,
                   const CrashEvents& c) {
    char head[512];
    std::snprintf(head, sizeof(head),
                  R"({"bench":"supervisor","start_overhead":{"runs":%d,"dbus_start_p50_ms":%.2f,)"
                  R"("direct_qmp_ready_p50_ms":%.2f,"overhead_p50_ms":%.2f,)"
                  R"("unconfined_dbus_start_p50_ms":%.2f,"unconfined_overhead_p50_ms":%.2f,)"
                  R"("confine_cost_p50_ms":%.2f},"scale_curve":[)",
                  o.runs, o.dbusP50Ms, o.directP50Ms, o.overheadP50Ms, o.dbusOpenP50Ms,
                  o.overheadOpenP50Ms, o.confineCostP50Ms);
    std::string json = head;
    for (size_t i = 0; i < curve.size(); ++i) {
        const auto& p = curve[i];
        char point[256];
        std::snprintf(point, sizeof(point), R"(%s{"vms":%d,"batch_start_s":%.3f,"rss_kib":%ld,)",
                      i ? "," : "", p.vms, p.batchStartS, p.rssKib);
        json += point + std::string(R"("list":)") + latencyJson(p.list) + R"(,"property":)" +
                latencyJson(p.property) + "}";
    }
    char scale[512];
    std::snprintf(scale, sizeof(scale),
                  R"(],"scale":{"vms":%d,"all_running_s":%.3f,"rss_before_kib":%ld,)"
                  R"("rss_after_kib":%ld,"rss_per_vm_kib":%.1f,"idle_cpu_percent":%.3f,)"
                  R"("idle_window_s":%.1f,)",
                  s.vms, s.allRunningS, s.rssBeforeKib, s.rssAfterKib,
                  static_cast<double>(s.rssAfterKib - s.rssBeforeKib) / s.vms, s.idleCpuPercent,
                  s.idleWindowS);
    json += scale + std::string(R"("list_while_stuck":)") + latencyJson(s.listWhileStuck) +
            R"(,"property_while_stuck":)" + latencyJson(s.propertyWhileStuck) + "}";
    char events[128];
    std::snprintf(events, sizeof(events),
                  R"(,"crash_event":{"runs":%d,"p50_us":%.1f,"p99_us":%.1f}})", c.runs,
                  c.toCrashed.p50Us, c.toCrashed.p99Us);
    return json + events;
}

void printTable(const StartOverhead& o, const std::vector<ScalePoint>& curve, const ScaleRun& s,
                const CrashEvents& c) {
    std::printf("supervisor-bench: corrald through D-Bus (sd-bus client)\n");
    std::printf(
        "start (%d runs, rotating)   confined: D-Bus Start->running p50 %.1f ms | direct bare "
        "qemu ->QMP ready p50 %.1f ms | supervisor share p50 %.1f ms\n",
        o.runs, o.dbusP50Ms, o.directP50Ms, o.overheadP50Ms);
    std::printf(
        "      confine = false: D-Bus Start->running p50 %.1f ms | supervisor share p50 %.1f ms "
        "| confined - unconfined Start p50 %+.1f ms\n",
        o.dbusOpenP50Ms, o.overheadOpenP50Ms, o.confineCostP50Ms);
    std::printf("%6s %10s %10s %12s %12s %12s\n", "vms", "batch s", "RSS MiB", "List p50 us",
                "List p99 us", "State p50 us");
    for (const auto& p : curve)
        std::printf("%6d %10.2f %10.1f %12.0f %12.0f %12.0f\n", p.vms, p.batchStartS,
                    static_cast<double>(p.rssKib) / 1024, p.list.p50Us, p.list.p99Us,
                    p.property.p50Us);
    std::printf(
        "scale: %d VMs started at once, all running in %.2f s; corrald RSS %.1f -> %.1f "
        "MiB (%.0f KiB per VM); idle CPU %.2f%% over %.0f s\n",
        s.vms, s.allRunningS, static_cast<double>(s.rssBeforeKib) / 1024,
        static_cast<double>(s.rssAfterKib) / 1024,
        static_cast<double>(s.rssAfterKib - s.rssBeforeKib) / s.vms, s.idleCpuPercent,
        s.idleWindowS);
    std::printf(
        "       with one Detach stuck: ListInstances p50 %.0f us p99 %.0f us, State "
        "p50 %.0f us p99 %.0f us\n",
        s.listWhileStuck.p50Us, s.listWhileStuck.p99Us, s.propertyWhileStuck.p50Us,
        s.propertyWhileStuck.p99Us);
    std::printf("crash: kill -9 -> State=crashed signal (%d runs) p50 %.1f ms p99 %.1f ms\n",
                c.runs, c.toCrashed.p50Us / 1000, c.toCrashed.p99Us / 1000);
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            options.quick = true;
        } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            options.json = argv[++i];
        } else if (std::strcmp(argv[i], "--curve") == 0 && i + 1 < argc) {
            options.curve = argv[++i];
        } else if (std::strcmp(argv[i], "--guest-image") == 0 && i + 1 < argc) {
            options.guestImage = argv[++i];
        } else if (std::strcmp(argv[i], "--corrald") == 0 && i + 1 < argc) {
            options.corrald = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: supervisor-bench [--quick] [--json FILE] [--curve FILE] "
                         "[--guest-image DIR] [--corrald BINARY]\n");
            return 2;
        }
    }
    if (!options.corrald.empty()) setCorraldBinary(options.corrald);
    const bool q = options.quick;
    try {
        auto overhead = measureStartOverhead(q ? 2 : 20);
        auto curve = measureScaleCurve(
            q ? std::vector<int>{1, 3} : std::vector<int>{1, 10, 50, 100}, q ? 50 : 1000);
        auto scale = measureScale(q ? 5 : 100, q ? 50 : 1000, q ? 1.0 : 10.0);
        auto restart = measureRestart(q ? 5 : 100, q ? 2 : 5);
        auto crashes = measureCrashEvents(q ? 2 : 20);
        std::optional<GuestFigures> guest;
        if (std::filesystem::exists(options.guestImage / "vmlinuz"))
            guest = measureGuest(options.guestImage, q ? 2.0 : 10.0, q ? 2 : 10);
        printTable(overhead, curve, scale, crashes);
        printRestart(scale, restart);
        printGuest(guest);
        if (!options.json.empty()) {
            auto json = toJson(overhead, curve, scale, crashes);
            json.pop_back();  // the closing brace: the other figures join the same object
            std::ofstream(options.json) << json << restartJson(scale, restart) << R"(,"guest":)"
                                        << guestJson(guest) << "}\n";
        }
        if (!options.curve.empty()) writeCurve(options.curve, curve);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "supervisor-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
