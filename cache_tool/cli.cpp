#include "cli.h"

#include <iostream>
#include <string>

#include "interrupt.h"
#include "modelzoo/error.h"

namespace cache_tool {

int run_cli(int argc, char** argv, const std::function<std::vector<Command>(CLI::App&)>& make_commands) {
  CLI::App app{"cache_tool: fill, inspect and manage the modelzoo weights cache (shared with torch.hub)"};
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  Globals g;
  app.add_option("--registry", g.registries, "extra registry JSON file (repeatable; after MODELZOO_REGISTRY)");
  app.add_option("--cache-dir", g.cache_dir, "cache directory (default: MODELZOO_CACHE, else torch.hub's)");
  app.add_option("--hf-cache-dir", g.hf_cache_dir,
                 "Hugging Face Hub cache for hf:// sources (default: HF_HUB_CACHE, else $HF_HOME/hub, "
                 "else ~/.cache/huggingface/hub)");
  app.add_flag("--offline", g.offline, "never touch the network (also MODELZOO_OFFLINE=1)");
  app.add_option("--mirror", g.mirrors, "mirror base URL tried before a weight's own URL (repeatable)");
  app.add_flag("--json", g.json, "print one JSON document on stdout (see docs/cache_tool.md)");
  app.add_flag("--quiet,-q", g.quiet, "print only errors (and the data a command was asked for)");
  app.footer(
      "Exit status: 0 success, 1 failure, 2 usage error. `cache_tool <command> --help` shows each command.\n"
      "Example: cache_tool fetch vgg19 resnet50 && cache_tool pack vgg19 resnet50 -o models.tar");

  const std::vector<Command> commands = make_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }

  const Command* chosen = nullptr;
  for (const auto& c : commands) {
    if (c.app->parsed()) chosen = &c;
  }
  if (chosen == nullptr) return kUsage;  // require_subcommand(1) makes this unreachable
  const std::string name = chosen->app->get_name();

  auto fail = [&](const std::string& message, int status) {
    std::cerr << "cache_tool " << name << ": " << message << "\n";
    if (g.json && status == kFailure) {
      std::cout << nlohmann::json{{"command", name}, {"ok", false}, {"error", message}}.dump(
                       2, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    }
    return status;
  };
  try {
    Context ctx(g);
    return chosen->run(ctx);
  } catch (const UsageError& e) {
    return fail(e.what(), kUsage);
  } catch (const Interrupted& e) {
    fail(e.what(), kFailure);
    std::cout.flush();
    die_of_signal(e.signal_number());
  } catch (const modelzoo::Error& e) {
    return fail(e.what(), kFailure);
  } catch (const std::exception& e) {
    return fail(std::string("unexpected error: ") + e.what(), kFailure);
  }
}

}  // namespace cache_tool
