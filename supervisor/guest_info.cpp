#include "supervisor/guest_info.hpp"

#include <memory>
#include <sstream>

namespace corral::supervisor {

namespace {

std::string trimmed(std::string text) {
    const char* space = " \t\r\n";
    auto end = text.find_last_not_of(space);
    if (end == std::string::npos) return {};
    return text.substr(text.find_first_not_of(space), end - text.find_first_not_of(space) + 1);
}

// Which command fills which field, in the order they are asked.
struct Step {
    const char* command;
    void (*apply)(GuestInfo&, const std::string&);
};

constexpr Step kSteps[] = {
    {"find-distributor-id", [](GuestInfo& i, const std::string& o) { i.osId = guestInfoLine(o); }},
    {"find-distribution-release",
     [](GuestInfo& i, const std::string& o) { i.release = guestInfoLine(o); }},
    {"find-distribution-codename",
     [](GuestInfo& i, const std::string& o) { i.codename = guestInfoLine(o); }},
    {"find-ip-addresses",
     [](GuestInfo& i, const std::string& o) { i.addresses = guestInfoAddresses(o); }},
};

struct Query {
    GuestCommandRunner run;
    std::function<void(Outcome<GuestInfo>)> done;
    GuestInfo info;
};

void next(std::shared_ptr<Query> query, std::size_t step) {
    if (step == std::size(kSteps)) return query->done(query->info);
    query->run({kSteps[step].command}, [query, step](Outcome<std::string> output) {
        if (output) {
            kSteps[step].apply(query->info, output.value());
        } else if (output.error().kind != ErrorKind::Failed) {
            return query->done(output.error());  // no agent, or no answer in time
        }
        next(query, step + 1);
    });
}

}  // namespace

std::string guestInfoLine(const std::string& output) {
    auto line = trimmed(output);
    return line.substr(0, line.find('\n'));
}

std::vector<std::string> guestInfoAddresses(const std::string& output) {
    std::vector<std::string> addresses;
    std::istringstream in(output);
    for (std::string line; std::getline(in, line);)
        if (auto address = trimmed(line); !address.empty()) addresses.push_back(address);
    return addresses;
}

void queryGuestInfo(GuestCommandRunner run, std::function<void(Outcome<GuestInfo>)> done) {
    next(std::make_shared<Query>(Query{std::move(run), std::move(done), {}}), 0);
}

}  // namespace corral::supervisor
