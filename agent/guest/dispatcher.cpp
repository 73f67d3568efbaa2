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

// The original's lookup: basename of argv[0] in the user, then the built-in directory. Beyond
// it, a name found in neither runs from PATH (the host owns its guest anyway, as with
// qemu-guest-agent's guest-exec) unless commandsOnly keeps the original's limit. The program to
// run, or the refusal.
std::variant<std::string, Reply> program(const GuestCommands& commands,
                                         const std::vector<std::string>& argv) {
    auto name = commandName(argv[0]);
    auto found = findCommand(name, commands.dirs);
    if (!found && commands.commandsOnly)
        return Reply::fail("unknown command '" + name + "' (not in " + dirNames(commands.dirs) +
                           ")");
    return found ? found->string() : argv[0];
}

Reply execute(const GuestCommands& commands, const Call& call) {
    auto read = readExecute(call);
    if (auto* refused = std::get_if<Reply>(&read)) return *refused;
    auto& request = std::get<ExecuteRequest>(read);
    auto found = program(commands, request.argv);
    if (auto* refused = std::get_if<Reply>(&found)) return *refused;
    auto& path = std::get<std::string>(found);
    log(1, "execute " + request.argv[0] + " (" + path + ")");
    auto result = runCommand(path, request.argv, request.input, commands.limits);
    if (!result.ok) return Reply::fail(result.error);
    return Reply::ok(capturedOutput(sanitizeUtf8(result.output)));
}

// Base64 takes 4 bytes for 3: what the command may write so that the reply fits a message.
// (1 KiB is left for the reply's JSON around the three strings.)
constexpr std::size_t runOutputLimit(std::size_t maxMessage) {
    return maxMessage > 4096 ? maxMessage / 4 * 3 - 1024 : maxMessage / 2;
}

Reply run(const GuestCommands& commands, const Call& call) {
    auto read = readRun(call);
    if (auto* refused = std::get_if<Reply>(&read)) return *refused;
    auto& request = std::get<RunRequest>(read);
    auto found = program(commands, request.argv);
    if (auto* refused = std::get_if<Reply>(&found)) return *refused;
    auto& path = std::get<std::string>(found);
    log(1, "corral_run " + request.argv[0] + " (" + path + ")");
    auto limits = commands.limits;
    limits.keepStderr = true;
    limits.maxOutput = runOutputLimit(limits.maxOutput);
    auto result = runCommand(path, request.argv, request.input, limits);
    // A command that ran answers with its status, whatever it is; only one that could not run
    // to its end (spawn, timeout, output cap) is a failure.
    if (result.exitStatus < 0) return Reply::fail(result.error);
    return runReply({result.exitStatus, std::move(result.output), std::move(result.errors)});
}

}  // namespace

Dispatcher makeDispatcher(GuestCommands commands) {
    Dispatcher dispatcher;
    dispatcher.add("list_commands", [dirs = commands.dirs](const Call& call) {
        if (auto refused = checkListCommands(call)) return *refused;
        return Reply::ok(listCommands(dirs));
    });
    dispatcher.add("execute", [commands](const Call& call) { return execute(commands, call); });
    dispatcher.add(std::string(kRunMethod),
                   [commands](const Call& call) { return run(commands, call); });
    return dispatcher;
}

}  // namespace corral::agent::guest
