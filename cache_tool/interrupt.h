#pragma once
/// \file
/// Ctrl-C (SIGINT), SIGTERM and SIGHUP during a long write that leaves a
/// temporary file behind (`pack`): while an InterruptGuard is alive those
/// signals only set a flag, the write loop notices it (throw_if_interrupted)
/// and unwinds, so destructors remove the temporary file; run_cli then prints
/// the error and ends the process with the same signal (exit status 128+N in
/// a shell), as if it had not been caught.

#include <string>

#include "modelzoo/error.h"

namespace cache_tool {

/// Thrown by throw_if_interrupted(); carries the signal number.
class Interrupted : public modelzoo::Error {
 public:
  Interrupted(int signal_number, const std::string& what) : modelzoo::Error(what), signal_(signal_number) {}
  int signal_number() const { return signal_; }

 private:
  int signal_;
};

/// Catches SIGINT, SIGTERM and SIGHUP into a flag for its lifetime (the
/// handlers only store the signal number); restores the previous handlers
/// when destroyed. Not nestable; construct it on the main thread.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

/// Throws Interrupted naming `doing` (e.g. "writing models.tar") when a
/// signal arrived under an InterruptGuard; does nothing otherwise.
void throw_if_interrupted(const std::string& doing);

/// Ends the process with `signal_number` and its default action (used after
/// the cleanup that an Interrupted exception allowed).
[[noreturn]] void die_of_signal(int signal_number);

}  // namespace cache_tool
