// Output files that never clobber what the user had: write to a temporary
// file in the same directory, then rename over the target.
#pragma once

#include <string>
#include <string_view>

namespace attnlab {

/// Writes `content` to `path` atomically. Throws std::invalid_argument naming the
/// path and the system error; the previous file (if any) is left untouched.
void write_file_atomic(const std::string& path, std::string_view content);

/// Creates directory `dir` (and parents) if missing; throws std::invalid_argument naming it.
void ensure_directory(const std::string& dir);

}  // namespace attnlab
