// cache_tool-inspect: `cache_tool inspect` with LibTorch loaded. cache_tool
// executes this program (found beside itself) with its own arguments, so the
// command line and the output are cache_tool's.

#include "cli.h"

int main(int argc, char** argv) {
  using namespace cache_tool;
  return run_cli(argc, argv, [](CLI::App& app) { return std::vector<Command>{add_inspect(app)}; });
}
