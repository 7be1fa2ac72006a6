#include "inspect_cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "modelzoo/error.h"

namespace cache_tool {

CLI::App* define_inspect(CLI::App& root, InspectOptions& opt) {
  auto* app = root.add_subcommand(
      "inspect", "Show what a weight file holds: format, tensors (name, dtype, shape, bytes), other values, totals");
  app->add_option("file", opt.file, "any .pth/.pt (zip or legacy torch.save) or .safetensors file")->required();
  app->add_flag("--no-values", opt.no_values, "leave out the non-tensor values");
  app->footer(
      "Nested containers are flattened to '/'-joined paths (\"state_dict/fc.weight\", \"optimizer/state/0/...\").\n"
      "Nothing in the file is executed: pickles go through the restricted unpickler.\n"
      "Example: cache_tool inspect ~/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth\n"
      "Example: cache_tool inspect checkpoint.pt --json");
  return app;
}

Command add_inspect_exec(CLI::App& root, char** argv) {
  auto opt = std::make_shared<InspectOptions>();
  auto* app = define_inspect(root, *opt);
  return {app, [argv, opt](Context&) -> int {  // opt: CLI11 writes into it while parsing
            std::error_code ec;
            const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
            const std::filesystem::path helper =
                (ec ? std::filesystem::path(argv[0]).parent_path() : self.parent_path()) / "cache_tool-inspect";
            std::cout.flush();
            std::fflush(stdout);
            argv[0] = const_cast<char*>(helper.c_str());
            ::execv(helper.c_str(), argv);
            throw modelzoo::Error("cannot run " + helper.string() + " (installed beside cache_tool, it reads weight "
                                  "files for `inspect`): " + std::strerror(errno));
          }};
}

}  // namespace cache_tool
