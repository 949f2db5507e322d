// Command-line checks shared by every command: whole numbers that CLI11 would
// otherwise wrap (an unsigned option given -1 becomes 2^64 − 1), and the command name.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace attnlab {

/// Gives every unsigned option of `app` and its subcommands a check that the text is a
/// whole number ≥ 0, so that "-5" is refused by name instead of wrapping around.
void refuse_negative_unsigned(CLI::App& app);

/// The usage error for a command line whose first word is not a subcommand (or that has
/// none), naming the valid ones; empty when argv[1] is a subcommand or an option. Checked
/// before parsing: CLI11 would only say "A subcommand is required".
std::string unknown_command_message(const CLI::App& app, int argc, const char* const* argv);

}  // namespace attnlab
