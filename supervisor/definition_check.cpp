#include "supervisor/definition_check.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <tuple>

#include "hypervisor/instance_name.hpp"
#include "supervisor/definition_store.hpp"

namespace corral::supervisor {

namespace {

using hypervisor::Diagnostic;
using hypervisor::InstanceSpec;
using hypervisor::quoteForMessage;

OpError invalid(std::string message) {
    return {ErrorKind::InvalidArgument, std::move(message)};
}

// A `name` key naming another instance, at the key's value. Nothing when the text is not TOML
// or its name is itself invalid: the loader reports those.
std::optional<Diagnostic> nameMismatch(std::string_view name, std::string_view text,
                                       const std::filesystem::path& file) {
    toml::table root;
    try {
        root = toml::parse(text, file.string());
    } catch (const toml::parse_error&) {
        return std::nullopt;
    }
    auto* key = root.get_as<std::string>("name");
    if (!key || key->get() == name || hypervisor::checkInstanceName(key->get()))
        return std::nullopt;
    const auto& at = key->source().begin;
    return Diagnostic{file.string(), static_cast<int>(at.line), static_cast<int>(at.column),
                      "name: " + quoteForMessage(key->get()) + " differs from the instance name " +
                          quoteForMessage(name) + "; leave \"name\" out or make it " +
                          quoteForMessage(name)};
}

std::string joined(const std::vector<Diagnostic>& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) text += (text.empty() ? "" : "\n") + d.format();
    return text;
}

class Diff {
  public:
    template <typename T>
    void compare(std::string key, const T& before, const T& after) {
        if (!(before == after)) keys.push_back(std::move(key));
    }
    void devices(const InstanceSpec& before, const InstanceSpec& after);

    std::vector<std::string> keys;
};

const hypervisor::Device* findDevice(const InstanceSpec& spec, const hypervisor::Device& like) {
    for (const auto& d : spec.devices)
        if (d.kind == like.kind && d.id == like.id) return &d;
    return nullptr;
}

void Diff::devices(const InstanceSpec& before, const InstanceSpec& after) {
    for (const auto& device : after.devices) {
        std::string prefix = std::string(device.kindName()) + "." + device.id;
        const auto* old = findDevice(before, device);
        if (!old) {
            keys.push_back(prefix);
            continue;
        }
        hypervisor::Options all = old->options;
        all.insert(device.options.begin(), device.options.end());
        for (const auto& [key, value] : all) {
            auto was = old->options.find(key);
            auto is = device.options.find(key);
            bool same = was != old->options.end() && is != device.options.end() &&
                        was->second == is->second;
            if (!same) keys.push_back(prefix + "." + key);
        }
    }
    for (const auto& device : before.devices)
        if (!findDevice(after, device))
            keys.push_back(std::string(device.kindName()) + "." + device.id);
}

}  // namespace

Outcome<InstanceSpec> checkDefinition(std::string_view name, std::string_view text,
                                      const std::filesystem::path& file) {
    if (auto why = hypervisor::checkInstanceName(name))
        return invalid("Bad instance name " + quoteForMessage(name) + ": " + *why);
    if (text.empty()) return invalid("The definition is empty; send the instance's TOML text.");
    if (text.size() > kMaxDefinitionBytes) {
        return invalid("The definition is " + std::to_string(text.size()) + " bytes; at most " +
                       std::to_string(kMaxDefinitionBytes) + " (1 MiB) are accepted.");
    }
    auto result = hypervisor::parseInstanceSpec(text, file);
    auto mismatch = nameMismatch(name, text, file);
    if (!mismatch && result.spec && result.spec->name != name) {
        // No "name" key, and the file is not NAME.toml (an instance Reload found elsewhere).
        mismatch = Diagnostic{file.string(), 1, 1,
                              "the file name gives the instance name " +
                                  quoteForMessage(result.spec->name) +
                                  "; set name = " + quoteForMessage(name)};
        result.spec.reset();
    }
    if (mismatch) {
        result.diagnostics.push_back(*mismatch);
        std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                         [](const Diagnostic& a, const Diagnostic& b) {
                             return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                         });
    }
    if (!result.diagnostics.empty())
        return OpError{ErrorKind::InvalidDefinition, joined(result.diagnostics)};
    return std::move(*result.spec);
}

std::vector<std::string> changedKeys(const InstanceSpec& before, const InstanceSpec& after) {
    Diff d;
    const auto &m0 = before.machine, &m1 = after.machine;
    d.compare("machine.type", m0.type, m1.type);
    d.compare("machine.accel", m0.accel, m1.accel);
    d.compare("machine.cpus", m0.cpus, m1.cpus);
    d.compare("machine.memory", m0.memoryBytes, m1.memoryBytes);
    d.compare("machine.hotplug_slots", m0.hotplugSlots, m1.hotplugSlots);
    d.compare("machine.uuid", m0.uuid, m1.uuid);
    if (before.boot && after.boot) {
        d.compare("boot.kernel", before.boot->kernel, after.boot->kernel);
        d.compare("boot.initrd", before.boot->initrd, after.boot->initrd);
        d.compare("boot.cmdline", before.boot->cmdline, after.boot->cmdline);
    } else {
        d.compare("boot", before.boot.has_value(), after.boot.has_value());
    }
    d.compare("boot.order", before.bootOrder, after.bootOrder);
    d.compare("firmware.type", before.firmware.type, after.firmware.type);
    d.compare("firmware.secure_boot", before.firmware.secureBoot, after.firmware.secureBoot);
    d.devices(before, after);
    d.compare("agent.negotiator", before.agent.negotiator, after.agent.negotiator);
    d.compare("agent.qemu_ga", before.agent.qemuGa, after.agent.qemuGa);
    const auto &l0 = before.lifecycle, &l1 = after.lifecycle;
    d.compare("lifecycle.shutdown_timeout", l0.shutdownTimeout, l1.shutdownTimeout);
    d.compare("lifecycle.on_crash", l0.onCrash, l1.onCrash);
    d.compare("lifecycle.autostart", l0.autostart, l1.autostart);
    d.compare("resources.memory_max", before.resources.memoryMax, after.resources.memoryMax);
    d.compare("resources.cpu_weight", before.resources.cpuWeight, after.resources.cpuWeight);
    const auto &v0 = before.display, &v1 = after.display;
    d.compare("display.type", v0.type, v1.type);
    d.compare("display.vga", v0.vga, v1.vga);
    d.compare("display.listen", hypervisor::hostPort(v0.address, v0.port),
              hypervisor::hostPort(v1.address, v1.port));
    d.compare("display.password_file", v0.passwordFile, v1.passwordFile);
    d.compare("display.tls_dir", v0.tlsDir, v1.tlsDir);
    d.compare("display.tls_verify_peer", v0.tlsVerifyPeer, v1.tlsVerifyPeer);
    d.compare("display.websocket", v0.websocketPort, v1.websocketPort);
    d.compare("tpm.type", before.tpm.type, after.tpm.type);
    d.compare("security.confine", before.security.confine, after.security.confine);
    return d.keys;
}

std::vector<std::filesystem::path> diskImages(const InstanceSpec& spec) {
    std::vector<std::filesystem::path> images;
    for (const auto& device : spec.devices) {
        if (!device.kind || device.kind->backend != hypervisor::Backend::Block) continue;
        for (const auto& option : device.kind->options)
            if (option.namesBackend && !device.text(option.key).empty())
                images.emplace_back(std::string(device.text(option.key)));
    }
    return images;
}

}  // namespace corral::supervisor
