#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common.h"

namespace cache_tool {

namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr auto kLineInterval = std::chrono::seconds(5);
constexpr int kBarWidth = 30;

}  // namespace

ProgressMode auto_progress_mode(std::FILE* stream) {
  const char* term = std::getenv("TERM");
  if (::isatty(::fileno(stream)) && !(term != nullptr && std::strcmp(term, "dumb") == 0)) return ProgressMode::Bars;
  return ProgressMode::Lines;
}

ProgressMode parse_progress_mode(const std::string& text, std::FILE* stream) {
  if (text == "auto") return auto_progress_mode(stream);
  if (text == "bar") return ProgressMode::Bars;
  if (text == "plain") return ProgressMode::Lines;
  if (text == "none") return ProgressMode::None;
  throw UsageError("--progress: expected auto, bar, plain or none, got \"" + text + "\"");
}

std::string human_rate(double bytes_per_second) {
  char buf[32];
  if (bytes_per_second >= 1e9) std::snprintf(buf, sizeof buf, "%.1f GB/s", bytes_per_second / 1e9);
  else if (bytes_per_second >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB/s", bytes_per_second / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f kB/s", bytes_per_second / 1e3);
  return buf;
}

ProgressBoard::ProgressBoard(ProgressMode mode, std::FILE* out) : mode_(mode), out_(out) {}

ProgressBoard::~ProgressBoard() {
  std::lock_guard<std::mutex> lock(mutex_);
  erase_locked();
  std::fflush(out_);
}

int ProgressBoard::start(const std::string& label) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int id = next_id_++;
  Row r;
  r.label = label;
  r.last_line = std::chrono::steady_clock::now();
  rows_[id] = r;
  if (mode_ == ProgressMode::Lines) {
    std::fprintf(out_, "fetching %s\n", label.c_str());
    std::fflush(out_);
  }
  if (mode_ == ProgressMode::Bars) redraw_locked(true);
  return id;
}

void ProgressBoard::update(int id, uint64_t bytes, std::optional<uint64_t> total, double bytes_per_second) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = rows_.find(id);
  if (it == rows_.end()) return;
  Row& r = it->second;
  r.bytes = bytes;
  r.total = total;
  r.rate = bytes_per_second;
  const auto now = std::chrono::steady_clock::now();
  if (mode_ == ProgressMode::Lines && now - r.last_line >= kLineInterval) {
    r.last_line = now;
    std::string line = r.label + ": " + human_size(bytes);
    if (total && *total > 0) {
      line += " of " + human_size(*total) + " (" + std::to_string(bytes * 100 / *total) + "%)";
    }
    line += ", " + human_rate(bytes_per_second);
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  } else if (mode_ == ProgressMode::Bars) {
    redraw_locked(false);
  }
}

void ProgressBoard::finish(int id, const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  rows_.erase(id);
  erase_locked();
  if (!line.empty()) std::fprintf(out_, "%s\n", line.c_str());
  if (mode_ == ProgressMode::Bars) redraw_locked(true);
  std::fflush(out_);
}

void ProgressBoard::note(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  erase_locked();
  if (!line.empty()) std::fprintf(out_, "%s\n", line.c_str());
  if (mode_ == ProgressMode::Bars) redraw_locked(true);
  std::fflush(out_);
}

std::string ProgressBoard::bar_locked(const Row& r) const {
  std::string label = r.label;
  if (label.size() > 32) label = label.substr(0, 29) + "...";
  label.resize(32, ' ');
  std::string bar;
  std::string tail;
  if (r.total && *r.total > 0) {
    const double frac = std::min(1.0, static_cast<double>(r.bytes) / static_cast<double>(*r.total));
    const int filled = static_cast<int>(frac * kBarWidth);
    bar = "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "]";
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(frac * 100));
    tail = std::string(pct) + " " + human_size(r.bytes) + "/" + human_size(*r.total);
  } else {
    bar = "[" + std::string(kBarWidth, '?') + "]";
    tail = human_size(r.bytes);
  }
  return label + " " + bar + " " + tail + "  " + human_rate(r.rate);
}

void ProgressBoard::erase_locked() {
  if (mode_ != ProgressMode::Bars || drawn_ == 0) return;
  // Up to the first bar line, then clear everything below.
  std::fprintf(out_, "\x1b[%dF\x1b[J", drawn_);
  drawn_ = 0;
}

void ProgressBoard::redraw_locked(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  erase_locked();
  for (const auto& [id, row] : rows_) {
    std::fprintf(out_, "\x1b[2K%s\n", bar_locked(row).c_str());
    ++drawn_;
  }
  std::fflush(out_);
}

}  // namespace cache_tool
