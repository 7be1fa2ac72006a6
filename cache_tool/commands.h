#pragma once
/// \file
/// The subcommands. Each add_*() registers its CLI11 subcommand (options,
/// help text with an example) on the root app and returns what runs it; the
/// runner returns the exit status (see ExitStatus) and may throw
/// modelzoo::Error (exit 1) or UsageError (exit 2).

#include <functional>

#include <CLI/CLI.hpp>

#include "common.h"

namespace cache_tool {

/// A registered subcommand.
struct Command {
  CLI::App* app = nullptr;              ///< the CLI11 subcommand
  std::function<int(Context&)> run;     ///< carries it out after parsing
};

Command add_list(CLI::App& root);     ///< `list [NAME[:TAG]...]` (cmd_list.cpp)
Command add_path(CLI::App& root);     ///< `path NAME[:TAG]...` (cmd_list.cpp)
Command add_fetch(CLI::App& root);    ///< `fetch` (cmd_fetch.cpp)
Command add_import(CLI::App& root);   ///< `import` (cmd_import.cpp)
Command add_pack(CLI::App& root);     ///< `pack` (cmd_pack.cpp)
Command add_unpack(CLI::App& root);   ///< `unpack` (cmd_unpack.cpp)
Command add_verify(CLI::App& root);   ///< `verify` (cmd_verify.cpp)
Command add_inspect(CLI::App& root);  ///< `inspect`, done here (cmd_inspect.cpp; needs LibTorch)
/// `inspect` as cache_tool offers it: parsed here, carried out by executing
/// cache_tool-inspect (beside this executable) with the same `argv`.
Command add_inspect_exec(CLI::App& root, char** argv);  // inspect_cli.cpp
Command add_rm(CLI::App& root);       ///< `rm` (cmd_prune.cpp)
Command add_prune(CLI::App& root);    ///< `prune` (cmd_prune.cpp)

}  // namespace cache_tool
