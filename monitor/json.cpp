#include "monitor/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace corral::monitor {

std::string toJsonString(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

namespace {

// Whether brackets outside strings nest at most `limit` deep (structure is not validated here).
bool nestingWithin(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    bool inString = false;
    bool escaped = false;
    for (char c : text) {
        if (inString) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                inString = false;
            }
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return true;
}

}  // namespace

Result<Json> parseJson(std::string_view text) {
    if (!nestingWithin(text, kMaxJsonDepth)) {
        return makeError(Errc::Protocol, "JSON",
                         "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    Json doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError()) {
        return makeError(Errc::Protocol, "JSON",
                         std::string(rapidjson::GetParseError_En(doc.GetParseError())) +
                             " at offset " + std::to_string(doc.GetErrorOffset()));
    }
    return doc;
}

Json copyJson(const rapidjson::Value& value) {
    Json doc;
    doc.CopyFrom(value, doc.GetAllocator());
    return doc;
}

namespace {

rapidjson::Value stringValue(std::string_view text, rapidjson::Document::AllocatorType& alloc) {
    return rapidjson::Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc);
}

}  // namespace

JsonObject::JsonObject() {
    doc_.SetObject();
}

JsonObject& JsonObject::setValue(std::string_view key, rapidjson::Value&& value) {
    auto& alloc = doc_.GetAllocator();
    auto existing = doc_.FindMember(stringValue(key, alloc));
    if (existing != doc_.MemberEnd()) {
        existing->value = std::move(value);
    } else {
        doc_.AddMember(stringValue(key, alloc), std::move(value), alloc);
    }
    return *this;
}

JsonObject& JsonObject::set(std::string_view key, std::string_view value) {
    return setValue(key, stringValue(value, doc_.GetAllocator()));
}
JsonObject& JsonObject::set(std::string_view key, const char* value) {
    return set(key, std::string_view(value));
}
JsonObject& JsonObject::set(std::string_view key, const std::string& value) {
    return set(key, std::string_view(value));
}
JsonObject& JsonObject::set(std::string_view key, bool value) {
    return setValue(key, rapidjson::Value(value));
}
JsonObject& JsonObject::set(std::string_view key, int value) {
    return setValue(key, rapidjson::Value(value));
}
JsonObject& JsonObject::set(std::string_view key, unsigned value) {
    return setValue(key, rapidjson::Value(value));
}
JsonObject& JsonObject::set(std::string_view key, std::int64_t value) {
    return setValue(key, rapidjson::Value(value));
}
JsonObject& JsonObject::set(std::string_view key, std::uint64_t value) {
    return setValue(key, rapidjson::Value(value));
}
JsonObject& JsonObject::set(std::string_view key, double value) {
    return setValue(key, rapidjson::Value(value));
}
JsonObject& JsonObject::set(std::string_view key, const rapidjson::Value& value) {
    return setValue(key, rapidjson::Value(value, doc_.GetAllocator()));
}
JsonObject& JsonObject::set(std::string_view key, const JsonObject& value) {
    return set(key, static_cast<const rapidjson::Value&>(value.json()));
}
JsonObject& JsonObject::set(std::string_view key, const JsonArray& value) {
    return set(key, static_cast<const rapidjson::Value&>(value.json()));
}

Json JsonObject::take() {
    Json out = std::move(doc_);
    doc_ = Json();
    doc_.SetObject();
    return out;
}

JsonArray::JsonArray() {
    doc_.SetArray();
}

JsonArray& JsonArray::addValue(rapidjson::Value&& value) {
    doc_.PushBack(std::move(value), doc_.GetAllocator());
    return *this;
}

JsonArray& JsonArray::add(std::string_view value) {
    return addValue(stringValue(value, doc_.GetAllocator()));
}
JsonArray& JsonArray::add(const char* value) {
    return add(std::string_view(value));
}
JsonArray& JsonArray::add(const std::string& value) {
    return add(std::string_view(value));
}
JsonArray& JsonArray::add(bool value) {
    return addValue(rapidjson::Value(value));
}
JsonArray& JsonArray::add(int value) {
    return addValue(rapidjson::Value(value));
}
JsonArray& JsonArray::add(unsigned value) {
    return addValue(rapidjson::Value(value));
}
JsonArray& JsonArray::add(std::int64_t value) {
    return addValue(rapidjson::Value(value));
}
JsonArray& JsonArray::add(std::uint64_t value) {
    return addValue(rapidjson::Value(value));
}
JsonArray& JsonArray::add(double value) {
    return addValue(rapidjson::Value(value));
}
JsonArray& JsonArray::add(const rapidjson::Value& value) {
    return addValue(rapidjson::Value(value, doc_.GetAllocator()));
}
JsonArray& JsonArray::add(const JsonObject& value) {
    return add(static_cast<const rapidjson::Value&>(value.json()));
}
JsonArray& JsonArray::add(const JsonArray& value) {
    return add(static_cast<const rapidjson::Value&>(value.json()));
}

Json JsonArray::take() {
    Json out = std::move(doc_);
    doc_ = Json();
    doc_.SetArray();
    return out;
}

}  // namespace corral::monitor
