// A D-Bus client of corrald's Define, Update, Undefine and GetDefinition for tests that need
// what busctl cannot give: the exact error name, arguments over busctl's 128 KiB limit, and the
// Manager's signals in the order they came.
#pragma once

#include <systemd/sd-bus.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace corral::test {

struct BusResult {
    std::string error;                 // D-Bus error name, "" on success
    std::string message;               // the error's message
    std::string text;                  // an "s" or "o" reply
    std::vector<std::string> strings;  // an "as" reply
};

// An option of an a{sv}: key and type; 'b' sends true, 's' the string "true", 'u' the number 1.
using TestOptions = std::vector<std::pair<std::string, char>>;

class DefineClient {
  public:
    explicit DefineClient(const std::string& address);
    ~DefineClient();
    DefineClient(const DefineClient&) = delete;
    DefineClient& operator=(const DefineClient&) = delete;

    BusResult define(const std::string& name, const std::string& toml,
                     const TestOptions& options = {});
    BusResult update(const std::string& name, const std::string& toml);
    BusResult undefine(const std::string& name, const TestOptions& options);
    BusResult getDefinition(const std::string& name);

    // Records InstanceNew and InstanceRemoved as "InstanceNew NAME PATH" from now on.
    void watchManagerSignals();
    // Records PropertiesChanged of the instance as "PropertiesChanged PROPERTY" from now on.
    void watchProperties(const std::string& name);
    // Processes the bus until `signal` was recorded, bounded.
    bool waitSignal(const std::string& signal, std::chrono::milliseconds timeout);
    // Whether a signal of that member was recorded (after processing what has arrived).
    bool sawSignal(const std::string& member);

  private:
    BusResult call(const std::string& path, const char* interface, const char* method,
                   const std::string& in, const std::vector<std::string>& strings,
                   const TestOptions* options, char reply);
    sd_bus* bus_ = nullptr;
    sd_bus_slot* match_ = nullptr;
    sd_bus_slot* propertiesMatch_ = nullptr;
    std::vector<std::string> signals_;
};

}  // namespace corral::test
