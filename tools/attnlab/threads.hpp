// The --threads option, checked the same way by every command that computes.
#pragma once

#include <ostream>
#include <string>

namespace attnlab {

/// Most threads a command accepts: an OpenMP runtime aborts when it cannot create
/// the threads asked for, and far more than the CPUs never helps.
inline constexpr int kMaxThreads = 1024;

/// The thread count `--threads N` asks for (0: the OpenMP default). Throws
/// std::invalid_argument outside 0..kMaxThreads; above the CPUs this process may run
/// on, `note` (when given) gets a line from `command` saying the extra threads share them.
int checked_threads(const std::string& command, int requested, std::ostream* note);

}  // namespace attnlab
