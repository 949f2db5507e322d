#include "options.hpp"

#include <stdexcept>

namespace attnlab {

void refuse_negative_unsigned(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (opt->get_type_name() != "UINT") continue;
    opt->check(CLI::Validator(
        [](std::string& text) -> std::string {
          const auto digit = text.find_first_not_of(" \t+");
          if (digit != std::string::npos && text[digit] == '-')
            return "expected a whole number >= 0, got '" + text + "'";
          return {};
        },
        "", "non-negative"));
  }
  for (CLI::App* sub : app.get_subcommands({})) refuse_negative_unsigned(*sub);
}

std::string unknown_command_message(const CLI::App& app, int argc, const char* const* argv) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
  if (argc < 2) return "give a command: " + names + " (attnlab --help; attnlab COMMAND --help)";
  const std::string first = argv[1];
  if (first.empty() || first[0] == '-') return {};  // --help, --version, or an option CLI11 will name
  for (const CLI::App* sub : app.get_subcommands({}))
    if (sub->check_name(first)) return {};
  return "unknown command '" + first + "'; expected one of " + names + " (attnlab --help)";
}

}  // namespace attnlab
