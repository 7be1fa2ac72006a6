#pragma once
/// \file
/// The `inspect` subcommand's command line, shared by cache_tool (which
/// hands the work to cache_tool-inspect) and cache_tool-inspect (which does
/// it), so both parse exactly the same arguments.

#include <string>

#include <CLI/CLI.hpp>

namespace cache_tool {

/// Options of `inspect`.
struct InspectOptions {
  std::string file;        ///< the weight file
  bool no_values = false;  ///< leave out non-tensor values
};

/// Registers `inspect` with its options and help on `root`.
CLI::App* define_inspect(CLI::App& root, InspectOptions& opt);

}  // namespace cache_tool
