#pragma once
/// \file
/// Progress of several concurrent transfers on stderr. On a terminal each
/// active transfer has a bar that is redrawn in place (ANSI cursor movement);
/// finished transfers scroll up above the bars. Otherwise (a log, a pipe) it
/// prints plain lines: one when a transfer starts, one every few seconds for
/// long transfers, one when it ends. Thread-safe.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace cache_tool {

/// How progress is shown.
enum class ProgressMode {
  Bars,   ///< redrawn bars (for terminals)
  Lines,  ///< plain lines (for logs)
  None,   ///< nothing but the final lines
};

/// Bars when `stream` is a terminal and TERM is not "dumb", else Lines.
ProgressMode auto_progress_mode(std::FILE* stream);

/// Parses "auto" | "bar" | "plain" | "none". Throws UsageError otherwise.
ProgressMode parse_progress_mode(const std::string& text, std::FILE* stream);

/// The board of concurrent transfers.
class ProgressBoard {
 public:
  /// Writes to `out` (stderr in cache_tool).
  ProgressBoard(ProgressMode mode, std::FILE* out);
  /// Erases the bars still drawn.
  ~ProgressBoard();
  ProgressBoard(const ProgressBoard&) = delete;
  ProgressBoard& operator=(const ProgressBoard&) = delete;

  /// Adds a transfer labelled `label`; returns its id.
  int start(const std::string& label);
  /// Reports bytes so far (of `total` when known) and the rate.
  void update(int id, uint64_t bytes, std::optional<uint64_t> total, double bytes_per_second);
  /// Ends a transfer, printing `line` (unless empty) in place of its bar, in every mode.
  void finish(int id, const std::string& line);
  /// Prints a line (unless empty) above the bars.
  void note(const std::string& line);

 private:
  struct Row {
    std::string label;
    uint64_t bytes = 0;
    std::optional<uint64_t> total;
    double rate = 0;
    std::chrono::steady_clock::time_point last_line;
  };
  void redraw_locked(bool force);
  void erase_locked();
  std::string bar_locked(const Row& r) const;

  ProgressMode mode_;
  std::FILE* out_;
  std::mutex mutex_;
  std::map<int, Row> rows_;
  int next_id_ = 0;
  int drawn_ = 0;  // bar lines currently on screen
  std::chrono::steady_clock::time_point last_draw_{};
};

/// "12.3 MB/s".
std::string human_rate(double bytes_per_second);

}  // namespace cache_tool
