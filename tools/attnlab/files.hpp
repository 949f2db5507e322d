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

/// Checks, before any work, that an output file can be written at `path`: it is not a
/// directory, and its directory exists and is writable. Throws std::invalid_argument
/// naming `option` (e.g. "--json") and what is wrong; `example` is a file name to suggest
/// when `path` is a directory. Nothing is created.
void check_output_file(const std::string& option, const std::string& path, const std::string& example);

/// Checks, before any work, that `dir` can hold outputs: it is a writable directory, or
/// it does not exist and its nearest existing parent is a writable directory (so that
/// ensure_directory can create it). Throws std::invalid_argument naming `option`.
void check_output_directory(const std::string& option, const std::string& dir);

}  // namespace attnlab
