// JSON for the QMP layer: RapidJSON documents plus a small builder for command arguments.
#pragma once

#include "monitor/error.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace corral::monitor {

// A JSON value that owns its memory. A default-constructed Json is null.
using Json = rapidjson::Document;

// Compact serialisation (one line, no trailing newline).
std::string toJsonString(const rapidjson::Value& value);

// Deepest nesting parseJson accepts: RapidJSON parses, copies and writes recursively, so a
// hostile "[[[[..." must be refused before it exhausts the stack.
inline constexpr std::size_t kMaxJsonDepth = 256;

// Parses text; a syntax error says the offset and what RapidJSON expected, deeper nesting than
// kMaxJsonDepth is refused (kind "Protocol" for both).
Result<Json> parseJson(std::string_view text);

// A deep copy of any value (for instance an element of a reply) into its own document.
Json copyJson(const rapidjson::Value& value);

class JsonArray;

// Builds an object without allocator boilerplate:
// JsonObject().set("driver", "virtio-blk-pci").set("readonly", true).take()
class JsonObject {
  public:
    JsonObject();

    JsonObject& set(std::string_view key, std::string_view value);
    JsonObject& set(std::string_view key, const char* value);
    JsonObject& set(std::string_view key, const std::string& value);
    JsonObject& set(std::string_view key, bool value);
    JsonObject& set(std::string_view key, int value);
    JsonObject& set(std::string_view key, unsigned value);
    JsonObject& set(std::string_view key, std::int64_t value);
    JsonObject& set(std::string_view key, std::uint64_t value);
    JsonObject& set(std::string_view key, double value);
    // Nested values are deep-copied into this document.
    JsonObject& set(std::string_view key, const rapidjson::Value& value);
    JsonObject& set(std::string_view key, const JsonObject& value);
    JsonObject& set(std::string_view key, const JsonArray& value);

    // The document built so far.
    const Json& json() const { return doc_; }
    // Hands over the built document; the builder is empty afterwards.
    Json take();

  private:
    JsonObject& setValue(std::string_view key, rapidjson::Value&& value);
    Json doc_;
};

// Builds an array: JsonArray().add("a").add(JsonObject().set("x", 1)).take()
class JsonArray {
  public:
    JsonArray();

    JsonArray& add(std::string_view value);
    JsonArray& add(const char* value);
    JsonArray& add(const std::string& value);
    JsonArray& add(bool value);
    JsonArray& add(int value);
    JsonArray& add(unsigned value);
    JsonArray& add(std::int64_t value);
    JsonArray& add(std::uint64_t value);
    JsonArray& add(double value);
    JsonArray& add(const rapidjson::Value& value);
    JsonArray& add(const JsonObject& value);
    JsonArray& add(const JsonArray& value);

    // The document built so far.
    const Json& json() const { return doc_; }
    // Hands over the built document; the builder is empty afterwards.
    Json take();

  private:
    JsonArray& addValue(rapidjson::Value&& value);
    Json doc_;
};

}  // namespace corral::monitor
