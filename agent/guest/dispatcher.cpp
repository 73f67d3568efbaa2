#include "agent/guest/dispatcher.hpp"

#include "agent/commands.hpp"
#include "agent/guest/port.hpp"
#include "agent/methods.hpp"

namespace corral::agent::guest {

namespace {

std::string dirNames(const std::vector<std::filesystem::path>& dirs) {
    std::string out;
    for (std::size_t i = 0; i < dirs.size(); ++i)
        out += (i == 0 ? "" : i + 1 == dirs.size() ? " or " : ", ") + dirs[i].string();
    return out;
}

Reply execute(const GuestCommands& commands, const Call& call) {
    auto read = readExecute(call);
    if (auto* refused = std::get_if<Reply>(&read)) return *refused;
    auto& request = std::get<ExecuteRequest>(read);
    // The original's lookup: basename of argv[0] in the user, then the built-in directory.
    // Beyond it, a name found in neither runs from PATH (the host owns its guest anyway, as
    // with qemu-guest-agent's guest-exec) unless commandsOnly keeps the original's limit.
    auto name = commandName(request.argv[0]);
    auto found = findCommand(name, commands.dirs);
    if (!found && commands.commandsOnly)
        return Reply::fail("unknown command '" + name + "' (not in " + dirNames(commands.dirs) +
                           ")");
    auto program = found ? found->string() : request.argv[0];
    log(1, "execute " + request.argv[0] + " (" + program + ")");
    auto result = runCommand(program, request.argv, request.input, commands.limits);
    if (!result.ok) return Reply::fail(result.error);
    return Reply::ok(capturedOutput(sanitizeUtf8(result.output)));
}

}  // namespace

Dispatcher makeDispatcher(GuestCommands commands) {
    Dispatcher dispatcher;
    dispatcher.add("list_commands", [dirs = commands.dirs](const Call& call) {
        if (auto refused = checkListCommands(call)) return *refused;
        return Reply::ok(listCommands(dirs));
    });
    dispatcher.add("execute", [commands](const Call& call) { return execute(commands, call); });
    return dispatcher;
}

}  // namespace corral::agent::guest
