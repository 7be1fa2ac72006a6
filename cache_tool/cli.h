#pragma once
/// \file
/// The command line shared by the cache_tool executables: global options,
/// parsing, dispatch to the chosen subcommand and the mapping of errors to
/// exit statuses (messages on stderr; with --json also a JSON document).

#include <functional>
#include <vector>

#include "commands.h"

namespace cache_tool {

/// Parses `argv` with the global options and the subcommands `make_commands`
/// registers, runs the chosen one and returns the exit status.
int run_cli(int argc, char** argv, const std::function<std::vector<Command>(CLI::App&)>& make_commands);

}  // namespace cache_tool
