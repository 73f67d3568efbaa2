#include "hypervisor/spec_loader_cpu.hpp"

#include "hypervisor/cpu_spec.hpp"

namespace corral::hypervisor {

namespace {

CpuModelCheck& modelCheck() {
    static CpuModelCheck check;
    return check;
}

void loadModel(TomlReader& l, const toml::table& t, CpuSpec& cpu) {
    auto* v = l.get<std::string>(t, "cpu", "a string");
    if (!v) return;
    const std::string& model = v->get();
    if (!isCpuModelSyntax(model)) {
        l.error(v->source(),
                "cpu: expected \"host\", \"max\" or a QEMU CPU model name (letters, "
                "digits, '.', '_', '-'), got " +
                    inQuotes(model));
        return;
    }
    if (model != kCpuHost && model != kCpuMax && modelCheck()) {
        if (auto why = modelCheck()(model)) {
            l.error(v->source(), "cpu: " + *why);
            return;
        }
    }
    cpu.model = model;
}

void loadFlags(TomlReader& l, const toml::table& t, CpuSpec& cpu) {
    auto* array = l.get<toml::array>(t, "cpu_flags", "an array of strings such as [\"+avx2\"]");
    if (!array) return;
    for (const auto& node : *array) {
        auto* flag = node.as_string();
        if (!flag || !isCpuFlagSyntax(flag->get())) {
            l.error(node.source(),
                    "cpu_flags: expected \"+name\" or \"-name\" (name of a-z, 0-9, '_', '.', "
                    "'-'), got " +
                        (flag ? inQuotes(flag->get()) : std::string(typeName(node.type()))));
            continue;
        }
        cpu.flags.push_back(flag->get());
    }
}

}  // namespace

void setCpuModelCheck(CpuModelCheck check) {
    modelCheck() = std::move(check);
}

void loadCpu(TomlReader& l, const toml::table& t, MachineSpec& m) {
    loadModel(l, t, m.cpu);
    loadFlags(l, t, m.cpu);
    l.integer(t, "sockets", 1, 255, m.cpu.sockets);
    l.integer(t, "cores", 1, 255, m.cpu.cores);
    l.integer(t, "threads", 1, 255, m.cpu.threads);
    if (auto why = completeTopology(m.cpus, m.cpu)) {
        const toml::node* where = t.get("sockets");
        if (!where) where = t.get("cores");
        if (!where) where = t.get("threads");
        l.error(where ? where->source() : t.source(), *why);
    }
}

}  // namespace corral::hypervisor
