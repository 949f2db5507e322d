// attnlab: compare attention kernels, run them on your tensors, and teach
// how attention and a stable softmax work.
#include "commands.hpp"
#include "options.hpp"

#include <attn/attention.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <new>

int main(int argc, char** argv) {
  CLI::App app{"attnlab: scaled dot-product attention on CPUs, several ways side by side", "attnlab"};
  app.set_version_flag("--version", std::string("attnlab ") + attn::version());
  app.require_subcommand(1);
  // Parse errors in the form of every other error: "attnlab: error: --seed: ...".
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "attnlab: error: " + std::string(e.what()) + "\nRun with --help for more information.\n";
  });
  attnlab::add_compare_command(app);
  attnlab::add_run_command(app);
  attnlab::add_softmax_command(app);
  attnlab::add_scaling_command(app);
  attnlab::add_lab_command(app);
  attnlab::add_bench_command(app);
  attnlab::refuse_negative_unsigned(app);
  if (const std::string why = attnlab::unknown_command_message(app, argc, argv); !why.empty()) {
    std::cerr << "attnlab: error: " << why << "\n";
    return attnlab::kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return attnlab::kExitUsage;
  } catch (const attn::Error& e) {  // a bad argument reached the engine
    std::cerr << "attnlab: error: " << e.what() << "\n";
    return attnlab::kExitUsage;
  } catch (const std::invalid_argument& e) {  // bad input named by a command
    std::cerr << "attnlab: error: " << e.what() << "\n";
    return attnlab::kExitUsage;
  } catch (const std::bad_alloc&) {  // the commands check sizes first; this is what the system refused anyway
    std::cerr << "attnlab: error: out of memory: the system could not allocate what this command needs; try "
                 "smaller sizes (run and compare check them against --memory-budget first)\n";
    return attnlab::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "attnlab: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
