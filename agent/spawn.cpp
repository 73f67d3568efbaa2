#include "agent/spawn.hpp"

#include <signal.h>
#include <spawn.h>

extern char** environ;

namespace corral::agent {

namespace {

std::vector<char*> pointers(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

}  // namespace

int spawnCommand(const SpawnRequest& request, pid_t& pid) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (int fd = 0; fd < 3; ++fd)
        posix_spawn_file_actions_adddup2(&actions, request.stdio[static_cast<unsigned>(fd)], fd);
    if (request.closeOthers) posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);

    auto argv = pointers(request.argv);
    std::vector<char*> env;
    if (request.env) env = pointers(*request.env);
    char* const* envp = request.env ? env.data() : environ;
    auto spawn = request.searchPath ? ::posix_spawnp : ::posix_spawn;
    int rc = spawn(&pid, request.program.c_str(), &actions, &attr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}

}  // namespace corral::agent
