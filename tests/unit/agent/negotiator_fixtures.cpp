#include "tests/unit/agent/negotiator_fixtures.hpp"

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "agent/codec.hpp"
#include "agent/rpc.hpp"

namespace corral::test {

namespace {

std::optional<std::string> slurp(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::string> bodies(const std::string& bytes, const std::string& where) {
    agent::FrameDecoder decoder;
    decoder.feed(bytes);
    std::vector<std::string> out;
    while (auto event = decoder.next()) {
        if (event->kind != agent::FrameDecoder::Event::Kind::Message)
            throw std::runtime_error(where + ": " + event->error);
        out.push_back(event->body);
    }
    if (decoder.midMessage()) throw std::runtime_error(where + ": ends inside a frame");
    return out;
}

std::string describe(const agent::Reply& reply) {
    return agent::encodeReply(reply);
}

}  // namespace

bool NegotiatorCase::timedOut() const {
    return name.size() > 8 && name.compare(name.size() - 8, 8, "-timeout") == 0;
}

std::filesystem::path negotiatorFixtures() {
    return NEGOTIATOR_FIXTURES;
}

std::vector<NegotiatorCase> loadNegotiatorCases() {
    auto dir = negotiatorFixtures();
    auto manifest = slurp(dir / "cases.json");
    if (!manifest) throw std::runtime_error("no " + (dir / "cases.json").string());
    rapidjson::Document doc;
    doc.Parse(manifest->data(), manifest->size());
    if (doc.HasParseError() || !doc.IsArray()) throw std::runtime_error("cases.json: not a list");
    std::vector<NegotiatorCase> cases;
    for (const auto& entry : doc.GetArray()) {
        NegotiatorCase c;
        c.name = entry["name"].GetString();
        c.client = entry["client"].GetString();
        c.server = entry["server"].GetString();
        if (entry.HasMember("args") && entry["args"].IsArray())
            for (const auto& a : entry["args"].GetArray()) c.args.emplace_back(a.GetString());
        if (entry.HasMember("status")) c.status = entry["status"].GetInt();
        c.requestBytes = slurp(dir / (c.name + ".request")).value_or("");
        c.replyBytes = slurp(dir / (c.name + ".reply")).value_or("");
        c.requests = bodies(c.requestBytes, c.name + ".request");
        c.replies = bodies(c.replyBytes, c.name + ".reply");
        c.printed = slurp(dir / (c.name + ".stdout"));
        cases.push_back(std::move(c));
    }
    return cases;
}

const std::set<std::string>& originalBuiltins() {
    static const std::set<std::string> names = {"find-disk-usage", "find-distribution-codename",
                                                "find-distribution-release", "find-distributor-id",
                                                "find-ip-addresses"};
    return names;
}

::testing::AssertionResult sameOutcome(const std::string& ours, const std::string& original,
                                       const std::set<std::string>& ignored) {
    std::string problem;
    auto a = agent::parseReply(ours, problem);
    if (!a)
        return ::testing::AssertionFailure() << "ours is no reply (" << problem << "): " << ours;
    auto b = agent::parseReply(original, problem);
    if (!b) return ::testing::AssertionFailure() << "the original's is no reply: " << original;
    if (a->success != b->success)
        return ::testing::AssertionFailure()
               << "ours " << describe(*a) << " vs the original's " << describe(*b);
    if (!a->success) return ::testing::AssertionSuccess();
    auto* listA = std::get_if<std::vector<std::string>>(&a->result);
    auto* listB = std::get_if<std::vector<std::string>>(&b->result);
    if (listA && listB) {
        std::set<std::string> setA(listA->begin(), listA->end()),
            setB(listB->begin(), listB->end());
        for (const auto& name : ignored) setA.erase(name), setB.erase(name);
        if (setA == setB) return ::testing::AssertionSuccess();
    } else if (a->result == b->result) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "ours " << describe(*a) << " vs the original's " << describe(*b);
}

}  // namespace corral::test
