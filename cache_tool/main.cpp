// cache_tool: fill, inspect and manage the modelzoo weights cache, also for
// machines without network. Exit status: 0 success, 1 failure, 2 usage error.
// The subcommands live in cmd_*.cpp; docs/cache_tool.md describes them and
// their JSON output. This executable does not load LibTorch (a second or two
// per process); `inspect`, which reads tensors, runs in the companion
// executable cache_tool-inspect (inspect_main.cpp).

#include "cli.h"

int main(int argc, char** argv) {
  using namespace cache_tool;
  return run_cli(argc, argv, [argv](CLI::App& app) {
    return std::vector<Command>{add_list(app),   add_path(app),   add_fetch(app),  add_import(app),
                                add_pack(app),   add_unpack(app), add_verify(app), add_inspect_exec(app, argv),
                                add_rm(app),     add_prune(app)};
  });
}
